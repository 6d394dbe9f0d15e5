package plan

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
)

func TestPassThroughRoute(t *testing.T) {
	for path, want := range map[string][2]string{
		"/anthropic/v1/messages":                               {"anthropic", "/v1/messages"},
		"/gemini/v1beta/models/gemini-2.5-pro:generateContent": {"gemini", "/v1beta/models/gemini-2.5-pro:generateContent"},
		"/bedrock": {"bedrock", "/"},
		"/openai/": {"openai", "/"},
	} {
		route, rest, ok := PassThroughRoute(path)
		require.True(t, ok, path)
		require.Equal(t, want, [2]string{route, rest}, path)
	}
	for _, path := range []string{"/v1/messages", "/anthropics/v1", "anthropic/v1/messages", "/", "/vertex_ai/v1"} {
		_, _, ok := PassThroughRoute(path)
		require.False(t, ok, path)
	}
}

// The api_base's path is joined with the request's, once: an SDK pointed at
// /openai and one pointed at /openai/v1 reach the same URL.
func TestPassThroughPath(t *testing.T) {
	d := func(base string) *config.Deployment {
		u, err := url.Parse(base)
		require.NoError(t, err)
		return &config.Deployment{APIBase: u}
	}
	require.Equal(t, "/v1/chat/completions", PassThroughPath(d("https://api.openai.com/v1"), "/chat/completions"))
	require.Equal(t, "/v1/chat/completions", PassThroughPath(d("https://api.openai.com/v1"), "/v1/chat/completions"))
	require.Equal(t, "/v1/messages", PassThroughPath(d("https://api.anthropic.com"), "/v1/messages"))
	require.Equal(t, "/proxy/v1beta/models", PassThroughPath(d("http://10.0.0.1/proxy/"), "/v1beta/models"))
	require.Equal(t, "/v1/v1x", PassThroughPath(d("https://x/v1"), "/v1x"), "a prefix of a segment is not the base")
}
