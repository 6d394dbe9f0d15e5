package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Each pass-through route takes the first deployment of its provider marked
// use_in_pass_through, else the provider's variables, else nothing.
func TestPassThroughTargets(t *testing.T) {
	const yaml = `
model_list:
  - model_name: claude-a
    litellm_params:
      model: anthropic/claude-a
      api_key: sk-a
  - model_name: claude-b
    litellm_params:
      model: anthropic/claude-b
      api_key: sk-b
      api_base: http://10.0.0.1:8080
      use_in_pass_through: true
  - model_name: claude-c
    litellm_params:
      model: anthropic/claude-c
      use_in_pass_through: true
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o
      use_in_pass_through: false
`
	tests := []struct {
		name string
		env  map[string]string
		want map[string]string // route → api key
	}{
		{name: "deployments only", env: map[string]string{}, want: map[string]string{"anthropic": "sk-b"}},
		{name: "variables for the rest", env: map[string]string{
			"OPENAI_API_KEY": "sk-openai", "GEMINI_API_KEY": "g-key", "ANTHROPIC_API_KEY": "sk-env",
			"AZURE_API_KEY": "az-key", // no AZURE_API_BASE: Azure has no default
		}, want: map[string]string{"anthropic": "sk-b", "openai": "sk-openai", "gemini": "g-key"}},
		{name: "azure with its base, bedrock with AWS keys", env: map[string]string{
			"AZURE_API_KEY": "az-key", "AZURE_API_BASE": "https://res.openai.azure.com",
			"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret",
		}, want: map[string]string{"anthropic": "sk-b", "azure": "az-key", "bedrock": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := Parse([]byte(yaml), "c.yaml", func(name string) (string, bool) { v, ok := tt.env[name]; return v, ok })
			require.NoError(t, err)
			got := map[string]string{}
			for route, d := range cfg.PassThrough {
				got[route] = d.APIKey.Reveal()
			}
			require.Equal(t, tt.want, got)
			require.Equal(t, "http://10.0.0.1:8080", cfg.PassThrough["anthropic"].APIBase.String())
			if d := cfg.PassThrough["bedrock"]; d != nil {
				require.Equal(t, "AKID", d.AWS.AccessKeyID.Reveal())
				require.Equal(t, "https://bedrock-runtime.us-west-2.amazonaws.com", d.APIBase.String())
			}
			if d := cfg.PassThrough["gemini"]; d != nil {
				require.Equal(t, APIGemini, d.API)
			}
			require.Len(t, cfg.Deployments, 4, "a variable's target is no deployment of any group")
		})
	}
}
