package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The OpenAI-compatible presets added for LiteLLM's other providers: each
// with LiteLLM's default base (or the file's, completed as LiteLLM does),
// the model it asks for, and its key variable.
func TestMoreProviderPresets(t *testing.T) {
	tests := []struct {
		name, params string
		env          map[string]string
		upstream     string
		key, base    string
	}{
		{name: "cerebras", params: `{model: cerebras/llama3.1-8b}`, env: map[string]string{"CEREBRAS_API_KEY": "k"},
			upstream: "llama3.1-8b", key: "k", base: "https://api.cerebras.ai/v1"},
		{name: "sambanova", params: `{model: sambanova/Meta-Llama-3.1-8B-Instruct}`, env: map[string]string{"SAMBANOVA_API_KEY": "k"},
			upstream: "Meta-Llama-3.1-8B-Instruct", key: "k", base: "https://api.sambanova.ai/v1"},
		{name: "nvidia_nim", params: `{model: nvidia_nim/meta/llama3-70b-instruct}`, env: map[string]string{"NVIDIA_NIM_API_KEY": "k"},
			upstream: "meta/llama3-70b-instruct", key: "k", base: "https://integrate.api.nvidia.com/v1"},
		{name: "deepinfra", params: `{model: deepinfra/meta-llama/Llama-2-70b-chat-hf}`, env: map[string]string{"DEEPINFRA_API_KEY": "k"},
			upstream: "meta-llama/Llama-2-70b-chat-hf", key: "k", base: "https://api.deepinfra.com/v1/openai"},
		{name: "custom_openai takes OpenAI's variables", params: `{model: custom_openai/gpt-4o}`,
			env:      map[string]string{"OPENAI_API_KEY": "k", "OPENAI_API_BASE": "http://oai.test/v1"},
			upstream: "gpt-4o", key: "k", base: "http://oai.test/v1"},
		{name: "openai_like from its variables", params: `{model: openai_like/my-model}`,
			env:      map[string]string{"OPENAI_LIKE_API_KEY": "k", "OPENAI_LIKE_API_BASE": "http://like.test/v1"},
			upstream: "my-model", key: "k", base: "http://like.test/v1"},
		{name: "databricks", params: `{model: databricks/databricks-dbrx-instruct}`,
			env:      map[string]string{"DATABRICKS_API_KEY": "dapi", "DATABRICKS_API_BASE": "https://adb-1.azuredatabricks.net/serving-endpoints"},
			upstream: "databricks-dbrx-instruct", key: "dapi", base: "https://adb-1.azuredatabricks.net/serving-endpoints"},
		{name: "vllm goes to a vLLM server", params: `{model: vllm/facebook/opt-125m}`, env: map[string]string{"HOSTED_VLLM_API_BASE": "http://vllm.test:8000/v1"},
			upstream: "facebook/opt-125m", base: "http://vllm.test:8000/v1"},
		{name: "cohere through its Compatibility API", params: `{model: cohere/command-r-plus}`, env: map[string]string{"CO_API_KEY": "co"},
			upstream: "command-r-plus", key: "co", base: "https://api.cohere.ai/compatibility/v1"},
		{name: "cohere_chat, COHERE_API_KEY first", params: `{model: cohere_chat/command-a-03-2025}`, env: map[string]string{"CO_API_KEY": "second", "COHERE_API_KEY": "first"},
			upstream: "command-a-03-2025", key: "first", base: "https://api.cohere.ai/compatibility/v1"},
		// Hugging Face: the router, HF_TOKEN before HUGGINGFACE_API_KEY.
		{name: "huggingface router", params: `{model: huggingface/meta-llama/Llama-3.3-70B-Instruct}`,
			env:      map[string]string{"HUGGINGFACE_API_KEY": "second", "HF_TOKEN": "hf_first"},
			upstream: "meta-llama/Llama-3.3-70B-Instruct", key: "hf_first", base: "https://router.huggingface.co/v1"},
		{name: "huggingface with an inference provider", params: `{model: huggingface/together/deepseek-ai/DeepSeek-R1}`,
			upstream: "deepseek-ai/DeepSeek-R1:together", base: "https://router.huggingface.co/v1"},
		// A TGI server at its root, as LiteLLM's example configs write it.
		{name: "huggingface TGI at the root", params: `{model: huggingface/HuggingFaceH4/zephyr-7b-beta, api_base: "http://0.0.0.0:8001"}`,
			upstream: "HuggingFaceH4/zephyr-7b-beta", base: "http://0.0.0.0:8001/v1"},
		{name: "huggingface base ending in /v1/", params: `{model: huggingface/tgi, api_base: "https://e.endpoints.huggingface.cloud/v1/"}`,
			upstream: "tgi", base: "https://e.endpoints.huggingface.cloud/v1"},
		{name: "huggingface full URL", params: `{model: huggingface/tgi, api_base: "http://tgi.test/v1/chat/completions"}`,
			upstream: "tgi", base: "http://tgi.test/v1"},
		{name: "huggingface base from HF_API_BASE", params: `{model: huggingface/a/b}`, env: map[string]string{"HF_API_BASE": "http://tgi.test:8080"},
			upstream: "a/b", base: "http://tgi.test:8080/v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := mustParse(t, "model_list:\n  - model_name: m\n    litellm_params: "+tt.params+"\n", tt.env)
			d := cfg.Deployments[0]
			require.Equal(t, APIOpenAI, d.API)
			require.Equal(t, tt.upstream, d.UpstreamModel)
			require.Equal(t, Secret(tt.key), d.APIKey)
			require.Equal(t, tt.base, d.APIBase.String())
		})
	}
}

// vllm/ loads with a warning saying where llmvoy sends it instead; it is
// not "not supported".
func TestVLLMWarns(t *testing.T) {
	_, warnings := mustParse(t, "model_list:\n  - model_name: m\n    litellm_params: {model: vllm/facebook/opt-125m}\n", nil)
	require.Len(t, warnings, 1)
	require.Contains(t, warnings[0].Msg, "vLLM server's OpenAI API")
	require.NotContains(t, warnings[0].Msg, "not supported")
}

// Providers without a default base need one, and say which variable gives
// it; watsonx fails the config with the reason.
func TestProvidersRefusedAtLoad(t *testing.T) {
	for params, want := range map[string]string{
		`{model: databricks/dbrx}`:                                     `missing; provider "databricks" has no default api_base; set api_base or DATABRICKS_API_BASE`,
		`{model: openai_like/m}`:                                       `set api_base or OPENAI_LIKE_API_BASE`,
		`{model: watsonx/ibm/granite-13b-chat}`:                        `provider "watsonx" cannot be served: IBM watsonx.ai wants an IAM access token`,
		`{model: watsonx_text/ibm/granite}`:                            `provider "watsonx_text" cannot be served`,
		`{model: "huggingface/https://x.endpoints.huggingface.cloud"}`: `an endpoint URL as the model: write it as api_base`,
	} {
		_, _, err := Parse([]byte("model_list:\n  - model_name: m\n    litellm_params: "+params+"\n"), "config.yaml", nil)
		require.ErrorContains(t, err, want, params)
	}
}
