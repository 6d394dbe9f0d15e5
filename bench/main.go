// Command bench is llmvoy's benchmark harness (`make bench`, or `go run
// ./bench` from the repository root). On loopback it starts two mock
// deployments, a plain Envoy proxying straight to one of them (no ext_proc:
// the floor), llmvoy with a two-deployment model group on the mocks, and
// LiteLLM's proxy on the same config when it is installed. It then drives
// the same requests at each target — open-loop constant rates, a closed-loop
// maximum-throughput run, a streaming run and a vision-sized request — and
// reports latency percentiles, added latency over direct, achieved RPS,
// errors, and the CPU time and peak RSS of every process, as a table,
// bench/out/results.json and bench/out/latency.png.
//
// See docs/performance.md for the method and the numbers.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/llmvoy/llmvoy/envoy"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.Exit(1)
	}
}

// bench is one run: its processes, targets and results so far.
type bench struct {
	s       settings
	root    string // the llmvoy checkout
	procs   *procs
	mocks   []mockDeployment
	targets []target
	clients map[string]*http.Client
	stderr  io.Writer
	steps   []Step
	soaks   []*Soak
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	s, err := parseFlags(args, root, stderr)
	if err != nil {
		return err
	}
	if _, err := os.Stat(s.llmvoyBin); err != nil {
		return fmt.Errorf("llmvoy binary: %w (run `make build` first, or pass --llmvoy)", err)
	}
	if s.envoyBin == "" {
		if s.envoyBin, err = findEnvoy(root); err != nil {
			return err
		}
	}
	logDir := filepath.Join(s.outDir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	res := &Results{Started: time.Now(), Machine: describeMachine(s.envoyBin)}
	b := &bench{s: s, root: root, procs: &procs{logDir: logDir}, clients: map[string]*http.Client{}, stderr: stderr}
	defer b.procs.stopAll(10 * time.Second)

	chat := chatBody(false)
	vision := visionBody(s.VisionSize)
	b.s.ChatBytes, b.s.VisionBytes = len(chat), len(vision)

	if err := b.startTargets(ctx, res); err != nil {
		return err
	}
	for _, t := range b.targets {
		res.Targets = append(res.Targets, t.name)
	}
	fmt.Fprintf(stderr, "bench: targets %s; logs in %s\n", strings.Join(res.Targets, ", "), logDir)

	runErr := b.runScenarios(ctx, chat, vision)

	res.Settings = b.s
	res.Steps = b.steps
	res.Duration = time.Since(res.Started).Seconds()
	res.Machine.LoadAvgEnd = loadAvg()
	addOverDirect(res.Steps)
	res.Soaks = b.soaks
	res.Goals = append(judgeGoals(res.Steps), soakGoal(b.soaks))
	printReport(stdout, res)
	jsonPath, pngPath := filepath.Join(s.outDir, "results.json"), filepath.Join(s.outDir, "latency.png")
	if err := writeJSON(jsonPath, res); err != nil {
		return errors.Join(runErr, err)
	}
	if err := writePlot(pngPath, res); err != nil {
		return errors.Join(runErr, err)
	}
	fmt.Fprintf(stdout, "\nwrote %s and %s\n", relPath(jsonPath), relPath(pngPath))
	return runErr
}

// startTargets starts the mocks and every requested target, in the order
// they are reported.
func (b *bench) startTargets(ctx context.Context, res *Results) error {
	for _, name := range []string{"mock-a", "mock-b"} {
		m, err := startMock(ctx, b.procs, b.s.llmvoyBin, name, time.Duration(b.s.MockLatency))
		if err != nil {
			return err
		}
		b.mocks = append(b.mocks, m)
	}
	configPath := filepath.Join(b.s.outDir, "config.yaml")
	if err := os.WriteFile(configPath, gatewayConfig(b.mocks, &b.s), 0o644); err != nil {
		return err
	}
	want := func(name string) bool { return slices.Contains(b.s.Targets, name) }
	if want(targetDirect) {
		b.targets = append(b.targets, target{name: targetDirect, baseURL: b.mocks[0].baseURL(),
			watch: []watched{{Name: "mock-a", PID: b.mocks[0].proc.pid()}}})
	}
	if want(targetEnvoy) {
		t, err := startPlainEnvoy(ctx, b.procs, b.s.envoyBin, b.s.outDir, b.mocks[0])
		if err != nil {
			return err
		}
		b.targets = append(b.targets, t)
	}
	if want(targetLLMvoy) {
		llmvoyConfig := configPath
		if slices.Contains(b.s.Scenarios, scenarioHedge) {
			llmvoyConfig = filepath.Join(b.s.outDir, "config-llmvoy.yaml")
			cfg := hedgeConfig(gatewayConfig(b.mocks, &b.s), b.mocks, b.s.HedgeDelay)
			if err := os.WriteFile(llmvoyConfig, cfg, 0o644); err != nil {
				return err
			}
		}
		t, err := startLLMvoy(ctx, b.procs, b.s.llmvoyBin, b.s.envoyBin, llmvoyConfig)
		if err != nil {
			return err
		}
		b.targets = append(b.targets, t)
	}
	if want(targetRelay) {
		relayConfig := filepath.Join(b.s.outDir, "config-llmvoy-relay.yaml")
		cfg := bytes.Replace(gatewayConfig(b.mocks, &b.s),
			[]byte("router_settings:\n"), []byte("router_settings:\n  enable_stream_continuation: true\n"), 1)
		if err := os.WriteFile(relayConfig, cfg, 0o644); err != nil {
			return err
		}
		t, err := startLLMvoy(ctx, b.procs, b.s.llmvoyBin, b.s.envoyBin, relayConfig)
		if err != nil {
			return err
		}
		t.name = targetRelay
		b.targets = append(b.targets, t)
	}
	if want(targetOTel) {
		t, err := b.startOTel(ctx)
		if err != nil {
			return err
		}
		b.targets = append(b.targets, t)
	}
	if want(targetLiteLLM) {
		cmd, why := liteLLMCommand(b.s.liteLLM, b.root)
		if cmd == nil {
			msg := "litellm: " + why + `; to compare, pip install 'litellm[proxy]' (into .venv or on PATH) or pass --litellm=/path/to/litellm`
			res.Skipped = append(res.Skipped, msg)
			fmt.Fprintln(b.stderr, "bench: skipped", msg)
		} else {
			res.Machine.LiteLLM = liteLLMVersion(cmd)
			fmt.Fprintf(b.stderr, "bench: starting LiteLLM (%s), this takes a while\n", strings.Join(cmd, " "))
			t, err := startLiteLLM(ctx, b.procs, cmd, configPath, b.s.LiteLLMWorkers)
			if err != nil {
				return err
			}
			b.targets = append(b.targets, t)
		}
	}
	if len(b.targets) == 0 {
		return errors.New("no targets to measure")
	}
	for i, t := range b.targets {
		b.clients[t.name] = newClient(time.Duration(b.s.Timeout))
		if b.s.VirtualKey && (t.name == targetLLMvoy || t.name == targetRelay || t.name == targetOTel) {
			key, err := generateKey(ctx, t.baseURL)
			if err != nil {
				return fmt.Errorf("%s: a virtual key: %w", t.name, err)
			}
			b.targets[i].key = key
		}
	}
	return nil
}

// generateKey makes a virtual key on llmvoy, as LiteLLM's /key/generate
// does, for --virtual-key.
func generateKey(ctx context.Context, baseURL string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", baseURL+"/key/generate", strings.NewReader(`{"key_alias":"bench"}`))
	if err != nil {
		return "", err
	}
	req.Header = requestHeader("")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Key string `json:"key"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.Key == "" {
		return "", fmt.Errorf("status %d (%v)", resp.StatusCode, err)
	}
	return out.Key, nil
}

// runScenarios runs the steps, interleaving targets at each load so that
// the numbers compared with each other were measured close in time.
func (b *bench) runScenarios(ctx context.Context, chat, vision []byte) error {
	has := func(sc string) bool { return slices.Contains(b.s.Scenarios, sc) }
	if has(scenarioChat) {
		for _, rate := range b.s.Rates {
			for _, t := range b.targets {
				if err := b.step(ctx, t, scenarioChat, openLoop{rate: rate}, chat, false); err != nil {
					return err
				}
			}
		}
	}
	if has(scenarioMax) {
		for _, t := range b.targets {
			if err := b.step(ctx, t, scenarioMax, closedLoop{workers: b.s.MaxWorkers}, chat, false); err != nil {
				return err
			}
		}
	}
	if has(scenarioStream) || has(scenarioMessages) {
		stream := map[string]any{"latency": b.s.StreamLatency.String(), "chunk_delay": b.s.StreamChunkDelay.String(), "chunks": b.s.StreamChunks}
		if err := b.configureMocks(ctx, stream); err != nil {
			return err
		}
		for _, sc := range []string{scenarioStream, scenarioMessages} {
			if !has(sc) {
				continue
			}
			for _, t := range b.targets {
				if err := b.step(ctx, t, sc, openLoop{rate: b.s.StreamRate}, chatBody(true), true); err != nil {
					return err
				}
			}
		}
		if err := b.configureMocks(ctx, map[string]any{"latency": b.s.MockLatency.String(), "chunk_delay": "0s"}); err != nil {
			return err
		}
	}
	if has(scenarioVision) {
		for _, t := range b.targets {
			if err := b.step(ctx, t, scenarioVision, openLoop{rate: b.s.VisionRate}, vision, false); err != nil {
				return err
			}
		}
	}
	if has(scenarioHedge) {
		if err := b.runHedge(ctx); err != nil {
			return err
		}
	}
	if has(scenarioSoak) {
		// llmvoy first, then plain Envoy as the control: one after the
		// other, since two soaks at once would share the CPUs.
		for _, name := range []string{targetLLMvoy, targetEnvoy} {
			i := slices.IndexFunc(b.targets, func(t target) bool { return t.name == name })
			if i < 0 {
				continue
			}
			s, err := b.runSoak(ctx, b.targets[i], chat)
			if err != nil {
				return err
			}
			b.soaks = append(b.soaks, s)
		}
		if len(b.soaks) == 0 {
			return errors.New("the soak scenario measures llmvoy (and plain Envoy as its control): add them to --targets")
		}
	}
	return nil
}

// loop is an open or closed load pattern.
type loop interface {
	run(ctx context.Context, client *http.Client, c *call, start, end time.Time) []sample
}

// step measures one load against one target and records it. On a shared
// machine another process can take the CPUs mid-step; a step during which
// others used more than --noise-threshold of the machine runs again (up to
// --noise-retries times) and the quietest attempt is kept.
func (b *bench) step(ctx context.Context, t target, scenario string, l loop, body []byte, stream bool) error {
	var best Step
	for attempt := 1; ; attempt++ {
		st, err := b.measureStep(ctx, t, scenario, l, body, stream)
		if err != nil {
			return err
		}
		b.progress(st)
		if attempt == 1 || st.OtherCPU < best.OtherCPU {
			best = st
		}
		best.Attempts = attempt
		if !st.Noisy || attempt > b.s.NoiseRetries {
			break
		}
		fmt.Fprintf(b.stderr, "bench: other processes used %.0f%% of the CPUs during that step; running it again\n", st.OtherCPU*100)
		time.Sleep(3 * time.Second)
	}
	b.steps = append(b.steps, best)
	return nil
}

// measureStep runs one load against one target.
func (b *bench) measureStep(ctx context.Context, t target, scenario string, l loop, body []byte, stream bool) (Step, error) {
	if err := ctx.Err(); err != nil {
		return Step{}, err
	}
	c := &call{url: t.baseURL + "/v1/chat/completions", header: requestHeader(t.key), body: body, stream: stream}
	if scenario == scenarioMessages && t.name != targetDirect && t.name != targetEnvoy {
		// The gateways get the Messages request; the transports have no
		// API to bridge it to and get the chat request it becomes.
		c.url, c.body, c.messages = t.baseURL+"/v1/messages", messagesBody(), true
	}
	warmup, dur := time.Duration(b.s.Warmup), time.Duration(b.s.Duration)
	start := time.Now().Add(10 * time.Millisecond)
	w := window{from: start.Add(warmup), to: start.Add(warmup + dur)}
	watch := slices.Concat(t.watch, b.mockWatch(t), []watched{{Name: "loadgen", PID: os.Getpid()}})

	// The meter covers the window exactly: requests still outstanding after
	// it (an overloaded target's stragglers, up to --timeout) are not
	// charged to it.
	type metered struct {
		usage []ProcUsage
		other time.Duration
	}
	meterc := make(chan metered, 1)
	go func() {
		time.Sleep(time.Until(w.from))
		m := startMeter(watch)
		time.Sleep(time.Until(w.to))
		usage, other := m.stop()
		meterc <- metered{usage, other}
	}()
	var samples []sample
	switch l := l.(type) {
	case openLoop:
		l.maxInflight = b.s.MaxInflight
		samples = l.run(ctx, b.clients[t.name], c, start, w.to)
	case closedLoop:
		samples = l.run(ctx, b.clients[t.name], c, start, w.to)
	}
	if err := ctx.Err(); err != nil {
		return Step{}, err
	}
	m := measure(samples, w)
	st := Step{Scenario: scenario, Target: t.name, WindowS: dur.Seconds(),
		Sent: m.sent, OK: m.ok, Errors: m.errors, Latency: summarize(m.latencies), SendLag: summarize(m.lags)}
	switch l := l.(type) {
	case openLoop:
		st.Mode, st.Rate = "open", l.rate
	case closedLoop:
		st.Mode, st.Workers = "closed", l.workers
	}
	st.AchievedRPS = float64(m.completed) / dur.Seconds()
	if m.errors > 0 {
		st.ErrorKinds = m.errorKinds
	}
	if stream {
		ttft, gaps := summarize(m.ttfts), summarize(m.gaps)
		st.TTFT, st.ChunkGap = &ttft, &gaps
	}
	mt := <-meterc
	st.Processes = mt.usage
	perRequest(st.Processes, m.completed)
	st.OtherCPU = mt.other.Seconds() / (dur.Seconds() * float64(runtime.NumCPU()))
	st.Noisy = st.OtherCPU > b.s.NoiseThreshold

	// The mocks remember recent requests; a thousand 1 MB bodies would
	// distort the next step's memory numbers.
	b.resetMocks(ctx)
	quiesce(ctx, t.watch, 30*time.Second)
	time.Sleep(time.Duration(b.s.Settle))
	return st, nil
}

// quiesce waits, at most limit, until procs use less than 5% of a CPU: an
// overloaded target (LiteLLM at 2,000 RPS) works through its backlog after
// the clients gave up, and that work must not land in the next step.
func quiesce(ctx context.Context, procs []watched, limit time.Duration) {
	const every = 250 * time.Millisecond
	deadline := time.Now().Add(limit)
	last := cpuTime(procs)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(every)
		now := cpuTime(procs)
		if now-last < every/20 {
			return
		}
		last = now
	}
}

// mockWatch lists the mocks in a step's process report.
func (b *bench) mockWatch(t target) []watched {
	var out []watched
	for _, m := range b.mocks {
		if t.name == targetDirect && m.name == "mock-a" {
			continue // already the target's own process
		}
		out = append(out, watched{Name: m.name, PID: m.proc.pid()})
	}
	return out
}

func (b *bench) progress(s Step) {
	load := fmtLoad(s)
	fmt.Fprintf(b.stderr, "bench: %-6s %-11s %-8s %7s rps  p50 %6s  p99 %7s ms  ok %d  errors %s  others %.0f%% CPU\n",
		s.Scenario, load, s.Target, fmtRate(s.AchievedRPS), fmtMS(s.Latency.P50), fmtMS(s.Latency.P99), s.OK, fmtErrors(s), s.OtherCPU*100)
}

// configureMocks applies options to every mock (PUT /mock/config).
func (b *bench) configureMocks(ctx context.Context, opts map[string]any) error {
	body, err := json.Marshal(opts)
	if err != nil {
		return err
	}
	for _, m := range b.mocks {
		if err := mockRequest(ctx, http.MethodPut, m.baseURL()+"/mock/config", body); err != nil {
			return fmt.Errorf("configure %s: %w", m.name, err)
		}
	}
	return nil
}

func (b *bench) resetMocks(ctx context.Context) {
	for _, m := range b.mocks {
		_ = mockRequest(ctx, http.MethodDelete, m.baseURL()+"/mock/requests", nil)
	}
}

// controlClient is for the harness's own calls (mock settings, Envoy's
// admin stats): one client, so its connections are reused rather than left
// open one per call in the processes measured.
var controlClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}

func mockRequest(ctx context.Context, method, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := controlClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, url, resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}

// moduleRoot finds the llmvoy checkout from the working directory up, so
// `go run ./bench` works from the root and from bench/.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/llmvoy/llmvoy\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from the llmvoy repository (no go.mod of github.com/llmvoy/llmvoy above the working directory)")
		}
		dir = parent
	}
}

// findEnvoy finds Envoy as llmvoy does, then in the checkout's .venv.
func findEnvoy(root string) (string, error) {
	bin, err := envoy.Find()
	if err == nil {
		return bin, nil
	}
	if p := filepath.Join(root, ".venv", "bin", "envoy"); isExecutable(p) {
		return p, nil
	}
	return "", err
}

func relPath(p string) string {
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
	}
	return p
}
