package translate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmvoy/llmvoy/config"
)

// embeddingsFuzzSeeds adds the fixtures' provider answers of dir, each
// with the request count it answers.
func embeddingsFuzzSeeds(f *testing.F, dir string) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, file := range files {
		var fx embeddingsFixture
		b, err := os.ReadFile(file)
		if err != nil || json.Unmarshal(b, &fx) != nil || fx.Status != 200 {
			continue
		}
		var in struct {
			Input json.RawMessage `json:"input"`
		}
		_ = json.Unmarshal(fx.Request, &in)
		var list []string
		n := uint8(1)
		if json.Unmarshal(in.Input, &list) == nil {
			n = uint8(len(list))
		}
		f.Add([]byte(fx.Response), n, false)
		f.Add([]byte(fx.Response), n, true)
	}
}

// checkEmbeddingList checks a translated answer: OpenAI's list with one
// embedding per input, in order, each a list of numbers (or base64 of
// float32s), and usage whose prompt and total tokens agree.
func checkEmbeddingList(t *testing.T, out []byte, inputs int, asBase64 bool) {
	t.Helper()
	var list struct {
		Object string `json:"object"`
		Data   []struct {
			Object    string          `json:"object"`
			Index     int             `json:"index"`
			Embedding json.RawMessage `json:"embedding"`
		} `json:"data"`
		Usage struct {
			PromptTokens int64 `json:"prompt_tokens"`
			TotalTokens  int64 `json:"total_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		t.Fatalf("invalid answer %q: %v", out, err)
	}
	if list.Object != "list" || len(list.Data) != inputs {
		t.Fatalf("want a list of %d embeddings, got %s", inputs, out)
	}
	if list.Usage.PromptTokens < 0 || list.Usage.PromptTokens != list.Usage.TotalTokens {
		t.Fatalf("usage %+v", list.Usage)
	}
	for i, e := range list.Data {
		if e.Object != "embedding" || e.Index != i {
			t.Fatalf("item %d: %s", i, out)
		}
		if asBase64 {
			var s string
			if err := json.Unmarshal(e.Embedding, &s); err != nil {
				t.Fatalf("item %d: not a base64 string: %s", i, e.Embedding)
			}
			raw, err := base64.StdEncoding.DecodeString(s)
			if err != nil || len(raw)%4 != 0 {
				t.Fatalf("item %d: base64 %q is not float32s", i, s)
			}
			continue
		}
		var v []float64
		if err := json.Unmarshal(e.Embedding, &v); err != nil {
			t.Fatalf("item %d: not a list of numbers: %s", i, e.Embedding)
		}
	}
}

// FuzzBedrockEmbeddingsResponse feeds any answer to the Titan and Cohere
// translations: they never panic, and either fail or give a well-formed
// list of exactly one embedding per input.
func FuzzBedrockEmbeddingsResponse(f *testing.F) {
	embeddingsFuzzSeeds(f, "testdata/bedrock/embeddings")
	for _, seed := range []string{
		`{}`, `null`, `[]`, `{"embedding":null,"inputTextTokenCount":1e30}`,
		`{"embedding":[1e400]}`, `{"embeddings":{"float":[[1],[2]]}}`, `{"embeddings":[[],[]],"meta":{"billed_units":{"input_tokens":2.5}}}`,
		`{"embeddings":[null,[1]]}`, `{"embeddingsByType":{"float":["1"]}}`,
	} {
		f.Add([]byte(seed), uint8(2), true)
		f.Add([]byte(seed), uint8(1), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, n uint8, asBase64 bool) {
		inputs := int(n%4) + 1
		for _, family := range []bedrockEmbedFamily{bedrockTitanV1, bedrockTitanV2, bedrockCohere} {
			if family != bedrockCohere {
				inputs = 1
			}
			r := &bedrockEmbeddingsResponse{family: family, model: "m", base64: asBase64, texts: inputs, promptEstimate: 3}
			out, err := r.Body(200, body)
			if err != nil {
				if out != nil {
					t.Fatalf("output with an error")
				}
				continue
			}
			checkEmbeddingList(t, out, inputs, asBase64)
		}
	})
}

// FuzzVertexEmbeddingsResponse does the same for Vertex AI's :predict.
func FuzzVertexEmbeddingsResponse(f *testing.F) {
	embeddingsFuzzSeeds(f, "testdata/vertex/embeddings")
	for _, seed := range []string{
		`{}`, `{"predictions":null}`, `{"predictions":[{"embeddings":{"values":null}}]}`,
		`{"predictions":[{"embeddings":{"values":[1],"statistics":{"token_count":1e300}}}]}`,
		`{"predictions":[{"embeddings":{"values":["0.5"],"statistics":{"token_count":"2"}}}]}`,
	} {
		f.Add([]byte(seed), uint8(1), true)
		f.Add([]byte(seed), uint8(0), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, n uint8, asBase64 bool) {
		inputs := int(n%3) + 1
		r := &vertexEmbeddingsResponse{model: "m", base64: asBase64, texts: inputs}
		out, err := r.Body(200, body)
		if err != nil {
			if out != nil {
				t.Fatalf("output with an error")
			}
			return
		}
		checkEmbeddingList(t, out, inputs, asBase64)
	})
}

// FuzzEmbeddingsRequest checks the Bedrock and Vertex AI request
// translations on any body: they never panic or touch the client's body,
// refuse only with ErrBadRequest, send valid JSON, and Bedrock signs
// exactly what it sends.
func FuzzEmbeddingsRequest(f *testing.F) {
	for _, dir := range []string{"testdata/bedrock/embeddings", "testdata/vertex/embeddings"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, file := range files {
			var fx embeddingsFixture
			if b, err := os.ReadFile(file); err == nil && json.Unmarshal(b, &fx) == nil {
				f.Add([]byte(fx.Request))
			}
		}
	}
	for _, seed := range []string{`{}`, `{"input":null}`, `{"input":["\ud800"],"dimensions":-1}`, `{"input":"x","normalize":"yes"}`, "{\"input\":\"\xff\"}"} {
		f.Add([]byte(seed))
	}
	models := []*config.Deployment{
		bedrockDeployment(f, "https://bedrock-runtime.us-east-1.amazonaws.com", "amazon.titan-embed-text-v1"),
		bedrockDeployment(f, "https://bedrock-runtime.us-east-1.amazonaws.com", "amazon.titan-embed-text-v2:0"),
		bedrockDeployment(f, "https://bedrock-runtime.us-east-1.amazonaws.com", "cohere.embed-v4:0"),
		vertexDeployment(f, "https://europe-west4-aiplatform.googleapis.com", "text-embedding-005"),
		vertexDeployment(f, "https://europe-west4-aiplatform.googleapis.com", "gemini-embedding-001"),
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, d := range models {
			tr, _ := For(d)
			orig := bytes.Clone(body)
			out, resp, err := tr.RequestBody(d, Embeddings, body)
			if !bytes.Equal(orig, body) {
				t.Fatalf("the client's body was modified")
			}
			if err != nil {
				if !errors.Is(err, ErrBadRequest) {
					t.Fatalf("error %v does not wrap ErrBadRequest", err)
				}
				if out != nil || resp != nil {
					t.Fatalf("output with an error")
				}
				continue
			}
			if !json.Valid(out) {
				t.Fatalf("invalid request %q from %q", out, body)
			}
			if h, ok := resp.(HeaderOverrider); ok {
				if got := headerOf(h.UpstreamHeaders(), "x-amz-content-sha256"); got != sha256Hex(out) {
					t.Fatalf("signed %s, sent %s", got, sha256Hex(out))
				}
			}
		}
	})
}
