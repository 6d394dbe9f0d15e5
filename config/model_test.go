package config

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSplitModel(t *testing.T) {
	for _, tc := range []struct {
		model, custom      string
		hasBase            bool
		provider, upstream string
	}{
		{"openai/gpt-4o", "", false, "openai", "gpt-4o"},
		{"hosted_vllm/meta-llama/Llama-3-8B", "", false, "hosted_vllm", "meta-llama/Llama-3-8B"},
		{"deepseek/deepseek-chat", "", false, "deepseek", "deepseek-chat"},
		{"azure/gpt-4o-eu", "", false, "azure", "gpt-4o-eu"},
		{"mock/gpt-4o", "", false, "mock", "gpt-4o"},
		{"gpt-4o", "", false, "openai", "gpt-4o"},
		{"o3-mini", "", false, "openai", "o3-mini"},
		{"text-embedding-3-small", "", false, "openai", "text-embedding-3-small"},
		{"ft:gpt-4o-mini:org::abc", "", false, "openai", "ft:gpt-4o-mini:org::abc"},
		{"claude-3-5-sonnet", "", false, "anthropic", "claude-3-5-sonnet"},
		{"*", "", false, "openai", "*"},
		{"llama3", "", true, "openai", "llama3"},
		{"siliconflow/Qwen/Qwen2.5-72B", "", true, "siliconflow", "Qwen/Qwen2.5-72B"},
		// custom_llm_provider wins and the model is sent whole, unless it
		// repeats the provider as a prefix.
		{"meta-llama/Llama-3-8B", "hosted_vllm", false, "hosted_vllm", "meta-llama/Llama-3-8B"},
		{"groq/llama3-8b", "groq", false, "groq", "llama3-8b"},
		{"llama3", "acme", true, "acme", "llama3"},
	} {
		t.Run(fmt.Sprintf("%s+%s", tc.model, tc.custom), func(t *testing.T) {
			provider, upstream, problem := splitModel(tc.model, tc.custom, tc.hasBase)
			require.Empty(t, problem)
			require.Equal(t, tc.provider, provider)
			require.Equal(t, tc.upstream, upstream)
		})
	}
	for _, model := range []string{"llama3", "foo/llama3", "openai/"} {
		_, _, problem := splitModel(model, "", false)
		require.NotEmpty(t, problem, model)
	}
}

func TestDefaultAPIBases(t *testing.T) {
	want := map[string]string{
		"openai":        "https://api.openai.com/v1",
		"deepseek":      "https://api.deepseek.com/beta",
		"dashscope":     "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
		"ollama":        "http://localhost:11434/v1",
		"ollama_chat":   "http://localhost:11434/v1",
		"hosted_vllm":   "http://localhost:8000/v1",
		"lm_studio":     "http://localhost:1234/v1",
		"litellm_proxy": "",
		"mock":          "http://127.0.0.1:4010/v1",
		"groq":          "https://api.groq.com/openai/v1",
		"mistral":       "https://api.mistral.ai/v1",
		"together_ai":   "https://api.together.xyz/v1",
		"openrouter":    "https://openrouter.ai/api/v1",
		"xai":           "https://api.x.ai/v1",
		"fireworks_ai":  "https://api.fireworks.ai/inference/v1",
		"perplexity":    "https://api.perplexity.ai",
		"moonshot":      "https://api.moonshot.ai/v1",
		"zai":           "https://api.z.ai/api/paas/v4",
		"cerebras":      "https://api.cerebras.ai/v1",
		"sambanova":     "https://api.sambanova.ai/v1",
		"nvidia_nim":    "https://integrate.api.nvidia.com/v1",
		"deepinfra":     "https://api.deepinfra.com/v1/openai",
		"custom_openai": "https://api.openai.com/v1",
		"openai_like":   "",
		"databricks":    "",
		"vllm":          "http://localhost:8000/v1",
		"huggingface":   "https://router.huggingface.co/v1",
		"cohere":        "https://api.cohere.ai/compatibility/v1",
		"cohere_chat":   "https://api.cohere.ai/compatibility/v1",
		"jina_ai":       "https://api.jina.ai/v1",
		"infinity":      "",
	}
	openAICompatible := 0
	for _, s := range providers {
		if s.API == APIOpenAI {
			openAICompatible++
		}
	}
	require.Equal(t, len(want), openAICompatible, "providers speaking OpenAI's API")
	for name, base := range want {
		spec, ok := LookupProvider(name)
		require.True(t, ok, name)
		require.Equal(t, ProviderSpec{Name: name, DefaultAPIBase: base, API: APIOpenAI}, spec)
		if name != "mock" {
			require.True(t, liteLLMProviders[name], "%s is a LiteLLM provider", name)
		}
	}
	_, ok := LookupProvider("sagemaker")
	require.False(t, ok)
}

// How each deployment of a file is routed: provider, upstream model, wire
// API and base URL.
func TestDeploymentRoute(t *testing.T) {
	cfg, warnings := mustParse(t, `
model_list:
  - model_name: a
    litellm_params: {model: deepseek/deepseek-chat}
  - model_name: b
    litellm_params: {model: openai/gpt-4o, api_base: "https://gateway.example.com/openai/v1/"}
  - model_name: c
    litellm_params: {model: ollama/llama3, api_base: "http://ollama:11434"}
  - model_name: d
    litellm_params: {model: ollama_chat/llama3, api_base: "http://ollama:11434/v1/"}
  - model_name: e
    litellm_params: {model: sagemaker/jumpstart-dft-meta-textgeneration-llama-2-7b}
  - model_name: f
    litellm_params: {model: llama-3-8b, api_base: "http://vllm:8000/v1"}
  - model_name: g
    litellm_params: {model: dashscope/qwen-max}
  - model_name: h
    litellm_params: {model: zai/glm-4.6}
`, nil)
	type route struct{ provider, upstream, api, base string }
	var got []route
	for _, d := range cfg.Deployments {
		r := route{d.Provider, d.UpstreamModel, d.API, ""}
		if d.APIBase != nil {
			r.base = d.APIBase.String()
		}
		got = append(got, r)
	}
	require.Equal(t, []route{
		{"deepseek", "deepseek-chat", APIOpenAI, "https://api.deepseek.com/beta"},
		{"openai", "gpt-4o", APIOpenAI, "https://gateway.example.com/openai/v1"},
		// LiteLLM's Ollama base is the server root; llmvoy needs its /v1 API.
		{"ollama", "llama3", APIOpenAI, "http://ollama:11434/v1"},
		{"ollama_chat", "llama3", APIOpenAI, "http://ollama:11434/v1"},
		{"sagemaker", "jumpstart-dft-meta-textgeneration-llama-2-7b", "", ""},
		{"openai", "llama-3-8b", APIOpenAI, "http://vllm:8000/v1"},
		{"dashscope", "qwen-max", APIOpenAI, "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"},
		// Zhipu GLM under LiteLLM's name for it.
		{"zai", "glm-4.6", APIOpenAI, "https://api.z.ai/api/paas/v4"},
	}, got)
	require.Equal(t, []Warning{{
		File: "config.yaml", Line: 12, Path: "model_list[4].litellm_params.model", Msg: `provider "sagemaker" is not supported yet`,
	}}, warnings)
}
