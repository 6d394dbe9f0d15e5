package translate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/credentials"
	"github.com/llmvoy/llmvoy/mock"
)

// embeddingsFixture is one file of testdata/{bedrock,vertex}/embeddings:
// the deployment's model, the client's request and what it becomes, the
// provider's answer and what the client gets.
type embeddingsFixture struct {
	Model           string          `json:"model"`
	Request         json.RawMessage `json:"request"`
	UpstreamRequest json.RawMessage `json:"upstream_request"`
	Status          int             `json:"status"`
	Response        json.RawMessage `json:"response"`
	Want            json.RawMessage `json:"want"`
}

func runEmbeddingsFixtures(t *testing.T, dir string, deployment func(t *testing.T, model string) *config.Deployment, tr Translator) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			var fx embeddingsFixture
			readFixture(t, file, &fx)
			require.NotEmpty(t, fx.Model)
			d := deployment(t, fx.Model)
			orig := bytes.Clone(fx.Request)
			out, resp, err := tr.RequestBody(d, Embeddings, fx.Request)
			require.NoError(t, err)
			require.Equal(t, orig, []byte(fx.Request), "the client's body was modified")
			require.JSONEq(t, string(fx.UpstreamRequest), string(out))

			stream, set := resp.Headers(fx.Status, "application/json")
			require.False(t, stream)
			require.Contains(t, set, Header{"content-type", "application/json"})
			got, err := resp.Body(fx.Status, fx.Response)
			require.NoError(t, err)
			require.JSONEq(t, string(fx.Want), string(got))
		})
	}
}

func TestBedrockEmbeddingsFixtures(t *testing.T) {
	fixBedrock(t)
	runEmbeddingsFixtures(t, "testdata/bedrock/embeddings", func(t *testing.T, model string) *config.Deployment {
		return bedrockDeployment(t, "https://bedrock-runtime.us-east-1.amazonaws.com", model)
	}, bedrock{})
}

func TestVertexEmbeddingsFixtures(t *testing.T) {
	runEmbeddingsFixtures(t, "testdata/vertex/embeddings", func(t *testing.T, model string) *config.Deployment {
		return vertexDeployment(t, "https://europe-west4-aiplatform.googleapis.com", model)
	}, vertex{})
}

// An embeddings attempt on Bedrock goes to InvokeModel, signed over the
// body it sends, for the path it names in the head and the body phase.
func TestBedrockEmbeddingsPathAndSignature(t *testing.T) {
	fixBedrock(t)
	for _, tt := range []struct{ model, path string }{
		{"amazon.titan-embed-text-v2:0", "/model/amazon.titan-embed-text-v2%3A0/invoke"},
		{"cohere.embed-english-v3", "/model/cohere.embed-english-v3/invoke"},
		{"arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v1", "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A%3Afoundation-model%2Famazon.titan-embed-text-v1/invoke"},
		{"invoke/cohere.embed-multilingual-v3", "/model/cohere.embed-multilingual-v3/invoke"},
	} {
		t.Run(tt.model, func(t *testing.T) {
			d := bedrockDeployment(t, "https://bedrock-runtime.us-east-1.amazonaws.com", tt.model)
			head, err := bedrock{}.RequestHead(d, Embeddings, "")
			require.NoError(t, err)
			require.Equal(t, tt.path, head.Path)
			out, resp, err := bedrock{}.RequestBody(d, Embeddings, []byte(`{"input":"hi"}`))
			require.NoError(t, err)
			require.Equal(t, tt.path, resp.(PathOverrider).UpstreamPath())
			hs := resp.(HeaderOverrider).UpstreamHeaders()
			require.Equal(t, "bedrock-runtime.us-east-1.amazonaws.com", headerOf(hs, ":authority"))
			require.Equal(t, sha256Hex(out), headerOf(hs, "x-amz-content-sha256"))
			m := bedrockAuthPattern.FindStringSubmatch(headerOf(hs, "authorization"))
			require.NotNil(t, m, headerOf(hs, "authorization"))
			require.Equal(t, "us-east-1", m[3])
		})
	}
}

func TestBedrockEmbeddingsRefused(t *testing.T) {
	for _, tt := range []struct {
		name, model, body, msg string
	}{
		{"titan list of two", "amazon.titan-embed-text-v2:0", `{"input":["a","b"]}`, "Amazon Titan embeddings take one text per request"},
		{"titan v1 dimensions", "amazon.titan-embed-text-v1", `{"input":"a","dimensions":256}`, "dimensions and normalize are not supported by amazon.titan-embed-text-v1"},
		{"cohere v3 dimensions", "cohere.embed-english-v3", `{"input":"a","dimensions":256}`, "Cohere Embed v3"},
		{"token ids", "cohere.embed-english-v3", `{"input":[1,2,3]}`, "token arrays are not supported for Bedrock deployments"},
		{"empty list", "cohere.embed-english-v3", `{"input":[]}`, "non-empty array"},
		{"no input", "amazon.titan-embed-text-v2:0", `{"model":"x"}`, "input: want a string"},
		{"not an object", "amazon.titan-embed-text-v2:0", `["x"]`, "must be a JSON object"},
		{"bad encoding", "amazon.titan-embed-text-v2:0", `{"input":"x","encoding_format":"int8"}`, "encoding_format"},
		{"zero dimensions", "amazon.titan-embed-text-v2:0", `{"input":"x","dimensions":0}`, "dimensions: want a positive integer"},
		{"chat model", "anthropic.claude-3-5-sonnet-20240620-v1:0", `{"input":"x"}`, "cannot tell the family"},
		{"application inference profile", "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc", `{"input":"x"}`, "cannot tell the family"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, resp, err := bedrock{}.RequestBody(bedrockDeployment(t, "http://h:1", tt.model), Embeddings, []byte(tt.body))
			require.ErrorIs(t, err, ErrBadRequest)
			require.ErrorContains(t, err, tt.msg)
			require.Nil(t, out)
			require.Nil(t, resp)
		})
	}
}

func TestBedrockEmbeddingsStatus(t *testing.T) {
	_, resp, err := bedrock{}.RequestBody(bedrockDeployment(t, "http://h:1", "amazon.titan-embed-text-v2:0"), Embeddings, []byte(`{"input":"x"}`))
	require.NoError(t, err)
	// ModelErrorException is a server error before the retry policy
	// looks; a 403 for a bad key is a 401 once the body is read.
	_, set := resp.Headers(424, "application/json")
	require.Contains(t, set, Header{":status", "500"})
	out, err := resp.Body(403, []byte(`{"message":"The security token included in the request is invalid."}`))
	require.NoError(t, err)
	require.Contains(t, string(out), `"invalid_api_key"`)
	require.Equal(t, 401, resp.(StatusOverrider).BodyStatus())
}

// A malformed success answer is an error (the upstream processor makes it
// a 502 naming the deployment), never a made-up embedding.
func TestEmbeddingsMalformedAnswers(t *testing.T) {
	fixBedrock(t)
	for _, tt := range []struct {
		name, model, request, body, msg string
		tr                              Translator
	}{
		{"titan not JSON", "amazon.titan-embed-text-v2:0", `{"input":"x"}`, `<html>`, "titan embeddings response", bedrock{}},
		{"titan no embedding", "amazon.titan-embed-text-v2:0", `{"input":"x"}`, `{"inputTextTokenCount":1}`, "no embedding", bedrock{}},
		{"titan value not a number", "amazon.titan-embed-text-v2:0", `{"input":"x"}`, `{"embedding":["a"]}`, "titan embeddings response", bedrock{}},
		{"titan negative tokens", "amazon.titan-embed-text-v2:0", `{"input":"x"}`, `{"embedding":[1],"inputTextTokenCount":-1}`, "inputTextTokenCount", bedrock{}},
		{"titan value out of range", "amazon.titan-embed-text-v2:0", `{"input":"x"}`, `{"embedding":[0.5,1e400]}`, "embedding 0 value 1", bedrock{}},
		{"titan trailing data", "amazon.titan-embed-text-v2:0", `{"input":"x"}`, `{"embedding":[1]} {}`, "data after", bedrock{}},
		{"cohere too few", "cohere.embed-english-v3", `{"input":["a","b"]}`, `{"embeddings":[[1]]}`, "1 embeddings for 2 texts", bedrock{}},
		{"cohere no embeddings", "cohere.embed-english-v3", `{"input":"a"}`, `{"id":"x"}`, "want a list of float vectors", bedrock{}},
		{"cohere only int8", "cohere.embed-english-v3", `{"input":"a"}`, `{"embeddings":{"int8":[[1]]}}`, "want a list of float vectors", bedrock{}},
		{"vertex too few", "text-embedding-005", `{"input":["a","b"]}`, `{"predictions":[{"embeddings":{"values":[1]}}]}`, "1 predictions for 2 inputs", vertex{}},
		{"vertex no embeddings", "text-embedding-005", `{"input":"a"}`, `{"predictions":[{}]}`, "has no embeddings", vertex{}},
		{"vertex bad token_count", "text-embedding-005", `{"input":"a"}`, `{"predictions":[{"embeddings":{"values":[1],"statistics":{"token_count":-2}}}]}`, "token_count", vertex{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var d *config.Deployment
			if _, ok := tt.tr.(vertex); ok {
				d = vertexDeployment(t, "http://h:1", tt.model)
			} else {
				d = bedrockDeployment(t, "http://h:1", tt.model)
			}
			_, resp, err := tt.tr.RequestBody(d, Embeddings, []byte(tt.request))
			require.NoError(t, err)
			got, err := resp.Body(200, []byte(tt.body))
			require.ErrorContains(t, err, tt.msg)
			require.Nil(t, got)
		})
	}
}

func TestVertexEmbeddingsRefused(t *testing.T) {
	for _, tt := range []struct {
		name, model, body, msg string
	}{
		{"gemini-embedding-001 batch", "gemini-embedding-001", `{"input":["a","b"]}`, "gemini-embedding-001 on Vertex AI takes one text per request, got 2"},
		{"tuned endpoint", "1234567890", `{"input":"a"}`, "not supported yet"},
		{"token ids", "text-embedding-005", `{"input":[[1,2]]}`, "token arrays are not supported for Vertex AI deployments"},
		{"bad encoding", "text-embedding-005", `{"input":"a","encoding_format":"uint8"}`, "encoding_format"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, resp, err := vertex{}.RequestBody(vertexDeployment(t, "http://h:1", tt.model), Embeddings, []byte(tt.body))
			require.ErrorIs(t, err, ErrBadRequest)
			require.ErrorContains(t, err, tt.msg)
			require.Nil(t, out)
			require.Nil(t, resp)
		})
	}
}

func TestVertexEmbeddingsPath(t *testing.T) {
	d := vertexDeployment(t, "https://gw.example.com/v1/projects/p/locations/us-east5/publishers/google/models/text-embedding-005", "text-embedding-005")
	_, resp, err := vertex{}.RequestBody(d, Embeddings, []byte(`{"input":"a"}`))
	require.NoError(t, err)
	require.Equal(t, "/v1/projects/p/locations/us-east5/publishers/google/models/text-embedding-005:predict", resp.(PathOverrider).UpstreamPath())
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// What the translator signs and sends, the mock (AWS's documented bodies,
// its own SigV4 check) accepts, and its answer translates: one embedding
// per input, of the model's size, with the mock's token counts.
func TestBedrockEmbeddingsAtTheMock(t *testing.T) {
	srv := mock.New(mock.Options{Name: "mock-bedrock"})
	for _, tt := range []struct {
		name, model, body string
		dims, count       int
		tokens            int64
	}{
		{"titan v2", "amazon.titan-embed-text-v2:0", `{"input":"hello titan","dimensions":256}`, 256, 1, 3},
		{"titan v1, cross-region id", "us.amazon.titan-embed-text-v1", `{"input":["héllo <&>"]}`, 1536, 1, 3},
		{"cohere v3", "cohere.embed-english-v3", `{"input":["a","bb","the third text"],"input_type":"search_query"}`, 1024, 3, 1 + 1 + 4},
		{"cohere v4", "cohere.embed-v4:0", `{"input":"x","dimensions":512,"encoding_format":"base64"}`, 512, 1, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := bedrockDeployment(t, "http://127.0.0.1:4010", tt.model)
			out, resp, err := bedrock{}.RequestBody(d, Embeddings, []byte(tt.body))
			require.NoError(t, err)
			req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:4010"+resp.(PathOverrider).UpstreamPath(), bytes.NewReader(out))
			for _, h := range resp.(HeaderOverrider).UpstreamHeaders() {
				if h.Key == ":authority" {
					req.Host = h.Value
				} else {
					req.Header.Set(h.Key, h.Value)
				}
			}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			require.Equal(t, 200, rec.Code, rec.Body.String())
			got, err := resp.Body(rec.Code, rec.Body.Bytes())
			require.NoError(t, err)
			var list struct {
				Data []struct {
					Embedding json.RawMessage `json:"embedding"`
				} `json:"data"`
				Usage struct {
					PromptTokens int64 `json:"prompt_tokens"`
				} `json:"usage"`
			}
			require.NoError(t, json.Unmarshal(got, &list))
			require.Len(t, list.Data, tt.count)
			require.Equal(t, tt.tokens, list.Usage.PromptTokens)
			for _, e := range list.Data {
				var v []float64
				if err := json.Unmarshal(e.Embedding, &v); err != nil {
					var s string
					require.NoError(t, json.Unmarshal(e.Embedding, &s))
					raw, err := base64.StdEncoding.DecodeString(s)
					require.NoError(t, err)
					v = make([]float64, len(raw)/4)
				}
				require.Len(t, v, tt.dims)
			}
		})
	}

	// A wrong secret is the mock's 403, the client's 401.
	d := bedrockDeployment(t, "http://127.0.0.1:4010", "amazon.titan-embed-text-v2:0")
	d.AWS.SecretAccessKey = "not-the-secret"
	out, resp, err := bedrock{}.RequestBody(d, Embeddings, []byte(`{"input":"x"}`))
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:4010"+resp.(PathOverrider).UpstreamPath(), bytes.NewReader(out))
	for _, h := range resp.(HeaderOverrider).UpstreamHeaders() {
		req.Header.Set(h.Key, h.Value)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	require.Equal(t, 403, rec.Code)
	got, err := resp.Body(rec.Code, rec.Body.Bytes())
	require.NoError(t, err)
	require.Contains(t, string(got), "signature we calculated does not match")
	require.Equal(t, 401, resp.(StatusOverrider).BodyStatus())
}

// Vertex AI embeddings against the mock: the deployment's token (from its
// service account key, at the mock's token endpoint) on :predict, and the
// mock's answer translated with its token counts.
func TestVertexEmbeddingsAtTheMock(t *testing.T) {
	m := mock.New(mock.Options{Name: "vertex"})
	ts := httptest.NewServer(m)
	t.Cleanup(ts.Close)
	d := vertexDeployment(t, ts.URL, "text-embedding-005")
	d.Vertex.Credentials = config.Secret(testServiceAccount(t, m, ts.URL+"/token", 0))

	head, err := vertex{}.RequestHead(d, Embeddings, "")
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(head.Path, "/publishers/google/models/text-embedding-005:predict"), head.Path)
	require.Equal(t, GoogleToken, head.Token)
	token, err := credentials.NewGoogleTokens(nil).Token(context.Background(), d)
	require.NoError(t, err)
	body, resp, err := vertex{}.RequestBody(d, Embeddings, []byte(`{"input":["What is life?","a"],"dimensions":16,"input_type":"RETRIEVAL_QUERY"}`))
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodPost, head.Path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, req)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	got, err := resp.Body(rec.Code, rec.Body.Bytes())
	require.NoError(t, err)
	var list struct {
		Data []struct {
			Embedding []float64 `json:"embedding"`
		} `json:"data"`
		Usage struct {
			PromptTokens int64 `json:"prompt_tokens"`
		} `json:"usage"`
	}
	require.NoError(t, json.Unmarshal(got, &list))
	require.Len(t, list.Data, 2)
	require.Len(t, list.Data[0].Embedding, 16)
	require.Equal(t, int64(mock.EstimateTokens("What is life?")+mock.EstimateTokens("a")), list.Usage.PromptTokens)

	// Vertex AI's refusal reaches the client as OpenAI's error.
	body, resp, err = vertex{}.RequestBody(d, Embeddings, []byte(`{"input":"x","dimensions":769}`))
	require.NoError(t, err)
	req = httptest.NewRequest(http.MethodPost, head.Path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	rec = httptest.NewRecorder()
	m.ServeHTTP(rec, req)
	require.Equal(t, 400, rec.Code)
	got, err = resp.Body(rec.Code, rec.Body.Bytes())
	require.NoError(t, err)
	require.JSONEq(t, `{"error":{"message":"Output dimensionality must be between 1 and 768.","type":"invalid_request_error","param":null,"code":"400"}}`, string(got))
}
