package translate

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/llmvoy/llmvoy/config"
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
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, nil, geminiBadRequest("the body must be a JSON object")
	}
	var req struct {
		Input          json.RawMessage `json:"input"`
		Dimensions     *int64          `json:"dimensions"`
		EncodingFormat string          `json:"encoding_format"`
		TaskType       string          `json:"task_type"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, nil, geminiBadRequest("%v", err)
	}
	var inputs []string
	var one string
	if err := json.Unmarshal(req.Input, &one); err == nil {
		inputs = []string{one}
	} else if err := json.Unmarshal(req.Input, &inputs); err != nil || len(inputs) == 0 {
		return nil, nil, geminiBadRequest("input: want a string or a non-empty array of strings (token arrays are not supported for Gemini deployments)")
	}
	switch req.EncodingFormat {
	case "", "float", "base64":
	default:
		return nil, nil, geminiBadRequest("encoding_format: want float or base64, got %q", req.EncodingFormat)
	}
	model := geminiModelResource(d.UpstreamModel)
	batch := struct {
		Requests []gmEmbedRequest `json:"requests"`
	}{make([]gmEmbedRequest, len(inputs))}
	tokens := 0
	for i, in := range inputs {
		batch.Requests[i] = gmEmbedRequest{
			Model:                model,
			Content:              gmContent{Parts: []gmPart{{Text: in}}},
			OutputDimensionality: req.Dimensions,
			TaskType:             req.TaskType,
		}
		tokens += max(1, (utf8.RuneCountInString(in)+3)/4)
	}
	out, err := geminiMarshal(batch)
	if err != nil {
		return nil, nil, geminiBadRequest("%v", err)
	}
	return out, &geminiEmbeddingsResponse{
		model:        d.UpstreamModel,
		base64:       req.EncodingFormat == "base64",
		promptTokens: int64(tokens),
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
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&resp); err != nil {
		return nil, fmt.Errorf("decode embeddings: %v", err)
	}
	type item struct {
		Object    string `json:"object"`
		Index     int    `json:"index"`
		Embedding any    `json:"embedding"`
	}
	out := struct {
		Object string      `json:"object"`
		Data   []item      `json:"data"`
		Model  string      `json:"model"`
		Usage  *gemOAUsage `json:"usage"`
	}{Object: "list", Data: make([]item, len(resp.Embeddings)), Model: t.model,
		Usage: &gemOAUsage{PromptTokens: t.promptTokens, TotalTokens: t.promptTokens}}
	for i, e := range resp.Embeddings {
		out.Data[i] = item{Object: "embedding", Index: i, Embedding: e.Values}
		if t.base64 {
			// OpenAI's base64 encoding: little-endian float32s.
			buf := make([]byte, 4*len(e.Values))
			for j, v := range e.Values {
				f, err := strconv.ParseFloat(string(v), 32)
				if err != nil {
					return nil, fmt.Errorf("embedding %d value %d: %v", i, j, err)
				}
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(float32(f)))
			}
			out.Data[i].Embedding = base64.StdEncoding.EncodeToString(buf)
		} else if e.Values == nil {
			out.Data[i].Embedding = []json.Number{}
		}
	}
	return geminiMarshal(out)
}

func (t *geminiEmbeddingsResponse) Chunk(data []byte, _ bool) ([]byte, error) { return data, nil }
