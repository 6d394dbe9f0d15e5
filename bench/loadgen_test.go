package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSendTimeIsAFixedSchedule(t *testing.T) {
	start := time.Unix(1000, 0)
	require.Equal(t, start, sendTime(start, 500, 0))
	require.Equal(t, start.Add(2*time.Millisecond), sendTime(start, 500, 1))
	require.Equal(t, start.Add(time.Second), sendTime(start, 500, 500))
	// Computed from the index, not accumulated: no drift after a million
	// requests at a rate whose interval is not a whole number of ns.
	require.Equal(t, start.Add(1000*time.Second), sendTime(start, 3000, 3_000_000))
	require.Equal(t, start.Add(time.Second/3), sendTime(start, 3, 1))
}

func TestScheduleLen(t *testing.T) {
	require.Equal(t, 5000, scheduleLen(500, 10*time.Second))
	require.Equal(t, 24000, scheduleLen(2000, 12*time.Second))
	require.Equal(t, 1, scheduleLen(20, 50*time.Millisecond))
	require.Equal(t, 0, scheduleLen(1, 100*time.Millisecond))
}

// The open loop keeps sending on schedule while earlier requests are still
// outstanding, and counts latency from the scheduled time.
func TestOpenLoopDoesNotWaitForResponses(t *testing.T) {
	release := make(chan struct{})
	var arrived atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		arrived.Add(1)
		<-release
	}))
	unblock := sync.OnceFunc(func() { close(release) })
	defer srv.Close()
	defer unblock() // before srv.Close, which waits for the handlers

	client := newClient(5 * time.Second)
	c := &call{url: srv.URL, header: http.Header{}, body: []byte(`{}`)}
	start := time.Now()
	done := make(chan []sample)
	go func() {
		done <- openLoop{rate: 200, maxInflight: 100}.run(context.Background(), client, c, start, start.Add(100*time.Millisecond))
	}()

	// All 20 requests arrive although none has been answered.
	require.Eventually(t, func() bool { return arrived.Load() == 20 }, 3*time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	unblock()
	samples := <-done
	require.Len(t, samples, 20)
	for i, s := range samples {
		require.NoError(t, s.err)
		require.Equal(t, sendTime(start, 200, i), s.intended)
		// Answers came 50 ms after the last request arrived: counted from
		// its scheduled time, every request waited at least that long.
		require.GreaterOrEqual(t, s.latency, 50*time.Millisecond)
	}
}

func TestOpenLoopInflightCap(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	c := &call{url: srv.URL, header: http.Header{}, body: []byte(`{}`)}
	start := time.Now()
	done := make(chan []sample)
	go func() {
		done <- openLoop{rate: 1000, maxInflight: 3}.run(context.Background(), newClient(5*time.Second), c, start, start.Add(10*time.Millisecond))
	}()
	time.Sleep(100 * time.Millisecond)
	close(release)
	samples := <-done
	capped := 0
	for _, s := range samples {
		if errors.Is(s.err, errInflightCap) {
			capped++
		}
	}
	require.Equal(t, 7, capped)
}

func TestMeasureWindow(t *testing.T) {
	at := time.Unix(100, 0)
	w := window{from: at, to: at.Add(time.Second)}
	ms := time.Millisecond
	samples := []sample{
		{intended: at.Add(-10 * ms), latency: 50 * ms, done: at.Add(40 * ms)},                                                  // warm-up: not measured, but completes inside
		{intended: at, latency: 2 * ms, done: at.Add(2 * ms), lag: ms},                                                         // measured
		{intended: at.Add(500 * ms), err: errors.New("HTTP 503"), done: at.Add(501 * ms)},                                      // error
		{intended: at.Add(990 * ms), latency: 20 * ms, done: at.Add(1010 * ms)},                                                // measured, completes after
		{intended: at.Add(time.Second), latency: ms, done: at.Add(time.Second + ms)},                                           // after the window
		{intended: at.Add(600 * ms), ttft: 3 * ms, gaps: []time.Duration{ms, 2 * ms}, latency: 9 * ms, done: at.Add(609 * ms)}, // a stream
	}
	m := measure(samples, w)
	require.Equal(t, 4, m.sent)
	require.Equal(t, 3, m.ok)
	require.Equal(t, 1, m.errors)
	require.Equal(t, map[string]int{"HTTP 503": 1}, m.errorKinds)
	require.Equal(t, []time.Duration{2 * ms, 20 * ms, 9 * ms}, m.latencies)
	require.Equal(t, []time.Duration{3 * ms}, m.ttfts)
	require.Equal(t, []time.Duration{ms, 2 * ms}, m.gaps)
	require.Equal(t, 3, m.completed) // the warm-up one, the first measured one and the stream
}

func TestReadStream(t *testing.T) {
	stream := strings.Join([]string{
		`data: {"choices":[{"delta":{"role":"assistant","content":"","refusal":null}}]}`,
		``,
		`data: {"choices":[{"delta":{"content":"Hel"}}]}`,
		``,
		`data: {"choices":[{"delta":{"content":"lo"}}]}`,
		``,
		`data: {"choices":[{"delta":{},"finish_reason":"stop"}]}`,
		``,
		`data: [DONE]`,
		``, ``,
	}, "\n")
	ttft, gaps, err := readStream(strings.NewReader(stream), time.Now().Add(-time.Millisecond), false)
	require.NoError(t, err)
	require.GreaterOrEqual(t, ttft, time.Millisecond)
	require.Len(t, gaps, 1)

	_, _, err = readStream(strings.NewReader(`data: {"choices":[{"delta":{"content":"x"}}]}`+"\n\n"), time.Now(), false)
	require.ErrorContains(t, err, "without [DONE]")
	_, _, err = readStream(strings.NewReader("data: [DONE]\n\n"), time.Now(), false)
	require.ErrorContains(t, err, "no content chunk")
}

// A Messages stream is timed by its text deltas and ends with
// message_stop.
func TestReadMessagesStream(t *testing.T) {
	stream := strings.Join([]string{
		`event: message_start`,
		`data: {"type":"message_start","message":{"content":[]}}`,
		``,
		`event: content_block_start`,
		`data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
		``,
		`event: content_block_delta`,
		`data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}`,
		``,
		`event: content_block_delta`,
		`data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}}`,
		``,
		`event: message_stop`,
		`data: {"type":"message_stop"}`,
		``, ``,
	}, "\n")
	ttft, gaps, err := readStream(strings.NewReader(stream), time.Now().Add(-time.Millisecond), true)
	require.NoError(t, err)
	require.GreaterOrEqual(t, ttft, time.Millisecond)
	require.Len(t, gaps, 1)
	_, _, err = readStream(strings.NewReader(`data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}`+"\n\n"), time.Now(), true)
	require.ErrorContains(t, err, "without")
}

func TestHasContent(t *testing.T) {
	require.True(t, hasContent([]byte(`data: {"delta":{"content":"Hi"}}`)))
	require.False(t, hasContent([]byte(`data: {"delta":{"role":"assistant","content":""}}`)))
	require.False(t, hasContent([]byte(`data: {"delta":{}}`)))
	require.False(t, hasContent([]byte(`"content":"`)))
}
