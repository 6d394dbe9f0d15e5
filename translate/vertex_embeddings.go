package translate

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// OpenAI embeddings → Vertex AI's text embeddings API
// ({model}:predict), as LiteLLM's VertexAITextEmbeddingConfig builds it:
// one instance {"content", "task_type", "title"} per input, parameters
// {"outputDimensionality" (from dimensions), "autoTruncate"}; the answer's
// predictions[].embeddings.values in order, and the sum of their
// statistics.token_count as usage. task_type is the client's task_type,
// else LiteLLM's input_type.

// vertexPredict is the text embeddings method.
const vertexPredict = "predict"

type vertexEmbedInstance struct {
	Content  string `json:"content"`
	TaskType string `json:"task_type,omitempty"`
	Title    string `json:"title,omitempty"`
}

type vertexEmbedParameters struct {
	OutputDimensionality *int64 `json:"outputDimensionality,omitempty"`
	AutoTruncate         *bool  `json:"autoTruncate,omitempty"`
}

type vertexEmbedRequest struct {
	Instances  []vertexEmbedInstance  `json:"instances"`
	Parameters *vertexEmbedParameters `json:"parameters,omitempty"`
}

func vertexEmbeddingsRequest(d *config.Deployment, body []byte) ([]byte, ResponseTranslator, error) {
	model := strings.TrimPrefix(d.UpstreamModel, "gemini/")
	if vertexIsEndpoint(model) {
		// A tuned embedding model on an endpoint takes {"inputs"} and
		// answers without statistics; not done yet.
		return nil, nil, fmt.Errorf("%w: deployment %s: /v1/embeddings on a Vertex AI endpoint (%s) is not supported yet; use a publisher model such as text-embedding-005", ErrBadRequest, d.ID, model)
	}
	req, err := parseEmbeddingsRequest(body, "Vertex AI")
	if err != nil {
		return nil, nil, err
	}
	if strings.HasPrefix(model, "gemini-embedding") && len(req.inputs) > 1 {
		// Vertex AI's limit for this model, refused here with a message
		// that says what to do.
		return nil, nil, fmt.Errorf("%w: input: %s on Vertex AI takes one text per request, got %d; send one request per text, or use text-embedding-005 for batches", ErrBadRequest, model, len(req.inputs))
	}
	taskType := req.TaskType
	if taskType == "" {
		taskType = req.InputType
	}
	out := vertexEmbedRequest{Instances: make([]vertexEmbedInstance, len(req.inputs))}
	for i, in := range req.inputs {
		out.Instances[i] = vertexEmbedInstance{Content: in, TaskType: taskType, Title: req.Title}
	}
	if req.Dimensions != nil || req.AutoTruncate != nil {
		out.Parameters = &vertexEmbedParameters{OutputDimensionality: req.Dimensions, AutoTruncate: req.AutoTruncate}
	}
	b, err := jsonscan.Marshal(out)
	if err != nil {
		return nil, nil, geminiBadRequest("%v", err)
	}
	return b, &vertexEmbeddingsResponse{
		model:  d.UpstreamModel,
		base64: req.EncodingFormat == "base64",
		texts:  len(req.inputs),
		path:   vertexPath(d, vertexPredict),
	}, nil
}

// vertexEmbeddingsResponse turns a :predict answer into OpenAI's
// embeddings list. Errors are Google's, as for Gemini.
type vertexEmbeddingsResponse struct {
	model  string
	base64 bool
	texts  int
	path   string
}

var (
	_ ResponseTranslator = (*vertexEmbeddingsResponse)(nil)
	_ PathOverrider      = (*vertexEmbeddingsResponse)(nil)
)

// UpstreamPath is :predict; the head asked for it already, and this keeps
// a retry whose head was computed elsewhere right.
func (t *vertexEmbeddingsResponse) UpstreamPath() string { return t.path }

func (t *vertexEmbeddingsResponse) Headers(int, string) (bool, []Header) {
	return false, []Header{{Key: "content-type", Value: "application/json"}}
}

func (t *vertexEmbeddingsResponse) Body(status int, body []byte) ([]byte, error) {
	if status < 200 || status > 299 {
		out, _ := geminiError(status, body)
		return out, nil
	}
	var resp struct {
		Predictions []struct {
			Embeddings *struct {
				Values     []json.Number `json:"values"`
				Statistics struct {
					TokenCount *json.Number `json:"token_count"`
				} `json:"statistics"`
			} `json:"embeddings"`
		} `json:"predictions"`
	}
	if err := decodeNumbers(body, &resp); err != nil {
		return nil, fmt.Errorf("vertex ai embeddings response: %v", err)
	}
	if len(resp.Predictions) != t.texts {
		return nil, fmt.Errorf("vertex ai embeddings response: %d predictions for %d inputs", len(resp.Predictions), t.texts)
	}
	vectors := make([][]json.Number, len(resp.Predictions))
	var tokens int64
	for i, p := range resp.Predictions {
		if p.Embeddings == nil {
			return nil, fmt.Errorf("vertex ai embeddings response: prediction %d has no embeddings", i)
		}
		vectors[i] = p.Embeddings.Values
		if n := p.Embeddings.Statistics.TokenCount; n != nil {
			// A protobuf Value: a JSON number, written as 6 or 6.0.
			f, err := n.Float64()
			if err != nil || f < 0 || f > 1<<53 {
				return nil, fmt.Errorf("vertex ai embeddings response: prediction %d token_count %s", i, *n)
			}
			tokens += int64(math.Round(f))
		}
	}
	return openAIEmbeddingList(t.model, vectors, t.base64, tokens)
}

func (t *vertexEmbeddingsResponse) Chunk(data []byte, _ bool) ([]byte, error) { return data, nil }
