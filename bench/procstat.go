package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/PID/stat. It is
// 100 on every Linux ABI Go supports (sysconf(_SC_CLK_TCK) would need cgo).
const clockTicks = 100

// procStat is what /proc says about one process.
type procStat struct {
	PID  int
	PPID int
	Comm string
	// CPU is user + system time of all the process's threads.
	CPU time.Duration
	// RSSKB and PeakRSSKB are VmRSS and VmHWM (the peak since start or since
	// the last resetPeakRSS), in KiB.
	RSSKB, PeakRSSKB int64
}

// readProcStat reads /proc/PID/stat and /proc/PID/status.
func readProcStat(pid int) (procStat, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	ps, err := parseStat(stat)
	if err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procStat{}, err
	}
	ps.RSSKB, ps.PeakRSSKB = parseStatus(status)
	return ps, nil
}

// parseStat reads pid, comm, ppid, utime and stime from a /proc/PID/stat line.
// comm is in parentheses and may itself contain spaces and parentheses, so
// the fields after it are found from the last ')'.
func parseStat(b []byte) (procStat, error) {
	open, closing := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return procStat{}, errors.New("no (comm)")
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return procStat{}, fmt.Errorf("pid: %w", err)
	}
	// Fields from 3 (state) on; man 5 proc numbers them from 1.
	f := strings.Fields(string(b[closing+1:]))
	const state, ppid, utime, stime = 3, 4, 14, 15
	at := func(n int) string { return f[n-state] }
	if len(f) < stime-state+1 {
		return procStat{}, fmt.Errorf("%d fields after comm, want at least %d", len(f), stime-state+1)
	}
	var ps procStat
	ps.PID, ps.Comm = pid, string(b[open+1:closing])
	if ps.PPID, err = strconv.Atoi(at(ppid)); err != nil {
		return procStat{}, fmt.Errorf("ppid: %w", err)
	}
	u, err := strconv.ParseInt(at(utime), 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("utime: %w", err)
	}
	s, err := strconv.ParseInt(at(stime), 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("stime: %w", err)
	}
	ps.CPU = time.Duration(u+s) * time.Second / clockTicks
	return ps, nil
}

// parseStatus returns VmRSS and VmHWM in KiB from /proc/PID/status (0 when
// absent, as for a zombie).
func parseStatus(b []byte) (rssKB, hwmKB int64) {
	for line := range strings.SplitSeq(string(b), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			continue
		}
		if key == "VmRSS" {
			rssKB = n
		} else {
			hwmKB = n
		}
	}
	return rssKB, hwmKB
}

// resetPeakRSS makes VmHWM start again from the current RSS (Linux ≥ 4.0),
// so a step reports its own peak rather than the peak since start.
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// children returns the processes whose parent is pid.
func children(pid int) []procStat {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []procStat
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		if ps, err := parseStat(b); err == nil && ps.PPID == pid && child == ps.PID {
			out = append(out, ps)
		}
	}
	return out
}

// watched is a process whose resources a step reports. Descendants are
// counted with it (LiteLLM's workers); llmvoy's Envoy is watched on its own.
type watched struct {
	Name        string
	PID         int
	Descendants bool
}

// ProcUsage is one process's cost during a measured window.
type ProcUsage struct {
	Name       string  `json:"name"`
	PID        int     `json:"pid"`
	CPUSeconds float64 `json:"cpu_s"`
	// CPUPerRequestUS is CPU time per successful request, in microseconds.
	CPUPerRequestUS float64 `json:"cpu_us_per_request"`
	// PeakRSSMB is the peak resident set during the window (VmHWM), in MiB.
	PeakRSSMB float64 `json:"peak_rss_mb"`
	// PeakIsWindow says whether VmHWM could be reset at the window's start;
	// when false PeakRSSMB is the peak since the process started.
	PeakIsWindow bool `json:"peak_is_window"`
}

// machineBusy is the CPU time all CPUs spent not idle, from /proc/stat.
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	return parseMachineBusy(b)
}

// parseMachineBusy reads the aggregate "cpu" line of /proc/stat: user, nice,
// system, idle, iowait, irq, softirq, steal (guest time is inside user).
// Busy is user + nice + system + steal. Interrupt time is left out: on an
// otherwise idle machine it is mostly the benchmark's own loopback traffic,
// which the kernel charges to no process. Steal is in: on a shared VM it is
// CPU someone else took.
func parseMachineBusy(b []byte) (time.Duration, error) {
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("/proc/stat: no aggregate cpu line")
	}
	var busy int64
	for i, v := range f[1:9] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		switch i {
		case 0, 1, 2, 7: // user, nice, system, steal
			busy += n
		}
	}
	return time.Duration(busy) * time.Second / clockTicks, nil
}

// meter measures CPU time and peak RSS of watched processes over a window,
// and the CPU time everything else on the machine used meanwhile.
type meter struct {
	procs []watched
	cpu   []time.Duration
	reset []bool
	busy  time.Duration
}

// startMeter resets the peak RSS of procs and notes their CPU time.
func startMeter(procs []watched) *meter {
	m := &meter{procs: procs, cpu: make([]time.Duration, len(procs)), reset: make([]bool, len(procs))}
	m.busy, _ = machineBusy()
	for i, p := range procs {
		for _, pid := range pidsOf(p) {
			if resetPeakRSS(pid) == nil && pid == p.PID {
				m.reset[i] = true
			}
			if ps, err := readProcStat(pid); err == nil {
				m.cpu[i] += ps.CPU
			}
		}
	}
	return m
}

// stop returns each process's CPU time since startMeter and its peak RSS
// (summed over descendants), and the CPU time other processes used.
func (m *meter) stop() (usage []ProcUsage, other time.Duration) {
	busy, _ := machineBusy()
	other = busy - m.busy
	out := make([]ProcUsage, 0, len(m.procs))
	for i, p := range m.procs {
		var cpu time.Duration
		var peak int64
		for _, pid := range pidsOf(p) {
			if ps, err := readProcStat(pid); err == nil {
				cpu += ps.CPU
				peak += ps.PeakRSSKB
			}
		}
		other -= cpu - m.cpu[i]
		out = append(out, ProcUsage{Name: p.Name, PID: p.PID, CPUSeconds: (cpu - m.cpu[i]).Seconds(),
			PeakRSSMB: float64(peak) / 1024, PeakIsWindow: m.reset[i]})
	}
	return out, max(other, 0)
}

// perRequest fills in CPU time per request for requests served in the window.
func perRequest(usage []ProcUsage, requests int) {
	if requests == 0 {
		return
	}
	for i := range usage {
		usage[i].CPUPerRequestUS = usage[i].CPUSeconds * 1e6 / float64(requests)
	}
}

// cpuTime is the CPU time procs (with their descendants) have used so far.
func cpuTime(procs []watched) time.Duration {
	var total time.Duration
	for _, p := range procs {
		for _, pid := range pidsOf(p) {
			if ps, err := readProcStat(pid); err == nil {
				total += ps.CPU
			}
		}
	}
	return total
}

// pidsOf is p's process and, when asked for, its descendants.
func pidsOf(p watched) []int {
	pids := []int{p.PID}
	if !p.Descendants {
		return pids
	}
	for i := 0; i < len(pids); i++ {
		for _, c := range children(pids[i]) {
			pids = append(pids, c.PID)
		}
	}
	return pids
}
