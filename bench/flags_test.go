package main

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseFlagsDefaults(t *testing.T) {
	s, err := parseFlags(nil, "/repo", io.Discard)
	require.NoError(t, err)
	require.Equal(t, []float64{200, 500, 1000, 2000}, s.Rates)
	require.Equal(t, jsonDuration(10*time.Second), s.Duration)
	require.Equal(t, []string{scenarioChat, scenarioMax, scenarioStream, scenarioMessages, scenarioVision, scenarioHedge}, s.Scenarios)
	require.Equal(t, []string{targetDirect, targetEnvoy, targetLLMvoy, targetLiteLLM}, s.Targets)
	require.Equal(t, "/repo/bin/llmvoy", s.llmvoyBin)
	require.Equal(t, "/repo/bench/out", s.outDir)
}

func TestParseFlags(t *testing.T) {
	s, err := parseFlags([]string{"--rates", "50, 100", "--duration", "3s", "--scenarios", "chat,stream", "--targets", "llmvoy"}, "/repo", io.Discard)
	require.NoError(t, err)
	require.Equal(t, []float64{50, 100}, s.Rates)
	require.Equal(t, jsonDuration(3*time.Second), s.Duration)
	require.Equal(t, []string{scenarioChat, scenarioStream}, s.Scenarios)
	require.Equal(t, []string{targetLLMvoy}, s.Targets)

	for _, args := range [][]string{
		{"--rates", "fast"},
		{"--rates", "-5"},
		{"--rates", ","},
		{"--scenarios", "chat,nap"},
		{"--soak-duration", "30s"},
		{"--targets", "nginx"},
		{"--duration", "0s"},
		{"extra"},
	} {
		_, err := parseFlags(args, "/repo", io.Discard)
		require.Error(t, err, "%q", args)
	}
}

func TestJSONDuration(t *testing.T) {
	b, err := jsonDuration(1500 * time.Millisecond).MarshalJSON()
	require.NoError(t, err)
	require.Equal(t, `"1.5s"`, string(b))
}
