package mock

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Vertex AI's text embeddings API, on the Vertex routes (same bearer
// token):
//
//	POST /v1/projects/{p}/locations/{l}/publishers/google/models/{model}:predict
//
// {"instances": [{"content", "task_type", "title"}], "parameters":
// {"outputDimensionality", "autoTruncate"}} → {"predictions":
// [{"embeddings": {"values", "statistics": {"truncated", "token_count"}}}],
// "metadata": {"billableCharacterCount"}}, as Google's model reference
// documents it. Vectors have 3072 dimensions for gemini-embedding-*, 768
// for other models, unless outputDimensionality says fewer. As on Vertex
// AI: at most 250 instances, one for gemini-embedding-001; title only with
// task_type RETRIEVAL_DOCUMENT; unknown fields are INVALID_ARGUMENT. The
// x-mock-* headers apply as for generateContent; x-mock-context-window is
// the per-text token limit: a longer text is truncated to it (statistics
// say so) unless autoTruncate is false, which makes it a 400.

const (
	vertexMaxInstances    = 250
	vertexEmbedDims       = 768
	vertexGeminiEmbedDims = 3072
	vertexTitleTaskType   = "RETRIEVAL_DOCUMENT"
)

var vertexTaskTypes = map[string]bool{
	"RETRIEVAL_QUERY": true, "RETRIEVAL_DOCUMENT": true, "SEMANTIC_SIMILARITY": true, "CLASSIFICATION": true,
	"CLUSTERING": true, "QUESTION_ANSWERING": true, "FACT_VERIFICATION": true, "CODE_RETRIEVAL_QUERY": true,
}

func unknownField(name string) string {
	return "Invalid JSON payload received. Unknown name " + strconv.Quote(name) + ": Cannot find field."
}

type vertexEmbedCall struct {
	texts        []string
	dims         int
	autoTruncate bool
}

func parseVertexEmbed(model string, body []byte) (vertexEmbedCall, string) {
	c := vertexEmbedCall{dims: vertexEmbedDims, autoTruncate: true}
	gemini := strings.HasPrefix(model, "gemini-embedding")
	if gemini {
		c.dims = vertexGeminiEmbedDims
	}
	maxDims := c.dims
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil || req == nil {
		return c, "Invalid JSON payload received. The body is not a JSON object."
	}
	keys := make([]string, 0, len(req))
	for k := range req {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k != "instances" && k != "parameters" {
			return c, unknownField(k)
		}
	}
	var instances []map[string]json.RawMessage
	if err := json.Unmarshal(req["instances"], &instances); err != nil || len(instances) == 0 {
		return c, "instances: a non-empty list of objects is required."
	}
	if len(instances) > vertexMaxInstances {
		return c, "Too many instances: " + strconv.Itoa(len(instances)) + ". At most " + strconv.Itoa(vertexMaxInstances) + " instances are allowed per request."
	}
	if gemini && len(instances) > 1 {
		return c, model + " supports one instance per request; got " + strconv.Itoa(len(instances)) + "."
	}
	for i, in := range instances {
		where := "instances[" + strconv.Itoa(i) + "]"
		var taskType, title string
		for k, v := range in {
			var s string
			if json.Unmarshal(v, &s) != nil {
				return c, where + "." + k + ": want a string."
			}
			switch k {
			case "content":
				c.texts = append(c.texts, s)
			case "task_type":
				taskType = s
			case "title":
				title = s
			default:
				return c, unknownField(k)
			}
		}
		if len(c.texts) != i+1 {
			return c, where + ".content is required."
		}
		if taskType != "" && !vertexTaskTypes[taskType] {
			return c, where + ".task_type: unknown task type " + strconv.Quote(taskType) + "."
		}
		if title != "" && taskType != vertexTitleTaskType {
			return c, where + ".title is only valid with task_type " + vertexTitleTaskType + "."
		}
	}
	if p := req["parameters"]; !isNull(p) {
		var params map[string]json.RawMessage
		if json.Unmarshal(p, &params) != nil {
			return c, "parameters: want an object."
		}
		for k, v := range params {
			switch k {
			case "outputDimensionality":
				n, err := strconv.Atoi(string(v))
				if err != nil || n < 1 || n > maxDims {
					return c, "Output dimensionality must be between 1 and " + strconv.Itoa(maxDims) + "."
				}
				c.dims = n
			case "autoTruncate":
				if json.Unmarshal(v, &c.autoTruncate) != nil {
					return c, "parameters.autoTruncate: want a boolean."
				}
			default:
				return c, unknownField(k)
			}
		}
	}
	return c, ""
}

func (s *Server) vertexPredict(w http.ResponseWriter, r *http.Request, model string, body []byte, opts *Options) {
	call, problem := parseVertexEmbed(model, body)
	if problem != "" {
		writeGeminiError(w, http.StatusBadRequest, problem)
		return
	}
	a, e := s.resolve(opts, r.Header)
	if e != nil {
		writeGeminiError(w, http.StatusBadRequest, e.Message)
		return
	}
	limit := 0
	if v, ok := header(r.Header, hdrContextWindow); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeGeminiError(w, http.StatusBadRequest, "Invalid x-mock-context-window header: expected a positive number of tokens.")
			return
		}
		limit = n
	}
	if !wait(r, a.latency) {
		return
	}
	if a.failStatus != 0 {
		setRetryAfter(w.Header(), a.retryAfter)
		writeGeminiError(w, a.failStatus, "")
		return
	}
	if a.failStreamAfter >= 0 {
		panic(http.ErrAbortHandler)
	}
	type statistics struct {
		Truncated  bool `json:"truncated"`
		TokenCount int  `json:"token_count"`
	}
	type prediction struct {
		Embeddings struct {
			Statistics statistics `json:"statistics"`
			Values     []float32  `json:"values"`
		} `json:"embeddings"`
	}
	out := struct {
		Predictions []prediction `json:"predictions"`
		Metadata    struct {
			BillableCharacterCount int `json:"billableCharacterCount"`
		} `json:"metadata"`
	}{Predictions: make([]prediction, len(call.texts))}
	for i, text := range call.texts {
		p := &out.Predictions[i].Embeddings
		p.Statistics.TokenCount = EstimateTokens(text)
		if limit > 0 && p.Statistics.TokenCount > limit {
			if !call.autoTruncate {
				writeGeminiError(w, http.StatusBadRequest, "Unable to submit request because the input token count is "+strconv.Itoa(p.Statistics.TokenCount)+" but the model supports up to "+strconv.Itoa(limit)+". Reduce the input token count and try again. You can also set autoTruncate to true.")
				return
			}
			p.Statistics.TokenCount, p.Statistics.Truncated = limit, true
		}
		p.Values = embedding([]byte(text), call.dims)
		out.Metadata.BillableCharacterCount += utf8.RuneCountInString(strings.Join(strings.Fields(text), ""))
	}
	writeJSON(w, http.StatusOK, out)
}
