package config

import (
	"strings"
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
		{name: "a bad variable leaves its route out", env: map[string]string{
			"OPENAI_API_KEY": "sk-openai", "GEMINI_API_BASE": "not a url", "GEMINI_API_KEY": "g-key",
		}, want: map[string]string{"anthropic": "sk-b", "openai": "sk-openai"}},
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
			byName := map[string]*Deployment{}
			for _, r := range cfg.PassThrough {
				require.Equal(t, "/"+r.Name, r.Path)
				require.True(t, r.Subpaths && r.ForwardHeaders && !r.Endpoint)
				got[r.Name], byName[r.Name] = r.Deployment.APIKey.Reveal(), r.Deployment
			}
			require.Equal(t, tt.want, got)
			require.Equal(t, "http://10.0.0.1:8080", byName["anthropic"].APIBase.String())
			if d := byName["bedrock"]; d != nil {
				require.Equal(t, "AKID", d.AWS.AccessKeyID.Reveal())
				require.Equal(t, "https://bedrock-runtime.us-west-2.amazonaws.com", d.APIBase.String())
			}
			if d := byName["gemini"]; d != nil {
				require.Equal(t, APIGemini, d.API)
			}
			require.Len(t, cfg.Deployments, 4, "a variable's target is no deployment of any group")
		})
	}
}

// general_settings.pass_through_endpoints: LiteLLM's fields, its
// os.environ/ references inside a header value, and clear refusals.
func TestPassThroughEndpoints(t *testing.T) {
	const yaml = `
model_list:
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o
general_settings:
  pass_through_endpoints:
    - path: /v1/rerank
      target: https://api.cohere.com/v1/rerank
      headers:
        Authorization: "bearer os.environ/COHERE_API_KEY"
        content-type: application/json
      forward_headers: true
    - path: /bria/
      target: http://10.0.0.2:9000/base?tenant=a
      include_subpath: true
      auth: false
      cost_per_request: 0.01
`
	cfg, warnings, err := Parse([]byte(yaml), "c.yaml", func(name string) (string, bool) {
		return map[string]string{"COHERE_API_KEY": "co-key"}[name], name == "COHERE_API_KEY"
	})
	require.NoError(t, err)
	require.Len(t, cfg.PassThrough, 2)
	rerank, bria := cfg.PassThrough[0], cfg.PassThrough[1]
	require.Equal(t, "endpoint_0", rerank.Name)
	require.Equal(t, "/v1/rerank", rerank.Path)
	require.False(t, rerank.Subpaths)
	require.True(t, rerank.ForwardHeaders && rerank.Endpoint)
	require.Equal(t, "bearer co-key", rerank.Headers["authorization"].Reveal())
	require.Equal(t, "https://api.cohere.com/v1/rerank", rerank.Deployment.APIBase.String())
	require.Equal(t, "/bria", bria.Path)
	require.True(t, bria.Subpaths)
	require.False(t, bria.ForwardHeaders)
	var msgs []string
	for _, w := range warnings {
		msgs = append(msgs, w.String())
	}
	require.Contains(t, strings.Join(msgs, "\n"), "pass_through_endpoints[1].auth: false is not supported")
	require.Contains(t, strings.Join(msgs, "\n"), "pass_through_endpoints[1].cost_per_request: not supported yet")

	for bad, want := range map[string]string{
		"- path: /x\n      target: ftp://h":             "want an http:// or https:// URL",
		"- path: x\n      target: http://h":             "want a path beginning with /",
		"- path: /anthropic/v2\n      target: http://h": "under llmvoy's /anthropic pass-through route",
		"- path: /x": "target: missing",
		"- path: /x\n      target: http://h\n      headers: {a: os.environ/NOPE}": "NOPE is not set",
	} {
		_, _, err := Parse([]byte("model_list:\n  - model_name: g\n    litellm_params:\n      model: openai/g\ngeneral_settings:\n  pass_through_endpoints:\n    "+bad+"\n"), "c.yaml",
			func(string) (string, bool) { return "", false })
		require.ErrorContains(t, err, want, bad)
	}
}

// A deployment marked use_in_pass_through with litellm_credential_name
// lends the route its credential's key and base, as LiteLLM's router
// resolves them.
func TestPassThroughWithCredentialName(t *testing.T) {
	const yaml = `
model_list:
  - model_name: azure-gpt
    litellm_params:
      model: azure/gpt-4o
      litellm_credential_name: eu
      use_in_pass_through: true
credential_list:
  - credential_name: eu
    credential_values:
      api_key: az-from-credential
      api_base: https://eu.openai.azure.com
      api_version: "2024-10-21"
`
	cfg, _, err := Parse([]byte(yaml), "c.yaml", func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	require.Len(t, cfg.PassThrough, 1)
	d := cfg.PassThrough[0].Deployment
	require.Equal(t, "azure", cfg.PassThrough[0].Name)
	require.Equal(t, "az-from-credential", d.APIKey.Reveal())
	require.Equal(t, "https://eu.openai.azure.com", d.APIBase.String())
	require.Equal(t, "2024-10-21", d.APIVersion)
}
