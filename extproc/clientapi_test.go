package extproc_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/credentials"
	"github.com/llmvoy/llmvoy/extproc"
	"github.com/llmvoy/llmvoy/plan"
)

// agentConfig has a deployment for each way an agent API request goes: to
// Anthropic natively (Messages), to OpenAI natively (Responses), and
// bridged through chat completions to an OpenAI-compatible server.
const agentConfig = `
model_list:
  - model_name: claude
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: http://ant:1
      api_key: os.environ/OPENAI_API_KEY
    model_info:
      id: dep-ant
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o
      api_base: http://oa:2/v1
      api_key: os.environ/OPENAI_API_KEY
    model_info:
      id: dep-oa
  - model_name: llama
    litellm_params:
      model: hosted_vllm/llama-3
      api_base: http://vllm:3/v1
    model_info:
      id: dep-v
general_settings:
  master_key: os.environ/MASTER_KEY
`

const messagesRequest = `{"model":"llama","max_tokens":64,"stream":true,"system":"be brief",` +
	`"thinking":{"type":"adaptive"},"context_management":{"edits":[]},` +
	`"messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}]}]}`

// upstreamAttempt runs an attempt's request phases on deployment and
// returns the headers' and the body's answers.
func upstreamAttempt(t *testing.T, h *harness, deployment, path, body string, extra ...header) (stream extprocv3.ExternalProcessor_ProcessClient, headers, bodyResp *extprocv3.ProcessingResponse) {
	t.Helper()
	stream = h.open(t, plan.ProcessorUpstream)
	headers = exchange(t, stream, attempt(t, deployment, path, []byte(body), extra...))
	if headers.GetImmediateResponse() != nil {
		return stream, headers, nil
	}
	return stream, headers, exchange(t, stream, requestBody([]byte(body)))
}

// A Messages request for an OpenAI-compatible server goes as a chat
// completion with nothing of Anthropic's in it, and its chat stream comes
// back as Messages events.
func TestMessagesAreBridgedThroughChat(t *testing.T) {
	h := startServer(t, parseConfig(t, agentConfig, testEnv))
	stream, headers, body := upstreamAttempt(t, h, "dep-v", "/v1/messages?beta=true", messagesRequest,
		header{"anthropic-beta", "context-management-2025-06-27"}, header{"x-api-key", masterKey})
	m := flattenMutation(t, headers.GetRequestHeaders().GetResponse().GetHeaderMutation())
	assert.Equal(t, "/v1/chat/completions", m.set[":path"], "no ?beta=true: the query is the client API's")
	assert.Contains(t, m.remove, "anthropic-beta")
	assert.Contains(t, m.remove, "x-api-key")
	require.NotNil(t, headers.GetModeOverride(), "the answer needs translating")
	assert.Equal(t, extprocfilterv3.ProcessingMode_SEND, headers.GetModeOverride().GetResponseHeaderMode())

	sent := body.GetRequestBody().GetResponse().GetBodyMutation().GetBody()
	var chat map[string]any
	require.NoError(t, json.Unmarshal(sent, &chat), "%s", sent)
	assert.Equal(t, "llama-3", chat["model"])
	assert.Equal(t, true, chat["stream"])
	for _, anthropicOnly := range []string{"thinking", "context_management", "system"} {
		assert.NotContains(t, chat, anthropicOnly)
	}
	assert.NotContains(t, string(sent), "cache_control")

	resp := exchange(t, stream, &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{
		Headers: headerMap(header{":status", "200"}, header{"content-type", "text/event-stream"}),
	}}})
	rm := flattenMutation(t, resp.GetResponseHeaders().GetResponse().GetHeaderMutation())
	assert.True(t, strings.HasPrefix(rm.set["content-type"], "text/event-stream"))
	assert.Equal(t, extprocfilterv3.ProcessingMode_STREAMED, resp.GetModeOverride().GetResponseBodyMode())

	chunks := `data: {"id":"c1","object":"chat.completion.chunk","model":"llama-3","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]}` + "\n\n" +
		`data: {"id":"c1","object":"chat.completion.chunk","model":"llama-3","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}` + "\n\n" +
		`data: {"id":"c1","object":"chat.completion.chunk","model":"llama-3","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}` + "\n\n" +
		"data: [DONE]\n\n"
	out := exchange(t, stream, &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{
		Body: []byte(chunks), EndOfStream: true,
	}}})
	events := string(out.GetResponseBody().GetResponse().GetBodyMutation().GetBody())
	for _, want := range []string{"event: message_start", `"text":"Hel"`, `"text":"lo"`, `"stop_reason":"end_turn"`, `"output_tokens":2`, "event: message_stop"} {
		assert.Contains(t, events, want)
	}
	assert.NotContains(t, events, "[DONE]")
	finish(t, stream)
}

// A Messages request for an Anthropic deployment passes through: Anthropic's
// path and headers, the client's anthropic-beta, only the model changed,
// and no response phase when nothing needs the answer.
func TestMessagesPassThroughToAnthropic(t *testing.T) {
	h := startServer(t, parseConfig(t, agentConfig, testEnv))
	req := strings.Replace(messagesRequest, `"llama"`, `"claude"`, 1)
	beta := header{"anthropic-beta", "context-management-2025-06-27"}
	// The gateway keeps the client's anthropic-beta (for Anthropic's API;
	// an attempt on any other deployment removes it, see
	// TestMessagesAreBridgedThroughChat).
	gw := h.open(t, plan.ProcessorGateway)
	sendHeaders(t, gw, postHeaders("/v1/messages?beta=true", []byte(req), header{"x-api-key", masterKey}, beta))
	routed := flattenMutation(t, bodyAnswer(t, gw, []byte(req)).GetRequestBody().GetResponse().GetHeaderMutation())
	assert.NotContains(t, routed.remove, "anthropic-beta")
	finish(t, gw)

	stream, headers, body := upstreamAttempt(t, h, "dep-ant", "/v1/messages?beta=true", req)
	m := flattenMutation(t, headers.GetRequestHeaders().GetResponse().GetHeaderMutation())
	assert.Equal(t, "/v1/messages", m.set[":path"])
	assert.Equal(t, deploymentKey, m.set["x-api-key"])
	assert.Equal(t, "2023-06-01", m.set["anthropic-version"])
	assert.Equal(t, "context-management-2025-06-27", m.set["anthropic-beta"])
	assert.Nil(t, headers.GetModeOverride(), "Anthropic's answer is the client's: no response phases")
	sent := string(body.GetRequestBody().GetResponse().GetBodyMutation().GetBody())
	assert.Equal(t, strings.Replace(req, `"claude"`, `"claude-sonnet-4-5"`, 1), sent, "everything but the model as the client sent it")
	finish(t, stream)
}

// A Responses request passes through to OpenAI's own API and is bridged
// for any other OpenAI-compatible server.
func TestResponsesNativeOrBridged(t *testing.T) {
	h := startServer(t, parseConfig(t, agentConfig, testEnv))
	req := `{"model":"gpt","input":"hello","store":false,"stream":false}`

	stream, headers, body := upstreamAttempt(t, h, "dep-oa", "/v1/responses", req)
	m := flattenMutation(t, headers.GetRequestHeaders().GetResponse().GetHeaderMutation())
	assert.Equal(t, "/v1/responses", m.set[":path"])
	assert.Equal(t, "Bearer "+deploymentKey, m.set["authorization"])
	assert.JSONEq(t, `{"model":"gpt-4o","input":"hello","store":false,"stream":false}`,
		string(body.GetRequestBody().GetResponse().GetBodyMutation().GetBody()))
	finish(t, stream)

	stream, headers, body = upstreamAttempt(t, h, "dep-v", "/v1/responses", strings.Replace(req, `"gpt"`, `"llama"`, 1))
	m = flattenMutation(t, headers.GetRequestHeaders().GetResponse().GetHeaderMutation())
	assert.Equal(t, "/v1/chat/completions", m.set[":path"])
	var chat map[string]any
	require.NoError(t, json.Unmarshal(body.GetRequestBody().GetResponse().GetBodyMutation().GetBody(), &chat))
	assert.Equal(t, []any{map[string]any{"role": "user", "content": "hello"}}, chat["messages"])
	assert.NotContains(t, chat, "store")
	assert.NotContains(t, chat, "input")

	resp := exchange(t, stream, &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{
		Headers: headerMap(header{":status", "200"}, header{"content-type", "application/json"}),
	}}})
	require.NotNil(t, resp.GetResponseHeaders())
	out := exchange(t, stream, &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{
		Body: []byte(`{"id":"c","object":"chat.completion","model":"llama-3","choices":[{"index":0,"message":{"role":"assistant","content":"hi there"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`), EndOfStream: true,
	}}})
	var response struct {
		Object string `json:"object"`
		Status string `json:"status"`
		Output []struct {
			Content []struct{ Text string } `json:"content"`
		} `json:"output"`
	}
	require.NoError(t, json.Unmarshal(out.GetResponseBody().GetResponse().GetBodyMutation().GetBody(), &response))
	assert.Equal(t, "response", response.Object)
	assert.Equal(t, "completed", response.Status)
	require.Len(t, response.Output, 1)
	assert.Equal(t, "hi there", response.Output[0].Content[0].Text)
	finish(t, stream)
}

func headerMap(hs ...header) *corev3.HeaderMap {
	m := &corev3.HeaderMap{}
	for _, h := range hs {
		m.Headers = append(m.Headers, &corev3.HeaderValue{Key: h.key, RawValue: []byte(h.value)})
	}
	return m
}

// anthropicError is Anthropic's error body.
type anthropicError struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

func requireAnthropicError(t *testing.T, resp *extprocv3.ProcessingResponse, status int, typ string) anthropicError {
	t.Helper()
	r := requireImmediate(t, resp)
	require.Equal(t, status, r.status, "%s", r.body)
	var e anthropicError
	require.NoError(t, json.Unmarshal(r.body, &e), "%s", r.body)
	require.Equal(t, "error", e.Type, "%s", r.body)
	require.Equal(t, typ, e.Error.Type, "%s", r.body)
	return e
}

// A Messages client gets every refusal in Anthropic's shape: a bad key, a
// body Anthropic's API would refuse, an unknown model; count_tokens is
// answered here.
func TestMessagesClientsGetAnthropicShapes(t *testing.T) {
	h := startServer(t, parseConfig(t, agentConfig, testEnv))
	key := header{"x-api-key", masterKey}

	stream := h.open(t, plan.ProcessorGateway)
	requireAnthropicError(t, exchange(t, stream, requestHeaders("POST", "/v1/messages", false, header{"x-api-key", "sk-wrong"})), 401, "authentication_error")

	stream = h.open(t, plan.ProcessorGateway)
	noMax := `{"model":"llama","messages":[{"role":"user","content":"hi"}]}`
	sendHeaders(t, stream, postHeaders("/v1/messages", []byte(noMax), key))
	e := requireAnthropicError(t, bodyAnswer(t, stream, []byte(noMax)), 400, "invalid_request_error")
	assert.Contains(t, e.Error.Message, "max_tokens")

	stream = h.open(t, plan.ProcessorGateway)
	unknown := `{"model":"nope","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`
	sendHeaders(t, stream, postHeaders("/messages", []byte(unknown), key))
	requireAnthropicError(t, bodyAnswer(t, stream, []byte(unknown)), 400, "invalid_request_error")

	stream = h.open(t, plan.ProcessorGateway)
	count := `{"model":"llama","messages":[{"role":"user","content":"hello there, how are you today?"}]}`
	sendHeaders(t, stream, postHeaders("/v1/messages/count_tokens", []byte(count), key))
	r := requireImmediate(t, bodyAnswer(t, stream, []byte(count)))
	require.Equal(t, 200, r.status)
	var n struct {
		InputTokens int `json:"input_tokens"`
	}
	require.NoError(t, json.Unmarshal(r.body, &n))
	assert.Positive(t, n.InputTokens)

	// Responses clients read OpenAI's shape.
	stream = h.open(t, plan.ProcessorGateway)
	prev := `{"model":"gpt","input":"more","previous_response_id":"resp_1"}`
	sendHeaders(t, stream, postHeaders("/v1/responses", []byte(prev), bearer))
	oe := requireAPIError(t, bodyAnswer(t, stream, []byte(prev)), 400, "invalid_request_error")
	assert.Contains(t, oe.Message, "previous_response_id")
}

// A Vertex AI attempt carries the deployment's Google access token, which
// the upstream processor gets from the token cache (translators do no
// I/O); a token endpoint that fails makes the attempt a 503, for the retry
// policy to move on.
func TestUpstreamAddsGoogleToken(t *testing.T) {
	const vertexConfig = `
model_list:
  - model_name: flash
    litellm_params:
      model: vertex_ai/gemini-2.0-flash
      vertex_project: p
      vertex_location: us-central1
      vertex_credentials: '{"type":"service_account","client_email":"sa@p.iam.gserviceaccount.com","private_key":"unused"}'
      api_base: http://vertex:4
    model_info:
      id: dep-vx
general_settings:
  master_key: os.environ/MASTER_KEY
`
	tokens := credentials.NewGoogleTokens(func(config.Secret) credentials.FetchFunc {
		return func(context.Context) (*oauth2.Token, error) {
			return &oauth2.Token{AccessToken: "ya29.test", Expiry: time.Now().Add(time.Hour)}, nil
		}
	})
	h := newHarness(t, parseConfig(t, vertexConfig, testEnv), nil, func(s *extproc.Server) { s.SetGoogleTokens(tokens) })
	stream := h.open(t, plan.ProcessorUpstream)
	resp := exchange(t, stream, attempt(t, "dep-vx", "/v1/chat/completions", chatBody("flash")))
	m := flattenMutation(t, resp.GetRequestHeaders().GetResponse().GetHeaderMutation())
	assert.Equal(t, "Bearer ya29.test", m.set["authorization"])

	other := credentials.NewGoogleTokens(func(config.Secret) credentials.FetchFunc {
		return func(context.Context) (*oauth2.Token, error) { return nil, errors.New("token endpoint said no") }
	})
	h = newHarness(t, parseConfig(t, vertexConfig, testEnv), nil, func(s *extproc.Server) { s.SetGoogleTokens(other) })
	stream = h.open(t, plan.ProcessorUpstream)
	e := requireAPIError(t, exchange(t, stream, attempt(t, "dep-vx", "/v1/chat/completions", chatBody("flash"))), 503, "service_unavailable")
	assert.Contains(t, e.Message, "dep-vx")
}

// The gateway's check of an agent API request makes the chat completion
// the attempts send: an attempt after the gateway's pass sends what one
// without it would.
func TestAttemptsSendTheGatewaysChatCompletion(t *testing.T) {
	h := startServer(t, parseConfig(t, agentConfig, testEnv))
	_, _, alone := upstreamAttempt(t, h, "dep-v", "/v1/messages", messagesRequest)

	gw := h.open(t, plan.ProcessorGateway)
	sendHeaders(t, gw, postHeaders("/v1/messages", []byte(messagesRequest), header{"x-api-key", masterKey}))
	bodyAnswer(t, gw, []byte(messagesRequest))
	finish(t, gw)
	_, _, after := upstreamAttempt(t, h, "dep-v", "/v1/messages", messagesRequest)
	require.Equal(t, string(alone.GetRequestBody().GetResponse().GetBodyMutation().GetBody()),
		string(after.GetRequestBody().GetResponse().GetBodyMutation().GetBody()))
}

// count_tokens for a group of Anthropic deployments goes to Anthropic's own
// count (only the model changed, nothing charged, no answer phases); for any
// other group the gateway answers an estimate itself.
func TestCountTokensGoesToAnthropic(t *testing.T) {
	h := startServer(t, parseConfig(t, agentConfig, testEnv))
	body := `{"model":"claude","messages":[{"role":"user","content":"hi"}]}`
	gw := h.open(t, plan.ProcessorGateway)
	sendHeaders(t, gw, postHeaders("/v1/messages/count_tokens", []byte(body), header{"x-api-key", masterKey}))
	routed := bodyAnswer(t, gw, []byte(body))
	require.Nil(t, routed.GetImmediateResponse(), "routed to the group, not answered here")
	finish(t, gw)

	stream, headers, sent := upstreamAttempt(t, h, "dep-ant", "/v1/messages/count_tokens", body)
	m := flattenMutation(t, headers.GetRequestHeaders().GetResponse().GetHeaderMutation())
	assert.Equal(t, "/v1/messages/count_tokens", m.set[":path"])
	assert.Equal(t, deploymentKey, m.set["x-api-key"])
	assert.Nil(t, headers.GetModeOverride(), "nothing reads the answer")
	assert.JSONEq(t, `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}`,
		string(sent.GetRequestBody().GetResponse().GetBodyMutation().GetBody()))
	finish(t, stream)
}
