package config

import "slices"

// PassThroughRoutes are LiteLLM's provider pass-through routes llmvoy
// serves: /<route>/... goes to that provider's API as the client wrote it,
// with the caller's gateway key swapped for the provider's credential. Each
// maps to the provider (Deployment.Provider) whose deployments it may use.
var PassThroughRoutes = map[string]string{
	"anthropic": "anthropic",
	"gemini":    "gemini",
	"openai":    "openai",
	"azure":     "azure",
	"bedrock":   "bedrock",
}

// passThrough picks each pass-through route's deployment the way LiteLLM's
// PassthroughEndpointRouter finds its credential: the first deployment of
// the route's provider with use_in_pass_through: true, else the provider's
// environment variables (ANTHROPIC_API_KEY, GEMINI_API_KEY or
// GOOGLE_API_KEY, OPENAI_API_KEY, AZURE_API_KEY with AZURE_API_BASE, the
// AWS_* credentials), with the provider's default api_base or its *_API_BASE
// variable. A route with neither is left out: llmvoy answers it 503.
func (p *parser) passThrough(deployments []*Deployment) map[string]*Deployment {
	out := make(map[string]*Deployment)
	for _, route := range sortedKeys(PassThroughRoutes) {
		provider := PassThroughRoutes[route]
		i := slices.IndexFunc(deployments, func(d *Deployment) bool {
			return d.UseInPassThrough && d.Provider == provider && d.API != "" && d.APIBase != nil
		})
		if i >= 0 {
			out[route] = deployments[i]
			continue
		}
		if d := p.passThroughFromEnv(route, provider); d != nil {
			out[route] = d
		}
	}
	return out
}

// passThroughFromEnv is the deployment a route takes from the provider's
// variables, or nil when they name no credential. It is read as a
// model_list entry without api_key or api_base would be, so the variables,
// their order and the defaults are the ones the provider's deployments use.
func (p *parser) passThroughFromEnv(route, provider string) *Deployment {
	env := providerEnv[provider]
	switch {
	case provider == "bedrock":
		if s, ok := p.lookup("AWS_ACCESS_KEY_ID"); !ok || s == "" {
			return nil
		}
	case len(env.key) == 0:
		return nil
	default:
		if name, _ := p.fromEnv(env.key); name == "" {
			return nil
		}
		if name, _ := p.fromEnv(env.base); provider == "azure" && name == "" {
			return nil // Azure has no default api_base
		}
	}
	model := &value{kind: kindStr, s: provider + "/pass-through", text: provider + "/pass-through"}
	params := &value{kind: kindDict, pairs: []pair{{key: &value{kind: kindStr, s: "model", text: "model"}, val: model}}}
	d := &Deployment{ID: "pass-through-" + route, ModelName: "/" + route}
	path := "pass-through /" + route
	p.route(path, p.liteLLMParams(path, params, d), d)
	if d.API == "" || d.APIBase == nil {
		return nil
	}
	return d
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
