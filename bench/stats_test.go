package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPercentileNearestRank(t *testing.T) {
	// 1..100 ms: the p-th percentile of 100 samples is the p-th sample.
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	p := summarize(ds)
	require.Equal(t, Percentiles{N: 100, P50: 50, P90: 90, P99: 99, P999: 100, Max: 100, Mean: 50.5}, p)
}

func TestPercentileSmallSamples(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample is every percentile", []time.Duration{7 * ms}, 99.9, 7 * ms},
		{"p50 of two is the lower", []time.Duration{1 * ms, 2 * ms}, 50, 1 * ms},
		{"p51 of two is the upper", []time.Duration{1 * ms, 2 * ms}, 51, 2 * ms},
		{"p99.9 of 1000 is the 999th", seq(1000), 99.9, 999 * ms},
		{"p99.9 of 999 is the last", seq(999), 99.9, 999 * ms},
		{"p0 clamps to the first", seq(10), 0, 1 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, percentile(tt.sorted, tt.p))
		})
	}
}

func TestSummarizeEmpty(t *testing.T) {
	require.Equal(t, Percentiles{}, summarize(nil))
}

func TestMinus(t *testing.T) {
	a := Percentiles{N: 10, P50: 1.5, P90: 2, P99: 3, P999: 4, Max: 5, Mean: 1.6}
	b := Percentiles{N: 20, P50: 1, P90: 1, P99: 4, P999: 4, Max: 4, Mean: 1}
	require.InDeltaMapValues(t,
		map[string]float64{"p50": 0.5, "p90": 1, "p99": -1, "p999": 0, "max": 1, "mean": 0.6},
		func(d Percentiles) map[string]float64 {
			return map[string]float64{"p50": d.P50, "p90": d.P90, "p99": d.P99, "p999": d.P999, "max": d.Max, "mean": d.Mean}
		}(a.minus(b)), 1e-9)
	require.Equal(t, 10, a.minus(b).N)
}

// seq is 1..n milliseconds.
func seq(n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(i+1) * time.Millisecond
	}
	return out
}
