package main

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseStat(t *testing.T) {
	// A comm with spaces and parentheses; utime 1234 and stime 66 ticks.
	line := "4242 (envoy (worker) 1) S 4200 4242 4200 0 -1 4194560 12345 0 3 0 1234 66 0 0 20 0 18 0 777 123456789 5000 " +
		"18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n"
	ps, err := parseStat([]byte(line))
	require.NoError(t, err)
	require.Equal(t, 4242, ps.PID)
	require.Equal(t, 4200, ps.PPID)
	require.Equal(t, "envoy (worker) 1", ps.Comm)
	require.Equal(t, 13*time.Second, ps.CPU) // (1234 + 66) / 100 Hz
}

func TestParseStatErrors(t *testing.T) {
	for _, line := range []string{
		"",
		"12 no-parens S 1",
		"12 (short) S 1 2 3",
		"x (comm) S 1 1 1 0 -1 0 0 0 0 0 1 1",
		"12 (comm) S 1 1 1 0 -1 0 0 0 0 0 one 1",
	} {
		_, err := parseStat([]byte(line))
		require.Error(t, err, line)
	}
}

func TestParseStatus(t *testing.T) {
	status := `Name:	llmvoy
State:	S (sleeping)
VmPeak:	 1500000 kB
VmHWM:	   40960 kB
VmRSS:	   30720 kB
RssAnon:	   20000 kB
Threads:	9
`
	rss, hwm := parseStatus([]byte(status))
	require.Equal(t, int64(30720), rss)
	require.Equal(t, int64(40960), hwm)

	rss, hwm = parseStatus([]byte("Name:\tzombie\nState:\tZ (zombie)\n"))
	require.Zero(t, rss)
	require.Zero(t, hwm)
}

func TestParseMachineBusy(t *testing.T) {
	stat := "cpu  1000 20 300 9000 500 7 8 65 0 0\ncpu0 500 10 150 4500 250 3 4 30 0 0\nintr 1 2 3\n"
	busy, err := parseMachineBusy([]byte(stat))
	require.NoError(t, err)
	// user+nice+system+steal = 1385 ticks; idle, iowait and interrupts are not counted.
	require.Equal(t, 13850*time.Millisecond, busy)

	_, err = parseMachineBusy([]byte("cpu0 1 2 3 4 5 6 7 8\n"))
	require.Error(t, err)
	_, err = parseMachineBusy([]byte("cpu  1 2 x 4 5 6 7 8\n"))
	require.Error(t, err)
}

// The real /proc of this test process parses.
func TestReadProcStatSelf(t *testing.T) {
	ps, err := readProcStat(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	require.Equal(t, os.Getpid(), ps.PID)
	require.Equal(t, os.Getppid(), ps.PPID)
	require.Positive(t, ps.RSSKB)
	require.GreaterOrEqual(t, ps.PeakRSSKB, ps.RSSKB)
}

func TestPerRequest(t *testing.T) {
	usage := []ProcUsage{{Name: "llmvoy", CPUSeconds: 0.5}, {Name: "envoy", CPUSeconds: 0.25}}
	perRequest(usage, 1000)
	require.InDelta(t, 500, usage[0].CPUPerRequestUS, 1e-9)
	require.InDelta(t, 250, usage[1].CPUPerRequestUS, 1e-9)
	perRequest(usage[:1], 0) // nothing served: left alone
	require.InDelta(t, 500, usage[0].CPUPerRequestUS, 1e-9)
}
