package extproc_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/plan"
)

const wildcardConfig = `
model_list:
  - {model_name: "*", litellm_params: {model: "openai/*", api_base: "http://h:1/v1", api_key: sk-any}, model_info: {id: any}}
  - {model_name: "openai/*", litellm_params: {model: "openai/*", api_base: "http://h:2/v1", api_key: sk-o}, model_info: {id: oa}}
  - {model_name: "claude-*", litellm_params: {model: "anthropic/claude-*", api_key: sk-a}, model_info: {id: cl}}
  - {model_name: "gpt-4o", litellm_params: {model: openai/exact-4o, api_base: "http://h:3/v1", api_key: sk-e}, model_info: {id: exact}}
general_settings:
  master_key: os.environ/MASTER_KEY
`

// A model no group names goes to the most specific matching pattern, and
// the provider gets the requested name in the pattern's "*".
func TestWildcardGroupsServeWhatNoGroupNames(t *testing.T) {
	h := startServer(t, parseConfig(t, wildcardConfig, testEnv))
	for _, tc := range []struct {
		requested, group, model string
	}{
		{"gpt-4o", "gpt-4o", "exact-4o"},        // an exact group beats every pattern
		{"openai/gpt-4o", "openai/*", "gpt-4o"}, // the longer pattern
		{"my-finetune", "*", "my-finetune"},
		// "*" matches first, as in LiteLLM, which tries the name as it is
		// before the name with its inferred provider.
		{"gpt-4.1-mini", "*", "gpt-4.1-mini"},
	} {
		t.Run(tc.requested, func(t *testing.T) {
			resp := postThroughGateway(t, h, "/v1/chat/completions", chatBody(tc.requested), bearer)
			cluster, _ := routedTo(t, resp)
			require.Equal(t, plan.DirectRouteName(tc.group), cluster)
			sent := struct{ Model string }{tc.requested} // no mutation: the client's body
			if b := resp.GetRequestBody().GetResponse().GetBodyMutation().GetBody(); b != nil {
				require.NoError(t, json.Unmarshal(b, &sent))
			}
			require.Equal(t, tc.model, sent.Model, "the direct route's body carries the model")
		})
	}
	// /v1/models lists the patterns as LiteLLM lists its wildcard routes.
	models := getThroughGateway(t, h, "GET", "/v1/models", bearer)
	require.Contains(t, string(models.body), `"id":"openai/*"`)
	require.Contains(t, string(models.body), `"id":"*"`)
}

// A model LiteLLM knows is tried with its provider too: "gpt-4o" is
// "openai/gpt-4o" to a group "openai/*".
func TestWildcardInfersTheProvider(t *testing.T) {
	h := startServer(t, parseConfig(t, `
model_list:
  - {model_name: "openai/*", litellm_params: {model: "openai/*", api_base: "http://h:2/v1", api_key: sk-o}, model_info: {id: oa}}
general_settings:
  master_key: os.environ/MASTER_KEY
`, testEnv))
	resp := postThroughGateway(t, h, "/v1/chat/completions", chatBody("gpt-4o"), bearer)
	cluster, _ := routedTo(t, resp)
	require.Equal(t, plan.DirectRouteName("openai/*"), cluster)
	require.Nil(t, resp.GetRequestBody().GetResponse().GetBodyMutation(), "the provider gets gpt-4o, as the client sent it")
	requireAPIError(t, postThroughGateway(t, h, "/v1/chat/completions", chatBody("my-finetune"), bearer), 400, "invalid_request_error")
}

// A translated provider gets the model filled in per attempt by the
// upstream processor.
func TestWildcardModelIsFilledPerAttempt(t *testing.T) {
	h := startServer(t, parseConfig(t, wildcardConfig, testEnv))
	body := chatBody("claude-sonnet-4-5")
	gw := h.open(t, plan.ProcessorGateway)
	sendHeaders(t, gw, postHeaders("/v1/chat/completions", body, bearer, header{"x-request-id", "w1"}))
	cluster, _ := routedTo(t, bodyAnswer(t, gw, body))
	finish(t, gw)
	require.Equal(t, plan.ClusterName("claude-*"), cluster)

	_, _, sent := upstreamAttempt(t, h, "cl", "/v1/chat/completions", string(body), header{"x-request-id", "w1"})
	var msg struct{ Model string }
	require.NoError(t, json.Unmarshal(sent.GetRequestBody().GetResponse().GetBodyMutation().GetBody(), &msg))
	require.Equal(t, "claude-sonnet-4-5", msg.Model)
}
