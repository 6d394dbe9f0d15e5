package extproc_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/plan"
	"github.com/llmvoy/llmvoy/router"
)

const routingConfig = `
model_list:
  - {model_name: primary, litellm_params: {model: openai/p, api_base: "http://h:1/v1", api_key: sk-p}, model_info: {id: p1}}
  - {model_name: primary, litellm_params: {model: openai/p, api_base: "http://h:4/v1", api_key: sk-p}, model_info: {id: p2}}
  - {model_name: backup, litellm_params: {model: openai/b, api_base: "http://h:2/v1", api_key: sk-b}, model_info: {id: b1}}
  - {model_name: backup, litellm_params: {model: openai/b, api_base: "http://h:5/v1", api_key: sk-b}, model_info: {id: b2}}
  - {model_name: big, litellm_params: {model: openai/big, api_base: "http://h:3/v1"}, model_info: {id: g1}}
router_settings:
  num_retries: 1
  allowed_fails: 0
  cooldown_time: 30
  fallbacks: [{"primary": ["backup"]}]
  context_window_fallbacks: [{"primary": ["big"]}]
  model_group_alias: {"gpt-4": "primary", "internal": {"model": "backup", "hidden": true}}
general_settings:
  master_key: os.environ/MASTER_KEY
`

func startRouting(t *testing.T) (*harness, *router.Cooldowns) {
	t.Helper()
	cfg := parseConfig(t, routingConfig, testEnv)
	c := router.NewCooldowns(cfg)
	return startServerWithCooldowns(t, cfg, c), c
}

// routedTo is the route a gateway body answer takes (the group's cluster, or
// its direct route), and the fallback header it sets.
func routedTo(t *testing.T, resp *extprocv3.ProcessingResponse) (cluster, fallback string) {
	t.Helper()
	m := flattenMutation(t, resp.GetRequestBody().GetResponse().GetHeaderMutation())
	return m.set[plan.RouteHeader], m.set[plan.FallbackHeader]
}

func TestAliasesRouteToTheirGroup(t *testing.T) {
	h, _ := startRouting(t)
	for _, name := range []string{"gpt-4", "internal", "primary"} {
		cluster, _ := routedTo(t, postThroughGateway(t, h, "/v1/chat/completions", chatBody(name), bearer))
		// backup has no fallbacks of its own: its direct route. primary's
		// requests have a next step: the fallback hop.
		want := map[string]string{"gpt-4": plan.HopRouteName("primary"), "internal": plan.DirectRouteName("backup"), "primary": plan.HopRouteName("primary")}[name]
		require.Equal(t, want, cluster, name)
	}
	models := getThroughGateway(t, h, "GET", "/v1/models", bearer)
	require.Contains(t, string(models.body), `"gpt-4"`)
	require.NotContains(t, string(models.body), `"internal"`, "hidden aliases are not listed")
}

func TestGroupWithFallbacksCarriesItsPlaceInTheChain(t *testing.T) {
	h, _ := startRouting(t)
	_, fb := routedTo(t, postThroughGateway(t, h, "/v1/chat/completions", chatBody("primary"), bearer))
	require.Equal(t, "|0|primary", fallbackOf(fb), fb)
	// A client's own fallback header is replaced, never trusted.
	cluster, fb := routedTo(t, postThroughGateway(t, h, "/v1/chat/completions", chatBody("primary"), bearer,
		header{plan.FallbackHeader, "forged;generic;1;primary"}))
	require.Equal(t, plan.HopRouteName("primary"), cluster)
	require.Equal(t, "|0|primary", fallbackOf(fb), fb)
}

// A fallback's redirected pass is not authenticated again: its signed
// header vouches for it, but only for the request it was made for. A body
// naming another group than the signed origin is not that request.
func TestRedirectedPassMustCarryItsSignedOrigin(t *testing.T) {
	h, _ := startRouting(t)
	_, fb := routedTo(t, postThroughGateway(t, h, "/v1/chat/completions", chatBody("primary"), bearer))
	require.NotEmpty(t, fb)
	cluster, _ := routedTo(t, postThroughGateway(t, h, "/v1/chat/completions", chatBody("primary"), header{plan.FallbackHeader, fb}))
	require.Equal(t, plan.HopRouteName("primary"), cluster, "the redirect of the request it was signed for")

	resp := postThroughGateway(t, h, "/v1/chat/completions", chatBody("backup"), header{plan.FallbackHeader, fb})
	requireAPIError(t, resp, 401, "auth_error")
	// Nor for another request id (a client's cannot be chosen; this is a
	// replay into another request).
	stream := h.open(t, plan.ProcessorGateway)
	body := chatBody("primary")
	requireAPIError(t, exchange(t, stream, postHeaders("/v1/chat/completions", body, header{plan.FallbackHeader, fb}, header{"x-request-id", "another-request"})), 401, "auth_error")
	finish(t, stream)
}

func TestCoolingGroupFallsBackAtTheGateway(t *testing.T) {
	h, c := startRouting(t)
	c.Record(router.Outcome{Deployment: "p1", Status: 500})
	c.Record(router.Outcome{Deployment: "p2", Status: 0})
	cluster, fb := routedTo(t, postThroughGateway(t, h, "/v1/chat/completions", chatBody("primary"), bearer))
	require.Equal(t, plan.DirectRouteName("backup"), cluster, "every deployment of primary is cooling down")
	require.Empty(t, fb, "a direct route cannot fall back further, and its provider gets no fallback header")

	// Nothing left in the chain: LiteLLM's 429, with when to try again.
	c.Record(router.Outcome{Deployment: "b1", Status: 429, RetryAfter: 10 * time.Second})
	c.Record(router.Outcome{Deployment: "b2", Status: 503})
	stream := h.open(t, plan.ProcessorGateway)
	body := chatBody("primary")
	sendHeaders(t, stream, postHeaders("/v1/chat/completions", body, bearer))
	r := requireImmediate(t, bodyAnswer(t, stream, body))
	e := requireAPIErrorReply(t, r, 429, "rate_limit_error")
	require.Contains(t, e.Message, "No deployments available for selected model")
	require.Contains(t, e.Message, "[b1 b2 p1 p2]")
	require.Equal(t, "30", r.headers["retry-after"], "the earliest cooldown end, rounded up")
}

// The upstream processor falls back only after the last attempt Envoy
// makes, and the redirect carries the next step, signed.
func TestUpstreamFallsBackAfterTheLastRetry(t *testing.T) {
	h, c := startRouting(t)
	// What the gateway set on the request.
	gw := h.open(t, plan.ProcessorGateway)
	body := chatBody("primary")
	sendHeaders(t, gw, postHeaders("/v1/chat/completions", body, bearer, header{"x-request-id", "r1"}))
	_, fb := routedTo(t, bodyAnswer(t, gw, body))
	finish(t, gw)

	status := func(resp *extprocv3.ProcessingResponse) string {
		return flattenMutation(t, resp.GetResponseHeaders().GetResponse().GetHeaderMutation()).set[":status"]
	}
	// Attempt 1 carries the header; the retry does not (the first attempt
	// removed it from the router's shared headers).
	for i, extra := range [][]header{{{plan.FallbackHeader, fb}, {"x-request-id", "r1"}}, {{"x-request-id", "r1"}}} {
		up := h.open(t, plan.ProcessorUpstream)
		resp := exchange(t, up, attempt(t, "p1", "/v1/chat/completions", body, extra...))
		require.NotNil(t, resp.GetModeOverride(), "attempt %d asks for the response headers", i+1)
		exchange(t, up, requestBody(body))
		got := status(exchange(t, up, responseHeaders(500)))
		if i == 0 {
			require.Empty(t, got, "Envoy retries the first attempt itself")
		} else {
			require.Equal(t, "307", got, "the last attempt falls back")
		}
		finish(t, up)
	}
	// The failure behind the redirect counts toward the cooldown (Envoy's
	// log sees only the 307).
	require.Contains(t, c.Active(), "p1")

	// The header is good for its own request only.
	up := h.open(t, plan.ProcessorUpstream)
	resp := exchange(t, up, attempt(t, "p2", "/v1/chat/completions", body, header{plan.FallbackHeader, fb}, header{"x-request-id", "r2"}))
	require.Nil(t, resp.GetModeOverride(), "a header signed for r1 is ignored for r2")
	finish(t, up)
}

// responseHeaders is the upstream's response headers phase.
// fallbackOf is the place in a chain a fallback header names, as
// "kind|step|origin" (the header also carries an expiry and a signature).
func fallbackOf(v string) string {
	p := strings.SplitN(v, ";", 6)
	if len(p) != 6 {
		return "malformed: " + v
	}
	return p[0] + "|" + p[1] + "|" + p[5]
}

func responseHeaders(status int) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{
		ResponseHeaders: &extprocv3.HttpHeaders{Headers: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
			{Key: ":status", RawValue: []byte(strconv.Itoa(status))},
			{Key: "content-type", RawValue: []byte("application/json")},
		}}},
	}}
}

const preCallConfig = `
model_list:
  - {model_name: small, litellm_params: {model: openai/s, api_base: "http://h:1/v1"}, model_info: {id: s1, max_input_tokens: 10}}
  - {model_name: big, litellm_params: {model: openai/b, api_base: "http://h:2/v1"}, model_info: {id: b1, max_input_tokens: 1000}}
  - {model_name: tiny, litellm_params: {model: openai/t, api_base: "http://h:3/v1"}, model_info: {id: t1, max_input_tokens: 5}}
router_settings:
  enable_pre_call_checks: true
  context_window_fallbacks: [{"small": ["big"]}]
general_settings:
  master_key: os.environ/MASTER_KEY
`

func TestPreCallChecksRouteLongPromptsToTheContextWindowChain(t *testing.T) {
	h := startServer(t, parseConfig(t, preCallConfig, testEnv))
	long := func(model string) []byte {
		return []byte(`{"model":"` + model + `","messages":[{"role":"user","content":[{"type":"text","text":"` + strings.Repeat("abcd", 20) + `"}]}]}`)
	}
	cluster, _ := routedTo(t, postThroughGateway(t, h, "/v1/chat/completions", chatBody("small"), bearer))
	require.Equal(t, plan.ClusterName("small"), cluster, "a short prompt fits")
	cluster, fb := routedTo(t, postThroughGateway(t, h, "/v1/chat/completions", long("small"), bearer))
	require.Equal(t, plan.DirectRouteName("big"), cluster, "about 20 tokens do not fit 10")
	require.Empty(t, fb, "a direct route cannot fall back further, and its provider gets no fallback header")

	// No chain left: the 400 LiteLLM's pre-call check raises.
	stream := h.open(t, plan.ProcessorGateway)
	body := long("tiny")
	sendHeaders(t, stream, postHeaders("/v1/chat/completions", body, bearer))
	e := requireAPIErrorReply(t, requireImmediate(t, bodyAnswer(t, stream, body)), 400, "invalid_request_error")
	require.Contains(t, e.Message, "ContextWindowExceededError")
}

func TestStreamingRequestsGetTheStreamTimeout(t *testing.T) {
	h := startServer(t, parseConfig(t, `
model_list:
  - {model_name: gpt, litellm_params: {model: openai/a, api_base: "http://h:1/v1", stream_timeout: 2}}
  - {model_name: gpt, litellm_params: {model: openai/b, api_base: "http://h:2/v1", stream_timeout: 3.5}}
`, testEnv))
	headers := func(body string) map[string]string {
		resp := postThroughGateway(t, h, "/v1/chat/completions", []byte(body))
		return flattenMutation(t, resp.GetRequestBody().GetResponse().GetHeaderMutation()).set
	}
	require.Equal(t, "3500", headers(`{"model":"gpt","stream":true,"messages":[]}`)["x-envoy-upstream-rq-per-try-timeout-ms"])
	require.NotContains(t, headers(`{"model":"gpt","stream":false,"messages":[]}`), "x-envoy-upstream-rq-per-try-timeout-ms")
}
