package config

import "strings"

// Vertex AI's partner models: publishers other than Google, which LiteLLM
// reaches under vertex_ai/ too (VertexAIPartnerModels). Anthropic's Claude
// is served (APIVertexAnthropic); the others fail the config with the
// reason rather than be sent to Gemini's API.

// vertexPartnerPrefixes are the model names of Vertex AI's other partner
// publishers, as LiteLLM's is_vertex_partner_model tells them apart.
var vertexPartnerPrefixes = []string{
	"meta/", "deepseek-ai/", "qwen/", "openai/", "minimaxai/", "moonshotai/", "zai-org/",
	"mistral", "codestral", "jamba",
}

// vertexPartner sets the API of a vertex_ai/ deployment of a partner model.
func (p *parser) vertexPartner(path string, lp liteLLMParams, d *Deployment) {
	model := strings.ToLower(d.UpstreamModel)
	if strings.HasPrefix(model, "claude") {
		d.API = APIVertexAnthropic
		return
	}
	for _, prefix := range vertexPartnerPrefixes {
		if strings.HasPrefix(model, prefix) {
			p.errorf(lp.modelLine, joinPath(path, "model"), "Vertex AI partner model %q is not served by llmvoy yet: under vertex_ai/ it serves Gemini and embedding models, and Anthropic's Claude; use the partner's own provider prefix (with its API) instead", d.UpstreamModel)
			d.API = ""
			return
		}
	}
}
