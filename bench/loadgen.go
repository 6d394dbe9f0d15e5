package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// call is one pre-encoded request; every send reuses its bytes, so the
// generator spends its CPU on the network rather than on JSON.
type call struct {
	url    string
	header http.Header // shared read-only by all sends; net/http does not write to it
	body   []byte
	stream bool
	// messages: the stream is Anthropic's Messages events, not chat chunks.
	messages bool
}

// sample is one request's outcome.
type sample struct {
	// intended is when the request was due: the schedule's time in an open
	// loop, the actual send in a closed loop. Latencies count from it, so
	// time a request spent waiting for an overloaded generator or proxy is
	// part of its latency (no coordinated omission).
	intended time.Time
	// lag is how late the generator sent it (actual send - intended).
	lag time.Duration
	// latency is intended → last byte of the response.
	latency time.Duration
	done    time.Time
	// Streaming only: intended → first content chunk, and the gaps between
	// consecutive content chunks.
	ttft time.Duration
	gaps []time.Duration
	err  error
}

// errInflightCap marks a request the open loop did not send because too
// many were already outstanding: the target has stopped keeping up.
var errInflightCap = errors.New("not sent: in-flight cap reached")

// newClient returns a client that keeps connections to one target alive and
// never caps their number: an open loop must not queue in the client.
func newClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil, // loopback only, whatever HTTP_PROXY says
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        0,
			MaxIdleConnsPerHost: 10000,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		},
	}
}

// send issues c once and reads the whole response.
func send(ctx context.Context, client *http.Client, c *call, intended time.Time) sample {
	s := sample{intended: intended}
	sent := time.Now()
	s.lag = sent.Sub(intended)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(c.body))
	if err != nil {
		s.err = err
		return s
	}
	req.Header = c.header
	resp, err := client.Do(req)
	if err != nil {
		s.err = err
		s.done = time.Now()
		return s
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		s.err = fmt.Errorf("HTTP %d", resp.StatusCode)
	} else if c.stream {
		s.ttft, s.gaps, s.err = readStream(resp.Body, intended, c.messages)
	} else {
		_, s.err = io.Copy(io.Discard, resp.Body)
	}
	s.done = time.Now()
	s.latency = s.done.Sub(intended)
	return s
}

// readStream reads an SSE chat completion stream and times its content
// chunks: the first one from intended (time to first token), the rest from
// the chunk before.
//
// A Messages stream (messages) ends with message_stop instead of [DONE] and
// carries its tokens in text_delta events.
func readStream(body io.Reader, intended time.Time, messages bool) (ttft time.Duration, gaps []time.Duration, err error) {
	r := bufio.NewReaderSize(body, 16<<10)
	var last time.Time
	sawDone := false
	done, content := []byte("data: [DONE]"), hasContent
	if messages {
		done, content = []byte(`data: {"type":"message_stop"`), hasTextDelta
	}
	for {
		line, err := r.ReadSlice('\n')
		if len(line) > 0 && bytes.HasPrefix(line, []byte("data: ")) {
			now := time.Now()
			switch {
			case bytes.HasPrefix(line, done):
				sawDone = true
			case content(line):
				if last.IsZero() {
					ttft = now.Sub(intended)
				} else {
					gaps = append(gaps, now.Sub(last))
				}
				last = now
			}
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if !sawDone {
				return ttft, gaps, fmt.Errorf("stream ended without %s", done[len("data: "):])
			}
			if last.IsZero() {
				return ttft, gaps, errors.New("stream had no content chunk")
			}
			return ttft, gaps, nil
		default:
			return ttft, gaps, err
		}
	}
}

// hasTextDelta reports whether a Messages data line carries text.
func hasTextDelta(line []byte) bool {
	return bytes.Contains(line, []byte(`"type":"text_delta","text":"`)) && !bytes.Contains(line, []byte(`"text":""`))
}

// hasContent reports whether an SSE data line carries a non-empty delta
// content, i.e. tokens (the role chunk has "content":"").
func hasContent(line []byte) bool {
	const key = `"content":"`
	i := bytes.Index(line, []byte(key))
	return i >= 0 && i+len(key) < len(line) && line[i+len(key)] != '"'
}

// preciseSleep sleeps for d in the kernel. time.Sleep is served by the Go
// scheduler's poller, which rounds a wait shorter than a millisecond up to
// one: at 2,000 RPS the schedule would run up to a millisecond late, and that
// lag would be counted in every latency. nanosleep wakes within the kernel's
// timer slack (50 µs by default). The runtime hands the goroutine's P to
// other goroutines while the thread sleeps.
func preciseSleep(d time.Duration) {
	if d <= 0 {
		return
	}
	ts := syscall.NsecToTimespec(d.Nanoseconds())
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}

// sendTime is when the i-th request (from 0) of an open loop at rate per
// second starting at start is due. Computed from i rather than accumulated,
// so the schedule does not drift.
func sendTime(start time.Time, rate float64, i int) time.Time {
	return start.Add(time.Duration(float64(i) * float64(time.Second) / rate))
}

// scheduleLen is how many requests an open loop at rate sends in d.
func scheduleLen(rate float64, d time.Duration) int {
	return int(math.Round(rate * d.Seconds()))
}

// openLoop sends requests at a constant rate regardless of completions:
// a slow response does not delay the next send, as with real users. Each
// request runs on its own goroutine; when maxInflight are outstanding, due
// requests are recorded as errInflightCap instead of sent.
type openLoop struct {
	rate        float64
	maxInflight int
}

var _ loop = openLoop{}

// run sends the requests due from start until end and waits for them.
func (o openLoop) run(ctx context.Context, client *http.Client, c *call, start, end time.Time) []sample {
	n := scheduleLen(o.rate, end.Sub(start))
	samples := make([]sample, n)
	var wg sync.WaitGroup
	var inflight atomic.Int64
	for i := range n {
		at := sendTime(start, o.rate, i)
		preciseSleep(time.Until(at))
		if ctx.Err() != nil {
			samples = samples[:i]
			break
		}
		if inflight.Load() >= int64(o.maxInflight) {
			samples[i] = sample{intended: at, done: time.Now(), err: errInflightCap}
			continue
		}
		inflight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			samples[i] = send(ctx, client, c, at)
			inflight.Add(-1)
		}()
	}
	wg.Wait()
	return samples
}

// closedLoop runs workers that each send the next request as soon as the
// previous one completes: it finds the highest rate the target sustains.
type closedLoop struct {
	workers int
}

var _ loop = closedLoop{}

// run keeps the workers busy from start until end.
func (cl closedLoop) run(ctx context.Context, client *http.Client, c *call, start, end time.Time) []sample {
	time.Sleep(time.Until(start))
	deadline := end
	per := make([][]sample, cl.workers)
	var wg sync.WaitGroup
	for w := range cl.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				now := time.Now()
				if !now.Before(deadline) {
					return
				}
				per[w] = append(per[w], send(ctx, client, c, now))
			}
		}()
	}
	wg.Wait()
	var samples []sample
	for _, s := range per {
		samples = append(samples, s...)
	}
	return samples
}

// window is the measured part of a step: requests due in [from, to).
type window struct{ from, to time.Time }

// measured is what a step's samples in its window amount to.
type measured struct {
	sent, ok, errors int
	errorKinds       map[string]int
	latencies, ttfts []time.Duration
	gaps, lags       []time.Duration
	// completed counts successful requests that completed inside the
	// window, whenever they were sent: the achieved throughput.
	completed int
}

func measure(samples []sample, w window) measured {
	m := measured{errorKinds: map[string]int{}}
	for i := range samples {
		s := &samples[i]
		if !s.done.IsZero() && s.err == nil && !s.done.Before(w.from) && s.done.Before(w.to) {
			m.completed++
		}
		if s.intended.Before(w.from) || !s.intended.Before(w.to) {
			continue
		}
		m.sent++
		m.lags = append(m.lags, s.lag)
		if s.err != nil {
			m.errors++
			m.errorKinds[errorKind(s.err)]++
			continue
		}
		m.ok++
		m.latencies = append(m.latencies, s.latency)
		if s.ttft > 0 {
			m.ttfts = append(m.ttfts, s.ttft)
			m.gaps = append(m.gaps, s.gaps...)
		}
	}
	return m
}

// errorKind shortens an error to a stable label for counting.
func errorKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, errInflightCap):
		return "in-flight cap"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	msg := err.Error()
	if len(msg) > 80 {
		msg = msg[:80]
	}
	return msg
}
