package config

import (
	"net/url"
	"strings"
)

// ProviderSpec is what llmvoy knows about a LiteLLM provider it can route to.
type ProviderSpec struct {
	// Name is the LiteLLM provider prefix, as in "deepseek/deepseek-chat".
	Name string
	// DefaultAPIBase is used when a deployment sets no api_base; "" means the
	// deployment must set one. It ends where "/chat/completions" is appended.
	DefaultAPIBase string
	// API is the wire format (one of the API* constants).
	API string
}

// LookupProvider returns the provider llmvoy can route to under name.
func LookupProvider(name string) (ProviderSpec, bool) {
	s, ok := providers[name]
	return s, ok
}

// Default bases are LiteLLM's, from its _get_openai_compatible_provider_info
// and get_complete_url methods (litellm/llms/<provider>/chat/transformation.py),
// unless a comment says otherwise. A provider's environment variables
// (providerEnv) come before its default base.
var providers = map[string]ProviderSpec{
	// The OpenAI SDK's default base_url.
	"openai":    {Name: "openai", DefaultAPIBase: "https://api.openai.com/v1", API: APIOpenAI},
	"deepseek":  {Name: "deepseek", DefaultAPIBase: "https://api.deepseek.com/beta", API: APIOpenAI},
	"dashscope": {Name: "dashscope", DefaultAPIBase: "https://dashscope-intl.aliyuncs.com/compatible-mode/v1", API: APIOpenAI},
	// LiteLLM talks to Ollama's native API at http://localhost:11434 (/api/chat,
	// /api/generate). llmvoy deliberately uses Ollama's OpenAI-compatible
	// endpoint under /v1 instead, so ollama needs no translator; api_base
	// values written for LiteLLM are adjusted by normalizeAPIBase.
	"ollama":      {Name: "ollama", DefaultAPIBase: "http://localhost:11434/v1", API: APIOpenAI},
	"ollama_chat": {Name: "ollama_chat", DefaultAPIBase: "http://localhost:11434/v1", API: APIOpenAI},
	// LiteLLM has no default for hosted_vllm and lm_studio, only
	// HOSTED_VLLM_API_BASE and LM_STUDIO_API_BASE (read here too); llmvoy
	// falls back to the servers' own defaults so a local setup works
	// without one.
	"hosted_vllm": {Name: "hosted_vllm", DefaultAPIBase: "http://localhost:8000/v1", API: APIOpenAI},
	"lm_studio":   {Name: "lm_studio", DefaultAPIBase: "http://localhost:1234/v1", API: APIOpenAI},
	// Another LiteLLM proxy; LiteLLM has no default, only
	// LITELLM_PROXY_API_BASE.
	"litellm_proxy": {Name: "litellm_proxy", API: APIOpenAI},
	// llmvoy's own mock server (llmvoy mock), not a LiteLLM provider.
	"mock":         {Name: "mock", DefaultAPIBase: "http://127.0.0.1:4010/v1", API: APIOpenAI},
	"groq":         {Name: "groq", DefaultAPIBase: "https://api.groq.com/openai/v1", API: APIOpenAI},
	"mistral":      {Name: "mistral", DefaultAPIBase: "https://api.mistral.ai/v1", API: APIOpenAI},
	"together_ai":  {Name: "together_ai", DefaultAPIBase: "https://api.together.xyz/v1", API: APIOpenAI},
	"openrouter":   {Name: "openrouter", DefaultAPIBase: "https://openrouter.ai/api/v1", API: APIOpenAI},
	"xai":          {Name: "xai", DefaultAPIBase: "https://api.x.ai/v1", API: APIOpenAI},
	"fireworks_ai": {Name: "fireworks_ai", DefaultAPIBase: "https://api.fireworks.ai/inference/v1", API: APIOpenAI},
	"perplexity":   {Name: "perplexity", DefaultAPIBase: "https://api.perplexity.ai", API: APIOpenAI},
	"moonshot":     {Name: "moonshot", DefaultAPIBase: "https://api.moonshot.ai/v1", API: APIOpenAI},
	"cerebras":     {Name: "cerebras", DefaultAPIBase: "https://api.cerebras.ai/v1", API: APIOpenAI},
	"sambanova":    {Name: "sambanova", DefaultAPIBase: "https://api.sambanova.ai/v1", API: APIOpenAI},
	"nvidia_nim":   {Name: "nvidia_nim", DefaultAPIBase: "https://integrate.api.nvidia.com/v1", API: APIOpenAI},
	// DeepInfraConfig._get_openai_compatible_provider_info.
	"deepinfra": {Name: "deepinfra", DefaultAPIBase: "https://api.deepinfra.com/v1/openai", API: APIOpenAI},
	// litellm/main.py completion() sends custom_openai through its openai
	// branch: OpenAI's default base and variables.
	"custom_openai": {Name: "custom_openai", DefaultAPIBase: "https://api.openai.com/v1", API: APIOpenAI},
	// LiteLLM's OpenAILikeChatHandler has no default base: the deployment
	// names its server.
	"openai_like": {Name: "openai_like", API: APIOpenAI},
	// Databricks model serving (DatabricksBase.databricks_validate_environment):
	// {api_base}/chat/completions, api_base being the workspace's
	// .../serving-endpoints. LiteLLM asks the databricks SDK for the host
	// when none is set; llmvoy needs api_base or DATABRICKS_API_BASE.
	"databricks": {Name: "databricks", API: APIOpenAI},
	// LiteLLM's vllm/ runs the vLLM library inside LiteLLM (deprecated
	// there, for hosted_vllm/). llmvoy cannot, and sends to a vLLM
	// server's OpenAI API as hosted_vllm/ does (route warns).
	"vllm": {Name: "vllm", DefaultAPIBase: "http://localhost:8000/v1", API: APIOpenAI},
	// Hugging Face's Inference Providers router, OpenAI-compatible
	// (HuggingFaceChatConfig.get_complete_url); a TGI server or Inference
	// Endpoint is an api_base, completed by normalizeAPIBase as LiteLLM's
	// _build_chat_completion_url does. hfProviderModel rewrites a model
	// routed to one inference provider.
	"huggingface": {Name: "huggingface", DefaultAPIBase: "https://router.huggingface.co/v1", API: APIOpenAI},
	// LiteLLM translates Cohere chat to Cohere's own /v1/chat (and /v2/chat)
	// API. llmvoy sends OpenAI's request to Cohere's Compatibility API
	// instead (docs.cohere.com/docs/compatibility-api): the client sees the
	// same answer, without a translator.
	"cohere":      {Name: "cohere", DefaultAPIBase: "https://api.cohere.ai/compatibility/v1", API: APIOpenAI},
	"cohere_chat": {Name: "cohere_chat", DefaultAPIBase: "https://api.cohere.ai/compatibility/v1", API: APIOpenAI},
	// Zhipu AI's GLM models on Z.AI, LiteLLM's "zai" (ZAIChatConfig, an
	// OpenAI-compatible config); the China endpoint
	// (https://open.bigmodel.cn/api/paas/v4) needs an api_base.
	"zai": {Name: "zai", DefaultAPIBase: "https://api.z.ai/api/paas/v4", API: APIOpenAI},
	// LiteLLM's AnthropicModelInfo.get_api_base; the translator appends
	// /v1/messages, as LiteLLM does.
	"anthropic": {Name: "anthropic", DefaultAPIBase: "https://api.anthropic.com", API: APIAnthropic},
	// Google AI Studio. LiteLLM's get_complete_url appends
	// /v1beta/models/{model}:{endpoint} to this base.
	"gemini": {Name: "gemini", DefaultAPIBase: "https://generativelanguage.googleapis.com", API: APIGemini},
	// Azure has no default base: each resource has its own host, from
	// api_base or the environment (AZURE_API_BASE, AZURE_AI_API_BASE for
	// azure_ai: see providerEnv).
	"azure":    {Name: "azure", API: APIAzure},
	"azure_ai": {Name: "azure_ai", API: APIAzureAI},
	// Amazon Bedrock's runtime endpoint for the deployment's region
	// (LiteLLM's BedrockModelInfo.get_runtime_endpoint); {region} is
	// filled in per deployment.
	"bedrock": {Name: "bedrock", DefaultAPIBase: "https://bedrock-runtime." + regionPlaceholder + ".amazonaws.com", API: APIBedrock},
	// Gemini on Vertex AI, at the deployment's location (LiteLLM's
	// get_vertex_base_url): {location} is filled in per deployment, and
	// the global location has no prefix.
	"vertex_ai": {Name: "vertex_ai", DefaultAPIBase: "https://" + locationPlaceholder + "-aiplatform.googleapis.com", API: APIVertex},
	// Rerank servers (translate.Rerank; cohere's above).
	// LiteLLM's JinaAIEmbeddingConfig and JinaAIRerankConfig: {base}/embeddings, {base}/rerank.
	"jina_ai": {Name: "jina_ai", DefaultAPIBase: "https://api.jina.ai/v1", API: APIOpenAI},
	// LiteLLM has no default for infinity, only INFINITY_API_BASE.
	"infinity": {Name: "infinity", API: APIOpenAI},
}

// regionPlaceholder in a DefaultAPIBase stands for the deployment's AWS
// region.
const regionPlaceholder = "{region}"

// locationPlaceholder in a DefaultAPIBase stands for the deployment's
// Google Cloud location.
const locationPlaceholder = "{location}"

// normalizeAPIBase returns the base llmvoy sends to for a user's api_base.
// It is used as written, trailing slashes aside, except for Ollama: LiteLLM
// users point it at the server root, and llmvoy needs the /v1 API below it.
func normalizeAPIBase(provider string, u *url.URL) *url.URL {
	out := *u
	out.Path = strings.TrimRight(out.Path, "/")
	out.RawPath = strings.TrimRight(out.RawPath, "/")
	switch provider {
	case "ollama", "ollama_chat":
		if !strings.HasSuffix(out.Path, "/v1") {
			out.Path += "/v1"
			out.RawPath = ""
		}
	case "huggingface":
		// LiteLLM's _build_chat_completion_url: a URL that ends in
		// /chat/completions is used as it is, one ending in /v1 gets
		// /chat/completions, any other /v1/chat/completions.
		if trimmed, ok := strings.CutSuffix(out.Path, "/chat/completions"); ok {
			out.Path = trimmed
		} else if !strings.HasSuffix(out.Path, "/v1") {
			out.Path += "/v1"
		}
		out.RawPath = ""
	}
	return &out
}

// hfProviderModel is the model a huggingface deployment without an api_base
// asks Hugging Face's router for. LiteLLM reads "provider/org/model" as the
// inference provider and the Hub model, and posts to the provider's route
// (https://router.huggingface.co/{provider}/v1) with the provider's own id
// for the model, looked up on the Hub at request time; llmvoy asks the
// router's OpenAI endpoint for "org/model:provider", its documented way to
// pick a provider, which needs no lookup. "org/model" is sent as it is.
func hfProviderModel(upstream string) string {
	provider, model, ok := strings.Cut(upstream, "/")
	if !ok || !strings.Contains(model, "/") {
		return upstream
	}
	return model + ":" + provider
}

// unroutable are LiteLLM providers llmvoy refuses at load time, with the
// reason: a deployment of one could never be served, and saying why beats
// a warning nobody reads.
var unroutable = map[string]string{
	"watsonx":      watsonxProblem,
	"watsonx_text": watsonxProblem,
}

const watsonxProblem = "cannot be served: IBM watsonx.ai wants an IAM access token exchanged for the API key (short-lived, refreshed) and its own request format, and llmvoy does neither; serve it through another OpenAI-compatible gateway and use openai/ with that api_base"

// liteLLMProviders are the provider prefixes LiteLLM knows (its LlmProviders
// enum in litellm/types/utils.py). A deployment of one llmvoy cannot route to
// yet still validates, with a warning, so a LiteLLM config loads as a whole.
var liteLLMProviders = setOf(
	"openai", "openai_like", "jina_ai", "xai", "custom_openai", "text-completion-openai",
	"cohere", "cohere_chat", "clarifai", "anthropic", "anthropic_text", "bytez",
	"replicate", "runwayml", "huggingface", "together_ai", "openrouter", "datarobot",
	"vertex_ai", "vertex_ai_beta", "gemini", "ai21", "baseten", "azure", "azure_text",
	"azure_ai", "sagemaker", "sagemaker_chat", "bedrock", "vllm", "nlp_cloud", "petals",
	"oobabooga", "ollama", "ollama_chat", "deepinfra", "perplexity", "mistral", "milvus",
	"groq", "nvidia_nim", "cerebras", "ai21_chat", "volcengine", "codestral",
	"text-completion-codestral", "dashscope", "moonshot", "v0", "morph", "lambda_ai",
	"deepseek", "sambanova", "maritalk", "voyage", "cloudflare", "xinference",
	"fireworks_ai", "friendliai", "featherless_ai", "watsonx", "watsonx_text", "triton",
	"predibase", "databricks", "empower", "github", "compactifai", "docker_model_runner",
	"custom", "litellm_proxy", "hosted_vllm", "llamafile", "lm_studio", "galadriel",
	"nebius", "infinity", "deepgram", "elevenlabs", "novita", "aiohttp_openai",
	"langfuse", "humanloop", "topaz", "assemblyai", "github_copilot", "snowflake",
	"gradient_ai", "meta_llama", "nscale", "pg_vector", "hyperbolic", "recraft",
	"fal_ai", "heroku", "aiml", "cometapi", "oci", "auto_router", "vercel_ai_gateway",
	"dotprompt", "wandb", "ovhcloud", "lemonade", "zai",
)

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
