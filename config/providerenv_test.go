package config

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProviderEnvCoversProviders(t *testing.T) {
	names := func(m any) []string {
		var out []string
		switch m := m.(type) {
		case map[string]ProviderSpec:
			for n := range m {
				out = append(out, n)
			}
		case map[string]providerVars:
			for n := range m {
				out = append(out, n)
			}
		}
		sort.Strings(out)
		return out
	}
	require.Equal(t, names(providers), names(providerEnv))
}

// What litellm_params leave out comes from the provider's variables, in
// LiteLLM's order; what they set wins.
func TestProviderEnvDefaults(t *testing.T) {
	tests := []struct {
		name, params, fileEnv string
		env                   map[string]string
		key, base, version    string
	}{
		{
			name:   "openai key and base",
			params: `{model: openai/gpt-4o}`,
			env:    map[string]string{"OPENAI_API_KEY": "sk-env", "OPENAI_API_BASE": "http://second.test/v1", "OPENAI_BASE_URL": "http://first.test/v1"},
			key:    "sk-env", base: "http://first.test/v1",
		},
		{
			name:   "nothing set: the default base, no key",
			params: `{model: openai/gpt-4o}`,
			base:   "https://api.openai.com/v1",
		},
		{
			name:   "the file wins",
			params: `{model: openai/gpt-4o, api_key: sk-file, api_base: "http://file.test/v1"}`,
			env:    map[string]string{"OPENAI_API_KEY": "sk-env", "OPENAI_BASE_URL": "http://env.test/v1"},
			key:    "sk-file", base: "http://file.test/v1",
		},
		{
			name:   "an unset os.environ/ key falls back, as get_secret's None does",
			params: `{model: anthropic/claude, api_key: os.environ/UNSET}`,
			env:    map[string]string{"ANTHROPIC_API_KEY": "sk-ant"},
			key:    "sk-ant", base: "https://api.anthropic.com",
		},
		{
			name:   "an empty key falls back",
			params: `{model: deepseek/deepseek-chat, api_key: ""}`,
			env:    map[string]string{"DEEPSEEK_API_KEY": "sk-ds", "DEEPSEEK_API_BASE": "https://ds.test/beta"},
			key:    "sk-ds", base: "https://ds.test/beta",
		},
		{
			name:    "environment_variables count, before the process",
			params:  `{model: anthropic/claude}`,
			fileEnv: "environment_variables: {ANTHROPIC_API_KEY: sk-file-env}\n",
			env:     map[string]string{"ANTHROPIC_API_KEY": "sk-process"},
			key:     "sk-file-env", base: "https://api.anthropic.com",
		},
		{
			name:   "an empty variable is skipped",
			params: `{model: together_ai/llama}`,
			env:    map[string]string{"TOGETHER_API_KEY": "", "TOGETHER_AI_API_KEY": "sk-second"},
			key:    "sk-second", base: "https://api.together.xyz/v1",
		},
		{
			name:   "azure: key, base and version",
			params: `{model: azure/my-deployment}`,
			env: map[string]string{"AZURE_API_KEY": "az-second", "AZURE_OPENAI_API_KEY": "az-first",
				"AZURE_API_BASE": "https://res.openai.azure.com", "AZURE_API_VERSION": "2024-10-21"},
			key: "az-first", base: "https://res.openai.azure.com", version: "2024-10-21",
		},
		{
			name:   "azure: the file's version and an unset api_base reference",
			params: `{model: azure/my-deployment, api_version: "2025-01-01", api_base: os.environ/UNSET}`,
			env:    map[string]string{"AZURE_API_BASE": "https://res.openai.azure.com", "AZURE_API_VERSION": "2024-10-21"},
			base:   "https://res.openai.azure.com", version: "2025-01-01",
		},
		{
			name:   "hosted_vllm",
			params: `{model: hosted_vllm/meta-llama/Llama-3.1-8B-Instruct}`,
			env:    map[string]string{"HOSTED_VLLM_API_BASE": "http://vllm.test:8000/v1", "HOSTED_VLLM_API_KEY": "vllm-key"},
			key:    "vllm-key", base: "http://vllm.test:8000/v1",
		},
		{
			name:   "ollama's base is the server root, as in LiteLLM",
			params: `{model: ollama/llama3.2}`,
			env:    map[string]string{"OLLAMA_API_BASE": "http://gpu.test:11434"},
			base:   "http://gpu.test:11434/v1",
		},
		{
			name:   "litellm_proxy needs no api_base with its variable",
			params: `{model: litellm_proxy/gpt-4o}`,
			env:    map[string]string{"LITELLM_PROXY_API_BASE": "http://proxy.test:4000", "LITELLM_PROXY_API_KEY": "sk-proxy"},
			key:    "sk-proxy", base: "http://proxy.test:4000",
		},
		{
			name:   "openrouter's chat reads no base variable",
			params: `{model: openrouter/meta-llama/llama-3-70b}`,
			env:    map[string]string{"OPENROUTER_API_BASE": "http://ignored.test/v1", "OR_API_KEY": "sk-or"},
			key:    "sk-or", base: "https://openrouter.ai/api/v1",
		},
		{
			name:   "gemini reads GOOGLE_API_KEY first",
			params: `{model: gemini/gemini-2.0-flash}`,
			env:    map[string]string{"GEMINI_API_KEY": "g-second", "GOOGLE_API_KEY": "g-first"},
			key:    "g-first", base: "https://generativelanguage.googleapis.com",
		},
		{
			name:   "mock reads none",
			params: `{model: mock/m}`,
			env:    map[string]string{"MOCK_API_KEY": "no", "OPENAI_API_KEY": "no"},
			base:   "http://127.0.0.1:4010/v1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := mustParse(t, tt.fileEnv+"model_list:\n  - model_name: m\n    litellm_params: "+tt.params+"\n", tt.env)
			d := cfg.Deployments[0]
			require.Equal(t, Secret(tt.key), d.APIKey)
			require.Equal(t, tt.base, d.APIBase.String())
			require.Equal(t, tt.version, d.APIVersion)
			require.NotEmpty(t, d.API)
		})
	}
}

// A base from a variable is checked like one from the file and the error
// names the variable; neither it nor a warning shows a key or the value.
func TestProviderEnvBadBase(t *testing.T) {
	const src = "model_list:\n  - model_name: m\n    litellm_params: {model: hosted_vllm/llama, api_key: os.environ/UNSET}\n"
	env := map[string]string{"HOSTED_VLLM_API_BASE": "vllm.local:8000/sk-in-base", "HOSTED_VLLM_API_KEY": "sk-vllm-secret"}
	cfg, warnings, err := Parse([]byte(src), "config.yaml", envOf(env))
	require.Nil(t, cfg)
	e := findError(t, err, "HOSTED_VLLM_API_BASE")
	require.Equal(t, `config.yaml:3: model_list[0].litellm_params.api_base: want an absolute http(s) URL in environment variable HOSTED_VLLM_API_BASE`, e.Error())
	out := err.Error() + fmt.Sprint(warnings)
	for _, secret := range []string{"sk-vllm-secret", "sk-in-base"} {
		require.NotContains(t, out, secret)
	}
}

// Without a base anywhere, the error says which variable would do.
func TestProviderEnvMissingBase(t *testing.T) {
	_, _, err := Parse([]byte("model_list:\n  - model_name: m\n    litellm_params: {model: azure/d}\n"), "config.yaml", noEnv)
	require.ErrorContains(t, err, `model_list[0].litellm_params.api_base: missing; provider "azure" has no default api_base; set api_base or AZURE_API_BASE`)
	require.False(t, strings.Contains(err.Error(), "AZURE_API_KEY"))
}
