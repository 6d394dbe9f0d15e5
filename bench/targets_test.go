package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
)

// The soak finds llmvoy's Envoy's admin socket in the `gateway ready` line;
// a TCP admin (which llmvoy no longer has) is not picked up.
func TestEnvoyAdminFromLog(t *testing.T) {
	line := `time=2026-12-07T18:21:26.061Z level=INFO msg="gateway ready" listen=127.0.0.1:40205 model_groups=1 deployments=1 envoy_admin=unix:///tmp/llmvoy-3843552969/admin.sock`
	m := envoyAdminRe.FindStringSubmatch(line)
	require.NotNil(t, m)
	require.Equal(t, "unix:///tmp/llmvoy-3843552969/admin.sock", m[1])
	require.Nil(t, envoyAdminRe.FindStringSubmatch(`envoy_admin=http://127.0.0.1:9901`))
}

func TestHedgeConfigAddsAHedgingGroup(t *testing.T) {
	mocks := []mockDeployment{{name: "mock-a", port: 9001}, {name: "mock-b", port: 9002}}
	cfg, warnings, err := config.Parse(hedgeConfig(gatewayConfig(mocks, &settings{}), mocks, "250ms"), "config.yaml", nil)
	require.NoError(t, err)
	require.Empty(t, warnings)
	require.Len(t, cfg.Group(hedgedModel), 2)
	require.Len(t, cfg.Group(benchModel), 2)
	require.Len(t, cfg.Router.Hedging, 1)
	require.Equal(t, 250*time.Millisecond, cfg.Router.Hedging[hedgedModel].Delay)

	cfg, _, err = config.Parse(hedgeConfig(gatewayConfig(mocks, &settings{}), mocks, "p95"), "config.yaml", nil)
	require.NoError(t, err)
	require.True(t, cfg.Router.Hedging[hedgedModel].P95)
}

func TestCacheConfigTurnsTheLocalCacheOn(t *testing.T) {
	mocks := []mockDeployment{{name: "mock-a", port: 9001}, {name: "mock-b", port: 9002}}
	cfg, warnings, err := config.Parse(gatewayConfig(mocks, &settings{Cache: true}), "config.yaml", nil)
	require.NoError(t, err)
	require.Empty(t, warnings)
	require.Equal(t, config.CacheLocal, cfg.Cache.Type)
	cfg, _, err = config.Parse(gatewayConfig(mocks, &settings{}), "config.yaml", nil)
	require.NoError(t, err)
	require.Nil(t, cfg.Cache)
}
