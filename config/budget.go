package config

import (
	"fmt"
	"strings"
)

// LiteLLM's provider budgets (router_settings.provider_budget_config, and
// the older routing_strategy: provider-budget-routing that turned them on):
// a deployment whose provider spent its budget_limit within time_period is
// left out of routing until the period ends. llmvoy does not count spend
// per provider yet, so it says so for each budget, loads the rest of the
// config and routes as if none were set; it never refuses a config for them.

// providerBudgetRouting is LiteLLM's strategy name for the budget filter
// in front of simple-shuffle.
const providerBudgetRouting = "provider-budget-routing"

// budgetNotEnforced ends every provider budget warning.
const budgetNotEnforced = "not enforced: llmvoy does not count spend per provider yet, so no deployment is taken out of routing for its provider's budget"

// warnProviderBudgetRouting explains what the strategy name does in llmvoy.
func (p *parser) warnProviderBudgetRouting(v *value, path string) {
	p.warnf(v.line, path, "%s: deployments are picked as with %s (LiteLLM's pick behind its budget filter); the budgets of provider_budget_config are %s", providerBudgetRouting, RoutingSimpleShuffle, budgetNotEnforced)
}

// warnProviderBudgets reads provider_budget_config far enough to name each
// provider's budget in its warning.
func (p *parser) warnProviderBudgets(path string, v *value) {
	if v.isNull() {
		return
	}
	if v.kind != kindDict {
		p.warnf(v.line, path, "want a mapping of provider to {budget_limit, time_period}, got %s; %s", v.kind, budgetNotEnforced)
		return
	}
	for _, kv := range v.pairs {
		kpath := joinPath(path, keyName(kv.key))
		var what []string
		if kv.val.kind == kindDict {
			if b := kv.val.get("budget_limit"); b != nil && b.isScalar() && !b.isNull() {
				what = append(what, "$"+pyStr(b))
			}
			if t := kv.val.get("time_period"); t != nil && t.isScalar() && !t.isNull() {
				what = append(what, "per "+pyStr(t))
			}
		}
		budget := "budget"
		if len(what) > 0 {
			budget = fmt.Sprintf("budget of %s", strings.Join(what, " "))
		}
		p.warnf(kv.key.line, kpath, "%s %s", budget, budgetNotEnforced)
	}
}
