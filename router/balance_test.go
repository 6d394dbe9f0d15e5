package router

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
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
