package translate

import (
	"strings"

	"github.com/llmvoy/llmvoy/config"
)

// Rerank is LiteLLM's /v1/rerank, which follows Cohere's rerank API:
//
//	{"model","query","documents":[string|object],"top_n","return_documents","rank_fields","max_chunks_per_doc"}
//	→ {"id","results":[{"index","relevance_score","document"?}],"meta":{"billed_units":{"search_units"},"tokens":{...}}}
//
// The servers llmvoy sends it to take that body as it is, with the
// deployment's model: Cohere, and the OpenAI-compatible servers that have a
// rerank endpoint in Cohere's shape (Jina, Together, vLLM, Infinity, ...),
// each under the path LiteLLM's rerank configs use (rerankPath). LiteLLM
// also translates to Azure AI, Bedrock and a few others' own rerank APIs;
// llmvoy does not (Serves).
const Rerank Endpoint = "/rerank"

// rerankTakers says, in Serves' refusal, who takes a rerank.
const rerankTakers = "deployments with a Cohere-style rerank API (cohere, jina_ai, together_ai, hosted_vllm, infinity and other OpenAI-compatible servers)"

// rerankPath is the path a rerank goes to on deployment d, whose api_base
// path is base (no trailing slash). An OpenAI-compatible server's is the
// base's /rerank, as for every other endpoint: LiteLLM's Jina and Together
// configs post to their /v1 base's /rerank, its hosted_vllm and infinity
// ones to {api_base}/rerank. Cohere's is /v2/rerank at the resource's root
// (LiteLLM's CohereRerankV2Config), whatever OpenAI-compatible base the
// deployment's chat uses there; a base that already names a rerank path
// (/v1/rerank, Cohere's older API) is used as it is.
func rerankPath(d *config.Deployment, base string) string {
	if d.Provider != "cohere" && d.Provider != "cohere_chat" {
		return base + string(Rerank)
	}
	if strings.HasSuffix(base, string(Rerank)) {
		return base
	}
	for _, api := range []string{"/compatibility/v1", "/v1", "/v2"} {
		if root, ok := strings.CutSuffix(base, api); ok {
			base = root
			break
		}
	}
	return base + "/v2" + string(Rerank)
}
