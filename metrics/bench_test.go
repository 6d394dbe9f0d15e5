package metrics_test

import (
	"testing"
	"time"

	"github.com/llmvoy/llmvoy/metrics"
	"github.com/llmvoy/llmvoy/plan"
	"github.com/llmvoy/llmvoy/router"
)

// BenchmarkSuccessfulRequest is what one answered request with a virtual
// key costs the metrics: its access-log entries (the request, one attempt)
// and its usage.
func BenchmarkSuccessfulRequest(b *testing.B) {
	cfg := testConfig()
	c, bal := router.NewCooldowns(cfg), router.NewBalance(cfg)
	p, err := plan.Build(cfg)
	if err != nil {
		b.Fatal(err)
	}
	m := metrics.New(p, c, bal)
	r := router.Request{Path: "/v1/chat/completions", Code: 200, Cluster: plan.ClusterName("gpt"), Deployment: "a", Attempts: 1,
		Stream: true, Duration: 300 * time.Millisecond, FirstByte: 50 * time.Millisecond}
	a := router.Attempt{Deployment: "a", Code: 200, Cluster: plan.ClusterName("gpt"), Duration: 250 * time.Millisecond}
	key := metrics.Key{Hash: "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b", Alias: "team-a"}
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveAttempt(a)
		m.Usage("a", key, 10, 20, 0.001)
		m.ObserveRequest(r)
	}
}
