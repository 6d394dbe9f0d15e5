package pricing

import (
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
		{"config prices win", config.Deployment{UpstreamModel: "gpt-4o", InputCostPerToken: 1e-6, OutputCostPerToken: 2e-6}, 10, 5, 2e-5, true},
		{"model_info prices", config.Deployment{UpstreamModel: "gpt-4o", Info: map[string]any{"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}}, 10, 5, 2e-5, true},
		{"model_info prices as PyYAML strings", config.Deployment{Info: map[string]any{"input_cost_per_token": "2e-06", "output_cost_per_token": "8e-06"}}, 1, 1, 1e-5, true},
		{"table", config.Deployment{UpstreamModel: "gpt-4o"}, 1000, 100, 1000*2.5e-6 + 100*1e-5, true},
		{"dated snapshot", config.Deployment{UpstreamModel: "gpt-4o-2024-08-06"}, 1000, 0, 1000 * 2.5e-6, true},
		{"bedrock region prefix", config.Deployment{UpstreamModel: "us.anthropic.claude-3-haiku-20240307-v1:0"}, 4, 4, 4*2.5e-7 + 4*1.25e-6, true},
		{"unknown", config.Deployment{UpstreamModel: "my-finetune"}, 10, 10, 0, false},
	} {
		got, known := Cost(&tc.d, tc.prompt, tc.completion)
		require.Equal(t, tc.known, known, tc.name)
		require.InDelta(t, tc.want, got, 1e-12, tc.name)
	}
}

// Every table entry prices output at least as high as input, except
// embeddings (no output): a swapped pair would show here.
func TestTableSanity(t *testing.T) {
	for name, p := range table {
		require.GreaterOrEqual(t, p.Input, 0.0, name)
		require.Less(t, p.Input, 1e-4, name) // $100 per million tokens: a typo
		if p.Output > 0 {
			require.GreaterOrEqual(t, p.Output, p.Input, name)
		}
	}
}
