package xds

import (
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/plan"
)

// The relay's routes of a hedging group hedge like its own, but for the
// continuations, which name one deployment: a hedge could only go there
// again, so they keep the group's per-attempt timeout.
func TestRelayContinuationsAreNotHedged(t *testing.T) {
	cfg, _, err := config.Parse([]byte(`
model_list:
  - {model_name: g, litellm_params: {model: openai/a, api_base: http://127.0.0.1:8001/v1, timeout: 30}, model_info: {id: g1}}
  - {model_name: g, litellm_params: {model: openai/a, api_base: http://127.0.0.1:8002/v1, timeout: 30}, model_info: {id: g2}}
router_settings:
  num_retries: 1
  enable_stream_continuation: true
  model_group_hedging: {g: {delay: 0.5}}
`), "config.yaml", nil)
	require.NoError(t, err)
	res, err := Translate(mustPlan(t, cfg), State{Addrs: goldenAddrs(cfg)}, goldenOptions)
	require.NoError(t, err)
	require.NoError(t, res.Validate())
	actions := map[string]*routev3.RouteAction{}
	for _, r := range res.Routes {
		for _, vh := range r.(*routev3.RouteConfiguration).GetVirtualHosts() {
			for _, route := range vh.GetRoutes() {
				actions[route.GetName()] = route.GetRoute()
			}
		}
	}
	for _, name := range []string{plan.ClusterName("g"), plan.RelayRouteName("g")} {
		require.True(t, actions[name].GetHedgePolicy().GetHedgeOnPerTryTimeout(), name)
		require.Equal(t, 500*time.Millisecond, actions[name].GetRetryPolicy().GetPerTryTimeout().AsDuration(), name)
	}
	for _, id := range []string{"g1", "g2"} {
		name := plan.RelayContinueRouteName("g", id)
		require.Nil(t, actions[name].GetHedgePolicy(), name)
		require.Equal(t, 30*time.Second, actions[name].GetRetryPolicy().GetPerTryTimeout().AsDuration(), name)
	}
}

// A `delay: p95` group hedges after plan.DefaultHedgeDelay until the
// router measured it, then after its measured delay.
func TestMeasuredHedgeDelay(t *testing.T) {
	cfg, _, err := config.Parse([]byte(`
model_list:
  - {model_name: g, litellm_params: {model: openai/a, api_base: http://127.0.0.1:8001/v1}, model_info: {id: g1}}
  - {model_name: g, litellm_params: {model: openai/a, api_base: http://127.0.0.1:8002/v1}, model_info: {id: g2}}
router_settings:
  model_group_hedging: {g: {delay: p95}}
`), "config.yaml", nil)
	require.NoError(t, err)
	p := mustPlan(t, cfg)
	g := p.Group("g")
	require.Equal(t, plan.DefaultHedgeDelay, groupAction(g, p, State{}, 0).GetRetryPolicy().GetPerTryTimeout().AsDuration())
	st := State{HedgeDelays: map[string]time.Duration{"g": 40 * time.Millisecond}}
	action := groupAction(g, p, st, 0)
	require.Equal(t, 40*time.Millisecond, action.GetRetryPolicy().GetPerTryTimeout().AsDuration())
	require.True(t, action.GetHedgePolicy().GetHedgeOnPerTryTimeout())
}
