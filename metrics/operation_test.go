package metrics_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/plan"
	"github.com/llmvoy/llmvoy/router"
)

// Image edits and reranks are model calls under LiteLLM's call types,
// whichever path the client called them on.
func TestImageEditAndRerankOperations(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/v1/images/edits", "/images/edits", "/openai/deployments/gpt/images/edits"} {
		f.m.ObserveRequest(router.Request{Path: path, Code: 200, Cluster: plan.ClusterName("gpt"), Deployment: "a", Attempts: 1})
	}
	for _, path := range []string{"/v1/rerank", "/v2/rerank", "/rerank"} {
		f.m.ObserveRequest(router.Request{Path: path, Code: 200, Cluster: plan.ClusterName("gpt"), Deployment: "a", Attempts: 1})
	}
	s := scrape(t, f.m)
	require.Equal(t, 3.0, value(s, "gen_ai_server_request_duration_seconds", map[string]string{"gen_ai_operation_name": "image_edit", "model_group": "gpt"}))
	require.Equal(t, 3.0, value(s, "gen_ai_server_request_duration_seconds", map[string]string{"gen_ai_operation_name": "rerank", "model_group": "gpt"}))
}
