package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/llmvoy/llmvoy/envoy"
)

// Soak is the long run at one rate that shows whether a target's memory
// grows: its processes' RSS sampled at a fixed interval, and the slope of a
// least-squares line through the samples after the first minute (start-up
// caches, connection pools and the Go heap settle in it). llmvoy is the one
// judged; plain Envoy, soaked the same way, is the control that tells what
// of its Envoy's growth any Envoy shows under this load.
type Soak struct {
	Target    string        `json:"target"`
	Rate      float64       `json:"offered_rps"`
	DurationS float64       `json:"duration_s"`
	EveryS    float64       `json:"sample_every_s"`
	Sent      int           `json:"sent"`
	OK        int           `json:"ok"`
	Errors    int           `json:"errors"`
	Latency   Percentiles   `json:"latency_ms"`
	Processes []SoakProcess `json:"processes"`
	// EnvoyAllocated is what the target's Envoy says its allocator has
	// handed out (server.memory_allocated), sampled with the RSS: RSS that
	// grows while this stays flat is the allocator keeping freed pages, not
	// a leak.
	EnvoyAllocated *SoakProcess `json:"envoy_allocated,omitempty"`
	// ClientConns and UpstreamConns are the Envoy's open connections from
	// clients and to clusters (the mocks; for llmvoy also its ext_proc and
	// xDS connections) at each sample: per-connection buffers are memory
	// that stays as long as the connections do.
	ClientConns   []int `json:"envoy_client_connections,omitempty"`
	UpstreamConns []int `json:"envoy_upstream_connections,omitempty"`
}

// SoakProcess is one process's memory over a soak.
type SoakProcess struct {
	Name string `json:"name"`
	// MB holds one sample every Soak.EveryS, the first at the soak's
	// start: VmRSS, or for EnvoyAllocated Envoy's own count.
	MB            []float64 `json:"mb"`
	SlopeMBPerMin float64   `json:"slope_mb_per_min"`
}

// soakSettle is the start of a soak that the slope leaves out.
const soakSettle = time.Minute

// maxSoakSlope is the growth the goal allows: 0.1 MB a minute is 6 MB an
// hour, well inside the RSS target's headroom for a day's run.
const maxSoakSlope = 0.1

// runSoak drives t at --soak-rate for --soak-duration and samples its
// processes' RSS every --soak-every. With --soak-conns it uses a client of
// its own that opens at most that many connections.
func (b *bench) runSoak(ctx context.Context, t target, body []byte) (*Soak, error) {
	dur, every := time.Duration(b.s.SoakDuration), time.Duration(b.s.SoakEvery)
	fmt.Fprintf(b.stderr, "bench: soak: %s rps at %s for %s\n", fmtRate(b.s.SoakRate), t.name, dur)
	client := b.clients[t.name]
	if b.s.SoakConns > 0 {
		client = newClient(time.Duration(b.s.Timeout))
		client.Transport.(*http.Transport).MaxConnsPerHost = b.s.SoakConns
		defer client.CloseIdleConnections()
	}
	c := &call{url: t.baseURL + "/v1/chat/completions", header: requestHeader(t.key), body: body}
	start := time.Now().Add(10 * time.Millisecond)
	end := start.Add(dur)
	done := make(chan []sample, 1)
	go func() {
		l := openLoop{rate: b.s.SoakRate, maxInflight: b.s.MaxInflight}
		done <- l.run(ctx, client, c, start, end)
	}()

	res := &Soak{Target: t.name, Rate: b.s.SoakRate, DurationS: dur.Seconds(), EveryS: every.Seconds()}
	for _, w := range t.watch {
		res.Processes = append(res.Processes, SoakProcess{Name: w.Name})
	}
	if t.envoyAdmin != "" {
		res.EnvoyAllocated = &SoakProcess{Name: envoyOf(t.name) + ", allocated"}
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for at := time.Now(); !at.After(end); {
		for i, w := range t.watch {
			ps, err := readProcStat(w.PID)
			if err != nil {
				return nil, fmt.Errorf("soak: %s: %w", w.Name, err)
			}
			res.Processes[i].MB = append(res.Processes[i].MB, float64(ps.RSSKB)/1024)
		}
		if res.EnvoyAllocated != nil {
			m, err := envoyMemory(ctx, t.envoyAdmin)
			if err != nil {
				return nil, fmt.Errorf("soak: %w", err)
			}
			res.EnvoyAllocated.MB = append(res.EnvoyAllocated.MB, float64(m.allocated)/(1<<20))
			res.ClientConns = append(res.ClientConns, m.clientConns)
			res.UpstreamConns = append(res.UpstreamConns, m.upstreamConns)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case at = <-tick.C:
		}
	}
	samples := <-done
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m := measure(samples, window{from: start, to: end})
	res.Sent, res.OK, res.Errors, res.Latency = m.sent, m.ok, m.errors, summarize(m.latencies)
	skip := int(soakSettle / every)
	for i := range res.Processes {
		res.Processes[i].SlopeMBPerMin = slopePerMinute(res.Processes[i].MB, every, skip)
	}
	if a := res.EnvoyAllocated; a != nil {
		a.SlopeMBPerMin = slopePerMinute(a.MB, every, skip)
	}
	b.resetMocks(ctx)
	return res, nil
}

// envoyOf names the Envoy of a target in the soak's report.
func envoyOf(target string) string {
	if target == targetLLMvoy {
		return "llmvoy's envoy"
	}
	return target
}

// envoyStats is what the soak reads from an Envoy's admin interface.
type envoyStats struct {
	allocated                  int64
	clientConns, upstreamConns int
}

// envoyMemory reads from Envoy's admin interface what its allocator has
// handed out and how many connections it holds open.
func envoyMemory(ctx context.Context, admin string) (envoyStats, error) {
	var st envoyStats
	filter := url.QueryEscape(`^(server\.memory_allocated|http\..*\.downstream_cx_active|cluster\..*\.upstream_cx_active)$`)
	// One connection per call, closed after it: none is left open in the
	// Envoy measured.
	c, err := envoy.NewAdminClient(admin, controlClient.Timeout)
	if err != nil {
		return st, err
	}
	b, err := c.Get(ctx, "/stats?filter="+filter)
	if err != nil {
		return st, err
	}
	return parseEnvoyStats(string(b))
}

// parseEnvoyStats reads envoyMemory's filtered /stats text. The admin
// interface's connections (the harness asking) are not the load's and are
// left out.
func parseEnvoyStats(text string) (envoyStats, error) {
	var st envoyStats
	found := false
	for line := range strings.Lines(text) {
		name, v, ok := strings.Cut(strings.TrimSpace(line), ": ")
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil {
			continue
		}
		switch {
		case name == "server.memory_allocated":
			st.allocated, found = n, true
		case strings.HasPrefix(name, "cluster."):
			st.upstreamConns += int(n)
		case strings.HasPrefix(name, "http.admin."):
			// the harness asking, not the load
		default:
			st.clientConns += int(n)
		}
	}
	if !found {
		return st, errors.New("no server.memory_allocated in the admin's /stats")
	}
	return st, nil
}

// slopePerMinute is the least-squares slope of samples taken every
// interval, leaving out the first skip; 0 with fewer than two left.
func slopePerMinute(samples []float64, every time.Duration, skip int) float64 {
	if skip >= len(samples)-1 {
		return 0
	}
	ys := samples[skip:]
	n := float64(len(ys))
	var sx, sy, sxx, sxy float64
	for i, y := range ys {
		x := float64(i) * every.Minutes()
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	return (n*sxy - sx*sy) / (n*sxx - sx*sx)
}

// soakGoal judges llmvoy's soak: no growth, as a slope. A plain Envoy's,
// when there is one, is quoted beside it as the control.
func soakGoal(soaks []*Soak) Goal {
	g := Goal{Name: "no RSS growth over the soak (least-squares slope)", Want: fmt.Sprintf("≤ %.1f MB/min", maxSoakSlope)}
	i := slices.IndexFunc(soaks, func(s *Soak) bool { return s.Target == targetLLMvoy })
	if i < 0 {
		return g
	}
	s := soaks[i]
	g.Measured, g.Met = true, true
	var got []string
	for _, p := range s.Processes {
		got = append(got, fmt.Sprintf("%s %+.3f", p.Name, p.SlopeMBPerMin))
		g.Met = g.Met && p.SlopeMBPerMin <= maxSoakSlope
	}
	g.Got = strings.Join(got, ", ") + fmt.Sprintf(" MB/min over %s", time.Duration(s.DurationS*float64(time.Second)))
	if i := slices.IndexFunc(soaks, func(s *Soak) bool { return s.Target == targetEnvoy }); i >= 0 && len(soaks[i].Processes) > 0 {
		g.Got += fmt.Sprintf(" (plain Envoy, the control: %+.3f)", soaks[i].Processes[0].SlopeMBPerMin)
	}
	return g
}

// printSoak writes the soak's table.
func printSoak(w io.Writer, s *Soak) {
	fmt.Fprintf(w, "\nSoak of %s: %s RPS open loop for %s, RSS sampled every %s; slope: least squares after the first %s\n",
		s.Target, fmtRate(s.Rate), time.Duration(s.DurationS*float64(time.Second)), time.Duration(s.EveryS*float64(time.Second)), soakSettle)
	fmt.Fprintf(w, "  %-26s %9s %9s %9s %13s\n", "process", "start MB", "end MB", "max MB", "slope MB/min")
	rows := s.Processes
	if s.EnvoyAllocated != nil {
		rows = append(slices.Clip(rows), *s.EnvoyAllocated)
	}
	for _, p := range rows {
		if len(p.MB) == 0 {
			continue
		}
		most := 0.0
		for _, v := range p.MB {
			most = max(most, v)
		}
		fmt.Fprintf(w, "  %-26s %9.1f %9.1f %9.1f %+13.3f\n", p.Name, p.MB[0], p.MB[len(p.MB)-1], most, p.SlopeMBPerMin)
	}
	for _, c := range []struct {
		what string
		n    []int
	}{{"client", s.ClientConns}, {"upstream", s.UpstreamConns}} {
		if len(c.n) > 0 {
			fmt.Fprintf(w, "  %s open %s connections: %d at the start, %d at the end, %d at most\n",
				envoyOf(s.Target), c.what, c.n[0], c.n[len(c.n)-1], slices.Max(c.n))
		}
	}
	fmt.Fprintf(w, "  requests: %d sent, %d ok, %d errors; latency p50 %s, p99 %s, p99.9 %s ms\n",
		s.Sent, s.OK, s.Errors, fmtMS(s.Latency.P50), fmtMS(s.Latency.P99), fmtMS(s.Latency.P999))
}
