package mock

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestOptionsDefaults(t *testing.T) {
	got := New(Options{}).Options()
	require.Equal(t, Options{Name: DefaultName, Chunks: DefaultChunks, FailStatus: DefaultFailStatus}, got)

	set := Options{Name: "n", Latency: time.Second, ChunkDelay: time.Millisecond, Chunks: 3, Status: 429,
		FailureRate: 0.5, FailStatus: 503, RetryAfter: 2 * time.Second, Seed: 9}
	require.Equal(t, set, New(set).Options(), "valid options are kept as given")
}

func TestOptionsClamp(t *testing.T) {
	got := New(Options{Chunks: -1, FailureRate: 7, FailStatus: 42, Status: 302, Latency: -time.Second, ChunkDelay: -1, RetryAfter: -1}).Options()
	require.Equal(t, DefaultChunks, got.Chunks)
	require.Equal(t, 1.0, got.FailureRate)
	require.Equal(t, DefaultFailStatus, got.FailStatus)
	require.Equal(t, DefaultFailStatus, got.Status)
	require.Zero(t, got.Latency)
	require.Zero(t, got.ChunkDelay)
	require.Zero(t, got.RetryAfter)
	require.Equal(t, MaxChunks, New(Options{Chunks: MaxChunks + 1}).Options().Chunks)
	require.Zero(t, New(Options{FailureRate: math.NaN()}).Options().FailureRate)
}

func TestOptionsValidate(t *testing.T) {
	require.NoError(t, Options{}.Validate())
	require.NoError(t, Options{Status: 200, FailStatus: 429, FailureRate: 1, Chunks: MaxChunks}.Validate())
	err := Options{Status: 302, FailStatus: 200, FailureRate: 1.5, Chunks: -1, Latency: -1, ChunkDelay: -1, RetryAfter: -1, CutStreamAfter: -1, SlowRate: -0.1, SlowLatency: -1}.Validate()
	require.Error(t, err)
	for _, field := range []string{"status 302", "fail_status 200", "failure_rate 1.5", "chunks -1", "latency", "chunk_delay", "retry_after", "cut_stream_after -1", "slow_rate -0.1", "slow_latency"} {
		require.ErrorContains(t, err, field)
	}
}

func TestOptionsJSON(t *testing.T) {
	o := Options{Name: "a", Latency: 1500 * time.Millisecond, ChunkDelay: 20 * time.Millisecond, Chunks: 7,
		Status: 503, FailureRate: 0.25, FailStatus: 429, RetryAfter: 3 * time.Second, CutStreamAfter: 2, SlowRate: 0.05, SlowLatency: 2 * time.Second, Seed: -4}
	b, err := json.Marshal(o)
	require.NoError(t, err)
	require.JSONEq(t, `{"name":"a","latency":"1.5s","chunk_delay":"20ms","chunks":7,"context_window":0,"status":503,
		"failure_rate":0.25,"fail_status":429,"retry_after":"3s","cut_stream_after":2,"slow_rate":0.05,"slow_latency":"2s","seed":-4}`, string(b))
	var back Options
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, o, back)

	// Durations also read as milliseconds; absent keys keep their values.
	patched := o
	require.NoError(t, json.Unmarshal([]byte(`{"latency":250,"chunk_delay":0.5,"retry_after":null,"status":0}`), &patched))
	want := o
	want.Latency, want.ChunkDelay, want.RetryAfter, want.Status = 250*time.Millisecond, 500*time.Microsecond, 0, 0
	require.Equal(t, want, patched)

	for _, bad := range []string{`{"latncy":"1s"}`, `{"latency":"soon"}`, `{"latency":true}`, `{"chunks":"5"}`, `[]`} {
		var x Options
		require.Error(t, json.Unmarshal([]byte(bad), &x), bad)
	}
}
