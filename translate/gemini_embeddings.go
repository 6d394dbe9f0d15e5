package translate

import (
	"encoding/json"
	"fmt"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// OpenAI embeddings → models/{model}:batchEmbedContents, one request per
// input, as LiteLLM's transform_openai_input_gemini_content does for text.
// Token-array inputs have no Gemini counterpart and are refused.

type gmEmbedRequest struct {
	Model                string    `json:"model"`
	Content              gmContent `json:"content"`
	OutputDimensionality *int64    `json:"outputDimensionality,omitempty"`
	TaskType             string    `json:"taskType,omitempty"`
}

func geminiEmbeddingsRequest(d *config.Deployment, body []byte) ([]byte, ResponseTranslator, error) {
	req, err := parseEmbeddingsRequest(body, "Gemini")
	if err != nil {
		return nil, nil, err
	}
	model := geminiModelResource(d.UpstreamModel)
	batch := struct {
		Requests []gmEmbedRequest `json:"requests"`
	}{make([]gmEmbedRequest, len(req.inputs))}
	for i, in := range req.inputs {
		batch.Requests[i] = gmEmbedRequest{
			Model:                model,
			Content:              gmContent{Parts: []gmPart{{Text: in}}},
			OutputDimensionality: req.Dimensions,
			TaskType:             req.TaskType,
		}
	}
	out, err := jsonscan.Marshal(batch)
	if err != nil {
		return nil, nil, geminiBadRequest("%v", err)
	}
	return out, &geminiEmbeddingsResponse{
		model:        d.UpstreamModel,
		base64:       req.EncodingFormat == "base64",
		promptTokens: estimateTokens(req.inputs),
	}, nil
}

// geminiEmbeddingsResponse turns {"embeddings": [{"values": [...]}]} into
// OpenAI's embeddings list. batchEmbedContents reports no usage: prompt
// tokens are estimated at four characters a token (LiteLLM counts them
// with a local tokenizer).
type geminiEmbeddingsResponse struct {
	model        string
	base64       bool
	promptTokens int64
}

var _ ResponseTranslator = (*geminiEmbeddingsResponse)(nil)

func (t *geminiEmbeddingsResponse) Headers(int, string) (bool, []Header) {
	return false, []Header{{Key: "content-type", Value: "application/json"}}
}

func (t *geminiEmbeddingsResponse) Body(status int, body []byte) ([]byte, error) {
	if status < 200 || status > 299 {
		out, _ := geminiError(status, body)
		return out, nil
	}
	var resp struct {
		Embeddings []struct {
			Values []json.Number `json:"values"`
		} `json:"embeddings"`
	}
	if err := decodeNumbers(body, &resp); err != nil {
		return nil, fmt.Errorf("decode embeddings: %v", err)
	}
	vectors := make([][]json.Number, len(resp.Embeddings))
	for i, e := range resp.Embeddings {
		vectors[i] = e.Values
	}
	return openAIEmbeddingList(t.model, vectors, t.base64, t.promptTokens)
}

func (t *geminiEmbeddingsResponse) Chunk(data []byte, _ bool) ([]byte, error) { return data, nil }
