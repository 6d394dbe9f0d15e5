package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Scenario names.
const (
	scenarioChat   = "chat"   // ~1 KB non-streaming chat completion, open loop at each rate
	scenarioMax    = "max"    // the same request, closed loop: maximum throughput
	scenarioStream = "stream" // streaming chat completion, open loop
	// scenarioMessages is the streaming request of scenarioStream as
	// Anthropic's Messages API (Claude Code's), which llmvoy bridges to the
	// chat-completions mock; direct and plain Envoy get the chat request,
	// so the added time to first token is the bridge's cost.
	scenarioMessages = "messages"
	scenarioVision   = "vision" // ~1 MB request (a base64 image), open loop
	scenarioSoak     = "soak"   // the chat request at one rate for minutes: does memory grow? (not run by default)
	scenarioHedge    = "hedge"  // streaming, llmvoy only: a group with and one without hedging, on mocks with a slow tail (hedge.go)
)

// Step is one (scenario, target, load) measurement.
type Step struct {
	Scenario string `json:"scenario"`
	Target   string `json:"target"`
	// Mode is "open" (constant offered rate) or "closed" (Workers loops).
	Mode    string  `json:"mode"`
	Rate    float64 `json:"offered_rps,omitempty"`
	Workers int     `json:"workers,omitempty"`
	// WindowS is the measured duration; the warm-up before it is not counted.
	WindowS     float64        `json:"window_s"`
	Sent        int            `json:"sent"`
	OK          int            `json:"ok"`
	Errors      int            `json:"errors"`
	ErrorKinds  map[string]int `json:"error_kinds,omitempty"`
	AchievedRPS float64        `json:"achieved_rps"`
	// Latency is from the scheduled send to the last byte (open loop), or
	// from the send (closed loop), of successful requests.
	Latency Percentiles `json:"latency_ms"`
	// Added is Latency minus the direct target's at the same scenario and
	// rate: what the proxy costs.
	Added *Percentiles `json:"added_over_direct_ms,omitempty"`
	// Streaming only: time to first content chunk, its excess over direct,
	// and the gaps between content chunks.
	TTFT      *Percentiles `json:"ttft_ms,omitempty"`
	AddedTTFT *Percentiles `json:"added_ttft_over_direct_ms,omitempty"`
	ChunkGap  *Percentiles `json:"chunk_gap_ms,omitempty"`
	// SendLag is how late the generator sent requests; large values mean
	// the generator, not the target, was short of CPU.
	SendLag   Percentiles `json:"send_lag_ms"`
	Processes []ProcUsage `json:"processes"`
	// OtherCPU is the share of the machine's CPU capacity (nproc × window)
	// that processes outside the benchmark used during the window; Noisy
	// marks a step where it exceeded --noise-threshold even after retries.
	OtherCPU float64 `json:"other_cpu_share"`
	Noisy    bool    `json:"noisy,omitempty"`
	Attempts int     `json:"attempts"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs        int    `json:"nproc"`
	CPUModel    string `json:"cpu_model"`
	MemTotal    string `json:"mem_total"`
	Kernel      string `json:"kernel"`
	GoVersion   string `json:"go_version"`
	Envoy       string `json:"envoy_version"`
	LiteLLM     string `json:"litellm_version,omitempty"`
	LoadAvgThen string `json:"loadavg_at_start"`
	LoadAvgEnd  string `json:"loadavg_at_end"`
}

// Goal is one of the targets, judged on this run's numbers.
type Goal struct {
	Name string `json:"name"`
	Want string `json:"want"`
	Got  string `json:"got"`
	Met  bool   `json:"met"`
	// Measured is false when the steps the goal needs were not run.
	Measured bool `json:"measured"`
}

// Results is everything a run produced; results.json holds it.
type Results struct {
	Started  time.Time `json:"started"`
	Duration float64   `json:"duration_s"`
	Machine  Machine   `json:"machine"`
	Settings settings  `json:"settings"`
	Targets  []string  `json:"targets"`
	Skipped  []string  `json:"skipped,omitempty"`
	Steps    []Step    `json:"steps"`
	Goals    []Goal    `json:"goals"`
	Soaks    []*Soak   `json:"soaks,omitempty"`
}

// addOverDirect fills Added and AddedTTFT of every open-loop step from the
// direct step of the same scenario and rate.
func addOverDirect(steps []Step) {
	for i := range steps {
		s := &steps[i]
		if s.Target == targetDirect || s.Mode != "open" {
			continue
		}
		base := findStep(steps, s.Scenario, targetDirect, s.Rate)
		if base == nil || base.OK == 0 || s.OK == 0 {
			continue
		}
		added := s.Latency.minus(base.Latency)
		s.Added = &added
		if s.TTFT != nil && base.TTFT != nil {
			t := s.TTFT.minus(*base.TTFT)
			s.AddedTTFT = &t
		}
	}
}

func findStep(steps []Step, scenario, target string, rate float64) *Step {
	for i := range steps {
		s := &steps[i]
		if s.Scenario == scenario && s.Target == target && (s.Mode == "closed" || s.Rate == rate) {
			return s
		}
	}
	return nil
}

func (s *Step) proc(name string) *ProcUsage {
	for i := range s.Processes {
		if s.Processes[i].Name == name {
			return &s.Processes[i]
		}
	}
	return nil
}

// judgeGoals checks the targets against the run.
func judgeGoals(steps []Step) []Goal {
	var goals []Goal
	chat500 := findStep(steps, scenarioChat, targetLLMvoy, 500)
	p50 := Goal{Name: "non-streaming @500 RPS: llmvoy added p50", Want: "≤ 0.5 ms"}
	p99 := Goal{Name: "non-streaming @500 RPS: llmvoy added p99", Want: "≤ 2 ms"}
	if chat500 != nil && chat500.Added != nil {
		p50.Measured, p50.Got, p50.Met = true, fmtMS(chat500.Added.P50)+" ms", chat500.Added.P50 <= 0.5
		p99.Measured, p99.Got, p99.Met = true, fmtMS(chat500.Added.P99)+" ms", chat500.Added.P99 <= 2
	}
	goals = append(goals, p50, p99)

	tput := Goal{Name: "max throughput: llmvoy vs plain Envoy", Want: "≥ 40%"}
	if l, e := findStep(steps, scenarioMax, targetLLMvoy, 0), findStep(steps, scenarioMax, targetEnvoy, 0); l != nil && e != nil && e.AchievedRPS > 0 {
		r := l.AchievedRPS / e.AchievedRPS
		tput.Measured, tput.Met = true, r >= 0.4
		tput.Got = fmt.Sprintf("%.0f%% (%.0f vs %.0f RPS)", r*100, l.AchievedRPS, e.AchievedRPS)
	}
	goals = append(goals, tput)

	ttft := Goal{Name: "streaming: llmvoy added TTFT p50", Want: "≤ 1 ms"}
	if s := findStepScenario(steps, scenarioStream, targetLLMvoy); s != nil && s.AddedTTFT != nil {
		ttft.Measured, ttft.Got, ttft.Met = true, fmtMS(s.AddedTTFT.P50)+" ms", s.AddedTTFT.P50 <= 1
	}
	goals = append(goals, ttft)

	rss := Goal{Name: "llmvoy peak RSS @1000 RPS (llmvoy + its Envoy)", Want: "≤ 150 MB"}
	if s := findStep(steps, scenarioChat, targetLLMvoy, 1000); s != nil {
		if g, e := s.proc("llmvoy"), s.proc("llmvoy's envoy"); g != nil && e != nil {
			sum := g.PeakRSSMB + e.PeakRSSMB
			rss.Measured, rss.Met = true, sum <= 150
			rss.Got = fmt.Sprintf("%.0f MB (llmvoy %.0f + envoy %.0f)", sum, g.PeakRSSMB, e.PeakRSSMB)
		}
	}
	goals = append(goals, rss)
	return append(goals, liteLLMGoal(steps), hedgeGoal(steps))
}

// liteLLMGoal compares added latency with LiteLLM's at every chat rate both
// ran and LiteLLM kept up with (no errors, nearly the offered rate): past
// that, LiteLLM's latency is its queue and any ratio is as large as the run
// is long. The worst ratio of those rates is the result.
func liteLLMGoal(steps []Step) Goal {
	g := Goal{Name: "LiteLLM side by side: its added p50 and p99 / llmvoy's", Want: "≥ 10×"}
	worst := math.Inf(1)
	for _, lite := range steps {
		if lite.Scenario != scenarioChat || lite.Target != targetLiteLLM || lite.Added == nil ||
			lite.Errors > 0 || lite.AchievedRPS < 0.95*lite.Rate {
			continue
		}
		ours := findStep(steps, scenarioChat, targetLLMvoy, lite.Rate)
		if ours == nil || ours.Added == nil {
			continue
		}
		p50 := addedRatio(lite.Added.P50, ours.Added.P50)
		p99 := addedRatio(lite.Added.P99, ours.Added.P99)
		if r := min(p50, p99); r < worst {
			worst = r
			g.Got = fmt.Sprintf("p50 %.0f× (%s vs %s ms), p99 %.0f× (%s vs %s ms) @%s RPS", p50,
				fmtMS(lite.Added.P50), fmtMS(ours.Added.P50), p99, fmtMS(lite.Added.P99), fmtMS(ours.Added.P99), fmtRate(lite.Rate))
		}
	}
	if !math.IsInf(worst, 1) {
		g.Measured, g.Met = true, worst >= 10
	}
	return g
}

// addedRatio is theirs / ours, with ours floored at 10 µs: an added latency
// at or below zero is noise, not an infinitely better proxy.
func addedRatio(theirs, ours float64) float64 {
	return theirs / max(ours, 0.01)
}

func findStepScenario(steps []Step, scenario, target string) *Step {
	for i := range steps {
		if steps[i].Scenario == scenario && steps[i].Target == target {
			return &steps[i]
		}
	}
	return nil
}

// writeJSON writes r to path, indented.
func writeJSON(path string, r *Results) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// configPath says which path of the gateways the run took, when it is not
// the best one (a key for every deployment, a virtual key, translation).
func configPath(s settings) string {
	var parts []string
	if s.KeyPerDeployment {
		parts = append(parts, "a key per deployment")
	}
	if s.Fallbacks {
		parts = append(parts, "a fallback group")
	}
	if s.Cache {
		parts = append(parts, "the response cache on (answers from the cache)")
	}
	if s.VirtualKey {
		parts = append(parts, "llmvoy's requests with a virtual key")
	}
	if s.Anthropic {
		parts = append(parts, "Anthropic deployments (llmvoy translates)")
	}
	return strings.Join(parts, ", ")
}

// printReport writes the tables a run prints.
func printReport(w io.Writer, r *Results) {
	m := r.Machine
	fmt.Fprintf(w, "\nllmvoy benchmark — %s, %d CPUs (%s), %s RAM, Envoy %s, %s\n",
		r.Started.Format("2006-01-02 15:04"), m.CPUs, m.CPUModel, m.MemTotal, m.Envoy, m.GoVersion)
	fmt.Fprintf(w, "Load generator, mocks and proxies share these %d CPUs; load average %s at start, %s at end.\n",
		m.CPUs, m.LoadAvgThen, m.LoadAvgEnd)
	fmt.Fprintln(w, "Latency in ms from the scheduled send time (open loop, coordinated omission corrected); +p50/+p99: added over direct at the same rate.")
	fmt.Fprintln(w, "others: share of the machine's CPU used by processes outside the benchmark during the step (! = above --noise-threshold after retries).")
	for _, s := range r.Skipped {
		fmt.Fprintln(w, "skipped:", s)
	}
	if path := configPath(r.Settings); path != "" {
		fmt.Fprintln(w, "The gateways' path:", path)
	}

	if steps := stepsOf(r.Steps, scenarioChat); len(steps) > 0 {
		fmt.Fprintf(w, "\nNon-streaming chat completion (%d B request), mock latency %s\n", r.Settings.ChatBytes, r.Settings.MockLatency)
		latencyTable(w, steps)
	}
	if steps := stepsOf(r.Steps, scenarioMax); len(steps) > 0 {
		fmt.Fprintf(w, "\nMaximum throughput: closed loop, %d concurrent workers, same request\n", r.Settings.MaxWorkers)
		maxTable(w, steps)
	}
	if steps := stepsOf(r.Steps, scenarioStream); len(steps) > 0 {
		fmt.Fprintf(w, "\nStreaming chat completion at %g RPS: %d content chunks, %s apart, first after %s\n",
			r.Settings.StreamRate, r.Settings.StreamChunks, r.Settings.StreamChunkDelay, r.Settings.StreamLatency)
		streamTable(w, steps)
	}
	if steps := stepsOf(r.Steps, scenarioMessages); len(steps) > 0 {
		fmt.Fprintf(w, "\nThe same stream as Anthropic's Messages API (Claude Code's), which llmvoy bridges to the chat mock; direct and plain Envoy get the chat stream\n")
		streamTable(w, steps)
	}
	if steps := stepsOf(r.Steps, scenarioHedge); len(steps) > 0 {
		fmt.Fprintf(w, "\nHedging: streaming chat completion at %g RPS; each mock begins %.0f%% of its answers after %s; hedge delay %s\n",
			r.Settings.HedgeRate, hedgeSlowRate*100, hedgeSlowLatency, r.Settings.HedgeDelay)
		streamTable(w, steps)
	}
	if steps := stepsOf(r.Steps, scenarioVision); len(steps) > 0 {
		fmt.Fprintf(w, "\nVision-sized request (%d B, one base64 image) at %g RPS\n", r.Settings.VisionBytes, r.Settings.VisionRate)
		latencyTable(w, steps)
	}
	if len(r.Steps) > 0 {
		fmt.Fprintln(w, "\nProcess cost during each measured window (CPU time, CPU per successful request, peak RSS)")
		costTable(w, r.Steps)
	}
	for _, s := range r.Soaks {
		printSoak(w, s)
	}
	if len(r.Goals) > 0 {
		fmt.Fprintln(w, "\nTargets (reported, not enforced)")
		goalTable(w, r.Goals)
	}
}

func stepsOf(steps []Step, scenario string) []Step {
	var out []Step
	for _, s := range steps {
		if s.Scenario == scenario {
			out = append(out, s)
		}
	}
	return out
}

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
}

func row(tw io.Writer, cells ...string) { fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t") }

func latencyTable(w io.Writer, steps []Step) {
	tw := newTable(w)
	row(tw, "rate", "target", "achieved", "p50", "p90", "p99", "p99.9", "+p50", "+p99", "errors", "gen lag p99", "others")
	for _, s := range steps {
		row(tw, fmtRate(s.Rate), s.Target, fmtRate(s.AchievedRPS),
			fmtMS(s.Latency.P50), fmtMS(s.Latency.P90), fmtMS(s.Latency.P99), fmtMS(s.Latency.P999),
			fmtAdded(s.Added, func(p Percentiles) float64 { return p.P50 }),
			fmtAdded(s.Added, func(p Percentiles) float64 { return p.P99 }),
			fmtErrors(s), fmtMS(s.SendLag.P99), fmtOthers(s))
	}
	tw.Flush()
}

func maxTable(w io.Writer, steps []Step) {
	var envoyRPS float64
	if e := findStep(steps, scenarioMax, targetEnvoy, 0); e != nil {
		envoyRPS = e.AchievedRPS
	}
	tw := newTable(w)
	row(tw, "target", "achieved", "vs envoy", "p50", "p90", "p99", "p99.9", "errors", "others")
	for _, s := range steps {
		vs := "-"
		if envoyRPS > 0 {
			vs = fmt.Sprintf("%.0f%%", s.AchievedRPS/envoyRPS*100)
		}
		row(tw, s.Target, fmtRate(s.AchievedRPS), vs,
			fmtMS(s.Latency.P50), fmtMS(s.Latency.P90), fmtMS(s.Latency.P99), fmtMS(s.Latency.P999), fmtErrors(s), fmtOthers(s))
	}
	tw.Flush()
}

func streamTable(w io.Writer, steps []Step) {
	tw := newTable(w)
	row(tw, "target", "achieved", "TTFT p50", "p90", "p99", "p99.9", "+TTFT p50", "+TTFT p99", "gap p50", "gap p99", "total p50", "errors", "others")
	for _, s := range steps {
		ttft, gap := Percentiles{}, Percentiles{}
		if s.TTFT != nil {
			ttft = *s.TTFT
		}
		if s.ChunkGap != nil {
			gap = *s.ChunkGap
		}
		row(tw, s.Target, fmtRate(s.AchievedRPS),
			fmtMS(ttft.P50), fmtMS(ttft.P90), fmtMS(ttft.P99), fmtMS(ttft.P999),
			fmtAdded(s.AddedTTFT, func(p Percentiles) float64 { return p.P50 }),
			fmtAdded(s.AddedTTFT, func(p Percentiles) float64 { return p.P99 }),
			fmtMS(gap.P50), fmtMS(gap.P99), fmtMS(s.Latency.P50), fmtErrors(s), fmtOthers(s))
	}
	tw.Flush()
}

// costTable lists the processes that make up each target (the mock for
// direct) and the generator itself.
func costTable(w io.Writer, steps []Step) {
	tw := newTable(w)
	row(tw, "scenario", "load", "target", "process", "CPU s", "CPU µs/req", "peak RSS MB")
	for _, s := range steps {
		for _, p := range s.Processes {
			if !costShown(s.Target, p.Name) {
				continue
			}
			peak := fmt.Sprintf("%.1f", p.PeakRSSMB)
			if !p.PeakIsWindow {
				peak += "*"
			}
			row(tw, s.Scenario, fmtLoad(s), s.Target, p.Name,
				fmt.Sprintf("%.2f", p.CPUSeconds), fmt.Sprintf("%.0f", p.CPUPerRequestUS), peak)
		}
	}
	tw.Flush()
}

// costShown says whether the cost table lists process name for a target:
// the target's own processes, and the mock behind direct (the baseline).
func costShown(target, name string) bool {
	switch name {
	case "loadgen", "mock-b":
		return false
	case "mock-a":
		return target == targetDirect
	}
	return true
}

func goalTable(w io.Writer, goals []Goal) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "goal\twant\tgot\tresult\t")
	for _, g := range goals {
		result := "NOT MET"
		switch {
		case !g.Measured:
			result, g.Got = "not measured", "-"
		case g.Met:
			result = "met"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", g.Name, g.Want, g.Got, result)
	}
	tw.Flush()
}

// fmtMS formats milliseconds with about three significant digits.
func fmtMS(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0"
	case a < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case a < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// fmtAdded formats one percentile of an added-latency summary with its sign.
func fmtAdded(p *Percentiles, pick func(Percentiles) float64) string {
	if p == nil {
		return "-"
	}
	v := pick(*p)
	if v >= 0 {
		return "+" + fmtMS(v)
	}
	return fmtMS(v)
}

func fmtRate(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func fmtLoad(s Step) string {
	if s.Mode == "closed" {
		return strconv.Itoa(s.Workers) + " workers"
	}
	return fmtRate(s.Rate) + " rps"
}

// fmtOthers is the CPU share other processes took during the step, marked
// with "!" when the step was noisy.
func fmtOthers(s Step) string {
	v := fmt.Sprintf("%.0f%%", s.OtherCPU*100)
	if s.Noisy {
		v += "!"
	}
	return v
}

// fmtErrors is the error count, with the commonest kind when there are any.
func fmtErrors(s Step) string {
	if s.Errors == 0 {
		return "0"
	}
	kinds := make([]string, 0, len(s.ErrorKinds))
	for k := range s.ErrorKinds {
		kinds = append(kinds, k)
	}
	slices.SortFunc(kinds, func(a, b string) int { return s.ErrorKinds[b] - s.ErrorKinds[a] })
	return fmt.Sprintf("%d (%s)", s.Errors, kinds[0])
}
