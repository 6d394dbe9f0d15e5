package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const routingModels = `
model_list:
  - {model_name: a, litellm_params: {model: openai/a}}
  - {model_name: b, litellm_params: {model: openai/b}}
  - {model_name: c, litellm_params: {model: openai/c}}
  - {model_name: big, litellm_params: {model: openai/big}}
`

func TestFallbackChains(t *testing.T) {
	cfg, warnings := mustParse(t, routingModels+`
litellm_settings:
  fallbacks: [{"a": ["c"]}]
  disable_cooldowns: true
router_settings:
  fallbacks: [{"a": ["b", "c"]}, {"*": ["c"]}]
  context_window_fallbacks: [{"a": ["big"]}]
  default_fallbacks: ["big"]
  max_fallbacks: 1
  model_group_alias: {"gpt-4": "a", "secret": {"model": "b", "hidden": true}}
`, nil)
	require.Empty(t, warnings)
	r := cfg.Router
	require.True(t, r.DisableCooldowns, "litellm_settings value kept")
	// router_settings wins over litellm_settings; max_fallbacks cuts the chain.
	require.Equal(t, []string{"b"}, r.FallbackChain(FallbackGeneric, "a"))
	require.Equal(t, []string{"c"}, r.FallbackChain(FallbackGeneric, "b"), `"*" applies to groups without their own entry`)
	require.Empty(t, r.FallbackChain(FallbackGeneric, "c"), "a group never falls back to itself")
	require.Equal(t, []string{"big"}, r.FallbackChain(FallbackContextWindow, "a"))
	require.Empty(t, r.FallbackChain(FallbackContextWindow, "b"), "a context_window_fallbacks without the group: no fallback")
	require.Equal(t, []string{"b"}, r.FallbackChain(FallbackContentPolicy, "a"), "no content_policy_fallbacks: the generic chain")
	require.True(t, r.HasFallbacks("a"))
	require.False(t, r.HasFallbacks("c"))
	require.Equal(t, map[string]Alias{"gpt-4": {Group: "a"}, "secret": {Group: "b", Hidden: true}}, r.Aliases)
}

func TestDefaultFallbacks(t *testing.T) {
	cfg, _ := mustParse(t, routingModels+`
router_settings:
  default_fallbacks: ["big"]
`, nil)
	require.Equal(t, 5, cfg.Router.MaxFallbacks)
	require.Equal(t, []string{"big"}, cfg.Router.FallbackChain(FallbackGeneric, "a"))
	require.Empty(t, cfg.Router.FallbackChain(FallbackGeneric, "big"))
	require.Equal(t, []string{"big"}, cfg.Router.FallbackChain(FallbackContextWindow, "a"),
		"no context_window_fallbacks: the generic chain, default_fallbacks included")
}

// LiteLLM's Router reads an empty context_window_fallbacks or
// content_policy_fallbacks as none set (`setting or None`), so those errors
// take the generic chain.
func TestEmptyErrorChainsTakeTheGenericChain(t *testing.T) {
	cfg, _ := mustParse(t, routingModels+`
router_settings:
  fallbacks: [{"a": ["b"]}]
  context_window_fallbacks: []
  content_policy_fallbacks: [{"c": ["big"]}]
`, nil)
	require.Equal(t, []string{"b"}, cfg.Router.FallbackChain(FallbackContextWindow, "a"))
	require.Empty(t, cfg.Router.FallbackChain(FallbackContentPolicy, "a"), "a content_policy_fallbacks without the group: no fallback")
	require.Equal(t, []string{"big"}, cfg.Router.FallbackChain(FallbackContentPolicy, "c"))
}

func TestCostPerToken(t *testing.T) {
	cfg, warnings := mustParse(t, `
model_list:
  - {model_name: a, litellm_params: {model: openai/a, input_cost_per_token: 0.000001, output_cost_per_token: "0.000002"}}
  - {model_name: a, litellm_params: {model: openai/b}}
router_settings:
  routing_strategy: cost-based-routing
  routing_strategy_args: {lowest_latency_buffer: 0.2, ttl: 30}
`, nil)
	require.Empty(t, warnings)
	require.InDelta(t, 0.000003, cfg.Deployments[0].RoutingCost(), 1e-12)
	require.Equal(t, 10.0, cfg.Deployments[1].RoutingCost(), "LiteLLM's default of 5 per token each way")
	require.Equal(t, StrategyArgs{LowestLatencyBuffer: 0.2, TTL: 30 * time.Second}, cfg.Router.StrategyArgs)
}

func TestRetryAndAllowedFailsPolicies(t *testing.T) {
	cfg, warnings := mustParse(t, routingModels+`
router_settings:
  num_retries: 3
  allowed_fails: 2
  retry_after: 0.5
  retry_policy: {"RateLimitErrorRetries": 0, "TimeoutErrorRetries": 5}
  allowed_fails_policy: {"InternalServerErrorAllowedFails": 10}
`, nil)
	require.Empty(t, warnings)
	r := cfg.Router
	require.Equal(t, 0, r.Retries(ErrRateLimit))
	require.Equal(t, 5, r.Retries(ErrTimeout))
	require.Equal(t, 3, r.Retries(ErrInternalServer), "unnamed classes get num_retries")
	require.Equal(t, 10, r.AllowedFailsFor(ErrInternalServer))
	require.Equal(t, 2, r.AllowedFailsFor(ErrRateLimit))
	require.Equal(t, 500*time.Millisecond, r.RetryAfter)
}

// LiteLLM lets a fallback step name one deployment by its model_info.id:
// a group of that deployment alone, which Groups does not list. Anything
// else naming an id (an alias) is skipped with a warning.
func TestFallbackToOneDeployment(t *testing.T) {
	cfg, warnings := mustParse(t, `
model_list:
  - model_name: gpt-4
    litellm_params: {model: openai/gpt-4}
  - model_name: backup
    litellm_params: {model: openai/a}
  - model_name: backup
    litellm_params: {model: openai/b}
    model_info: {id: my-specific-model-id}
router_settings:
  fallbacks: [{"gpt-4": ["my-specific-model-id", "backup"]}]
  model_group_alias: {"pinned": "my-specific-model-id"}
`, nil)
	require.Equal(t, []string{"gpt-4", "backup"}, cfg.Groups())
	require.Equal(t, []string{"my-specific-model-id"}, cfg.DeploymentGroups)
	require.Equal(t, []string{"my-specific-model-id", "backup"}, cfg.Router.Fallbacks["gpt-4"])
	only := cfg.Group("my-specific-model-id")
	require.Len(t, only, 1)
	require.Equal(t, "b", only[0].UpstreamModel)
	require.Len(t, cfg.Group("backup"), 2)
	require.Len(t, warnings, 1)
	require.Contains(t, warnings[0].Msg, "only a fallback step may name one deployment")
}
