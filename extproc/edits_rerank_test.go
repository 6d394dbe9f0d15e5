package extproc_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	llmkeys "github.com/llmvoy/llmvoy/keys"
	"github.com/llmvoy/llmvoy/plan"
)

const editsRerankConfig = `
model_list:
  - {model_name: edit, litellm_params: {model: openai/gpt-image-1, api_base: "http://h:1/v1", api_key: sk-i}, model_info: {id: dep-edit, output_cost_per_image: 0.02}}
  - {model_name: az-edit, litellm_params: {model: azure/edit-dep, api_base: "https://res.openai.azure.com", api_key: az, api_version: "2024-10-21"}, model_info: {id: dep-az-edit}}
  - {model_name: rr, litellm_params: {model: cohere/rerank-v3.5, api_base: "http://h:1", api_key: co}, model_info: {id: dep-rr, input_cost_per_query: 0.002}}
  - {model_name: rr-vllm, litellm_params: {model: hosted_vllm/BAAI/bge-reranker-v2-m3, api_base: "http://h:1/v1"}, model_info: {id: dep-rr-vllm}}
  - {model_name: claude, litellm_params: {model: anthropic/claude-sonnet-4-5, api_key: sk-a}, model_info: {id: dep-claude}}
general_settings:
  master_key: os.environ/MASTER_KEY
`

// editForm is an image edit request naming model (two images and a mask,
// as OpenAI's SDK sends them), and its content type.
func editForm(t *testing.T, model string) ([]byte, string) {
	return multipartForm(t, []string{"image[]", "image[]", "mask"}, []byte("\x89PNG\r\n\x1a\n{\"model\":\"rr\"}"),
		[][2]string{{"prompt", "add a hat"}}, model)
}

func TestGatewayRoutesAnImageEditByItsFormModel(t *testing.T) {
	h := startServer(t, parseConfig(t, editsRerankConfig, testEnv))
	body, ct := editForm(t, "edit")
	for _, path := range []string{"/v1/images/edits", "/images/edits"} {
		resp := postThroughGateway(t, h, path, body, bearer, header{"content-type", ct})
		cluster, _ := routedTo(t, resp)
		require.Equal(t, plan.ClusterName("edit"), cluster, "each attempt writes the form's model: never the direct route")
		require.Nil(t, resp.GetRequestBody().GetResponse().GetBodyMutation(), "a form is never rewritten as JSON")
	}
	noModel, ct := editForm(t, "")
	resp := postThroughGateway(t, h, "/openai/deployments/az-edit/images/edits?api-version=2024-10-21", noModel, bearer, header{"content-type", ct})
	cluster, _ := routedTo(t, resp)
	require.Equal(t, plan.ClusterName("az-edit"), cluster)

	resp = postThroughGateway(t, h, "/v1/images/edits", noModel, bearer, header{"content-type", ct})
	require.Contains(t, requireAPIError(t, resp, 400, "invalid_request_error").Message, "model")
	resp = postThroughGateway(t, h, "/v1/images/edits", []byte(`{"model":"edit","prompt":"p"}`), bearer, header{"content-type", "application/json"})
	require.Contains(t, requireAPIError(t, resp, 400, "invalid_request_error").Message, "multipart/form-data")
	body, ct = editForm(t, "claude")
	resp = postThroughGateway(t, h, "/v1/images/edits", body, bearer, header{"content-type", ct})
	e := requireAPIError(t, resp, 501, "not_implemented")
	require.Contains(t, e.Message, "/v1/images/edits")
	require.Contains(t, e.Message, `"anthropic"`)
}

// An edit's form reaches the deployment with its model and every file; its
// images are priced as generated ones, under LiteLLM's call type.
func TestUpstreamRewritesAnEditFormAndPricesItsImages(t *testing.T) {
	h, k, token := withKey(t, editsRerankConfig)
	stream := h.open(t, plan.ProcessorUpstream)
	body, ct := editForm(t, "edit")
	h.server.Routed("req-edit", "/v1/images/edits", token, "")
	resp := exchange(t, stream, attempt(t, "dep-edit", "/v1/images/edits", body, header{"x-request-id", "req-edit"}, header{"content-type", ct}))
	require.Equal(t, "/v1/images/edits", flattenMutation(t, resp.GetRequestHeaders().GetResponse().GetHeaderMutation()).set[":path"])
	resp = exchange(t, stream, requestBody(body))
	sent := resp.GetRequestBody().GetResponse().GetBodyMutation().GetBody()
	form, err := multipart.NewReader(bytes.NewReader(sent), strings.TrimPrefix(ct, "multipart/form-data; boundary=")).ReadForm(1 << 20)
	require.NoError(t, err)
	require.Equal(t, []string{"gpt-image-1"}, form.Value["model"])
	require.Len(t, form.File["image[]"], 2)
	require.Len(t, form.File["mask"], 1)
	exchange(t, stream, streamHeaders(200, "application/json"))
	exchange(t, stream, responseChunk(`{"created":1,"data":[{"b64_json":"iVBORw0KGgo="},{"b64_json":"iVBORw0KGgo="},{"b64_json":"iVBORw0KGgo="}]}`, true))
	finish(t, stream)
	require.InDelta(t, 3*0.02, spendOf(t, k, token), 1e-12)
	requireCallType(t, k, token, "aimage_edit")
}

// requireCallType checks the key's one spend log has LiteLLM's call type.
func requireCallType(t *testing.T, k *llmkeys.Keys, token, want string) {
	t.Helper()
	require.NoError(t, k.Flush(context.Background()))
	logs, err := k.Store().SpendLogs(context.Background(), llmkeys.SpendFilter{APIKey: token})
	require.NoError(t, err)
	require.Len(t, logs, 1)
	require.Equal(t, want, logs[0].CallType)
}

func TestGatewayRoutesARerank(t *testing.T) {
	h := startServer(t, parseConfig(t, editsRerankConfig, testEnv))
	for _, path := range []string{"/v1/rerank", "/v2/rerank", "/rerank"} {
		resp := postThroughGateway(t, h, path, []byte(`{"model":"rr","query":"q","documents":["a","b"]}`), bearer)
		cluster, _ := routedTo(t, resp)
		require.Contains(t, []string{plan.ClusterName("rr"), plan.DirectRouteName("rr")}, cluster, path)
	}
	for _, group := range []string{"claude", "az-edit"} {
		resp := postThroughGateway(t, h, "/v1/rerank", []byte(`{"model":"`+group+`","query":"q","documents":["a"]}`), bearer)
		e := requireAPIError(t, resp, 501, "not_implemented")
		require.Contains(t, e.Message, "/v1/rerank")
		require.Contains(t, e.Message, "Cohere-style rerank")
	}
}

// A rerank goes to Cohere's /v2/rerank (an OpenAI-compatible server's to
// its base's /rerank) and is priced per search unit at
// input_cost_per_query, as LiteLLM's arerank.
func TestUpstreamSendsARerankAndPricesItsSearchUnits(t *testing.T) {
	h, k, token := withKey(t, editsRerankConfig)
	stream := h.open(t, plan.ProcessorUpstream)
	body := []byte(`{"model":"rr","query":"q","documents":["a","b"],"top_n":1}`)
	h.server.Routed("req-rr", "/v1/rerank", token, "")
	resp := exchange(t, stream, attempt(t, "dep-rr", "/v1/rerank", body, header{"x-request-id", "req-rr"}))
	set := flattenMutation(t, resp.GetRequestHeaders().GetResponse().GetHeaderMutation()).set
	require.Equal(t, "/v2/rerank", set[":path"])
	require.Equal(t, "Bearer co", set["authorization"])
	resp = exchange(t, stream, requestBody(body))
	require.JSONEq(t, `{"model":"rerank-v3.5","query":"q","documents":["a","b"],"top_n":1}`, string(resp.GetRequestBody().GetResponse().GetBodyMutation().GetBody()))
	exchange(t, stream, streamHeaders(200, "application/json"))
	exchange(t, stream, responseChunk(`{"id":"r","results":[{"index":1,"relevance_score":0.9}],"meta":{"billed_units":{"search_units":2}}}`, true))
	finish(t, stream)
	require.InDelta(t, 2*0.002, spendOf(t, k, token), 1e-12)
	requireCallType(t, k, token, "arerank")

	stream = h.open(t, plan.ProcessorUpstream)
	resp = exchange(t, stream, attempt(t, "dep-rr-vllm", "/rerank", []byte(`{"model":"rr-vllm","query":"q","documents":["a"]}`)))
	require.Equal(t, "/v1/rerank", flattenMutation(t, resp.GetRequestHeaders().GetResponse().GetHeaderMutation()).set[":path"])
}
