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

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// What every provider's /embeddings translation shares: reading OpenAI's
// request (input, dimensions, encoding_format) and writing OpenAI's
// embeddings list. The provider files (gemini_embeddings.go,
// bedrock_embeddings.go, vertex_embeddings.go) map the rest.

// oaEmbeddingsRequest is the part of OpenAI's embeddings request every
// provider reads, and the non-OpenAI parameters LiteLLM passes on
// (input_type for Cohere and Vertex AI, task_type, title, truncate, ...).
type oaEmbeddingsRequest struct {
	Input          json.RawMessage `json:"input"`
	Dimensions     *int64          `json:"dimensions"`
	EncodingFormat string          `json:"encoding_format"`

	InputType    string `json:"input_type"`
	TaskType     string `json:"task_type"`
	Title        string `json:"title"`
	Truncate     string `json:"truncate"`
	AutoTruncate *bool  `json:"auto_truncate"`
	Normalize    *bool  `json:"normalize"`

	inputs []string
}

// parseEmbeddingsRequest reads a client's embeddings request. provider
// names the deployments in messages ("Gemini", "Bedrock", ...). Token-array
// inputs have no counterpart at providers that embed text and are refused.
func parseEmbeddingsRequest(body []byte, provider string) (*oaEmbeddingsRequest, error) {
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, fmt.Errorf("%w: the body must be a JSON object", ErrBadRequest)
	}
	var req oaEmbeddingsRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	var one string
	if err := json.Unmarshal(req.Input, &one); err == nil {
		req.inputs = []string{one}
	} else if err := json.Unmarshal(req.Input, &req.inputs); err != nil || len(req.inputs) == 0 {
		return nil, fmt.Errorf("%w: input: want a string or a non-empty array of strings (token arrays are not supported for %s deployments)", ErrBadRequest, provider)
	}
	switch req.EncodingFormat {
	case "", "float", "base64":
	default:
		return nil, fmt.Errorf("%w: encoding_format: want float or base64, got %q", ErrBadRequest, req.EncodingFormat)
	}
	if req.Dimensions != nil && *req.Dimensions < 1 {
		return nil, fmt.Errorf("%w: dimensions: want a positive integer, got %d", ErrBadRequest, *req.Dimensions)
	}
	return &req, nil
}

// estimateTokens is the prompt tokens of inputs at four characters a token
// (at least one per input), for providers whose answer counts none
// (LiteLLM counts them with a local tokenizer).
func estimateTokens(inputs []string) int64 {
	var n int64
	for _, in := range inputs {
		n += int64(max(1, (utf8.RuneCountInString(in)+3)/4))
	}
	return n
}

// openAIEmbeddingList writes OpenAI's embeddings list: one embedding per
// vector, in order, with usage. The vectors' numbers are the provider's,
// as it wrote them; with asBase64 each vector is OpenAI's base64 form
// instead (little-endian float32s), which the OpenAI SDKs ask for by
// default.
func openAIEmbeddingList(model string, vectors [][]json.Number, asBase64 bool, promptTokens int64) ([]byte, error) {
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
	}{Object: "list", Data: make([]item, len(vectors)), Model: model,
		Usage: &gemOAUsage{PromptTokens: promptTokens, TotalTokens: promptTokens}}
	for i, v := range vectors {
		out.Data[i] = item{Object: "embedding", Index: i, Embedding: v}
		switch {
		case asBase64:
			buf := make([]byte, 4*len(v))
			for j, x := range v {
				f, err := strconv.ParseFloat(string(x), 32)
				if err != nil {
					return nil, fmt.Errorf("embedding %d value %d: %v", i, j, err)
				}
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(float32(f)))
			}
			out.Data[i].Embedding = base64.StdEncoding.EncodeToString(buf)
		case v == nil:
			out.Data[i].Embedding = []json.Number{}
		default:
			// Valid JSON, but a number no float holds (1e400) would break
			// the client's decoder.
			for j, x := range v {
				if _, err := strconv.ParseFloat(string(x), 64); err != nil {
					return nil, fmt.Errorf("embedding %d value %d: %v", i, j, err)
				}
			}
		}
	}
	return jsonscan.Marshal(out)
}

// decodeNumbers decodes a provider answer keeping numbers as written, so
// vectors reach the client without a float64 round trip.
func decodeNumbers(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("data after the JSON value")
	}
	return nil
}
