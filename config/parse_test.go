package config

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseDeploymentFields(t *testing.T) {
	cfg, warnings := mustParse(t, `
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_base: https://eu.example.com/v1/
      api_key: os.environ/OPENAI_API_KEY
      api_version: "2024-06-01"
      timeout: 30
      stream_timeout: 0.5
      weight: 2.5
      order: 2
      rpm: 600
      tpm: 100_000
      max_parallel_requests: 10
    model_info:
      id: gpt-4o-eu
      base_model: gpt-4o
`, map[string]string{"OPENAI_API_KEY": "sk-test"})
	require.Empty(t, warnings)
	require.Equal(t, "config.yaml", cfg.Path)
	require.Equal(t, []string{"gpt-4o"}, cfg.Groups())
	require.Equal(t, &Deployment{
		ID:                  "gpt-4o-eu",
		ModelName:           "gpt-4o",
		Provider:            "openai",
		API:                 APIOpenAI,
		UpstreamModel:       "gpt-4o",
		APIBase:             &url.URL{Scheme: "https", Host: "eu.example.com", Path: "/v1"},
		APIKey:              "sk-test",
		APIVersion:          "2024-06-01",
		Timeout:             30 * time.Second,
		StreamTimeout:       500 * time.Millisecond,
		Weight:              2.5,
		Order:               2,
		RPM:                 600,
		TPM:                 100000,
		MaxParallelRequests: 10,
		Info:                map[string]any{"id": "gpt-4o-eu", "base_model": "gpt-4o"},
	}, cfg.Deployments[0])
}

// LiteLLM also reads rpm and tpm next to litellm_params; litellm_params wins.
func TestDeploymentLevelRateLimits(t *testing.T) {
	cfg, _ := mustParse(t, `
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      rpm: 5
    rpm: 3
    tpm: 20000
`, nil)
	require.Equal(t, 5, cfg.Deployments[0].RPM)
	require.Equal(t, 20000, cfg.Deployments[0].TPM)
}

func TestRouterSettings(t *testing.T) {
	const models = `
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
`
	for _, tc := range []struct {
		name, src string
		want      RouterSettings
	}{
		{"LiteLLM defaults", "", RouterSettings{
			RoutingStrategy: RoutingSimpleShuffle, NumRetries: 2, AllowedFails: 3, CooldownTime: 5 * time.Second, MaxFallbacks: 5,
		}},
		{"router_settings", `
router_settings:
  routing_strategy: least-busy
  num_retries: 0
  timeout: 30
  allowed_fails: 0
  cooldown_time: 0.5
`, RouterSettings{RoutingStrategy: RoutingLeastBusy, NumRetries: 0, Timeout: 30 * time.Second, AllowedFails: 0, CooldownTime: 500 * time.Millisecond, MaxFallbacks: 5}},
		{"litellm_settings fill in for router_settings", `
litellm_settings:
  num_retries: 3
  request_timeout: 10
  allowed_fails: 1
`, RouterSettings{RoutingStrategy: RoutingSimpleShuffle, NumRetries: 3, Timeout: 10 * time.Second, AllowedFails: 1, CooldownTime: 5 * time.Second, MaxFallbacks: 5}},
		{"router_settings win over litellm_settings", `
litellm_settings:
  num_retries: 3
  request_timeout: 10
router_settings:
  num_retries: 1
  timeout: 20
`, RouterSettings{RoutingStrategy: RoutingSimpleShuffle, NumRetries: 1, Timeout: 20 * time.Second, AllowedFails: 3, CooldownTime: 5 * time.Second, MaxFallbacks: 5}},
		{"null means unset", `
router_settings:
  num_retries:
  routing_strategy:
`, RouterSettings{RoutingStrategy: RoutingSimpleShuffle, NumRetries: 2, AllowedFails: 3, CooldownTime: 5 * time.Second, MaxFallbacks: 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := mustParse(t, models+tc.src, nil)
			require.Equal(t, tc.want, cfg.Router)
		})
	}
}

// LiteLLM's Router reads cooldown_time with "or": 0 gives the default.
func TestCooldownTimeZeroIsDefault(t *testing.T) {
	cfg, warnings := mustParse(t, `
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
router_settings:
  cooldown_time: 0
`, nil)
	require.Equal(t, 5*time.Second, cfg.Router.CooldownTime)
	require.Equal(t, []Warning{{File: "config.yaml", Line: 7, Path: "router_settings.cooldown_time", Msg: "0 means LiteLLM's default of 5s"}}, warnings)
}

// Every key llmvoy does not act on is named, with its full path; none is
// dropped silently.
func TestUnsupportedKeysWarn(t *testing.T) {
	_, warnings := mustParse(t, `model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      merge_reasoning_content_in_choices: true
    tags: [a]
router_settings:
  model_group_retry_policy: {"gpt-4o": {"RateLimitErrorRetries": 1}}
litellm_settings:
  callbacks: ["langfuse"]
general_settings:
  alerting: ["slack"]
guardrails: []
`, nil)
	require.Equal(t, []Warning{
		{File: "config.yaml", Line: 5, Path: "model_list[0].litellm_params.merge_reasoning_content_in_choices", Msg: "not supported yet, ignored"},
		{File: "config.yaml", Line: 6, Path: "model_list[0].tags", Msg: "not supported yet, ignored"},
		{File: "config.yaml", Line: 8, Path: "router_settings.model_group_retry_policy", Msg: "not supported yet, ignored"},
		{File: "config.yaml", Line: 10, Path: "litellm_settings.callbacks", Msg: "not supported yet, ignored"},
		{File: "config.yaml", Line: 12, Path: "general_settings.alerting", Msg: "not supported yet, ignored"},
		{File: "config.yaml", Line: 13, Path: "guardrails", Msg: "not supported yet, ignored"},
	}, warnings)
	require.Equal(t, "config.yaml:5: model_list[0].litellm_params.merge_reasoning_content_in_choices: not supported yet, ignored", warnings[0].String())
}

// PyYAML keeps the last of two equal keys; so does llmvoy, but it says so.
func TestDuplicateKeyWarns(t *testing.T) {
	cfg, warnings := mustParse(t, `model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      rpm: 1
      rpm: 2
`, nil)
	require.Equal(t, 2, cfg.Deployments[0].RPM)
	require.Equal(t, []Warning{{File: "config.yaml", Line: 6, Path: "model_list[0].litellm_params.rpm", Msg: "duplicate key, the last value wins"}}, warnings)
}

// YAML anchors and merge keys, common in hand-written configs, work as in
// PyYAML.
func TestAnchorsAndMergeKeys(t *testing.T) {
	cfg, warnings := mustParse(t, `
x-defaults: &defaults
  api_base: http://vllm:8000/v1
  rpm: 100
model_list:
  - model_name: llama
    litellm_params:
      <<: *defaults
      model: hosted_vllm/llama-3
  - model_name: llama
    litellm_params:
      <<: *defaults
      model: hosted_vllm/llama-3
      rpm: 50
`, nil)
	require.Len(t, warnings, 1) // x-defaults
	require.Equal(t, "http://vllm:8000/v1", cfg.Deployments[0].APIBase.String())
	require.Equal(t, 100, cfg.Deployments[0].RPM)
	require.Equal(t, 50, cfg.Deployments[1].RPM)
	require.NotEqual(t, cfg.Deployments[0].ID, cfg.Deployments[1].ID)
}

func TestWildcardRoutesLoad(t *testing.T) {
	cfg, warnings := mustParse(t, `model_list:
  - model_name: "*"
    litellm_params:
      model: "*"
  - model_name: "anthropic/*"
    litellm_params:
      model: anthropic/*
      api_key: k
  - model_name: openai-any
    litellm_params:
      model: openai/*
`, nil)
	// A pattern model_name is LiteLLM's wildcard routing; a wildcard model
	// under a literal name is sent as it is.
	require.Equal(t, []Warning{
		{File: "config.yaml", Line: 11, Path: "model_list[2].litellm_params.model", Msg: `a wildcard model under model_name "openai-any", which has none: the provider is asked for "openai/*" as it is`},
	}, warnings)
	require.Equal(t, "openai", cfg.Deployments[0].Provider)
	require.Equal(t, "*", cfg.Deployments[0].UpstreamModel)
	require.Equal(t, "anthropic", cfg.Deployments[1].Provider)
	require.Equal(t, "*", cfg.Deployments[1].UpstreamModel)
}

func TestHostileInputsFail(t *testing.T) {
	for want, src := range map[string]string{
		"config.yaml:1: too many values after expanding aliases": `a: &a [x, x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
`,
		"config.yaml:1: nested too deeply":                     strings.Repeat("[", 500) + strings.Repeat("]", 500),
		"config.yaml:2: more than one YAML document; want one": "model_list: []\n---\nmodel_list: []\n",
	} {
		_, _, err := Parse([]byte(src), "config.yaml", nil)
		require.EqualError(t, err, want)
	}
}
