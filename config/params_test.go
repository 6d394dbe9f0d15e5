package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// litellm_params that shape a deployment's requests: defaults, dropped
// fields, headers, an Entra ID token; none is "not supported".
func TestDeploymentRequestParams(t *testing.T) {
	cfg, warnings := mustParse(t, `
model_list:
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o
      api_key: sk-test
      temperature: 0.2
      max_tokens: 512
      seed: 7
      stop: ["END"]
      response_format: {type: json_object}
      keep_alive: 5m
      user: os.environ/TEAM
      extra_body: {top_k: 3, safe_mode: true}
      additional_drop_params: [logit_bias, "tools[*].input_examples"]
      extra_headers: {X-Team: os.environ/TEAM, X-Trace: "on"}
      organization: org-1
      drop_params: false
      max_retries: 2
  - model_name: az
    litellm_params:
      model: azure/gpt-4o
      api_base: https://res.openai.azure.com
      azure_ad_token: os.environ/AZURE_AD_TOKEN
`, map[string]string{"TEAM": "search", "AZURE_AD_TOKEN": "eyJ.token"})
	d := cfg.Deployments[0]
	require.Equal(t, map[string]any{
		"temperature": 0.2, "max_tokens": int64(512), "seed": int64(7), "stop": []any{"END"},
		"response_format": map[string]any{"type": "json_object"}, "keep_alive": "5m", "user": "search",
		"top_k": int64(3), "safe_mode": true,
	}, d.Params)
	require.Equal(t, []string{"logit_bias"}, d.DropParams)
	require.Equal(t, map[string]Secret{"x-team": "search", "x-trace": "on", "openai-organization": "org-1"}, d.Headers)
	require.Equal(t, []string{"openai-organization", "x-team", "x-trace"}, d.HeaderNames())
	require.True(t, d.ShapesRequest())
	require.Equal(t, Secret("eyJ.token"), cfg.Deployments[1].AzureADToken)
	require.False(t, cfg.Deployments[1].ShapesRequest())

	var msgs []string
	for _, w := range warnings {
		require.NotContains(t, w.Msg, "not supported yet, ignored", w.String())
		msgs = append(msgs, w.Path+": "+w.Msg)
	}
	require.Equal(t, []string{
		"model_list[0].litellm_params.additional_drop_params[1]: a nested path is not supported yet; only top-level request fields are dropped",
		"model_list[0].litellm_params.drop_params: false has no effect: llmvoy always drops the parameters a provider cannot take (LiteLLM would answer 400)",
		"model_list[0].litellm_params.max_retries: not used: it is the provider SDK's own retries inside one LiteLLM attempt; llmvoy's retries are the group's num_retries (router_settings)",
	}, msgs)
}

func TestDeploymentRequestParamsRefuseWrongShapes(t *testing.T) {
	_, _, err := Parse([]byte(`
model_list:
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o
      extra_body: [1]
      extra_headers: "X-Team: a"
      additional_drop_params: logit_bias
`), "config.yaml", func(string) (string, bool) { return "", false })
	require.Error(t, err)
	for _, want := range []string{"extra_body: want a mapping of body fields", "extra_headers: want a mapping of header names", "additional_drop_params: want a list of request fields"} {
		require.Contains(t, err.Error(), want)
	}
}

// A header name no HTTP request may carry, or one of Envoy's framing
// headers, is warned about and not sent; the deployment still loads.
func TestDeploymentExtraHeadersNotHeaders(t *testing.T) {
	cfg, warnings := mustParse(t, `
model_list:
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o
      extra_headers: {"AI-Resource Group": a, Host: evil.test, ":path": /x, X-Ok: "1"}
`, nil)
	require.Equal(t, map[string]Secret{"x-ok": "1"}, cfg.Deployments[0].Headers)
	require.Len(t, warnings, 3)
	for _, w := range warnings {
		require.Contains(t, w.Msg, "not a header a deployment may set")
	}
}
