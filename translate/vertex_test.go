package translate

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/credentials"
	"github.com/llmvoy/llmvoy/mock"
)

func vertexDeployment(t testing.TB, base, model string) *config.Deployment {
	t.Helper()
	return &config.Deployment{
		ID: "vertex-1", ModelName: "flash", Provider: "vertex_ai", API: config.APIVertex,
		UpstreamModel: model, APIBase: mustURL(t, base),
		Vertex: config.VertexSettings{Project: "my-project", Location: "europe-west4", Credentials: `{"type":"service_account"}`},
	}
}

func TestVertexRegistered(t *testing.T) {
	tr, err := For(vertexDeployment(t, "https://europe-west4-aiplatform.googleapis.com", "gemini-2.0-flash"))
	require.NoError(t, err)
	require.Equal(t, vertex{}, tr)
	require.True(t, tr.TranslatesResponses(nil))
}

func TestVertexRequestHead(t *testing.T) {
	const project = "/v1/projects/my-project/locations/europe-west4"
	tests := []struct {
		name, base, model string
		ep                Endpoint
		want              RequestHead
	}{
		{
			name: "regional host, chat streams", base: "https://europe-west4-aiplatform.googleapis.com", model: "gemini-2.0-flash", ep: ChatCompletions,
			want: RequestHead{Path: project + "/publishers/google/models/gemini-2.0-flash:streamGenerateContent?alt=sse", Authority: "europe-west4-aiplatform.googleapis.com", Token: GoogleToken},
		},
		{
			name: "api_base mounted under a path", base: "http://127.0.0.1:8080/vertex/", model: "gemini-2.5-pro", ep: ChatCompletions,
			want: RequestHead{Path: "/vertex" + project + "/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse", Authority: "127.0.0.1:8080", Token: GoogleToken},
		},
		{
			name: "api_base naming the model, LiteLLM's form", base: "https://gw.example.com/v1/projects/p/locations/us-east5/publishers/google/models/gemini-2.0-flash", model: "gemini-2.0-flash", ep: ChatCompletions,
			want: RequestHead{Path: "/v1/projects/p/locations/us-east5/publishers/google/models/gemini-2.0-flash:streamGenerateContent?alt=sse", Authority: "gw.example.com", Token: GoogleToken},
		},
		{
			name: "a tuned model's endpoint", base: "https://europe-west4-aiplatform.googleapis.com", model: "gemini/4965075652664360960", ep: ChatCompletions,
			want: RequestHead{Path: project + "/endpoints/4965075652664360960:streamGenerateContent?alt=sse", Authority: "europe-west4-aiplatform.googleapis.com", Token: GoogleToken},
		},
		{
			name: "model name is escaped", base: "http://h:1", model: "gemini-2.0-flash@001 x", ep: ChatCompletions,
			want: RequestHead{Path: project + "/publishers/google/models/gemini-2.0-flash@001%20x:streamGenerateContent?alt=sse", Authority: "h:1", Token: GoogleToken},
		},
		{
			name: "query of the base rides along", base: "http://h:1?tenant=t1", model: "m", ep: ChatCompletions,
			want: RequestHead{Path: project + "/publishers/google/models/m:streamGenerateContent?tenant=t1&alt=sse", Authority: "h:1", Token: GoogleToken},
		},
		{
			name: "embeddings go to :predict with the token", base: "http://h:1", model: "text-embedding-005", ep: Embeddings,
			want: RequestHead{Path: project + "/publishers/google/models/text-embedding-005:predict", Authority: "h:1", Token: GoogleToken},
		},
		{
			name: "completions are refused in the body: no token asked for", base: "http://h:1", model: "gemini-2.0-flash", ep: Completions,
			want: RequestHead{Path: project + "/publishers/google/models/gemini-2.0-flash:streamGenerateContent?alt=sse", Authority: "h:1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := vertex{}.RequestHead(vertexDeployment(t, tt.base, tt.model), tt.ep, "client=ignored")
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestVertexGlobalLocation(t *testing.T) {
	d := vertexDeployment(t, "https://aiplatform.googleapis.com", "gemini-2.5-flash")
	d.Vertex.Location = "global"
	head, err := vertex{}.RequestHead(d, ChatCompletions, "")
	require.NoError(t, err)
	require.Equal(t, "/v1/projects/my-project/locations/global/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse", head.Path)
}

func TestVertexHealthProbeNotSupported(t *testing.T) {
	_, err := vertex{}.RequestHead(vertexDeployment(t, "http://h:1", "m"), geminiModels, "")
	require.ErrorContains(t, err, "not supported yet")
}

// The body, the answer and the stream are the Gemini API's: every Gemini
// request fixture translates the same for Vertex AI, and a client that
// does not stream is sent to :generateContent under the project.
func TestVertexRequestFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/gemini/requests/*.openai.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".openai.json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(in)
			require.NoError(t, err)
			var m struct{ Model string }
			require.NoError(t, json.Unmarshal(body, &m))
			d := vertexDeployment(t, "https://europe-west4-aiplatform.googleapis.com", m.Model)
			orig := bytes.Clone(body)
			out, resp, err := vertex{}.RequestBody(d, ChatCompletions, body)
			require.NoError(t, err)
			require.Equal(t, orig, body, "the client's body was modified")
			want, err := os.ReadFile(filepath.Join("testdata/gemini/requests", name+".gemini.json"))
			require.NoError(t, err)
			geminiRequireSameJSON(t, want, out)
			require.IsType(t, &geminiChatResponse{}, resp)
		})
	}
}

func TestVertexUpstreamPath(t *testing.T) {
	d := vertexDeployment(t, "https://europe-west4-aiplatform.googleapis.com", "gemini-2.0-flash")
	_, resp, err := vertex{}.RequestBody(d, ChatCompletions, []byte(geminiPlainBody))
	require.NoError(t, err)
	require.Equal(t, "/v1/projects/my-project/locations/europe-west4/publishers/google/models/gemini-2.0-flash:generateContent", resp.(PathOverrider).UpstreamPath())
	_, resp, err = vertex{}.RequestBody(d, ChatCompletions, []byte(geminiStreamBody))
	require.NoError(t, err)
	require.Empty(t, resp.(PathOverrider).UpstreamPath(), "a streaming client keeps the head's :streamGenerateContent")
}

func TestVertexStreamFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/gemini/streams/*.gemini.sse")
	require.NoError(t, err)
	d := vertexDeployment(t, "http://h:1", "gemini-2.0-flash")
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".gemini.sse")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(in)
			require.NoError(t, err)
			_, resp, err := vertex{}.RequestBody(d, ChatCompletions, []byte(geminiStreamBody))
			require.NoError(t, err)
			stream, _ := resp.Headers(200, "text/event-stream")
			require.True(t, stream)
			out, _ := resp.Chunk(body, true)
			want, err := os.ReadFile(filepath.Join("testdata/gemini/streams", name+".openai.sse"))
			require.NoError(t, err)
			geminiRequireSameEvents(t, want, geminiNormalize(out))
		})
	}
}

func TestVertexOtherEndpointsRefused(t *testing.T) {
	d := vertexDeployment(t, "http://h:1", "gemini-2.0-flash")
	_, _, err := vertex{}.RequestBody(d, Completions, []byte(`{"prompt":"x"}`))
	require.ErrorIs(t, err, ErrBadRequest)
	require.ErrorContains(t, err, "/v1/completions is not supported for Vertex AI deployments yet")
}

// testServiceAccount makes a service account key pair for the test, trusts
// it on m, and returns its JSON with token_uri pointing at m.
func testServiceAccount(t *testing.T, m *mock.Server, tokenURI string, lifetime time.Duration) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	email := "llmvoy-test@my-project.iam.gserviceaccount.com"
	m.TrustServiceAccount(email, &key.PublicKey, lifetime)
	b, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "my-project", "private_key_id": "test-key",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": email, "token_uri": tokenURI,
	})
	require.NoError(t, err)
	return string(b)
}

// vertexMock serves the mock as Google's token endpoint and Vertex AI, and
// writes a service account key file it trusts: the mock, its URL, the file.
func vertexMock(t *testing.T) (*mock.Server, string, string) {
	t.Helper()
	m := mock.New(mock.Options{Name: "vertex"})
	ts := httptest.NewServer(m)
	t.Cleanup(ts.Close)
	keyFile := filepath.Join(t.TempDir(), "sa.json")
	require.NoError(t, os.WriteFile(keyFile, []byte(testServiceAccount(t, m, ts.URL+"/token", 0)), 0o600))
	return m, ts.URL, keyFile
}

// The whole path against the mock's token endpoint and Vertex routes: the
// config reads the key file, the token source signs a JWT with it and
// exchanges it, and the mock accepts the token on its Vertex route.
func TestVertexTokenFromServiceAccount(t *testing.T) {
	m, url, keyFile := vertexMock(t)

	cfg, warnings, err := config.Parse([]byte(`
model_list:
  - model_name: flash
    litellm_params: {model: vertex_ai/gemini-2.0-flash, vertex_credentials: `+keyFile+`, api_base: `+url+`}
    model_info: {id: v1}
`), "test.yaml", func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	require.Empty(t, warnings)
	d := cfg.Deployment("v1")
	require.Equal(t, "my-project", d.Vertex.Project, "the project of the key")
	require.Equal(t, "us-central1", d.Vertex.Location)

	head, err := vertex{}.RequestHead(d, ChatCompletions, "")
	require.NoError(t, err)
	require.Empty(t, head.Set)
	require.Equal(t, GoogleToken, head.Token, "the caller adds the token")
	tokens := credentials.NewGoogleTokens(nil)
	token, err := tokens.Token(context.Background(), d)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(token, "ya29.mock-"), token)
	again, err := tokens.Token(context.Background(), d)
	require.NoError(t, err)
	require.Equal(t, token, again, "the token is cached")
	tokenRequests := 0
	for _, r := range m.Requests() {
		if r.Path == "/token" {
			tokenRequests++
		}
	}
	require.Equal(t, 1, tokenRequests)

	body, _, err := vertex{}.RequestBody(d, ChatCompletions, []byte(geminiPlainBody))
	require.NoError(t, err)
	req := httptest.NewRequest("POST", head.Path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, req)
	require.Equal(t, 200, rec.Code, rec.Body.String())
}

func TestVertexTokenFailureIsUnavailable(t *testing.T) {
	m := mock.New(mock.Options{Name: "vertex"})
	ts := httptest.NewServer(m)
	t.Cleanup(ts.Close)
	other := mock.New(mock.Options{}) // trusts the key, unlike m
	d := vertexDeployment(t, ts.URL, "gemini-2.0-flash")
	d.Vertex.Credentials = config.Secret(testServiceAccount(t, other, ts.URL+"/token", 0))

	_, err := credentials.NewGoogleTokens(nil).Token(context.Background(), d)
	require.ErrorIs(t, err, credentials.ErrUnavailable)
	require.ErrorContains(t, err, "deployment vertex-1")
	require.ErrorContains(t, err, "account not found")
	require.NotContains(t, err.Error(), "PRIVATE KEY")
}
