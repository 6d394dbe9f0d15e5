package main

import (
	"math"
	"slices"
	"time"
)

// Percentiles summarise a latency distribution, in milliseconds.
type Percentiles struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of
// sorted: the smallest value that at least p% of the samples are ≤ to. It
// never interpolates, so a reported p99.9 is a latency some request saw.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// The epsilon keeps 99.9% of 1000 at rank 999: in binary, 99.9 is a
	// hair above itself.
	rank := int(math.Ceil(p/100*float64(len(sorted)) - 1e-9))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// summarize sorts ds in place and returns its percentiles.
func summarize(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return Percentiles{
		N:    len(ds),
		P50:  ms(percentile(ds, 50)),
		P90:  ms(percentile(ds, 90)),
		P99:  ms(percentile(ds, 99)),
		P999: ms(percentile(ds, 99.9)),
		Max:  ms(ds[len(ds)-1]),
		Mean: ms(sum / time.Duration(len(ds))),
	}
}

// minus is p - base, percentile by percentile: the latency a proxy adds
// over the direct path at the same load.
func (p Percentiles) minus(base Percentiles) Percentiles {
	return Percentiles{
		N:    p.N,
		P50:  p.P50 - base.P50,
		P90:  p.P90 - base.P90,
		P99:  p.P99 - base.P99,
		P999: p.P999 - base.P999,
		Max:  p.Max - base.Max,
		Mean: p.Mean - base.Mean,
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
