package mock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Defaults applied by New and SetOptions to zero-valued fields.
const (
	DefaultName       = "mock"
	DefaultChunks     = 5
	DefaultFailStatus = 500

	// MaxChunks bounds Chunks and the x-mock-chunks header so a typo cannot
	// make one request stream for hours.
	MaxChunks = 10000
)

// Options configure a mock deployment. The zero value is a fast, always
// successful mock; New and SetOptions fill in the defaults documented per field.
//
// Over HTTP (GET/PUT /mock/config) Options are a JSON object with the snake_case
// keys name, latency, chunk_delay, chunks, status, failure_rate, fail_status,
// retry_after, context_window, cut_stream_after, slow_rate, slow_latency and seed. Durations are written as Go duration strings ("250ms",
// "1.5s") and read either as such a string or as a number of milliseconds.
type Options struct {
	// Name identifies this mock deployment. It is sent back on every response in
	// the x-mock-name header, as system_fingerprint "mock:<Name>" in chat
	// completions, and in the reply text, so a test can tell which deployment
	// served a request. Default "mock".
	Name string

	// Latency is the delay before a response is sent: before the whole body of a
	// non-streaming response, and before the response headers and the first SSE
	// chunk of a stream (time to first token). It applies to injected failures
	// too, but not to 400s for malformed requests. Per request: x-mock-latency-ms.
	Latency time.Duration

	// ChunkDelay is the delay between consecutive content chunks of a stream.
	// The role chunk and the first content chunk go out together after Latency,
	// so a stream of N content chunks lasts about Latency + (N-1)*ChunkDelay.
	// Per request: x-mock-chunk-delay-ms.
	ChunkDelay time.Duration

	// Chunks is the number of content chunks a streamed reply is split into
	// (the role chunk, finish chunk and usage chunk come on top). Default 5,
	// at most MaxChunks. Per request: x-mock-chunks.
	Chunks int

	// Status, when 400–599, makes every chat completion and embeddings request
	// fail with this HTTP status and OpenAI's error body for it. 0 or 200 means
	// succeed (subject to FailureRate). Per request: x-mock-status, where 200
	// forces success.
	Status int

	// FailureRate is the fraction (0..1) of chat completion and embeddings
	// requests that fail with FailStatus. Which requests fail is decided by a
	// pseudo-random sequence seeded by Seed, so a run is reproducible for a
	// given request order.
	FailureRate float64

	// FailStatus is the HTTP status (400–599) of failures drawn by FailureRate.
	// Default 500.
	FailStatus int

	// RetryAfter, when positive, is advertised on injected error responses in
	// Retry-After (whole seconds, rounded up) and retry-after-ms (milliseconds,
	// read by the OpenAI SDKs). Per request: x-mock-retry-after (seconds).
	RetryAfter time.Duration

	// ContextWindow, when positive, makes chat completions whose prompt has
	// more tokens than this fail as the provider does for a prompt past the
	// model's context window (OpenAI: 400 context_length_exceeded). Per
	// request: x-mock-context-window.
	ContextWindow int

	// CutStreamAfter, when positive, resets every stream after this many
	// content chunks, as a deployment that dies mid-answer does; 0 never.
	// Per request: x-mock-fail-stream-after (which takes 0 too).
	CutStreamAfter int

	// SlowRate is the fraction (0..1) of requests that wait SlowLatency
	// instead of Latency before their first byte: a deployment's slow tail
	// (hedged requests are measured against it). Which requests are slow
	// is drawn from a second sequence seeded by Seed, apart from
	// FailureRate's, so a run is reproducible for a given request order.
	// Per request: x-mock-slow-rate.
	SlowRate float64

	// SlowLatency is the latency of the requests SlowRate draws. Per
	// request: x-mock-slow-latency-ms.
	SlowLatency time.Duration

	// Seed seeds the FailureRate and SlowRate sequences. They restart whenever
	// options are set and on Reset.
	Seed int64
}

// Validate reports every field outside its documented range. SetOptions does
// not call it (it clamps instead); the CLI and PUT /mock/config do.
func (o Options) Validate() error {
	var errs []error
	if !validStatus(o.Status) {
		errs = append(errs, fmt.Errorf("status %d: must be 0, 200 or 400-599", o.Status))
	}
	if o.FailStatus != 0 && !validFailure(o.FailStatus) {
		errs = append(errs, fmt.Errorf("fail_status %d: must be 400-599", o.FailStatus))
	}
	if math.IsNaN(o.FailureRate) || o.FailureRate < 0 || o.FailureRate > 1 {
		errs = append(errs, fmt.Errorf("failure_rate %v: must be between 0 and 1", o.FailureRate))
	}
	if math.IsNaN(o.SlowRate) || o.SlowRate < 0 || o.SlowRate > 1 {
		errs = append(errs, fmt.Errorf("slow_rate %v: must be between 0 and 1", o.SlowRate))
	}
	if o.ContextWindow < 0 {
		errs = append(errs, fmt.Errorf("context_window %d: must not be negative", o.ContextWindow))
	}
	if o.CutStreamAfter < 0 {
		errs = append(errs, fmt.Errorf("cut_stream_after %d: must not be negative", o.CutStreamAfter))
	}
	if o.Chunks < 0 || o.Chunks > MaxChunks {
		errs = append(errs, fmt.Errorf("chunks %d: must be 0 (default) to %d", o.Chunks, MaxChunks))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"latency", o.Latency}, {"chunk_delay", o.ChunkDelay}, {"retry_after", o.RetryAfter}, {"slow_latency", o.SlowLatency}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %s: must not be negative", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}

// normalized fills in defaults and clamps out-of-range values, so the hot path
// never has to check them.
func (o Options) normalized() Options {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.Chunks <= 0 {
		o.Chunks = DefaultChunks
	}
	o.Chunks = min(o.Chunks, MaxChunks)
	if o.FailStatus == 0 || !validFailure(o.FailStatus) {
		o.FailStatus = DefaultFailStatus
	}
	if !validStatus(o.Status) {
		o.Status = DefaultFailStatus
	}
	if math.IsNaN(o.FailureRate) || o.FailureRate < 0 {
		o.FailureRate = 0
	}
	o.FailureRate = min(o.FailureRate, 1)
	if math.IsNaN(o.SlowRate) || o.SlowRate < 0 {
		o.SlowRate = 0
	}
	o.SlowRate = min(o.SlowRate, 1)
	o.SlowLatency = max(o.SlowLatency, 0)
	o.Latency = max(o.Latency, 0)
	o.ChunkDelay = max(o.ChunkDelay, 0)
	o.RetryAfter = max(o.RetryAfter, 0)
	return o
}

func validFailure(status int) bool { return status >= 400 && status <= 599 }

func validStatus(status int) bool { return status == 0 || status == 200 || validFailure(status) }

type optionsJSON struct {
	Name        string  `json:"name"`
	Latency     string  `json:"latency"`
	ChunkDelay  string  `json:"chunk_delay"`
	Chunks      int     `json:"chunks"`
	Status      int     `json:"status"`
	FailureRate float64 `json:"failure_rate"`
	FailStatus  int     `json:"fail_status"`
	RetryAfter  string  `json:"retry_after"`
	Context     int     `json:"context_window"`
	CutAfter    int     `json:"cut_stream_after"`
	SlowRate    float64 `json:"slow_rate"`
	SlowLatency string  `json:"slow_latency"`
	Seed        int64   `json:"seed"`
}

// MarshalJSON writes durations as Go duration strings.
func (o Options) MarshalJSON() ([]byte, error) {
	return json.Marshal(optionsJSON{
		Name:        o.Name,
		Latency:     o.Latency.String(),
		ChunkDelay:  o.ChunkDelay.String(),
		Chunks:      o.Chunks,
		Status:      o.Status,
		FailureRate: o.FailureRate,
		FailStatus:  o.FailStatus,
		RetryAfter:  o.RetryAfter.String(),
		Context:     o.ContextWindow,
		CutAfter:    o.CutStreamAfter,
		SlowRate:    o.SlowRate,
		SlowLatency: o.SlowLatency.String(),
		Seed:        o.Seed,
	})
}

// UnmarshalJSON sets only the keys present in data, so decoding onto the
// current options applies a partial update. Unknown keys are an error, so a
// misspelt knob fails loudly instead of being ignored.
func (o *Options) UnmarshalJSON(data []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return err
	}
	for key, raw := range fields {
		var err error
		switch key {
		case "name":
			err = json.Unmarshal(raw, &o.Name)
		case "latency":
			o.Latency, err = parseDurationJSON(raw)
		case "chunk_delay":
			o.ChunkDelay, err = parseDurationJSON(raw)
		case "chunks":
			err = json.Unmarshal(raw, &o.Chunks)
		case "status":
			err = json.Unmarshal(raw, &o.Status)
		case "failure_rate":
			err = json.Unmarshal(raw, &o.FailureRate)
		case "fail_status":
			err = json.Unmarshal(raw, &o.FailStatus)
		case "retry_after":
			o.RetryAfter, err = parseDurationJSON(raw)
		case "context_window":
			err = json.Unmarshal(raw, &o.ContextWindow)
		case "cut_stream_after":
			err = json.Unmarshal(raw, &o.CutStreamAfter)
		case "slow_rate":
			err = json.Unmarshal(raw, &o.SlowRate)
		case "slow_latency":
			o.SlowLatency, err = parseDurationJSON(raw)
		case "seed":
			err = json.Unmarshal(raw, &o.Seed)
		default:
			err = errors.New("unknown option")
		}
		if err != nil {
			return fmt.Errorf("options: %q: %w", key, err)
		}
	}
	return nil
}

// parseDurationJSON reads a Go duration string or a number of milliseconds.
func parseDurationJSON(raw json.RawMessage) (time.Duration, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, err
		}
		return time.ParseDuration(s)
	}
	if string(raw) == "null" {
		return 0, nil
	}
	ms, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return 0, fmt.Errorf("want a duration string or milliseconds, got %s", raw)
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}
