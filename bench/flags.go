package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// settings are the run's knobs, from flags.
type settings struct {
	Rates            []float64    `json:"rates_rps"`
	Duration         jsonDuration `json:"step_duration"`
	Warmup           jsonDuration `json:"warmup"`
	Settle           jsonDuration `json:"settle"`
	MaxWorkers       int          `json:"max_workers"`
	StreamRate       float64      `json:"stream_rps"`
	StreamChunks     int          `json:"stream_chunks"`
	StreamChunkDelay jsonDuration `json:"stream_chunk_delay"`
	StreamLatency    jsonDuration `json:"stream_latency"`
	VisionRate       float64      `json:"vision_rps"`
	VisionSize       int          `json:"-"`
	VisionBytes      int          `json:"vision_request_bytes"`
	ChatBytes        int          `json:"chat_request_bytes"`
	MockLatency      jsonDuration `json:"mock_latency"`
	Timeout          jsonDuration `json:"timeout"`
	MaxInflight      int          `json:"max_inflight"`
	NoiseThreshold   float64      `json:"noise_threshold"`
	NoiseRetries     int          `json:"noise_retries"`
	Scenarios        []string     `json:"scenarios"`
	Targets          []string     `json:"targets"`
	KeyPerDeployment bool         `json:"key_per_deployment"`
	VirtualKey       bool         `json:"virtual_key"`
	Anthropic        bool         `json:"anthropic"`
	Fallbacks        bool         `json:"fallbacks,omitempty"`
	Cache            bool         `json:"cache,omitempty"`
	SoakRate         float64      `json:"soak_rps"`
	SoakDuration     jsonDuration `json:"soak_duration"`
	SoakEvery        jsonDuration `json:"soak_sample_every"`
	SoakConns        int          `json:"soak_max_connections,omitempty"`
	LiteLLMWorkers   int          `json:"litellm_workers,omitempty"`
	HedgeRate        float64      `json:"hedge_rps"`
	HedgeDelay       string       `json:"hedge_delay"`

	llmvoyBin, envoyBin, liteLLM, outDir string
}

// jsonDuration is a time.Duration written as "10s" in JSON.
type jsonDuration time.Duration

func (d jsonDuration) String() string               { return time.Duration(d).String() }
func (d jsonDuration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func parseFlags(args []string, root string, stderr io.Writer) (settings, error) {
	s := settings{
		Rates:     []float64{200, 500, 1000, 2000},
		Scenarios: []string{scenarioChat, scenarioMax, scenarioStream, scenarioMessages, scenarioVision, scenarioHedge},
		Targets:   []string{targetDirect, targetEnvoy, targetLLMvoy, targetLiteLLM},
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./bench [flags]   (from the repository root, after `make build envoy`)")
		fs.PrintDefaults()
	}
	fs.Func("rates", "open-loop rates of the non-streaming steps, requests/s (default 200,500,1000,2000)", func(v string) (err error) {
		s.Rates, err = parseRates(v)
		return err
	})
	durationVar(fs, &s.Duration, "duration", 10*time.Second, "measured length of every step")
	durationVar(fs, &s.Warmup, "warmup", 2*time.Second, "load before each step's measurement starts (not counted)")
	durationVar(fs, &s.Settle, "settle", 500*time.Millisecond, "pause between steps")
	fs.IntVar(&s.MaxWorkers, "max-workers", 64, "concurrent workers of the closed-loop maximum-throughput run")
	fs.Float64Var(&s.StreamRate, "stream-rate", 100, "rate of the streaming run, requests/s")
	fs.IntVar(&s.StreamChunks, "stream-chunks", 20, "content chunks per streamed reply")
	durationVar(fs, &s.StreamChunkDelay, "stream-chunk-delay", 10*time.Millisecond, "delay between streamed chunks")
	durationVar(fs, &s.StreamLatency, "stream-latency", 0, "mock delay before the first streamed chunk")
	fs.Float64Var(&s.VisionRate, "vision-rate", 20, "rate of the vision-sized run, requests/s")
	fs.IntVar(&s.VisionSize, "vision-size", 1<<20, "size of the vision-sized request, bytes")
	durationVar(fs, &s.MockLatency, "mock-latency", 0, "mock response latency of the non-streaming runs (0: measure the proxies' own cost)")
	durationVar(fs, &s.Timeout, "timeout", 10*time.Second, "per-request timeout (counted as an error)")
	fs.IntVar(&s.MaxInflight, "max-inflight", 5000, "open loop: requests outstanding before further ones are counted as errors unsent")
	fs.Float64Var(&s.NoiseThreshold, "noise-threshold", 0.15, "share of the machine's CPU that other processes may use during a step before it counts as noisy")
	fs.IntVar(&s.NoiseRetries, "noise-retries", 1, "times a noisy step is run again (the quietest attempt is kept)")
	fs.Func("scenarios", "comma-separated: chat,max,stream,messages,vision,hedge,soak (default all but soak)", func(v string) error {
		s.Scenarios = splitList(v)
		return checkNames(s.Scenarios, scenarioChat, scenarioMax, scenarioStream, scenarioMessages, scenarioVision, scenarioHedge, scenarioSoak)
	})
	fs.Float64Var(&s.HedgeRate, "hedge-rate", 50, "rate of the hedge scenario, requests/s (llmvoy without, then with hedging)")
	s.HedgeDelay = "250ms"
	fs.Func("hedge-delay", `the hedging group's model_group_hedging delay: a duration, or "p95" (default 250ms)`, func(v string) error {
		if d, err := time.ParseDuration(v); (err != nil || d <= 0) && v != "p95" {
			return errors.New(`want a positive duration or "p95"`)
		}
		s.HedgeDelay = v
		return nil
	})
	fs.Float64Var(&s.SoakRate, "soak-rate", 1000, "rate of the soak, requests/s (scenario soak: llmvoy, then plain Envoy as the control)")
	durationVar(fs, &s.SoakDuration, "soak-duration", 10*time.Minute, "length of the soak")
	durationVar(fs, &s.SoakEvery, "soak-every", 10*time.Second, "how often the soak samples RSS")
	fs.IntVar(&s.SoakConns, "soak-conns", 0, "most connections the soak's client opens to a target (0: as many as the load needs)")
	fs.Func("targets", "comma-separated: direct,envoy,llmvoy,llmvoy-relay,llmvoy-otel,litellm (default all but llmvoy-relay, llmvoy with enable_stream_continuation, and llmvoy-otel, llmvoy with the otel callback; litellm only when installed)", func(v string) error {
		s.Targets = splitList(v)
		return checkNames(s.Targets, targetDirect, targetEnvoy, targetLLMvoy, targetRelay, targetOTel, targetLiteLLM)
	})
	fs.BoolVar(&s.VirtualKey, "virtual-key", false, "send llmvoy's requests with a virtual key (generated at start; its spend recorded per request) instead of the master key")
	fs.BoolVar(&s.Anthropic, "anthropic", false, "make the deployments Anthropic ones (anthropic/, on the mocks' Messages API): llmvoy translates every request and answer; the direct and Envoy targets still call the mocks' chat API")
	fs.BoolVar(&s.KeyPerDeployment, "key-per-deployment", false, "give each deployment its own API key (llmvoy then rewrites every attempt in its upstream processor) instead of one key for both")
	fs.BoolVar(&s.Fallbacks, "fallbacks", false, "give the model group a fallback group (the same deployments under another name): llmvoy then sends its requests through the fallback hop, with the upstream processor on every attempt")
	fs.BoolVar(&s.Cache, "cache", false, "turn the response cache on for llmvoy and LiteLLM (litellm_settings.cache, in process): every request of a step after its first is answered from the cache, the hit path")
	fs.StringVar(&s.llmvoyBin, "llmvoy", filepath.Join(root, "bin", "llmvoy"), "llmvoy binary (`make build`)")
	fs.StringVar(&s.envoyBin, "envoy", "", "Envoy binary (default: $ENVOY_BIN, envoy on PATH, .venv/bin/envoy)")
	fs.StringVar(&s.liteLLM, "litellm", "", "LiteLLM proxy command (default: litellm on PATH or in .venv; \"off\" skips it)")
	fs.IntVar(&s.LiteLLMWorkers, "litellm-workers", runtime.NumCPU(), "LiteLLM proxy worker processes (LiteLLM's production advice: one per CPU)")
	fs.StringVar(&s.outDir, "out", filepath.Join(root, "bench", "out"), "where results.json, latency.png and the process logs go")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return s, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if s.Duration <= 0 || s.MaxWorkers <= 0 || s.StreamRate <= 0 || s.VisionRate <= 0 || s.MaxInflight <= 0 || s.HedgeRate <= 0 {
		return s, errors.New("--duration, --max-workers, --stream-rate, --vision-rate, --max-inflight and --hedge-rate must be positive")
	}
	if s.SoakConns < 0 || s.LiteLLMWorkers <= 0 {
		return s, errors.New("--soak-conns must not be negative and --litellm-workers must be positive")
	}
	if s.SoakRate <= 0 || s.SoakEvery <= 0 || s.SoakDuration < jsonDuration(soakSettle)+2*s.SoakEvery {
		return s, fmt.Errorf("--soak-rate and --soak-every must be positive, and --soak-duration at least %s plus two samples", soakSettle)
	}
	return s, nil
}

func durationVar(fs *flag.FlagSet, p *jsonDuration, name string, def time.Duration, usage string) {
	fs.DurationVar((*time.Duration)(p), name, def, usage)
}

func parseRates(v string) ([]float64, error) {
	var rates []float64
	for _, f := range splitList(v) {
		r, err := strconv.ParseFloat(f, 64)
		if err != nil || r <= 0 {
			return nil, fmt.Errorf("rate %q: want a positive number", f)
		}
		rates = append(rates, r)
	}
	if len(rates) == 0 {
		return nil, errors.New("no rates")
	}
	return rates, nil
}

func splitList(v string) []string {
	var out []string
	for f := range strings.SplitSeq(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func checkNames(got []string, known ...string) error {
	for _, g := range got {
		if !slices.Contains(known, g) {
			return fmt.Errorf("unknown %q (want one of %s)", g, strings.Join(known, ", "))
		}
	}
	return nil
}
