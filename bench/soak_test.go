package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSlopePerMinute(t *testing.T) {
	// 40 MB, then +0.5 MB every 10 s sample = 3 MB/min; the first two
	// samples (a start-up jump) are left out.
	samples := []float64{10, 30}
	for i := range 20 {
		samples = append(samples, 40+0.5*float64(i))
	}
	require.InDelta(t, 3.0, slopePerMinute(samples, 10*time.Second, 2), 1e-9)
	require.InDelta(t, 0.0, slopePerMinute([]float64{50, 50, 50, 50}, time.Second, 0), 1e-9)
	require.Zero(t, slopePerMinute([]float64{1, 2}, time.Second, 1), "one sample left: no slope")
}

func TestSoakGoal(t *testing.T) {
	require.False(t, soakGoal(nil).Measured)
	control := &Soak{Target: targetEnvoy, DurationS: 600, Processes: []SoakProcess{{Name: "envoy", SlopeMBPerMin: 0.3}}}
	require.False(t, soakGoal([]*Soak{control}).Measured, "the control alone judges nothing")

	flat := &Soak{Target: targetLLMvoy, DurationS: 600, Processes: []SoakProcess{{Name: "llmvoy", SlopeMBPerMin: 0.01}, {Name: "llmvoy's envoy", SlopeMBPerMin: -0.02}}}
	g := soakGoal([]*Soak{flat})
	require.True(t, g.Measured)
	require.True(t, g.Met)
	require.Equal(t, "llmvoy +0.010, llmvoy's envoy -0.020 MB/min over 10m0s", g.Got)

	// The control is quoted, not judged: llmvoy's own slopes decide.
	g = soakGoal([]*Soak{flat, control})
	require.True(t, g.Met)
	require.Equal(t, "llmvoy +0.010, llmvoy's envoy -0.020 MB/min over 10m0s (plain Envoy, the control: +0.300)", g.Got)
	flat.Processes[1].SlopeMBPerMin = 0.5
	require.False(t, soakGoal([]*Soak{flat, control}).Met)
}

func TestParseEnvoyStats(t *testing.T) {
	st, err := parseEnvoyStats(`cluster.ext_proc.upstream_cx_active: 2
cluster.mock.upstream_cx_active: 40
http.admin.downstream_cx_active: 1
http.ingress.downstream_cx_active: 90
server.memory_allocated: 10485760
`)
	require.NoError(t, err)
	require.Equal(t, envoyStats{allocated: 10 << 20, clientConns: 90, upstreamConns: 42}, st)

	_, err = parseEnvoyStats("cluster.mock.upstream_cx_active: 40\n")
	require.ErrorContains(t, err, "server.memory_allocated")
}
