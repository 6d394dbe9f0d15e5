package mock

import (
	"encoding/json"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Bedrock's InvokeModel for text embeddings, next to Converse:
//
//	POST /model/{modelId}/invoke
//
// signed with SigV4 as Converse is. The model id (a base model, a
// cross-region profile such as us.cohere.embed-v4:0, or a foundation model
// ARN) picks the body, as the AWS user guide documents it for each family:
//
//   - Amazon Titan Text Embeddings (amazon.titan-embed-text-v1,
//     amazon.titan-embed-g1-text-02: 1536 dimensions;
//     amazon.titan-embed-text-v2:0: dimensions 256, 512 or 1024, the
//     default, normalize, embeddingTypes float and binary):
//     {"inputText"} → {"embedding", "inputTextTokenCount"} (and
//     "embeddingsByType" for v2).
//   - Cohere Embed (cohere.embed-english-v3, cohere.embed-multilingual-v3:
//     1024 dimensions; cohere.embed-v4:0: output_dimension 256, 512, 1024
//     or 1536, the default): {"texts" (at most 96, each at most 2048
//     characters), "input_type" (required), "truncate", "embedding_types"
//     (float, int8, uint8)} → {"embeddings", "id", "response_type",
//     "texts"}: embeddings_floats, or embeddings_by_type when
//     embedding_types is set. Token counts are in the
//     X-Amzn-Bedrock-Input-Token-Count header only, as on Bedrock.
//
// Vectors are the mock's deterministic unit vectors of the text. Unknown
// keys, a missing inputText or texts, values outside the documented sets
// are Bedrock's ValidationException. The x-mock-* headers apply as for
// Converse (status, latency, retry-after, x-mock-bedrock-error, and
// x-mock-fail-stream-after resets the connection); x-mock-context-window
// is the input token limit, over which Bedrock's "Too many input tokens"
// 400 comes back.

type bedrockEmbedCall struct {
	titan     bool
	texts     []string
	dims      int
	types     []string // Titan embeddingTypes or Cohere embedding_types; nil: none asked
	tokens    int
	titanV2   bool
	inputType string
}

const (
	titanV1Dims    = 1536
	titanV2Dims    = 1024
	cohereV3Dims   = 1024
	cohereV4Dims   = 1536
	cohereMaxTexts = 96
	cohereMaxChars = 2048
)

func malformedBedrock(problem string) *awsError {
	return invalidBedrock("Malformed input request: " + problem + ", please reformat your input and try again.")
}

// parseBedrockEmbed validates an InvokeModel body for an embedding model
// as Bedrock validates it.
func parseBedrockEmbed(model string, body []byte) (bedrockEmbedCall, *awsError) {
	var c bedrockEmbedCall
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return c, &awsError{http.StatusBadRequest, "SerializationException", "Unable to parse the request body as JSON."}
	}
	var allowed map[string]bool
	switch {
	case strings.Contains(model, "amazon.titan-embed-text-v2"):
		c.titan, c.titanV2, c.dims = true, true, titanV2Dims
		allowed = map[string]bool{"inputText": true, "dimensions": true, "normalize": true, "embeddingTypes": true}
	case strings.Contains(model, "amazon.titan-embed-text-v1"), strings.Contains(model, "amazon.titan-embed-g1-text"):
		c.titan, c.dims = true, titanV1Dims
		allowed = map[string]bool{"inputText": true}
	case strings.Contains(model, "cohere.embed"):
		c.dims = cohereV3Dims
		allowed = map[string]bool{"texts": true, "images": true, "input_type": true, "truncate": true, "embedding_types": true}
		if !strings.Contains(model, "-v3") {
			c.dims = cohereV4Dims
			allowed["output_dimension"] = true
		}
	default:
		return c, invalidBedrock("The llmvoy mock serves InvokeModel for Amazon Titan Text Embeddings and Cohere Embed models only, not " + model + "; use Converse for chat models.")
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !allowed[k] {
			return c, malformedBedrock("#: extraneous key [" + k + "] is not permitted")
		}
	}
	if c.titan {
		return c, c.parseTitan(fields)
	}
	return c, c.parseCohere(fields)
}

func (c *bedrockEmbedCall) parseTitan(fields map[string]json.RawMessage) *awsError {
	var text string
	if isNull(fields["inputText"]) {
		return malformedBedrock("#: required key [inputText] not found")
	}
	if json.Unmarshal(fields["inputText"], &text) != nil {
		return malformedBedrock("#/inputText: expected type: String")
	}
	if text == "" {
		return malformedBedrock("#/inputText: expected minLength: 1, actual: 0")
	}
	c.texts = []string{text}
	if v := fields["dimensions"]; !isNull(v) {
		n, err := strconv.Atoi(string(v))
		if err != nil || (n != 256 && n != 512 && n != 1024) {
			return malformedBedrock("#/dimensions: " + string(v) + " is not a valid enum value")
		}
		c.dims = n
	}
	if v := fields["normalize"]; !isNull(v) {
		var b bool
		if json.Unmarshal(v, &b) != nil {
			return malformedBedrock("#/normalize: expected type: Boolean")
		}
	}
	if v := fields["embeddingTypes"]; !isNull(v) {
		if json.Unmarshal(v, &c.types) != nil || len(c.types) == 0 {
			return malformedBedrock("#/embeddingTypes: expected a non-empty array of strings")
		}
		for _, t := range c.types {
			if t != "float" && t != "binary" {
				return malformedBedrock("#/embeddingTypes: " + t + " is not a valid enum value")
			}
		}
	}
	c.tokens = EstimateTokens(text)
	return nil
}

func (c *bedrockEmbedCall) parseCohere(fields map[string]json.RawMessage) *awsError {
	if isNull(fields["texts"]) {
		if !isNull(fields["images"]) {
			return invalidBedrock("The llmvoy mock does not embed images.")
		}
		return malformedBedrock("#: required key [texts] not found")
	}
	if json.Unmarshal(fields["texts"], &c.texts) != nil {
		return malformedBedrock("#/texts: expected type: JSONArray of strings")
	}
	if len(c.texts) > cohereMaxTexts {
		return malformedBedrock("#/texts: expected maximum item count: " + strconv.Itoa(cohereMaxTexts) + ", found: " + strconv.Itoa(len(c.texts)))
	}
	for i, t := range c.texts {
		if n := utf8.RuneCountInString(t); n > cohereMaxChars {
			return malformedBedrock("#/texts/" + strconv.Itoa(i) + ": expected maxLength: " + strconv.Itoa(cohereMaxChars) + ", actual: " + strconv.Itoa(n))
		}
		c.tokens += EstimateTokens(t)
	}
	if isNull(fields["input_type"]) {
		return malformedBedrock("#: required key [input_type] not found")
	}
	if json.Unmarshal(fields["input_type"], &c.inputType) != nil {
		return malformedBedrock("#/input_type: expected type: String")
	}
	switch c.inputType {
	case "search_document", "search_query", "classification", "clustering":
	default:
		return malformedBedrock("#/input_type: " + c.inputType + " is not a valid enum value")
	}
	if v := fields["truncate"]; !isNull(v) {
		var t string
		if json.Unmarshal(v, &t) != nil || (t != "NONE" && t != "START" && t != "END") {
			return malformedBedrock("#/truncate: " + string(v) + " is not a valid enum value")
		}
	}
	if v := fields["output_dimension"]; !isNull(v) {
		n, err := strconv.Atoi(string(v))
		if err != nil || (n != 256 && n != 512 && n != 1024 && n != 1536) {
			return malformedBedrock("#/output_dimension: " + string(v) + " is not a valid enum value")
		}
		c.dims = n
	}
	if v := fields["embedding_types"]; !isNull(v) {
		if json.Unmarshal(v, &c.types) != nil || len(c.types) == 0 {
			return malformedBedrock("#/embedding_types: expected a non-empty array of strings")
		}
		for _, t := range c.types {
			switch t {
			case "float", "int8", "uint8":
			case "binary", "ubinary":
				return invalidBedrock("embedding_types " + t + " is not implemented by the llmvoy mock.")
			default:
				return malformedBedrock("#/embedding_types: " + t + " is not a valid enum value")
			}
		}
	}
	return nil
}

func (s *Server) bedrockInvoke(w http.ResponseWriter, r *http.Request, model string, body []byte, opts *Options) {
	call, e := parseBedrockEmbed(model, body)
	if e != nil {
		e.write(w)
		return
	}
	a, bad := s.resolve(opts, r.Header)
	if bad != nil {
		invalidBedrock(bad.Message).write(w)
		return
	}
	if bedrockInjectedFault(w, r, a) {
		return
	}
	if v, ok := header(r.Header, hdrContextWindow); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			invalidBedrock("Invalid x-mock-context-window header: expected a positive number of tokens.").write(w)
			return
		}
		if call.tokens > n {
			bedrockFail(w, r, a, invalidBedrock("400 Bad Request: Too many input tokens. Max input tokens: "+strconv.Itoa(n)+", request input token count: "+strconv.Itoa(call.tokens)+" "))
			return
		}
	}
	if !wait(r, a.latency) {
		return
	}
	if a.failStreamAfter >= 0 {
		panic(http.ErrAbortHandler) // reset before any response byte
	}
	h := w.Header()
	h["X-Amzn-Bedrock-Input-Token-Count"] = []string{strconv.Itoa(call.tokens)}
	h["X-Amzn-Bedrock-Invocation-Latency"] = []string{strconv.Itoa(int(a.latency.Milliseconds()))}
	vectors := make([][]float32, len(call.texts))
	for i, t := range call.texts {
		vectors[i] = embedding([]byte(t), call.dims)
	}
	if call.titan {
		out := map[string]any{"embedding": vectors[0], "inputTextTokenCount": call.tokens}
		if call.titanV2 {
			byType := map[string]any{"float": vectors[0]}
			if contains(call.types, "binary") {
				byType["binary"] = quantize(vectors[0], "binary")
				if !contains(call.types, "float") {
					delete(out, "embedding")
					delete(byType, "float")
				}
			}
			out["embeddingsByType"] = byType
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	out := map[string]any{"id": s.newID("", 36), "texts": call.texts}
	if call.types == nil {
		out["response_type"], out["embeddings"] = "embeddings_floats", vectors
	} else {
		byType := map[string]any{}
		for _, t := range call.types {
			if t == "float" {
				byType[t] = vectors
				continue
			}
			q := make([][]int, len(vectors))
			for i, v := range vectors {
				q[i] = quantize(v, t)
			}
			byType[t] = q
		}
		out["response_type"], out["embeddings"] = "embeddings_by_type", byType
	}
	writeJSON(w, http.StatusOK, out)
}

// quantize turns a unit vector into int8 (-127..127), uint8 (0..255) or
// binary (0/1 per dimension, Titan's form) values.
func quantize(v []float32, kind string) []int {
	out := make([]int, len(v))
	for i, f := range v {
		switch kind {
		case "int8":
			out[i] = int(math.Round(float64(f) * 127))
		case "uint8":
			out[i] = int(math.Round((float64(f) + 1) * 127.5))
		default:
			if f > 0 {
				out[i] = 1
			}
		}
	}
	return out
}
