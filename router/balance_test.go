package router

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/counters"
)

func balanceConfig(strategy string, args config.StrategyArgs, rpm int) *config.Config {
	cfg := &config.Config{Router: config.RouterSettings{RoutingStrategy: strategy, StrategyArgs: args}}
	for _, id := range []string{"fast", "slow", "new"} {
		cfg.Deployments = append(cfg.Deployments, &config.Deployment{ID: id, ModelName: "g", RPM: rpm})
	}
	return cfg
}

func TestLatencyBasedMarksSlowerDeployments(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b := NewBalance(balanceConfig(config.RoutingLatencyBased, config.StrategyArgs{LowestLatencyBuffer: 0.5, TTL: time.Minute}, 0))
	b.now = clk.now
	for range 3 {
		b.Record(Outcome{Deployment: "fast", Status: 200, Latency: 100 * time.Millisecond})
		b.Record(Outcome{Deployment: "slow", Status: 200, Latency: 400 * time.Millisecond})
	}
	b.Record(Outcome{Deployment: "fast", Status: 500, Latency: time.Second}) // failures are not latencies
	require.Equal(t, map[string]bool{"slow": true}, b.Decide().Slow, "the unmeasured deployment keeps getting traffic")

	// Within the buffer (1.5 x 100ms), both share the traffic.
	for range latencySamples {
		b.Record(Outcome{Deployment: "slow", Status: 200, Latency: 140 * time.Millisecond})
	}
	require.Empty(t, b.Decide().Slow)

	// Samples older than the ttl stop counting.
	for range latencySamples {
		b.Record(Outcome{Deployment: "slow", Status: 200, Latency: time.Second})
	}
	clk.advance(2 * time.Minute)
	require.Empty(t, b.Decide().Slow)
}

func TestUsageBasedTakesDeploymentsPastTheirRPMOut(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)}
	b := NewBalance(balanceConfig(config.RoutingUsageBasedV2, config.StrategyArgs{}, 3))
	b.now = clk.now
	for range 2 {
		b.Record(Outcome{Deployment: "fast", Status: 200})
	}
	require.Empty(t, b.OverLimit())
	b.Record(Outcome{Deployment: "fast", Status: 500}) // failed requests count too
	require.Equal(t, map[string]bool{"fast": true}, b.OverLimit())
	select {
	case <-b.Changed():
	default:
		t.Fatal("reaching the rpm is signalled at once")
	}
	clk.advance(time.Minute)
	require.Empty(t, b.Decide().OverLimit, "counts start afresh each minute")
}

func TestOtherStrategiesKeepNoState(t *testing.T) {
	b := NewBalance(balanceConfig(config.RoutingSimpleShuffle, config.StrategyArgs{}, 1))
	for range 5 {
		b.Record(Outcome{Deployment: "fast", Status: 200, Latency: time.Second})
	}
	d := b.Decide()
	require.Empty(t, d.OverLimit, "rpm is enforced by the usage-based strategies")
	require.Empty(t, d.Slow)
}

func TestUsageBasedTakesDeploymentsPastTheirTPMOut(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)}
	cfg := balanceConfig(config.RoutingUsageBasedV2, config.StrategyArgs{}, 0)
	cfg.Deployments[0].TPM = 100
	b := NewBalance(cfg)
	b.now = clk.now
	require.True(t, b.CountsTokens(cfg.Deployments[0]))
	require.False(t, b.CountsTokens(cfg.Deployments[1]), "no tpm, nothing to count")
	b.RecordTokens("fast", 60)
	require.Empty(t, b.OverLimit())
	b.RecordTokens("fast", 40)
	require.Equal(t, map[string]bool{"fast": true}, b.OverLimit())
	clk.advance(time.Minute)
	require.Empty(t, b.Decide().OverLimit)
}

// Two replicas sharing a store (Redis in production) are limited by their
// combined traffic: the replica whose request reaches the rpm knows at
// once, the other when it next decides.
func TestSharedRPMHoldsForTheReplicasTogether(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)}
	store := counters.NewLocal()
	cfg := balanceConfig(config.RoutingUsageBasedV2, config.StrategyArgs{}, 4)
	a, b := NewBalance(cfg), NewBalance(cfg)
	for _, r := range []*Balance{a, b} {
		r.now = clk.now
		r.Share(store)
	}
	key := counters.PerMinute("deployment", "fast", "rpm", counters.Minute(clk.now()))
	total := func() int64 { n, _ := store.Get(context.Background(), key); return n }

	a.Record(Outcome{Deployment: "fast", Status: 200})
	a.Record(Outcome{Deployment: "fast", Status: 200})
	require.Eventually(t, func() bool { return total() == 2 }, time.Second, time.Millisecond)
	b.Record(Outcome{Deployment: "fast", Status: 200})
	require.Eventually(t, func() bool { return total() == 3 }, time.Second, time.Millisecond)
	require.Eventually(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.requests["fast"] == 3 }, time.Second, time.Millisecond,
		"b's push returned the total: b knows it without a Decide")
	require.Empty(t, a.Decide().OverLimit, "3 of 4")
	require.Empty(t, b.Decide().OverLimit, "3 of 4")

	b.Record(Outcome{Deployment: "fast", Status: 200})
	require.True(t, b.OverLimit()["fast"], "b read 3 when it decided and added its own")
	require.Eventually(t, func() bool { return total() == 4 }, time.Second, time.Millisecond)
	require.Empty(t, a.OverLimit(), "a has not looked since 3")
	require.Equal(t, map[string]bool{"fast": true}, a.Decide().OverLimit, "a read the total")

	clk.advance(time.Minute)
	require.Empty(t, a.Decide().OverLimit, "a new minute, a new counter")
	require.Empty(t, b.Decide().OverLimit)
}

// With a shared store, a replica that never called a deployment knows it
// is slow from the others' latencies, as LiteLLM's replicas share theirs.
func TestSharedLatenciesAreEveryReplicas(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 50, 0, time.UTC)}
	store := counters.NewLocal()
	cfg := balanceConfig(config.RoutingLatencyBased, config.StrategyArgs{LowestLatencyBuffer: 0.5, TTL: time.Hour}, 0)
	a, b := NewBalance(cfg), NewBalance(cfg)
	for _, r := range []*Balance{a, b} {
		r.now = clk.now
		r.Share(store)
	}
	for range 3 {
		a.Record(Outcome{Deployment: "fast", Status: 200, Latency: 100 * time.Millisecond})
		a.Record(Outcome{Deployment: "slow", Status: 200, Latency: 400 * time.Millisecond})
	}
	num := counters.PerMinute("deployment", "slow", countLatencyNum, counters.Minute(clk.now()))
	require.Eventually(t, func() bool { n, _ := store.Get(context.Background(), num); return n == 3 }, time.Second, time.Millisecond)
	require.Equal(t, map[string]bool{"slow": true}, b.Decide().Slow, "b sent nothing, and knows")

	// b's own fast answers from "slow" weigh in with a's, in the next
	// minute too (the previous minute still counts).
	clk.advance(20 * time.Second)
	for range 30 {
		b.Record(Outcome{Deployment: "slow", Status: 200, Latency: 100 * time.Millisecond})
	}
	num = counters.PerMinute("deployment", "slow", countLatencyNum, counters.Minute(clk.now()))
	require.Eventually(t, func() bool { n, _ := store.Get(context.Background(), num); return n == 30 }, time.Second, time.Millisecond)
	require.Empty(t, a.Decide().Slow, "(3 x 400 + 30 x 100) / 33 = 127 ms: within 1.5 x 100 ms of the fastest")

	// Minutes later, nothing shared counts: each replica's own samples do.
	clk.advance(3 * time.Minute)
	require.Equal(t, map[string]bool{"slow": true}, a.Decide().Slow, "a's own: 400 ms against 100 ms")
	require.Empty(t, b.Decide().Slow, "b measured only slow, at 100 ms: nothing to compare")
}

func TestSharedTPMHoldsForTheReplicasTogether(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)}
	store := counters.NewLocal()
	cfg := balanceConfig(config.RoutingUsageBasedV2, config.StrategyArgs{}, 0)
	cfg.Deployments[0].TPM = 100
	a, b := NewBalance(cfg), NewBalance(cfg)
	for _, r := range []*Balance{a, b} {
		r.now = clk.now
		r.Share(store)
	}
	a.RecordTokens("fast", 60)
	b.RecordTokens("fast", 40)
	require.Eventually(t, func() bool { return a.Decide().OverLimit["fast"] && b.Decide().OverLimit["fast"] }, time.Second, time.Millisecond)
}

// failingStore is a shared store that never answers.
type failingStore struct{}

func (failingStore) Add(context.Context, string, int64, time.Duration) (int64, error) {
	return 0, errors.New("down")
}
func (failingStore) Get(context.Context, string) (int64, error) { return 0, errors.New("down") }

// Without the shared totals, a replica still holds the rpm for its own
// traffic.
func TestSharedStoreFailingKeepsTheReplicasOwnCount(t *testing.T) {
	b := NewBalance(balanceConfig(config.RoutingUsageBasedV2, config.StrategyArgs{}, 2))
	b.Share(failingStore{})
	b.Record(Outcome{Deployment: "fast", Status: 200})
	require.Empty(t, b.Decide().OverLimit)
	b.Record(Outcome{Deployment: "fast", Status: 200})
	require.Equal(t, map[string]bool{"fast": true}, b.Decide().OverLimit)
}
