package extproc_test

import (
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/llmvoy/llmvoy/extproc"
	"github.com/llmvoy/llmvoy/internal/syncbuf"
	"github.com/llmvoy/llmvoy/metrics"
	"github.com/llmvoy/llmvoy/plan"
	"github.com/llmvoy/llmvoy/router"
)

// startServerWithMetrics is startServer with metrics, set before serving
// as llmvoy run does.
func startServerWithMetrics(t *testing.T, yaml string) *harness {
	t.Helper()
	cfg := parseConfig(t, yaml, testEnv)
	c, b := router.NewCooldowns(cfg), router.NewBalance(cfg)
	logs := &syncbuf.Buffer{}
	srv := extproc.NewServer(mustPlan(t, cfg), c, b, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	srv.SetMetrics(metrics.New(mustPlan(t, cfg), c, b))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := grpc.NewServer()
	srv.Register(g)
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return &harness{server: srv, client: extprocv3.NewExternalProcessorClient(conn), logs: logs, ended: make(chan error, 16)}
}

// scrapeGateway is GET /metrics through the gateway processor.
func scrapeGateway(t *testing.T, h *harness, extra ...header) string {
	t.Helper()
	stream := h.open(t, plan.ProcessorGateway)
	r := requireImmediate(t, exchange(t, stream, requestHeaders("GET", "/metrics", true, extra...)))
	finish(t, stream)
	require.Equal(t, 200, r.status, "body: %s", r.body)
	require.Equal(t, metrics.ContentType, r.headers["content-type"])
	require.True(t, strings.HasPrefix(r.headers["content-type"], "text/plain"))
	return string(r.body)
}

// Prometheus scrapes without a key, as it does LiteLLM's /metrics; what it
// gets names model groups and deployments, never a key.
func TestGatewayServesMetricsWithoutKey(t *testing.T) {
	h := startServerWithMetrics(t, gatewayConfig)
	for _, auth := range [][]header{nil, {bearer}, {{"authorization", "Bearer wrong"}}} {
		body := scrapeGateway(t, h, auth...)
		require.Contains(t, body, `llmvoy_deployment_cooling_down{deployment="dep-a",model_group="gpt-4o"} 0`)
		require.Contains(t, body, `llmvoy_deployment_over_limit{deployment="dep-e",model_group="openai/text-embedding-3-small"} 0`)
		require.NotContains(t, body, masterKey)
		require.NotContains(t, body, deploymentKey)
	}
	// A reload relabels: the new deployment has its gauges.
	h.server.SetPlan(mustPlan(t, parseConfig(t, strings.Replace(gatewayConfig, "id: dep-b", "id: dep-z", 1), testEnv)))
	require.Contains(t, scrapeGateway(t, h), `llmvoy_deployment_cooling_down{deployment="dep-z",model_group="gpt-4o"} 0`)

	// Without metrics, an empty exposition.
	plain := startGateway(t)
	stream := plain.open(t, plan.ProcessorGateway)
	r := requireImmediate(t, exchange(t, stream, requestHeaders("GET", "/metrics", true)))
	finish(t, stream)
	require.Equal(t, 200, r.status)
	require.Empty(t, r.body)
}

// The upstream processor's fallback is counted, with the status behind the
// redirect Envoy's log sees in its place.
func TestFallbackIsCounted(t *testing.T) {
	h := startServerWithMetrics(t, strings.Replace(routingConfig, "num_retries: 1", "num_retries: 0", 1))
	gw := h.open(t, plan.ProcessorGateway)
	body := chatBody("primary")
	sendHeaders(t, gw, postHeaders("/v1/chat/completions", body, bearer, header{"x-request-id", "r1"}))
	_, fb := routedTo(t, bodyAnswer(t, gw, body))
	finish(t, gw)

	up := h.open(t, plan.ProcessorUpstream)
	exchange(t, up, attempt(t, "p1", "/v1/chat/completions", body, header{plan.FallbackHeader, fb}, header{"x-request-id", "r1"}))
	exchange(t, up, requestBody(body))
	resp := exchange(t, up, responseHeaders(503))
	require.Equal(t, "307", flattenMutation(t, resp.GetResponseHeaders().GetResponse().GetHeaderMutation()).set[":status"])
	finish(t, up)

	scraped := scrapeGateway(t, h)
	require.Contains(t, scraped, `llmvoy_fallbacks_total{chain="generic",model_group="primary"} 1`)
	require.Contains(t, scraped, `llmvoy_attempts_total{class="5xx",deployment="p1",model_group="primary"} 1`)
}
