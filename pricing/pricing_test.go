package pricing

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
)

func TestCost(t *testing.T) {
	for _, tc := range []struct {
		name       string
		d          config.Deployment
		prompt     int
		completion int
		want       float64
		known      bool
	}{
		{"config prices win", config.Deployment{Provider: "openai", UpstreamModel: "gpt-4o", InputCostPerToken: 1e-6, OutputCostPerToken: 2e-6}, 10, 5, 2e-5, true},
		{"config input price alone", config.Deployment{Provider: "openai", UpstreamModel: "gpt-4o", InputCostPerToken: 1e-6}, 10, 5, 1e-5, true},
		{"model_info prices", config.Deployment{Provider: "openai", UpstreamModel: "gpt-4o", Info: map[string]any{"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}}, 10, 5, 2e-5, true},
		{"model_info prices as PyYAML strings", config.Deployment{Info: map[string]any{"input_cost_per_token": "2e-06", "output_cost_per_token": "8e-06"}}, 1, 1, 1e-5, true},
		{"model_info price that is not a number", config.Deployment{UpstreamModel: "my-finetune", Info: map[string]any{"input_cost_per_token": "os.environ/PRICE"}}, 1, 1, 0, false},
		{"table", config.Deployment{Provider: "openai", UpstreamModel: "gpt-4o"}, 1000, 100, 1000*2.5e-6 + 100*1e-5, true},
		{"table, any case", config.Deployment{Provider: "openai", UpstreamModel: "GPT-4o-Mini"}, 1000, 100, 1000*1.5e-7 + 100*6e-7, true},
		{"dated snapshot without its own entry", config.Deployment{Provider: "openai", UpstreamModel: "gpt-4o-2024-11-20"}, 1000, 0, 1000 * 2.5e-6, true},
		{"dated snapshot with its own price", config.Deployment{Provider: "openai", UpstreamModel: "gpt-4o-2024-05-13"}, 1000, 0, 1000 * 5e-6, true},
		{"embedding", config.Deployment{Provider: "openai", UpstreamModel: "text-embedding-3-small"}, 1000, 0, 1000 * 2e-8, true},
		{"anthropic", config.Deployment{Provider: "anthropic", UpstreamModel: "claude-sonnet-4-20250514"}, 100, 10, 100*3e-6 + 10*1.5e-5, true},
		{"provider-prefixed key", config.Deployment{Provider: "deepseek", UpstreamModel: "deepseek-chat"}, 100, 10, 100*2.8e-7 + 10*4.2e-7, true},
		{"gemini under gemini/", config.Deployment{Provider: "gemini", UpstreamModel: "gemini-2.5-pro"}, 100, 10, 100*1.25e-6 + 10*1e-5, true},
		{"gemini bare key from AI Studio", config.Deployment{Provider: "gemini", UpstreamModel: "gemini-2.0-flash"}, 100, 10, 100*1e-7 + 10*4e-7, true},
		{"gemini on vertex at AI Studio's price", config.Deployment{Provider: "vertex_ai", UpstreamModel: "gemini-2.5-pro"}, 100, 10, 100*1.25e-6 + 10*1e-5, true},
		{"bedrock id", config.Deployment{Provider: "bedrock", UpstreamModel: "anthropic.claude-3-haiku-20240307-v1:0"}, 4, 4, 4*2.5e-7 + 4*1.25e-6, true},
		{"bedrock region prefix", config.Deployment{Provider: "bedrock", UpstreamModel: "us.anthropic.claude-3-haiku-20240307-v1:0"}, 4, 4, 4*2.5e-7 + 4*1.25e-6, true},
		{"bedrock converse route", config.Deployment{Provider: "bedrock", UpstreamModel: "converse/amazon.nova-pro-v1:0"}, 10, 10, 10*8e-7 + 10*3.2e-6, true},
		{"azure priced by model_info.base_model", config.Deployment{Provider: "azure", UpstreamModel: "my-gpt4o-deployment", Info: map[string]any{"base_model": "azure/gpt-4o-mini"}}, 1000, 0, 1000 * 1.5e-7, true},
		{"azure deployment name alone", config.Deployment{Provider: "azure", UpstreamModel: "my-gpt4o-deployment"}, 10, 10, 0, false},
		{"unknown", config.Deployment{Provider: "openai", UpstreamModel: "my-finetune"}, 10, 10, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, known := Cost(&tc.d, tc.prompt, tc.completion)
			require.Equal(t, tc.known, known)
			require.InDelta(t, tc.want, got, 1e-12)
			in, out, ok := Info(&tc.d)
			require.Equal(t, tc.known, ok)
			require.InDelta(t, tc.want, float64(tc.prompt)*in+float64(tc.completion)*out, 1e-12)
		})
	}
}

// Model reports the table's fields under LiteLLM's names and the key it
// found them under, and hands out a copy.
func TestModel(t *testing.T) {
	d := &config.Deployment{Provider: "openai", UpstreamModel: "gpt-4o-mini-2024-07-18"}
	key, fields, ok := Model(d)
	require.True(t, ok)
	require.Equal(t, "gpt-4o-mini", key)
	require.Equal(t, map[string]any{
		"input_cost_per_token": 1.5e-07, "output_cost_per_token": 6e-07, "litellm_provider": "openai",
		"max_input_tokens": int64(128000), "max_output_tokens": int64(16384), "max_tokens": int64(16384), "mode": "chat",
		"supports_function_calling": true, "supports_parallel_function_calling": true, "supports_vision": true,
		"supports_response_schema": true, "supports_prompt_caching": true, "supports_system_messages": true,
		"supports_tool_choice": true, "supports_pdf_input": true,
	}, fields)

	fields["mode"] = "changed"
	_, again, _ := Model(d)
	require.Equal(t, "chat", again["mode"], "Model must return a copy")

	key, fields, ok = Model(&config.Deployment{Provider: "bedrock", UpstreamModel: "amazon.titan-embed-text-v2:0"})
	require.True(t, ok)
	require.Equal(t, "amazon.titan-embed-text-v2:0", key)
	require.Equal(t, "embedding", fields["mode"])

	key, fields, ok = Model(&config.Deployment{Provider: "vertex_ai", UpstreamModel: "gemini-2.5-pro"})
	require.True(t, ok)
	require.Equal(t, "gemini/gemini-2.5-pro", key)
	require.Equal(t, "vertex_ai-language-models", fields["litellm_provider"])
	_, fields, _ = Model(&config.Deployment{Provider: "gemini", UpstreamModel: "gemini-2.5-pro"})
	require.Equal(t, "gemini", fields["litellm_provider"], "the table itself is unchanged")

	_, _, ok = Model(&config.Deployment{Provider: "openai", UpstreamModel: "my-finetune"})
	require.False(t, ok)
}

// Every entry has the fields the info endpoints report, prices that look
// like per-token prices, and output priced at least as high as input
// (except embeddings, which have no output): a swapped pair or a price per
// million tokens would show here.
func TestTableSanity(t *testing.T) {
	require.GreaterOrEqual(t, len(table), 30)
	for name, e := range table {
		require.Contains(t, []any{"chat", "embedding"}, e.fields["mode"], name)
		require.NotEmpty(t, e.fields["litellm_provider"], name)
		require.IsType(t, int64(0), e.fields["max_input_tokens"], name)
		require.IsType(t, int64(0), e.fields["max_tokens"], name)
		require.Greater(t, e.price.Input, 0.0, name)
		require.Less(t, e.price.Input, 1e-4, name) // $100 per million tokens: a typo
		if e.fields["mode"] == "embedding" {
			require.Zero(t, e.price.Output, name)
			continue
		}
		require.GreaterOrEqual(t, e.price.Output, e.price.Input, name)
		require.Less(t, e.price.Output, 1e-3, name)
	}
}

func TestLoadRejectsBadTables(t *testing.T) {
	for name, body := range map[string]string{
		"not json":       `{`,
		"missing prices": `{"m": {"input_cost_per_token": 1e-6}}`,
		"upper case":     `{"M": {"input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6}}`,
	} {
		_, err := load([]byte(body))
		require.Error(t, err, name)
	}
	// The embedded table is valid JSON of the expected shape.
	var raw map[string]map[string]any
	require.NoError(t, json.Unmarshal(modelsJSON, &raw))
	require.Len(t, table, len(raw))
}

func TestLookup(t *testing.T) {
	p, ok := Lookup("claude-3-5-sonnet-20241022")
	require.True(t, ok)
	require.Equal(t, Price{3e-6, 1.5e-5}, p)
	_, ok = Lookup("gpt-5-imaginary")
	require.False(t, ok)
}

func TestProvider(t *testing.T) {
	require.Equal(t, "openai", Provider("gpt-4o"))
	require.Equal(t, "openai", Provider("GPT-4o"))
	require.Equal(t, "anthropic", Provider("claude-sonnet-4-5"))
	require.Equal(t, "bedrock", Provider("anthropic.claude-3-haiku-20240307-v1:0"))
	require.Equal(t, "", Provider("deepseek-chat"), "filed under deepseek/ only")
	require.Equal(t, "", Provider("my-finetune"))
}
