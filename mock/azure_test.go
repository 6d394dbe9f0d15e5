package mock

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const azureChatPath = "/openai/deployments/gpt-4o-eu/chat/completions?api-version=2024-10-21"

func TestAzureChatCompletion(t *testing.T) {
	s := New(Options{Name: "az"})
	rec := serve(s, http.MethodPost, azureChatPath, strings.Replace(chatBody, `"gpt-4o"`, `"gpt-4o-eu"`, 1), "api-key", "az-key")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var got chatCompletionWire
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	require.Equal(t, "chat.completion", got.Object)
	require.Equal(t, "gpt-4o-eu", got.Model)
	require.Equal(t, "stop", got.Choices[0].FinishReason)
	require.Equal(t, "mock:az", got.SystemFingerprint)

	reqs := s.Requests()
	require.Len(t, reqs, 1)
	require.Equal(t, "/openai/deployments/gpt-4o-eu/chat/completions", reqs[0].Path)
	require.Equal(t, "api-version=2024-10-21", reqs[0].Query)
	require.Equal(t, "az-key", reqs[0].Header.Get("api-key"))
}

func TestAzureStreamAndEmbeddings(t *testing.T) {
	s, ts := start(t, Options{Name: "az"})
	resp := post(t, ts, azureChatPath, streamUsageBody, "api-key", "k")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream; charset=utf-8", resp.Header.Get("Content-Type"))
	events, err := readEvents(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "[DONE]", events[len(events)-1])

	resp = post(t, ts, "/openai/deployments/emb/embeddings?api-version=2024-10-21", `{"model":"emb","input":["a","b"]}`, "api-key", "k")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var emb struct {
		Object string `json:"object"`
		Data   []struct {
			Embedding []float32 `json:"embedding"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&emb))
	require.Equal(t, "list", emb.Object)
	require.Len(t, emb.Data, 2)
	require.Len(t, emb.Data[0].Embedding, DefaultEmbeddingDims)
	require.Len(t, s.Requests(), 2)
}

func TestAzureV1API(t *testing.T) {
	s := New(Options{})
	for _, auth := range [][]string{{"Authorization", "Bearer k"}, {"api-key", "k"}} {
		rec := serve(s, http.MethodPost, "/openai/v1/chat/completions", chatBody, auth...)
		require.Equal(t, http.StatusOK, rec.Code, "%v: %s", auth, rec.Body.String())
	}
	rec := serve(s, http.MethodPost, "/openai/v1/embeddings", `{"model":"emb","input":"x"}`, "Authorization", "Bearer k")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

	rec = serve(s, http.MethodPost, "/openai/v1/chat/completions", chatBody)
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	rec = serve(s, http.MethodPost, "/openai/v1/chat/completions", chatBody, "Authorization", "Bearer ")
	require.Equal(t, http.StatusUnauthorized, rec.Code)
}

func TestAzureRefusals(t *testing.T) {
	s := New(Options{})
	tests := []struct {
		name    string
		path    string
		headers []string
		status  int
		body    string
	}{
		{"no api-version", "/openai/deployments/d/chat/completions", []string{"api-key", "k"}, 404,
			`{"error":{"code":"404","message":"Resource not found"}}`},
		{"empty api-version", "/openai/deployments/d/chat/completions?api-version=", []string{"api-key", "k"}, 404,
			`{"error":{"code":"404","message":"Resource not found"}}`},
		{"no key", azureChatPath, nil, 401, string(azureAccessDenied)},
		{"a bearer token is not Azure's key", azureChatPath, []string{"Authorization", "Bearer k"}, 401, string(azureAccessDenied)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(s, http.MethodPost, tt.path, chatBody, tt.headers...)
			require.Equal(t, tt.status, rec.Code)
			require.JSONEq(t, tt.body, rec.Body.String())
			require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
		})
	}

	// A Microsoft Entra ID token (a JWT) is a credential on every route.
	rec := serve(s, http.MethodPost, azureChatPath, chatBody, "Authorization", "Bearer eyJhbGci.eyJzdWIi.c2ln")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

	// Not Azure routes: OpenAI's 404.
	for _, path := range []string{"/openai/deployments//chat/completions", "/openai/deployments/d", "/openai/deployments/d/models", "/openai/v2/chat/completions"} {
		rec := serve(s, http.MethodPost, path+"?api-version=1", chatBody, "api-key", "k")
		require.Equal(t, http.StatusNotFound, rec.Code, path)
		require.Equal(t, "invalid_request_error", decodeError(t, rec.Body.Bytes()).Error.Type, path)
	}
	rec = serve(s, http.MethodGet, azureChatPath, "", "api-key", "k")
	require.Equal(t, http.StatusNotFound, rec.Code)
}

func TestAzureContentFilterError(t *testing.T) {
	s := New(Options{})
	for _, v := range []string{"1", "prompt", "TRUE"} {
		rec := serve(s, http.MethodPost, azureChatPath, chatBody, "api-key", "k", "x-mock-content-filter", v)
		require.Equal(t, http.StatusBadRequest, rec.Code)
		var e struct {
			Error struct {
				Message    string  `json:"message"`
				Type       *string `json:"type"`
				Param      string  `json:"param"`
				Code       string  `json:"code"`
				Status     int     `json:"status"`
				InnerError struct {
					Code                string                     `json:"code"`
					ContentFilterResult map[string]json.RawMessage `json:"content_filter_result"`
				} `json:"innererror"`
			} `json:"error"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e))
		require.Equal(t, "content_filter", e.Error.Code)
		require.Nil(t, e.Error.Type)
		require.Equal(t, "prompt", e.Error.Param)
		require.Equal(t, 400, e.Error.Status)
		require.Equal(t, "ResponsibleAIPolicyViolation", e.Error.InnerError.Code)
		require.JSONEq(t, `{"filtered":true,"severity":"high"}`, string(e.Error.InnerError.ContentFilterResult["hate"]))
		require.True(t, strings.HasPrefix(e.Error.Message, "The response was filtered due to the prompt triggering Azure OpenAI's content management policy."))
	}

	rec := serve(s, http.MethodPost, azureChatPath, chatBody, "api-key", "k", "x-mock-content-filter", "maybe")
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Contains(t, decodeError(t, rec.Body.Bytes()).Error.Message, "x-mock-content-filter")
}

func TestAzureFilteredCompletion(t *testing.T) {
	s, ts := start(t, Options{Name: "az"})
	rec := serve(s, http.MethodPost, azureChatPath, chatBody, "api-key", "k", "x-mock-content-filter", "completion")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var got struct {
		Object  string `json:"object"`
		Choices []struct {
			Message struct {
				Content *string `json:"content"`
			} `json:"message"`
			FinishReason         string                     `json:"finish_reason"`
			ContentFilterResults map[string]json.RawMessage `json:"content_filter_results"`
		} `json:"choices"`
		SystemFingerprint string `json:"system_fingerprint"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got), rec.Body.String())
	require.Equal(t, "chat.completion", got.Object)
	require.Equal(t, "content_filter", got.Choices[0].FinishReason)
	require.Nil(t, got.Choices[0].Message.Content)
	require.JSONEq(t, `{"filtered":true,"severity":"medium"}`, string(got.Choices[0].ContentFilterResults["violence"]))
	require.Equal(t, "mock:az", got.SystemFingerprint)

	resp := post(t, ts, azureChatPath, streamBody, "api-key", "k", "x-mock-content-filter", "completion")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	events, err := readEvents(resp.Body)
	require.NoError(t, err)
	require.Len(t, events, 3)
	require.Contains(t, events[1], `"finish_reason":"content_filter"`)
	require.Equal(t, "[DONE]", events[2])
	for _, ev := range events[:2] {
		require.True(t, json.Valid([]byte(ev)), ev)
	}
}

func TestAzureRoute(t *testing.T) {
	for _, tt := range []struct {
		path, deployment, ep string
		ok                   bool
	}{
		{"/openai/deployments/gpt-4o/chat/completions", "gpt-4o", "/chat/completions", true},
		{"/openai/deployments/gpt-4o/completions", "gpt-4o", "/completions", true},
		{"/openai/deployments/emb/embeddings", "emb", "/embeddings", true},
		{"/openai/v1/chat/completions", "", "/chat/completions", true},
		{"/openai/v1/embeddings", "", "/embeddings", true},
		{"/openai/v1/models", "", "/models", false},
		{"/openai/deployments/gpt-4o/chat/completions/x", "gpt-4o", "/chat/completions/x", false},
		{"/v1/chat/completions", "", "", false},
	} {
		d, ep, ok := azureRoute(tt.path)
		require.Equal(t, tt.ok, ok, tt.path)
		if ok {
			require.Equal(t, tt.deployment, d, tt.path)
			require.Equal(t, tt.ep, ep, tt.path)
		}
	}
}

func TestAzureModels(t *testing.T) {
	s := New(Options{})
	rec := serve(s, http.MethodGet, "/openai/models?api-version=2024-10-21", "", "api-key", "k")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.JSONEq(t, string(modelsList), rec.Body.String())
	rec = serve(s, http.MethodGet, "/openai/v1/models", "", "Authorization", "Bearer k")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rec = serve(s, http.MethodGet, "/openai/models", "", "api-key", "k")
	require.Equal(t, http.StatusNotFound, rec.Code)
	rec = serve(s, http.MethodGet, "/openai/models?api-version=2024-10-21", "")
	require.Equal(t, http.StatusUnauthorized, rec.Code)
}
