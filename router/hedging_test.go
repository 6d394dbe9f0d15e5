package router

import (
	"testing"
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/plan"
)

// The upstream log entries of hedged requests as Envoy writes them: the
// attempt past the delay carries the per-try timeout's flag whether it
// then answered or was reset; the attempt reset before its own delay
// carries nothing.
func TestHedgedAttemptsAreNotFailures(t *testing.T) {
	cfg := groupConfig(config.RouterSettings{AllowedFails: 0, CooldownTime: time.Minute,
		Hedging: map[string]config.Hedge{"g": {Delay: 300 * time.Millisecond}}})
	cfg.Deployments = append(cfg.Deployments, &config.Deployment{ID: "other", ModelName: "h"}, &config.Deployment{ID: "other2", ModelName: "h"})
	c, b, obs := NewCooldowns(cfg), NewBalance(cfg), &recorder{}
	al := NewAccessLog(c, b, obs)
	require.True(t, c.Hedges("a"))
	require.False(t, c.Hedges("other"))

	ut := func() *accesslogv3.ResponseFlags { return &accesslogv3.ResponseFlags{UpstreamRequestTimeout: true} }
	answeredAfter := func(e *accesslogv3.HTTPAccessLogEntry, d time.Duration) *accesslogv3.HTTPAccessLogEntry {
		e.CommonProperties.TimeToFirstUpstreamRxByte = durationpb.New(d)
		return e
	}
	lostPastDelay := logEntry("a", 0, ut())                                       // reset at the winner's answer
	lostBeforeDelay := logEntry("b", 0, nil)                                      // reset before its own delay
	wonPastDelay := answeredAfter(logEntry("c", 200, ut()), 800*time.Millisecond) // answered after the delay
	require.NoError(t, al.StreamAccessLogs(stream("llmvoy_upstream", []*accesslogv3.HTTPAccessLogEntry{lostPastDelay, lostBeforeDelay, wonPastDelay})))
	require.Empty(t, c.Active(), "no attempt of a race is a failure (allowed_fails: 0)")
	require.Equal(t, []Attempt{
		{Deployment: "a", Code: 0, Failure: FailureHedged, Cluster: plan.ClusterName("gpt"), Duration: 120 * time.Millisecond, Hedged: true},
		{Deployment: "b", Code: 0, Failure: FailureHedged, Cluster: plan.ClusterName("gpt"), Duration: 120 * time.Millisecond},
		{Outcome: Outcome{Deployment: "c", Status: 200, Latency: 800 * time.Millisecond}, Counted: true, Deployment: "c", Code: 200,
			Cluster: plan.ClusterName("gpt"), Duration: 120 * time.Millisecond, Hedged: true},
	}, obs.attempts)

	// A deployment's own failures still count in a hedging group, and the
	// same entries in a group that does not hedge are timeouts.
	refused := logEntry("a", 503, &accesslogv3.ResponseFlags{UpstreamConnectionFailure: true})
	timedOut := logEntry("other", 0, ut())
	require.NoError(t, al.StreamAccessLogs(stream("llmvoy_upstream", []*accesslogv3.HTTPAccessLogEntry{refused, timedOut})))
	require.Contains(t, c.Active(), "a")
	require.Contains(t, c.Active(), "other")
	require.Equal(t, FailureTimeout, obs.attempts[4].Failure)
	require.False(t, obs.attempts[4].Hedged)
}

// A `delay: p95` group's delay: the 95th percentile of its answered
// attempts' times to first byte once there are 20, kept while it moves by
// no more than a fifth.
func TestMeasuredHedgeDelay(t *testing.T) {
	cfg := groupConfig(config.RouterSettings{Hedging: map[string]config.Hedge{"g": {P95: true}}})
	cfg.Deployments = append(cfg.Deployments, &config.Deployment{ID: "x", ModelName: "fixed"})
	cfg.Router.Hedging["fixed"] = config.Hedge{Delay: time.Second}
	b := NewBalance(cfg)
	record := func(id string, ms ...int) {
		for _, v := range ms {
			b.Record(Outcome{Deployment: id, Status: 200, Latency: time.Duration(v) * time.Millisecond})
		}
	}
	for i := 1; i < 20; i++ {
		record("a", i)
	}
	b.Record(Outcome{Deployment: "b", Status: 500, Latency: time.Second}) // a failure: no sample
	b.Record(Outcome{Deployment: "b"})                                    // no answer: no sample
	record("x", 1, 2, 3)
	require.Empty(t, b.Decide().HedgeDelays, "19 samples: not measured yet")

	record("b", 20) // 1..20 ms: the 19th of 20
	require.Equal(t, map[string]time.Duration{"g": 19 * time.Millisecond}, b.Decide().HedgeDelays)

	record("c", 22, 22, 22, 22, 22) // p95 of 25 is 22 ms: within a fifth of 19 ms
	require.Equal(t, 19*time.Millisecond, b.Decide().HedgeDelays["g"])
	for range 100 {
		record("a", 300)
	}
	require.Equal(t, 300*time.Millisecond, b.Decide().HedgeDelays["g"], "the last 100 answers")
}
