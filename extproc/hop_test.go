package extproc_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/plan"
)

// hopConfig chains a → b → c: a has the chain, b is in it (not last) and
// has none of its own, c is last. a has a stream_timeout.
const hopConfig = `
model_list:
  - {model_name: a, litellm_params: {model: anthropic/claude, api_base: "http://h:1", api_key: sk-a, stream_timeout: 7}, model_info: {id: a1}}
  - {model_name: b, litellm_params: {model: openai/b, api_base: "http://h:2/v1", api_key: sk-b}, model_info: {id: b1}}
  - {model_name: c, litellm_params: {model: openai/c, api_base: "http://h:3/v1", api_key: sk-c}, model_info: {id: c1}}
router_settings:
  fallbacks: [{a: [b, c]}]
general_settings:
  master_key: os.environ/MASTER_KEY
`

// hopRouting is what the gateway set for the route: the route, the
// request's fallback header and, through the hop, the next step's and the
// redirect's location.
type hopRouting struct {
	route, fallback, next, location, perTry string
}

func routedVia(t *testing.T, h *harness, body []byte, extra ...header) hopRouting {
	t.Helper()
	m := flattenMutation(t, postThroughGateway(t, h, "/v1/chat/completions", body, extra...).GetRequestBody().GetResponse().GetHeaderMutation())
	r := hopRouting{route: m.set[plan.RouteHeader], fallback: m.set[plan.FallbackHeader], next: m.set[plan.FallbackNextHeader],
		location: m.set[plan.FallbackLocationHeader], perTry: m.set["x-envoy-upstream-rq-per-try-timeout-ms"]}
	if r.fallback != "" {
		r.fallback = fallbackOf(r.fallback)
	}
	return r
}

// A request with a next step in its chain goes through the hop, carrying
// that step signed ahead; the chain's last group, and a group requested
// without a chain, take their own route.
func TestRequestsWithANextStepGoThroughTheFallbackHop(t *testing.T) {
	h := startServer(t, parseConfig(t, hopConfig, testEnv))

	r := routedVia(t, h, chatBody("a"), bearer)
	require.Equal(t, plan.HopRouteName("a"), r.route)
	require.Equal(t, "|0|a", r.fallback)
	require.Equal(t, "generic|1|a", fallbackOf(r.next))
	require.Equal(t, "http://fallback.llmvoy.internal/v1/chat/completions", r.location)

	// The hop's stream route has the stream_timeout: no per-try header,
	// which the gateway listener's router would apply to the whole hop.
	s := routedVia(t, h, []byte(`{"model":"a","messages":[],"stream":true}`), bearer)
	require.Equal(t, plan.HopStreamRouteName("a"), s.route)
	require.Empty(t, s.perTry)

	// The hop's redirect into b: b has a next step, c.
	b := routedVia(t, h, chatBody("a"), header{plan.FallbackHeader, r.next}, header{plan.FallbackCauseHeader, "503;a1"})
	require.Equal(t, plan.HopRouteName("b"), b.route)
	require.Equal(t, "generic|1|a", b.fallback)
	require.Equal(t, "generic|2|a", fallbackOf(b.next))
	require.Contains(t, h.logs.String(), "no_answer=true")

	// c is the chain's last group: its own route, as a group without
	// fallbacks; a failure there is the client's error.
	c := routedVia(t, h, chatBody("a"), header{plan.FallbackHeader, b.next})
	require.Equal(t, plan.ClusterName("c"), c.route)
	require.Empty(t, c.next)
	require.Empty(t, c.location)

	// b requested by itself has no chain: its own route, nothing signed.
	own := routedVia(t, h, chatBody("b"), bearer)
	require.NotEqual(t, plan.HopRouteName("b"), own.route)
	require.Empty(t, own.next)
	require.Empty(t, own.fallback)
}

// A client cannot send the hop's headers: they are removed like every
// x-llmvoy-* header, and a cause without a valid signed header counts
// nothing.
func TestClientCannotSendFallbackHopHeaders(t *testing.T) {
	h := startServer(t, parseConfig(t, hopConfig, testEnv))
	resp := postThroughGateway(t, h, "/v1/chat/completions", chatBody("b"), bearer,
		header{plan.FallbackNextHeader, "forged"}, header{plan.FallbackLocationHeader, "http://evil/"}, header{plan.FallbackCauseHeader, "503;a1"})
	m := flattenMutation(t, resp.GetRequestBody().GetResponse().GetHeaderMutation())
	require.Subset(t, m.remove, []string{plan.FallbackNextHeader, plan.FallbackLocationHeader, plan.FallbackCauseHeader})
	require.NotContains(t, h.logs.String(), "no_answer")
}
