package config

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// What an info endpoint, a spend log or /health shows of an api_base: never
// its user info, query or fragment, which can carry a credential.
func TestPublicAPIBase(t *testing.T) {
	for raw, want := range map[string]string{
		"https://user:secret@example.test:8443/v1?key=AIza-secret#frag": "https://example.test:8443/v1",
		"http://127.0.0.1:4010/v1":                                      "http://127.0.0.1:4010/v1",
	} {
		u, err := url.Parse(raw)
		require.NoError(t, err)
		require.Equal(t, want, (&Deployment{APIBase: u}).PublicAPIBase())
	}
	require.Equal(t, "", (&Deployment{}).PublicAPIBase())
	require.Equal(t, "openai/gpt-4o", (&Deployment{Provider: "openai", UpstreamModel: "gpt-4o"}).LiteLLMModel())
	require.Equal(t, "gpt-4o", (&Deployment{UpstreamModel: "gpt-4o"}).LiteLLMModel())
}
