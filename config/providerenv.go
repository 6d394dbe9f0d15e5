package config

import "net/url"

// providerVars are the environment variables LiteLLM falls back to, in its
// order, when litellm_params leave api_key, api_base or api_version out,
// empty, or naming an unset variable (its `api_key or get_secret_str(A) or
// get_secret_str(B)` chains): the first one set to a non-empty value counts.
type providerVars struct {
	key, base, version []string
}

// providerEnv holds the variables of every provider in providers, and only
// those (TestProviderEnvCoversProviders). Unless a comment says otherwise,
// they are from the provider's _get_openai_compatible_provider_info (in
// litellm/litellm_core_utils/get_llm_provider_logic.py, or the
// litellm/llms/<provider>/chat/transformation.py it calls).
var providerEnv = map[string]providerVars{
	// litellm/main.py completion(), the openai branch.
	"openai":    {key: []string{"OPENAI_API_KEY"}, base: []string{"OPENAI_BASE_URL", "OPENAI_API_BASE"}},
	"deepseek":  {key: []string{"DEEPSEEK_API_KEY"}, base: []string{"DEEPSEEK_API_BASE"}},
	"dashscope": {key: []string{"DASHSCOPE_API_KEY"}, base: []string{"DASHSCOPE_API_BASE"}},
	// OllamaModelInfo.get_api_key and get_api_base
	// (litellm/llms/ollama/common_utils.py). A base from OLLAMA_API_BASE is
	// the server root, as in LiteLLM; normalizeAPIBase adds /v1.
	"ollama":        {key: []string{"OLLAMA_API_KEY"}, base: []string{"OLLAMA_API_BASE"}},
	"ollama_chat":   {key: []string{"OLLAMA_API_KEY"}, base: []string{"OLLAMA_API_BASE"}},
	"hosted_vllm":   {key: []string{"HOSTED_VLLM_API_KEY"}, base: []string{"HOSTED_VLLM_API_BASE"}},
	"lm_studio":     {key: []string{"LM_STUDIO_API_KEY"}, base: []string{"LM_STUDIO_API_BASE"}},
	"litellm_proxy": {key: []string{"LITELLM_PROXY_API_KEY"}, base: []string{"LITELLM_PROXY_API_BASE"}},
	// llmvoy's own mock server reads none.
	"mock": {},
	"groq": {key: []string{"GROQ_API_KEY"}, base: []string{"GROQ_API_BASE"}},
	// MistralConfig reads the Azure-hosted Mistral's variables first.
	"mistral":     {key: []string{"MISTRAL_AZURE_API_KEY", "MISTRAL_API_KEY"}, base: []string{"MISTRAL_AZURE_API_BASE"}},
	"together_ai": {key: []string{"TOGETHER_API_KEY", "TOGETHER_AI_API_KEY", "TOGETHERAI_API_KEY", "TOGETHER_AI_TOKEN"}, base: []string{"TOGETHER_AI_API_BASE"}},
	// litellm/main.py completion(), the openrouter branch: its chat base
	// comes from no variable (only its embeddings read OPENROUTER_API_BASE).
	"openrouter":   {key: []string{"OPENROUTER_API_KEY", "OR_API_KEY"}},
	"xai":          {key: []string{"XAI_API_KEY"}, base: []string{"XAI_API_BASE"}},
	"fireworks_ai": {key: []string{"FIREWORKS_API_KEY", "FIREWORKS_AI_API_KEY", "FIREWORKSAI_API_KEY", "FIREWORKS_AI_TOKEN"}, base: []string{"FIREWORKS_API_BASE"}},
	"perplexity":   {key: []string{"PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"}, base: []string{"PERPLEXITY_API_BASE"}},
	"moonshot":     {key: []string{"MOONSHOT_API_KEY"}, base: []string{"MOONSHOT_API_BASE"}},
	"zai":          {key: []string{"ZAI_API_KEY"}, base: []string{"ZAI_API_BASE"}},
	"cerebras":     {key: []string{"CEREBRAS_API_KEY"}, base: []string{"CEREBRAS_API_BASE"}},
	"sambanova":    {key: []string{"SAMBANOVA_API_KEY"}, base: []string{"SAMBANOVA_API_BASE"}},
	"nvidia_nim":   {key: []string{"NVIDIA_NIM_API_KEY"}, base: []string{"NVIDIA_NIM_API_BASE"}},
	"deepinfra":    {key: []string{"DEEPINFRA_API_KEY"}, base: []string{"DEEPINFRA_API_BASE"}},
	// litellm/main.py completion(), the openai branch.
	"custom_openai": {key: []string{"OPENAI_API_KEY"}, base: []string{"OPENAI_BASE_URL", "OPENAI_API_BASE"}},
	// litellm/main.py, the openai_like branches.
	"openai_like": {key: []string{"OPENAI_LIKE_API_KEY"}, base: []string{"OPENAI_LIKE_API_BASE"}},
	// DatabricksBase.databricks_validate_environment and
	// DatabricksConfig (litellm/llms/databricks/).
	"databricks": {key: []string{"DATABRICKS_API_KEY"}, base: []string{"DATABRICKS_API_BASE"}},
	// llmvoy sends vllm/ to a vLLM server, as hosted_vllm/.
	"vllm": {key: []string{"HOSTED_VLLM_API_KEY"}, base: []string{"HOSTED_VLLM_API_BASE"}},
	// litellm/main.py completion(), the huggingface branch, and
	// HuggingFaceChatConfig.get_base_url.
	"huggingface": {key: []string{"HF_TOKEN", "HUGGINGFACE_API_KEY"}, base: []string{"HF_API_BASE", "HUGGINGFACE_API_BASE"}},
	// litellm/main.py completion(), the cohere branches. COHERE_API_BASE
	// is not read: LiteLLM's is a native /v1/chat URL, not the
	// Compatibility API llmvoy sends to.
	"cohere":      {key: []string{"COHERE_API_KEY", "CO_API_KEY"}},
	"cohere_chat": {key: []string{"COHERE_API_KEY", "CO_API_KEY"}},
	// AnthropicModelInfo.get_api_key and get_api_base
	// (litellm/llms/anthropic/common_utils.py).
	"anthropic": {key: []string{"ANTHROPIC_API_KEY"}, base: []string{"ANTHROPIC_API_BASE", "ANTHROPIC_BASE_URL"}},
	// GeminiModelInfo.get_api_key and get_api_base
	// (litellm/llms/gemini/common_utils.py).
	"gemini": {key: []string{"GOOGLE_API_KEY", "GEMINI_API_KEY"}, base: []string{"GEMINI_API_BASE"}},
	// litellm/main.py completion(), the azure branch.
	"azure": {key: []string{"AZURE_OPENAI_API_KEY", "AZURE_API_KEY"}, base: []string{"AZURE_API_BASE"}, version: []string{"AZURE_API_VERSION"}},
	// AzureAIStudioConfig (litellm/llms/azure_ai/chat/transformation.py).
	"azure_ai": {key: []string{"AZURE_AI_API_KEY"}, base: []string{"AZURE_AI_API_BASE"}},
	// Bedrock and Vertex AI authenticate with the AWS and Google
	// credentials aws() and vertex() find, and their endpoint follows from
	// the region or location; no api_key or api_base variable is read.
	"bedrock":   {},
	"vertex_ai": {},
	// The rerank configs' validate_environment (infinity) and
	// JinaAIEmbeddingConfig._get_openai_compatible_provider_info.
	"jina_ai":  {key: []string{"JINA_AI_API_KEY"}, base: []string{"JINA_AI_API_BASE"}},
	"infinity": {key: []string{"INFINITY_API_KEY"}, base: []string{"INFINITY_API_BASE"}},
}

// fromEnv returns the first of names set to a non-empty value, and its
// variable's name ("" when none is).
func (p *parser) fromEnv(names []string) (name, value string) {
	for _, n := range names {
		if s, ok := p.lookup(n); ok && s != "" {
			return n, s
		}
	}
	return "", ""
}

// envDefaults fills in what litellm_params leave to the provider's
// variables: the api_base (before the provider's default base), the api_key
// and the api_version. A base from a variable is checked like one from the
// file; a key is never quoted.
func (p *parser) envDefaults(path string, lp liteLLMParams, base *url.URL, d *Deployment) (liteLLMParams, *url.URL) {
	env := providerEnv[d.Provider]
	if lp.base == "" {
		if name, s := p.fromEnv(env.base); name != "" {
			lp.base, lp.baseEnv, lp.baseLine, lp.baseKey = s, name, lp.modelLine, "api_base"
			base = p.apiBase(joinPath(path, lp.baseKey), lp)
		}
	}
	if d.APIKey == "" {
		_, s := p.fromEnv(env.key)
		d.APIKey = Secret(s)
	}
	if d.APIVersion == "" {
		_, d.APIVersion = p.fromEnv(env.version)
	}
	return lp, base
}
