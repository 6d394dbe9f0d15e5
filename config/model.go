package config

import (
	"fmt"
	"strings"
)

// knownProvider reports whether LiteLLM (or llmvoy, for mock) has a provider
// of this name.
func knownProvider(name string) bool {
	_, ok := providers[name]
	return ok || liteLLMProviders[name]
}

// Model names LiteLLM maps to a provider without a prefix. LiteLLM matches
// its model lists exactly; prefixes are the simple version of that.
var inferredProviders = []struct{ prefix, provider string }{
	{"gpt-", "openai"},
	{"ft:gpt-", "openai"},
	{"chatgpt-", "openai"},
	{"o1", "openai"},
	{"o3", "openai"},
	{"o4", "openai"},
	{"text-embedding-", "openai"},
	{"dall-e", "openai"},
	{"whisper", "openai"},
	{"tts", "openai"},
	{"claude-", "anthropic"},
	{"gemini-", "vertex_ai"},
}

// splitModel derives a deployment's provider and the model name sent
// upstream from litellm_params.model, as LiteLLM's get_llm_provider does:
//
//   - custom_llm_provider wins; a model that repeats it as a prefix loses the
//     prefix, any other model is sent whole ("meta-llama/Llama-3-8B").
//   - "provider/rest" for a provider LiteLLM knows. With an api_base an
//     unknown prefix is taken as an OpenAI-compatible provider of that name.
//   - "*" (LiteLLM's catch-all) and well-known model names such as gpt-4o.
//   - any other name with an api_base is an OpenAI-compatible model.
//
// problem is set when none applies.
func splitModel(model, custom string, hasBase bool) (provider, upstream, problem string) {
	if custom != "" {
		if prefix, rest, ok := strings.Cut(model, "/"); ok && prefix == custom {
			return custom, rest, ""
		}
		return custom, model, ""
	}
	if prefix, rest, ok := strings.Cut(model, "/"); ok {
		if knownProvider(prefix) || hasBase {
			if rest == "" {
				return "", "", fmt.Sprintf("no model name after the provider prefix %q", prefix+"/")
			}
			return prefix, rest, ""
		}
		return "", "", fmt.Sprintf("unknown provider %q; use a provider LiteLLM knows, or openai/%s with an api_base for an OpenAI-compatible server", prefix, model)
	}
	if model == "*" {
		return "openai", model, ""
	}
	for _, p := range inferredProviders {
		if strings.HasPrefix(model, p.prefix) {
			return p.provider, model, ""
		}
	}
	if hasBase {
		return "openai", model, ""
	}
	return "", "", fmt.Sprintf("cannot tell the provider of %q; add a provider prefix, e.g. openai/%s", model, model)
}

// LiteLLMModel is the deployment's model as LiteLLM names it in its info
// and spend logs: provider/model.
func (d *Deployment) LiteLLMModel() string {
	if d.Provider == "" {
		return d.UpstreamModel
	}
	return d.Provider + "/" + d.UpstreamModel
}
