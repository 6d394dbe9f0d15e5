package translate

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/credentials"
	"github.com/llmvoy/llmvoy/mock"
)

func TestVertexAnthropicRequest(t *testing.T) {
	d := vertexDeployment(t, "https://europe-west4-aiplatform.googleapis.com", "claude-sonnet-4@20250514")
	d.API = config.APIVertexAnthropic
	tr, err := For(d)
	require.NoError(t, err)
	require.Equal(t, vertexAnthropic{}, tr)

	const model = "/v1/projects/my-project/locations/europe-west4/publishers/anthropic/models/claude-sonnet-4@20250514"
	head, err := tr.RequestHead(d, ChatCompletions, "")
	require.NoError(t, err)
	require.Equal(t, model+":streamRawPredict", head.Path)
	require.Equal(t, GoogleToken, head.Token)
	require.NotContains(t, head.Set, Header{Key: "x-api-key"})

	for stream, method := range map[bool]string{false: ":rawPredict", true: ":streamRawPredict"} {
		body := `{"model":"claude","messages":[{"role":"user","content":"hi"}]}`
		if stream {
			body = `{"model":"claude","stream":true,"messages":[{"role":"user","content":"hi"}]}`
		}
		out, resp, err := tr.RequestBody(d, ChatCompletions, []byte(body))
		require.NoError(t, err)
		var got map[string]any
		require.NoError(t, json.Unmarshal(out, &got))
		require.Equal(t, "vertex-2023-10-16", got["anthropic_version"])
		require.NotContains(t, got, "model", "the path names the model")
		require.Equal(t, model+method, resp.(PathOverrider).UpstreamPath())
	}

	_, _, err = tr.RequestBody(d, Embeddings, []byte(`{"model":"m","input":"x"}`))
	require.ErrorIs(t, err, ErrBadRequest)
}

// Through the mock's token endpoint and its Vertex AI Claude routes: the
// answer and the stream come back in OpenAI's shape.
func TestVertexAnthropicAgainstTheMock(t *testing.T) {
	m, url, keyFile := vertexMock(t)
	cfg, _, err := config.Parse([]byte(`
model_list:
  - model_name: claude
    litellm_params: {model: vertex_ai/claude-sonnet-4@20250514, vertex_credentials: `+keyFile+`, vertex_location: us-east5, api_base: `+url+`}
    model_info: {id: c1}
`), "test.yaml", nil)
	require.NoError(t, err)
	d := cfg.Deployment("c1")
	require.Equal(t, config.APIVertexAnthropic, d.API)
	token, err := credentials.NewGoogleTokens(nil).Token(context.Background(), d)
	require.NoError(t, err)

	call := func(body string) (int, string) {
		head, err := vertexAnthropic{}.RequestHead(d, ChatCompletions, "")
		require.NoError(t, err)
		out, resp, err := vertexAnthropic{}.RequestBody(d, ChatCompletions, []byte(body))
		require.NoError(t, err)
		req := httptest.NewRequest("POST", resp.(PathOverrider).UpstreamPath(), bytes.NewReader(out))
		req.Header.Set("Authorization", "Bearer "+token)
		for _, h := range head.Set {
			req.Header.Set(h.Key, h.Value)
		}
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, req)
		stream, _ := resp.Headers(rec.Code, rec.Header().Get("Content-Type"))
		if stream {
			got, err := resp.Chunk(rec.Body.Bytes(), true)
			require.NoError(t, err)
			return rec.Code, string(got)
		}
		got, err := resp.Body(rec.Code, rec.Body.Bytes())
		require.NoError(t, err)
		return rec.Code, string(got)
	}

	status, got := call(`{"model":"claude","messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, 200, status, got)
	var answer struct {
		Object  string `json:"object"`
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	require.NoError(t, json.Unmarshal([]byte(got), &answer), got)
	require.Equal(t, "chat.completion", answer.Object)
	require.Equal(t, mock.Reply("vertex", "hi"), answer.Choices[0].Message.Content)

	status, got = call(`{"model":"claude","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, 200, status, got)
	require.Contains(t, got, `"object":"chat.completion.chunk"`)
	require.True(t, strings.HasSuffix(strings.TrimSpace(got), "data: [DONE]"), got)
}
