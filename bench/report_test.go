package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFmtMS(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 0.123: "0.12", 1.005: "1.00", 9.999: "10.00", 12.34: "12.3", 123.4: "123", -0.5: "-0.50", -42.42: "-42.4",
	} {
		require.Equal(t, want, fmtMS(v), "%v", v)
	}
}

func TestFmtAdded(t *testing.T) {
	p50 := func(p Percentiles) float64 { return p.P50 }
	require.Equal(t, "-", fmtAdded(nil, p50))
	require.Equal(t, "+0.31", fmtAdded(&Percentiles{P50: 0.314}, p50))
	require.Equal(t, "+0", fmtAdded(&Percentiles{}, p50))
	require.Equal(t, "-1.20", fmtAdded(&Percentiles{P50: -1.2}, p50))
}

func TestFmtErrors(t *testing.T) {
	require.Equal(t, "0", fmtErrors(Step{}))
	require.Equal(t, "5 (timeout)", fmtErrors(Step{Errors: 5, ErrorKinds: map[string]int{"HTTP 503": 1, "timeout": 4}}))
}

// testSteps is a small run: direct, envoy and llmvoy at 500 and 1000 RPS,
// the max-throughput run and a streaming run.
func testSteps() []Step {
	lat := func(p50, p99 float64) Percentiles {
		return Percentiles{N: 5000, P50: p50, P90: p50 * 1.5, P99: p99, P999: p99 * 2, Max: p99 * 3, Mean: p50}
	}
	open := func(target string, rate, p50, p99 float64) Step {
		return Step{Scenario: scenarioChat, Target: target, Mode: "open", Rate: rate, WindowS: 10,
			Sent: int(rate) * 10, OK: int(rate) * 10, AchievedRPS: rate, Latency: lat(p50, p99)}
	}
	llmvoy1000 := open(targetLLMvoy, 1000, 0.9, 2.5)
	llmvoy1000.Processes = []ProcUsage{
		{Name: "llmvoy", CPUSeconds: 3, CPUPerRequestUS: 300, PeakRSSMB: 40, PeakIsWindow: true},
		{Name: "llmvoy's envoy", CPUSeconds: 4, CPUPerRequestUS: 400, PeakRSSMB: 70, PeakIsWindow: true},
		{Name: "mock-a", CPUSeconds: 1, PeakRSSMB: 20, PeakIsWindow: true},
		{Name: "loadgen", CPUSeconds: 1, PeakRSSMB: 20},
	}
	stream := func(target string, ttft float64) Step {
		t := lat(ttft, ttft*2)
		g := lat(10, 11)
		return Step{Scenario: scenarioStream, Target: target, Mode: "open", Rate: 100, OK: 1000, AchievedRPS: 100,
			Latency: lat(200, 210), TTFT: &t, ChunkGap: &g}
	}
	return []Step{
		open(targetDirect, 500, 0.3, 0.8),
		open(targetEnvoy, 500, 0.45, 1.1),
		open(targetLLMvoy, 500, 0.7, 2.4),
		open(targetDirect, 1000, 0.3, 1.0),
		open(targetEnvoy, 1000, 0.5, 1.5),
		llmvoy1000,
		{Scenario: scenarioMax, Target: targetDirect, Mode: "closed", Workers: 64, AchievedRPS: 12000},
		{Scenario: scenarioMax, Target: targetEnvoy, Mode: "closed", Workers: 64, AchievedRPS: 6000},
		{Scenario: scenarioMax, Target: targetLLMvoy, Mode: "closed", Workers: 64, AchievedRPS: 2000},
		stream(targetDirect, 0.5),
		stream(targetLLMvoy, 1.2),
	}
}

func TestAddOverDirect(t *testing.T) {
	steps := testSteps()
	addOverDirect(steps)
	require.Nil(t, steps[0].Added, "direct has no added latency")
	require.InDelta(t, 0.4, steps[2].Added.P50, 1e-9)
	require.InDelta(t, 1.6, steps[2].Added.P99, 1e-9)
	require.InDelta(t, 1.5, steps[5].Added.P99, 1e-9)
	require.Nil(t, steps[8].Added, "closed loops are not compared")
	require.InDelta(t, 0.7, steps[10].AddedTTFT.P50, 1e-9)
}

func TestJudgeGoals(t *testing.T) {
	steps := testSteps()
	addOverDirect(steps)
	goals := judgeGoals(steps)
	got := map[string]Goal{}
	for _, g := range goals {
		got[g.Name] = g
	}
	require.Len(t, goals, 7)
	require.Equal(t, Goal{Name: "non-streaming @500 RPS: llmvoy added p50", Want: "≤ 0.5 ms", Got: "0.40 ms", Met: true, Measured: true}, goals[0])
	require.Equal(t, Goal{Name: "non-streaming @500 RPS: llmvoy added p99", Want: "≤ 2 ms", Got: "1.60 ms", Met: true, Measured: true}, goals[1])
	require.Equal(t, "33% (2000 vs 6000 RPS)", goals[2].Got)
	require.False(t, goals[2].Met)
	require.Equal(t, "0.70 ms", goals[3].Got)
	require.True(t, goals[3].Met)
	require.Equal(t, "110 MB (llmvoy 40 + envoy 70)", goals[4].Got)
	require.True(t, goals[4].Met)
	require.False(t, goals[5].Measured, "no LiteLLM in this run")
	require.False(t, goals[6].Measured, "no hedge scenario in this run")

	// Without the 500 RPS steps the latency goals are not measured.
	none := judgeGoals(steps[3:])
	require.False(t, none[0].Measured)
	require.False(t, none[1].Measured)
}

func TestHedgeGoal(t *testing.T) {
	step := func(target string, p99 float64) Step {
		return Step{Scenario: scenarioHedge, Target: target, Mode: "open", Rate: 50, TTFT: &Percentiles{N: 500, P50: 2, P99: p99}}
	}
	g := hedgeGoal([]Step{step(targetLLMvoy, 2003), step(targetHedged, 254)})
	require.Equal(t, Goal{Name: "hedging: p99 time to first byte, with / without", Want: "≤ 50%", Got: "13% (254 vs 2003 ms)", Met: true, Measured: true}, g)
	require.False(t, hedgeGoal([]Step{step(targetLLMvoy, 2003), step(targetHedged, 1500)}).Met)
	require.False(t, hedgeGoal([]Step{step(targetLLMvoy, 2003)}).Measured)
}

func TestLiteLLMGoal(t *testing.T) {
	lat := func(p50, p99 float64) Percentiles { return Percentiles{N: 500, P50: p50, P99: p99} }
	step := func(target string, rate, achieved float64, errors int, p50, p99 float64) Step {
		return Step{Scenario: scenarioChat, Target: target, Mode: "open", Rate: rate, AchievedRPS: achieved,
			OK: int(achieved) * 10, Errors: errors, Latency: lat(p50, p99)}
	}
	steps := []Step{
		step(targetDirect, 50, 50, 0, 0.5, 1),
		step(targetLLMvoy, 50, 50, 0, 1.5, 3),     // +1, +2
		step(targetLiteLLM, 50, 49, 0, 12.5, 301), // +12, +300: 12× and 150×
		step(targetDirect, 100, 100, 0, 0.5, 1),
		step(targetLLMvoy, 100, 100, 0, 0.5, 2),  // +0 (floored), +1
		step(targetLiteLLM, 100, 99, 0, 20.5, 9), // +20, +8: 8× at p99 is the worst
		step(targetDirect, 200, 200, 0, 0.5, 1),
		step(targetLLMvoy, 200, 200, 0, 1, 2),
		step(targetLiteLLM, 200, 100, 500, 1500, 9000), // overloaded: not judged
	}
	addOverDirect(steps)
	g := liteLLMGoal(steps)
	require.True(t, g.Measured)
	require.False(t, g.Met)
	require.Equal(t, "p50 2000× (20.0 vs 0 ms), p99 8× (8.00 vs 1.00 ms) @100 RPS", g.Got)

	// Only the rate LiteLLM kept up with well.
	g = liteLLMGoal(slices.Concat(steps[:3], steps[6:]))
	require.True(t, g.Met)
	require.Equal(t, "p50 12× (12.0 vs 1.00 ms), p99 150× (300 vs 2.00 ms) @50.0 RPS", g.Got)

	// LiteLLM overloaded at every rate: nothing to compare.
	require.False(t, liteLLMGoal(steps[6:]).Measured)
}

func TestPrintReport(t *testing.T) {
	steps := testSteps()
	addOverDirect(steps)
	r := &Results{
		Started:  time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC),
		Machine:  Machine{CPUs: 2, CPUModel: "AMD EPYC", MemTotal: "23.5 GiB", Envoy: "1.40.0", GoVersion: "go1.26", LoadAvgThen: "0.1 0.2 0.3", LoadAvgEnd: "1 1 1"},
		Settings: settings{Rates: []float64{500, 1000}, MaxWorkers: 64, StreamRate: 100, StreamChunks: 20, ChatBytes: 1024},
		Targets:  []string{targetDirect, targetEnvoy, targetLLMvoy},
		Skipped:  []string{"litellm: not installed"},
		Steps:    steps,
		Goals:    judgeGoals(steps),
	}
	var buf bytes.Buffer
	printReport(&buf, r)
	out := buf.String()
	for _, want := range []string{
		"2 CPUs (AMD EPYC)",
		"share these 2 CPUs",
		"skipped: litellm: not installed",
		"Non-streaming chat completion (1024 B request)",
		"Maximum throughput: closed loop, 64 concurrent workers",
		"Streaming chat completion at 100 RPS: 20 content chunks",
		"Targets (reported, not enforced)",
	} {
		require.Contains(t, out, want)
	}
	// One aligned row per step, added latency signed.
	require.Regexp(t, `(?m)^\s+500\s+llmvoy\s+500\s+0\.70\s+1\.05\s+2\.40\s+4\.80\s+\+0\.40\s+\+1\.60\s+0\s+0\s+0%\s*$`, out)
	require.Regexp(t, `(?m)^\s+llmvoy\s+2000\s+33%`, out)
	// The cost table shows the gateway's processes, not the mock behind it
	// or the generator.
	require.Regexp(t, `(?m)^\s+chat\s+1000 rps\s+llmvoy\s+llmvoy's envoy\s+4\.00\s+400\s+70\.0\s*$`, out)
	require.NotContains(t, out, "loadgen")
	require.Regexp(t, `(?m)^llmvoy peak RSS @1000 RPS \(llmvoy \+ its Envoy\)\s+≤ 150 MB\s+110 MB \(llmvoy 40 \+ envoy 70\)\s+met\s*$`, out)
	require.Equal(t, 1, strings.Count(out, "NOT MET"))
}

func TestFmtOthers(t *testing.T) {
	require.Equal(t, "3%", fmtOthers(Step{OtherCPU: 0.031}))
	require.Equal(t, "40%!", fmtOthers(Step{OtherCPU: 0.4, Noisy: true}))
}
