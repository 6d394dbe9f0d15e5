package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// LiteLLM's provider budget example loads: the strategy routes as
// simple-shuffle, and each budget says it is not enforced.
func TestProviderBudgetsWarnAndLoad(t *testing.T) {
	cfg, warnings := mustParse(t, `model_list:
  - model_name: gpt
    litellm_params: {model: openai/gpt-4o}
router_settings:
  routing_strategy: provider-budget-routing
  provider_budget_config:
    openai:
      budget_limit: 0.000000000001
      time_period: 1d
    azure:
      budget_limit: 100
      time_period: 1d
    anthropic: oops
`, nil)
	require.Equal(t, RoutingSimpleShuffle, cfg.Router.RoutingStrategy)
	var msgs []string
	for _, w := range warnings {
		msgs = append(msgs, w.Path+": "+w.Msg)
	}
	require.Equal(t, []string{
		"router_settings.routing_strategy: provider-budget-routing: deployments are picked as with simple-shuffle (LiteLLM's pick behind its budget filter); the budgets of provider_budget_config are " + budgetNotEnforced,
		"router_settings.provider_budget_config.openai: budget of $1e-12 per 1d " + budgetNotEnforced,
		"router_settings.provider_budget_config.azure: budget of $100 per 1d " + budgetNotEnforced,
		"router_settings.provider_budget_config.anthropic: budget " + budgetNotEnforced,
	}, msgs)

	_, warnings = mustParse(t, "model_list:\n  - model_name: gpt\n    litellm_params: {model: openai/gpt-4o}\nrouter_settings:\n  provider_budget_config: [openai]\n", nil)
	require.Len(t, warnings, 1)
	require.Contains(t, warnings[0].Msg, "want a mapping of provider")
}
