package xds

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/translate"
)

func TestDirectGroup(t *testing.T) {
	dep := func(params string) string {
		return "  - model_name: g\n    litellm_params: {" + params + "}\n"
	}
	const shared = "model: openai/m, api_base: http://h:1/v1, api_key: sk-1"
	tests := []struct {
		name   string
		config string
		direct bool
		key    string
	}{
		{"one deployment", dep(shared), true, "Bearer sk-1"},
		{"replicas sharing a key", dep(shared) + dep("model: openai/m, api_base: http://h2:2/v1, api_key: sk-1"), true, "Bearer sk-1"},
		{"no key", dep("model: openai/m, api_base: http://h:1/v1"), true, ""},
		{"https without a port", dep("model: openai/m, api_base: https://api.example.com/v1, api_key: sk-1"), true, "Bearer sk-1"},
		{"a key each", dep(shared) + dep("model: openai/m, api_base: http://h2:2/v1, api_key: sk-2"), false, ""},
		{"different paths", dep(shared) + dep("model: openai/m, api_base: http://h2:2/openai/v1, api_key: sk-1"), false, ""},
		{"different models", dep(shared) + dep("model: openai/n, api_base: http://h2:2/v1, api_key: sk-1"), false, ""},
		// SNI must not carry the port, :authority must.
		{"https on a port", dep("model: openai/m, api_base: https://api.example.com:8443/v1"), false, ""},
		{"translated", dep("model: anthropic/claude-sonnet-4-5, api_key: sk-1"), false, ""},
		{"fallbacks", dep(shared) + "  - model_name: other\n    litellm_params: {" + shared + "}\n" +
			"router_settings:\n  fallbacks: [{g: [other]}]\n", false, ""},
		{"tokens counted", dep(shared+", tpm: 1000") + "router_settings:\n  routing_strategy: usage-based-routing-v2\n", false, ""},
		{"tpm not enforced", dep(shared + ", tpm: 1000"), true, "Bearer sk-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := config.Parse([]byte("model_list:\n"+tt.config), "test.yaml", func(string) (string, bool) { return "", false })
			require.NoError(t, err)
			d, ok := DirectGroup(cfg, "g")
			require.Equal(t, tt.direct, ok)
			if ok {
				require.Equal(t, cfg.Group("g")[0], d.Deployment)
				want := translate.Header{}
				if tt.key != "" {
					want = translate.Header{Key: "authorization", Value: tt.key}
				}
				require.Equal(t, want, d.Credential)
			}
		})
	}
}
