package mock

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

type embeddingsWire struct {
	Object string `json:"object"`
	Data   []struct {
		Object    string          `json:"object"`
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	} `json:"data"`
	Model string `json:"model"`
	Usage struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

// vectors decodes every embedding, float or base64, into float32s.
func vectors(t *testing.T, got embeddingsWire) [][]float32 {
	t.Helper()
	out := make([][]float32, len(got.Data))
	for i, d := range got.Data {
		require.Equal(t, "embedding", d.Object)
		require.Equal(t, i, d.Index)
		var fs []float32
		if err := json.Unmarshal(d.Embedding, &fs); err != nil {
			var b64 string
			require.NoError(t, json.Unmarshal(d.Embedding, &b64))
			raw, err := base64.StdEncoding.DecodeString(b64)
			require.NoError(t, err)
			require.Zero(t, len(raw)%4)
			for j := 0; j < len(raw); j += 4 {
				fs = append(fs, math.Float32frombits(binary.LittleEndian.Uint32(raw[j:])))
			}
		}
		out[i] = fs
	}
	return out
}

func embed(t *testing.T, s *Server, body string) (embeddingsWire, [][]float32) {
	t.Helper()
	rec := serve(s, http.MethodPost, "/v1/embeddings", body)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "e1", rec.Header().Get("x-mock-name"))
	var got embeddingsWire
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	require.Equal(t, "list", got.Object)
	return got, vectors(t, got)
}

func TestEmbeddings(t *testing.T) {
	s := New(Options{Name: "e1"})

	one, v1 := embed(t, s, `{"model":"text-embedding-3-small","input":"hello world"}`)
	require.Equal(t, "text-embedding-3-small", one.Model)
	require.Len(t, v1, 1)
	require.Len(t, v1[0], DefaultEmbeddingDims)
	require.Equal(t, EstimateTokens("hello world"), one.Usage.PromptTokens)
	require.Equal(t, one.Usage.PromptTokens, one.Usage.TotalTokens)
	var norm float64
	for _, f := range v1[0] {
		norm += float64(f) * float64(f)
	}
	require.InDelta(t, 1, norm, 1e-5, "unit length, like OpenAI's embeddings")

	many, vm := embed(t, s, `{"model":"m","input":["hello world","other"],"encoding_format":"float"}`)
	require.Len(t, vm, 2)
	require.Equal(t, v1[0], vm[0], "same input, same vector")
	require.NotEqual(t, vm[0], vm[1])
	require.Equal(t, EstimateTokens("hello world")+EstimateTokens("other"), many.Usage.PromptTokens)

	// The OpenAI Python SDK asks for base64 unless told otherwise.
	_, vb := embed(t, s, `{"model":"m","input":["hello world","other"],"encoding_format":"base64"}`)
	require.Equal(t, vm, vb)

	tok, vt := embed(t, s, `{"model":"m","input":[1,2,3]}`)
	require.Len(t, vt, 1)
	require.Equal(t, 3, tok.Usage.PromptTokens)
	toks, vts := embed(t, s, `{"model":"m","input":[[1,2,3],[4]]}`)
	require.Len(t, vts, 2)
	require.Equal(t, vt[0], vts[0])
	require.Equal(t, 4, toks.Usage.PromptTokens)

	_, vd := embed(t, s, `{"model":"m","input":"x","dimensions":256}`)
	require.Len(t, vd[0], 256)
}

func TestEmbeddingsBadRequests(t *testing.T) {
	tests := []struct{ name, body, msg, param string }{
		{"not json", `nope`, "We could not parse the JSON body", "<null>"},
		{"no model", `{"input":"x"}`, "you must provide a model parameter", "<null>"},
		{"no input", `{"model":"m"}`, "Missing required parameter: 'input'.", "input"},
		{"empty input", `{"model":"m","input":[]}`, "Invalid 'input': empty array.", "input"},
		{"input of objects", `{"model":"m","input":[{"a":1}]}`, "Invalid type for 'input'", "input"},
		{"bad encoding", `{"model":"m","input":"x","encoding_format":"hex"}`, "Invalid value: 'hex'. Supported values are: 'float' and 'base64'.", "encoding_format"},
		{"bad dimensions", `{"model":"m","input":"x","dimensions":0}`, "Invalid 'dimensions'", "dimensions"},
	}
	s := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(s, http.MethodPost, "/v1/embeddings", tt.body)
			require.Equal(t, http.StatusBadRequest, rec.Code)
			e := decodeError(t, rec.Body.Bytes())
			require.True(t, strings.HasPrefix(e.Error.Message, tt.msg), e.Error.Message)
			require.Equal(t, "invalid_request_error", e.Error.Type)
			require.Equal(t, tt.param, deref(e.Error.Param))
		})
	}
}
