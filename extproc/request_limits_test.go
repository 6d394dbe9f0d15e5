package extproc

import (
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/internal/jsonscan"
	"github.com/llmvoy/llmvoy/plan"
)

func TestReadRequestLimits(t *testing.T) {
	tests := []struct {
		name, body string
		headers    limitHeaders
		stream     bool
		retries    int
		timeout    time.Duration
		badParam   string
	}{
		{name: "none", body: `{}`, retries: -1},
		{name: "body", body: `{"num_retries":2,"timeout":1.5}`, retries: 2, timeout: 1500 * time.Millisecond},
		{name: "strings, as pydantic takes them", body: `{"num_retries":"2","timeout":"3"}`, retries: 2, timeout: 3 * time.Second},
		{name: "headers", body: `{}`, headers: limitHeaders{retries: "1", timeout: "0.25"}, retries: 1, timeout: 250 * time.Millisecond},
		{name: "the body goes first", body: `{"num_retries":0}`, headers: limitHeaders{retries: "3"}, retries: 0},
		{name: "null is unset", body: `{"num_retries":null}`, headers: limitHeaders{retries: "3"}, retries: 3},
		{name: "bounded", body: `{"num_retries":1000}`, retries: maxRequestRetries},
		{name: "a timeout past a day", body: `{"timeout":1e300}`, retries: -1, timeout: maxRequestTimeout},
		{name: "stream_timeout for a stream", body: `{"timeout":30,"stream_timeout":2}`, stream: true, retries: -1, timeout: 2 * time.Second},
		{name: "stream_timeout header", body: `{"timeout":30}`, headers: limitHeaders{streamTimeout: "0.5"}, stream: true, retries: -1, timeout: 500 * time.Millisecond},
		{name: "not for a request that does not stream", body: `{"timeout":30,"stream_timeout":2}`, retries: -1, timeout: 30 * time.Second},
		{name: "negative retries", body: `{"num_retries":-1}`, badParam: "num_retries"},
		{name: "fractional retries", body: `{"num_retries":1.5}`, badParam: "num_retries"},
		{name: "not a number", body: `{}`, headers: limitHeaders{timeout: "soon"}, badParam: "timeout"},
		{name: "zero timeout", body: `{"timeout":0}`, badParam: "timeout"},
		{name: "an object", body: `{"timeout":{"s":1}}`, badParam: "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields, err := jsonscan.Fields([]byte(tt.body))
			require.NoError(t, err)
			l, refused := readRequestLimits(fields, tt.headers, tt.stream)
			if tt.badParam != "" {
				require.NotNil(t, refused)
				require.Equal(t, 400, refused.Status)
				require.Equal(t, tt.badParam, refused.Param)
				return
			}
			require.Nil(t, refused)
			require.Equal(t, tt.retries, l.retries)
			require.Equal(t, tt.timeout, l.timeout)
		})
	}
}

func TestRequestLimitsApply(t *testing.T) {
	g := group{Group: &plan.Group{Cluster: "group_g"}, hopRoute: "group_g/hop", hopStreamRoute: "group_g/hop_stream", relayRoute: "group_g/relay"}
	l := requestLimits{retries: 1, timeout: 300 * time.Millisecond}
	headers := func(set []*corev3.HeaderValueOption) map[string]string {
		out := map[string]string{}
		for _, h := range set {
			out[h.GetHeader().GetKey()] = string(h.GetHeader().GetRawValue())
		}
		return out
	}
	route := func(name string) []*corev3.HeaderValueOption {
		return []*corev3.HeaderValueOption{setHeader(plan.RouteHeader, name), setHeader(perTryTimeoutHeader, "5000")}
	}
	require.Equal(t, map[string]string{plan.RouteHeader: "group_g", maxRetriesHeader: "1", perTryTimeoutHeader: "300"}, headers(l.apply(route("group_g"), g)))
	for _, elsewhere := range []string{g.hopRoute, g.hopStreamRoute, g.relayRoute} {
		require.Equal(t, map[string]string{plan.RouteHeader: elsewhere, plan.AttemptRetriesHeader: "1", plan.AttemptTimeoutHeader: "300"},
			headers(l.apply(route(elsewhere)[:1], g)), elsewhere)
	}
	hedging := g
	hedging.Group = &plan.Group{Cluster: "group_g", HedgeDelay: time.Second}
	require.Equal(t, map[string]string{plan.RouteHeader: "group_g", maxRetriesHeader: "1", perTryTimeoutHeader: "5000"},
		headers(l.apply(route("group_g"), hedging)), "a hedging group keeps its hedge delay")
	require.Len(t, requestLimits{retries: -1}.apply(route("group_g"), g), 2, "nothing asked, nothing set")
}

func TestRetriesFor(t *testing.T) {
	r := &config.RouterSettings{NumRetries: 0}
	two := 2
	for _, tt := range []struct {
		status         int
		own            *int
		all, forStatus int
	}{
		{500, nil, 0, 0},
		{500, &two, 2, 2},
		{429, &two, 2, 2},
		{0, &two, 2, 2},
		{400, &two, 2, 0},
	} {
		all, forStatus := retriesFor(r, tt.status, tt.own)
		require.Equal(t, []int{tt.all, tt.forStatus}, []int{all, forStatus}, tt.status)
	}
	policy := &config.RouterSettings{NumRetries: 3, RetryPolicy: map[config.ErrorClass]int{config.ErrRateLimit: 2, config.ErrInternalServer: 0}}
	all, forStatus := retriesFor(policy, 429, &two)
	require.Equal(t, []int{2, 2}, []int{all, forStatus})
	all, forStatus = retriesFor(policy, 500, &two)
	require.Equal(t, []int{2, 0}, []int{all, forStatus}, "a class the policy does not retry stays unretried")
}
