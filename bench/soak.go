package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Soak is the long run at one rate that shows whether llmvoy's memory
// grows: its processes' RSS sampled at a fixed interval, and the slope of a
// least-squares line through the samples after the first minute (start-up
// caches, connection pools and the Go heap settle in it).
type Soak struct {
	Rate      float64       `json:"offered_rps"`
	DurationS float64       `json:"duration_s"`
	EveryS    float64       `json:"sample_every_s"`
	Sent      int           `json:"sent"`
	OK        int           `json:"ok"`
	Errors    int           `json:"errors"`
	Latency   Percentiles   `json:"latency_ms"`
	Processes []SoakProcess `json:"processes"`
}

// SoakProcess is one process's memory over a soak.
type SoakProcess struct {
	Name string `json:"name"`
	// RSSMB holds one VmRSS sample every Soak.EveryS, the first at the
	// soak's start.
	RSSMB         []float64 `json:"rss_mb"`
	SlopeMBPerMin float64   `json:"slope_mb_per_min"`
}

// soakSettle is the start of a soak that the slope leaves out.
const soakSettle = time.Minute

// maxSoakSlope is the growth the goal allows: 0.1 MB a minute is 6 MB an
// hour, well inside the RSS target's headroom for a day's run.
const maxSoakSlope = 0.1

// runSoak drives t at --soak-rate for --soak-duration and samples its
// processes' RSS every --soak-every.
func (b *bench) runSoak(ctx context.Context, t target, body []byte) (*Soak, error) {
	dur, every := time.Duration(b.s.SoakDuration), time.Duration(b.s.SoakEvery)
	fmt.Fprintf(b.stderr, "bench: soak: %s rps at %s for %s\n", fmtRate(b.s.SoakRate), t.name, dur)
	c := &call{url: t.baseURL + "/v1/chat/completions", header: requestHeader(), body: body}
	start := time.Now().Add(10 * time.Millisecond)
	end := start.Add(dur)
	done := make(chan []sample, 1)
	go func() {
		l := openLoop{rate: b.s.SoakRate, maxInflight: b.s.MaxInflight}
		done <- l.run(ctx, b.clients[t.name], c, start, end)
	}()

	res := &Soak{Rate: b.s.SoakRate, DurationS: dur.Seconds(), EveryS: every.Seconds()}
	for _, w := range t.watch {
		res.Processes = append(res.Processes, SoakProcess{Name: w.Name})
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for at := time.Now(); !at.After(end); {
		for i, w := range t.watch {
			ps, err := readProcStat(w.PID)
			if err != nil {
				return nil, fmt.Errorf("soak: %s: %w", w.Name, err)
			}
			res.Processes[i].RSSMB = append(res.Processes[i].RSSMB, float64(ps.RSSKB)/1024)
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
		res.Processes[i].SlopeMBPerMin = slopePerMinute(res.Processes[i].RSSMB, every, skip)
	}
	b.resetMocks(ctx)
	return res, nil
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

// soakGoal judges the soak: no growth, as a slope.
func soakGoal(s *Soak) Goal {
	g := Goal{Name: "no RSS growth over the soak (least-squares slope)", Want: fmt.Sprintf("≤ %.1f MB/min", maxSoakSlope)}
	if s == nil {
		return g
	}
	g.Measured, g.Met = true, true
	var got []string
	for _, p := range s.Processes {
		got = append(got, fmt.Sprintf("%s %+.3f", p.Name, p.SlopeMBPerMin))
		g.Met = g.Met && p.SlopeMBPerMin <= maxSoakSlope
	}
	g.Got = strings.Join(got, ", ") + fmt.Sprintf(" MB/min over %s", time.Duration(s.DurationS*float64(time.Second)))
	return g
}

// printSoak writes the soak's table.
func printSoak(w io.Writer, s *Soak) {
	fmt.Fprintf(w, "\nSoak: %s RPS open loop for %s, RSS sampled every %s; slope: least squares after the first %s\n",
		fmtRate(s.Rate), time.Duration(s.DurationS*float64(time.Second)), time.Duration(s.EveryS*float64(time.Second)), soakSettle)
	fmt.Fprintf(w, "  %-16s %9s %9s %9s %13s\n", "process", "start MB", "end MB", "max MB", "slope MB/min")
	for _, p := range s.Processes {
		if len(p.RSSMB) == 0 {
			continue
		}
		most := 0.0
		for _, v := range p.RSSMB {
			most = max(most, v)
		}
		fmt.Fprintf(w, "  %-16s %9.1f %9.1f %9.1f %+13.3f\n", p.Name, p.RSSMB[0], p.RSSMB[len(p.RSSMB)-1], most, p.SlopeMBPerMin)
	}
	fmt.Fprintf(w, "  requests: %d sent, %d ok, %d errors; latency p50 %s, p99 %s, p99.9 %s ms\n",
		s.Sent, s.OK, s.Errors, fmtMS(s.Latency.P50), fmtMS(s.Latency.P99), fmtMS(s.Latency.P999))
}
