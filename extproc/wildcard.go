package extproc

import (
	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/pricing"
)

// route maps a requested model to its model group, as LiteLLM's router
// does: an alias's group, a group of that name, else the most specific
// wildcard group whose pattern matches it, tried with the provider
// LiteLLM would infer too ("gpt-4o" is "openai/gpt-4o" for a group
// "openai/*"). served is the name the group serves it under, which fills
// the "*" of its deployments' models (plan.Group.UpstreamModel): the
// requested name, or its inferred provider/name. An unknown model is its
// own (missing) group.
func (st *state) route(model string) (group, served string) {
	if a, ok := st.cfg.Router.Aliases[model]; ok {
		return a.Group, model
	}
	if _, ok := st.groups[model]; ok {
		return model, model
	}
	if g := st.plan.Match(model); g != nil {
		return g.Name, model
	}
	if p := pricing.Provider(model); p != "" {
		if g := st.plan.Match(p + "/" + model); g != nil {
			return g.Name, p + "/" + model
		}
	}
	return model, model
}

// forModel is the deployment as an attempt of a request for served calls
// it: a copy with the model its group's pattern gives (every translator
// reads the model from the deployment), or d itself.
func (st *state) forModel(d *config.Deployment, served string) *config.Deployment {
	m := st.plan.Group(d.ModelName).UpstreamModel(d, served)
	if m == d.UpstreamModel {
		return d
	}
	c := *d
	c.UpstreamModel = m
	return &c
}
