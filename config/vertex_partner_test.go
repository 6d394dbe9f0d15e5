package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// vertex_ai/claude-* is Anthropic on Vertex AI; Vertex AI's other partner
// models fail the config instead of going to Gemini's API.
func TestVertexPartnerModels(t *testing.T) {
	cfg, _ := mustParse(t, `model_list:
  - model_name: claude
    litellm_params: {model: vertex_ai/claude-3-5-sonnet@20240620, vertex_project: p, vertex_location: us-east5}
  - model_name: gemini
    litellm_params: {model: vertex_ai/gemini-2.0-flash, vertex_project: p}
`, nil)
	require.Equal(t, APIVertexAnthropic, cfg.Deployments[0].API)
	require.Equal(t, "claude-3-5-sonnet@20240620", cfg.Deployments[0].UpstreamModel)
	require.Equal(t, "https://us-east5-aiplatform.googleapis.com", cfg.Deployments[0].APIBase.String())
	require.Equal(t, VertexSettings{Project: "p", Location: "us-east5"}, cfg.Deployments[0].Vertex)
	require.Equal(t, APIVertex, cfg.Deployments[1].API)

	for _, model := range []string{"meta/llama-3.1-405b-instruct-maas", "mistral-large@2407", "codestral@2405", "jamba-1.5-mini@001", "deepseek-ai/deepseek-r1-0528-maas"} {
		_, _, err := Parse([]byte("model_list:\n  - model_name: m\n    litellm_params: {model: vertex_ai/"+model+", vertex_project: p}\n"), "config.yaml", nil)
		require.ErrorContains(t, err, `Vertex AI partner model "`+model+`" is not served by llmvoy yet`, model)
	}
}
