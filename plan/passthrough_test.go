package plan

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
)

func TestProviderRoute(t *testing.T) {
	for path, want := range map[string]string{
		"/anthropic/v1/messages":                               "anthropic",
		"/gemini/v1beta/models/gemini-2.5-pro:generateContent": "gemini",
		"/bedrock": "bedrock",
	} {
		route, ok := ProviderRoute(path)
		require.True(t, ok, path)
		require.Equal(t, want, route, path)
	}
	for _, path := range []string{"/v1/messages", "/anthropics/v1", "anthropic/v1/messages", "/", "/vertex_ai/v1"} {
		_, ok := ProviderRoute(path)
		require.False(t, ok, path)
	}
}

func target(t *testing.T, base string, endpoint bool) *config.PassThrough {
	u, err := url.Parse(base)
	require.NoError(t, err)
	return &config.PassThrough{Deployment: &config.Deployment{APIBase: u}, Endpoint: endpoint}
}

// A provider route joins the api_base's path with the request's, once: an
// SDK pointed at /openai and one pointed at /openai/v1 reach the same URL.
// An endpoint appends to its target.
func TestPassThroughPath(t *testing.T) {
	openai := target(t, "https://api.openai.com/v1", false)
	require.Equal(t, "/v1/chat/completions", PassThroughPath(openai, "/chat/completions", ""))
	require.Equal(t, "/v1/chat/completions?a=1", PassThroughPath(openai, "/v1/chat/completions", "a=1"))
	require.Equal(t, "/v1/messages", PassThroughPath(target(t, "https://api.anthropic.com", false), "/v1/messages", ""))
	require.Equal(t, "/proxy/v1beta/models", PassThroughPath(target(t, "http://10.0.0.1/proxy/", false), "/v1beta/models", ""))
	require.Equal(t, "/v1/v1x", PassThroughPath(target(t, "https://x/v1", false), "/v1x", ""), "a prefix of a segment is not the base")

	rerank := target(t, "https://api.cohere.com/v1/rerank", true)
	require.Equal(t, "/v1/rerank", PassThroughPath(rerank, "", ""))
	require.Equal(t, "/v1/rerank/x?b=2", PassThroughPath(rerank, "/x", "b=2"))
	require.Equal(t, "/base?tenant=a&b=2", PassThroughPath(target(t, "http://h/base?tenant=a", true), "", "b=2"))
	require.Equal(t, "/?tenant=a", PassThroughPath(target(t, "http://h?tenant=a", true), "", ""))
}

func TestFindPassThrough(t *testing.T) {
	cfg := &config.Config{PassThrough: []*config.PassThrough{
		{Name: "anthropic", Path: "/anthropic", Subpaths: true},
		{Name: "endpoint_0", Path: "/v1/rerank"},
		{Name: "endpoint_1", Path: "/bria", Subpaths: true},
	}}
	for path, want := range map[string][2]string{
		"/anthropic/v1/messages": {"anthropic", "/v1/messages"},
		"/v1/rerank":             {"endpoint_0", ""},
		"/v1/rerank/x":           {"", ""},
		"/bria/v1/text":          {"endpoint_1", "/v1/text"},
		"/brian":                 {"", ""},
	} {
		tr, rest := FindPassThrough(cfg, path)
		name := ""
		if tr != nil {
			name = tr.Name
		}
		require.Equal(t, want, [2]string{name, rest}, path)
	}
}
