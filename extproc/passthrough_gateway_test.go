package extproc_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/plan"
)

const passThroughConfig = `
model_list:
  - model_name: claude
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_key: sk-ant-deployment
      use_in_pass_through: true
general_settings:
  master_key: os.environ/MASTER_KEY
`

// The gateway swaps the caller's key for the deployment's, sends the
// request to the route's cluster at the provider's path, and passes the
// body and the provider's own headers on untouched.
func TestPassThroughSwapsTheCredential(t *testing.T) {
	h := startServer(t, parseConfig(t, passThroughConfig, map[string]string{"MASTER_KEY": masterKey, "GEMINI_API_KEY": "g-deployment"}))
	body := []byte(`{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`)
	stream := h.open(t, plan.ProcessorGateway)
	sendHeaders(t, stream, postHeaders("/anthropic/v1/messages?beta=true", body,
		header{"x-api-key", masterKey}, header{"anthropic-version", "2023-06-01"}, header{"anthropic-beta", "tools-2024"},
		header{"cookie", "session=1"}, header{"x-llmvoy-fallback", "forged"}))
	resp := bodyAnswer(t, stream, body)
	require.Nil(t, resp.GetRequestBody().GetResponse().GetBodyMutation(), "the body goes as the client wrote it")
	m := flattenMutation(t, resp.GetRequestBody().GetResponse().GetHeaderMutation())
	require.Equal(t, map[string]string{
		plan.RouteHeader: plan.PassThroughCluster("anthropic"),
		":path":          "/v1/messages?beta=true",
		"x-api-key":      "sk-ant-deployment",
	}, m.set)
	require.ElementsMatch(t, []string{"cookie", "x-llmvoy-fallback"}, m.remove)

	// Gemini: the key in ?key= authenticates and is not passed on.
	stream = h.open(t, plan.ProcessorGateway)
	gbody := []byte(`{"contents":[{"parts":[{"text":"hi"}]}]}`)
	sendHeaders(t, stream, postHeaders("/gemini/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&key="+masterKey, gbody))
	m = flattenMutation(t, bodyAnswer(t, stream, gbody).GetRequestBody().GetResponse().GetHeaderMutation())
	require.Equal(t, "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", m.set[":path"])
	require.Equal(t, "g-deployment", m.set["x-goog-api-key"])
}

// A refusal is worded in the route's provider's error shape.
func TestPassThroughErrorsInTheProvidersShape(t *testing.T) {
	h := startServer(t, parseConfig(t, passThroughConfig, map[string]string{"MASTER_KEY": masterKey}))
	for path, check := range map[string]func(r localReply){
		"/anthropic/v1/messages": func(r localReply) {
			var e struct {
				Type  string                `json:"type"`
				Error struct{ Type string } `json:"error"`
			}
			require.NoError(t, json.Unmarshal(r.body, &e))
			require.Equal(t, "error", e.Type)
			require.Equal(t, "authentication_error", e.Error.Type)
		},
		"/gemini/v1beta/models/x:generateContent": func(r localReply) {
			var e struct {
				Error struct {
					Code   int
					Status string
				}
			}
			require.NoError(t, json.Unmarshal(r.body, &e))
			require.Equal(t, 401, e.Error.Code)
			require.Equal(t, "UNAUTHENTICATED", e.Error.Status)
		},
		"/bedrock/model/x/converse": func(r localReply) {
			require.Equal(t, "UnrecognizedClientException", r.headers["x-amzn-errortype"])
			require.Contains(t, string(r.body), `"message"`)
		},
	} {
		stream := h.open(t, plan.ProcessorGateway)
		r := requireImmediate(t, exchange(t, stream, postHeaders(path, []byte("{}"), header{"x-api-key", "sk-wrong"})))
		require.Equal(t, 401, r.status, path)
		check(r)
	}
	// A route without a credential answers 503, in its shape too.
	stream := h.open(t, plan.ProcessorGateway)
	r := requireImmediate(t, exchange(t, stream, requestHeaders("GET", "/gemini/v1beta/models", true, bearer)))
	require.Equal(t, 503, r.status)
	require.Contains(t, string(r.body), "UNAVAILABLE")
}
