package extproc_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/plan"
)

func withFallbacks(model, fallbacks string) []byte {
	return []byte(`{"model":"` + model + `","messages":[{"role":"user","content":"hi"}],"fallbacks":` + fallbacks + `}`)
}

// A request's own "fallbacks" give its group a chain for this request:
// through the fallback hop, signed in the fallback header, never in the
// body a provider gets.
func TestRequestFallbacksAreTheRequestsChain(t *testing.T) {
	h, _ := startRouting(t)
	// backup has no chain of its own (and a direct route without one).
	resp := postThroughGateway(t, h, "/v1/chat/completions", withFallbacks("backup", `["big"]`), bearer)
	m := flattenMutation(t, resp.GetRequestBody().GetResponse().GetHeaderMutation())
	require.Equal(t, plan.HopRouteName("backup"), m.set[plan.RouteHeader])
	require.Equal(t, "|0|backup,big", fallbackOf(m.set[plan.FallbackHeader]))
	next := m.set[plan.FallbackNextHeader]
	require.Equal(t, "generic|1|backup,big", fallbackOf(next))
	require.JSONEq(t, `{"model":"backup","messages":[{"role":"user","content":"hi"}]}`,
		string(resp.GetRequestBody().GetResponse().GetBodyMutation().GetBody()), "the client's model, for the redirect; no fallbacks field")

	// The redirect's pass goes to big, the chain's last: its own route.
	cluster, fb := routedTo(t, postThroughGateway(t, h, "/v1/chat/completions", chatBody("backup"), header{plan.FallbackHeader, next}))
	require.Equal(t, plan.ClusterName("big"), cluster)
	require.Equal(t, "generic|1|backup,big", fallbackOf(fb))

	// The request's chain replaces the group's: primary's own is backup.
	_, fb = routedTo(t, postThroughGateway(t, h, "/v1/chat/completions", withFallbacks("gpt-4", `["big"]`), bearer))
	require.Equal(t, "|0|primary,big", fallbackOf(fb))
}

func TestRequestFallbacksForms(t *testing.T) {
	h, _ := startRouting(t)
	for _, tc := range []struct{ name, fallbacks, chain string }{
		{"names", `["big", "primary"]`, "|0|backup,big,primary"},
		{"objects naming a model", `[{"model": "big"}]`, "|0|backup,big"},
		{"the router's form", `[{"primary": ["x"]}, {"backup": ["big"]}]`, "|0|backup,big"},
		{"the router's generic form", `[{"*": ["big"]}]`, "|0|backup,big"},
		{"an alias", `["gpt-4"]`, "|0|backup,gpt-4"},
		// No group serves it, or it is the requested group: left out.
		{"unknown and itself", `["nope", "backup", "big"]`, "|0|backup,big"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, fb := routedTo(t, postThroughGateway(t, h, "/v1/chat/completions", withFallbacks("backup", tc.fallbacks), bearer))
			require.Equal(t, tc.chain, fallbackOf(fb))
		})
	}
	// Nothing that can serve: as without fallbacks (backup's direct route).
	cluster, fb := routedTo(t, postThroughGateway(t, h, "/v1/chat/completions", withFallbacks("backup", `["nope"]`), bearer))
	require.Equal(t, plan.DirectRouteName("backup"), cluster)
	require.Empty(t, fb)

	for _, bad := range []string{`["` + strings.Repeat("x", 300) + `"]`, `"big"`, `[1]`, `[{"model": "big", "messages": []}]`, `[{"backup": "big"}]`} {
		e := requireAPIError(t, postThroughGateway(t, h, "/v1/chat/completions", withFallbacks("backup", bad), bearer), 400, "invalid_request_error")
		require.Equal(t, "fallbacks", *e.Param, bad)
	}
}
