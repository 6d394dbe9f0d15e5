package mock

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestInjectedErrorBodies(t *testing.T) {
	tests := []struct {
		status               int
		typ, code, msgPrefix string
		retryHeader          string // x-mock-retry-after sent
		retryAfter, retryMS  string // Retry-After and retry-after-ms expected
		inBodyAs             string
	}{
		{status: 400, typ: "invalid_request_error", code: "<null>", msgPrefix: "Invalid request"},
		{status: 401, typ: "invalid_request_error", code: "invalid_api_key", msgPrefix: "Incorrect API key provided"},
		{status: 403, typ: "request_forbidden", code: "unsupported_country_region_territory", msgPrefix: "Country, region, or territory not supported"},
		{status: 404, typ: "invalid_request_error", code: "model_not_found", msgPrefix: "The model `gpt-4o` does not exist"},
		{status: 429, typ: "requests", code: "rate_limit_exceeded", msgPrefix: "Rate limit reached for gpt-4o in organization",
			retryHeader: "20", retryAfter: "20", retryMS: "20000", inBodyAs: "Please try again in 20s."},
		{status: 429, typ: "requests", code: "rate_limit_exceeded", msgPrefix: "Rate limit reached",
			retryHeader: "0.25", retryAfter: "1", retryMS: "250", inBodyAs: "Please try again in 250ms."},
		{status: 500, typ: "server_error", code: "<null>", msgPrefix: "The server had an error while processing your request."},
		{status: 502, typ: "server_error", code: "<null>", msgPrefix: "Bad Gateway"},
		{status: 503, typ: "service_unavailable_error", code: "server_is_overloaded", msgPrefix: "The engine is currently overloaded, please try again later."},
		{status: 418, typ: "invalid_request_error", code: "<null>", msgPrefix: "I'm a teapot"},
	}
	s := New(Options{Name: "gamma"})
	for _, tt := range tests {
		headers := []string{"x-mock-status", strconv.Itoa(tt.status)}
		if tt.retryHeader != "" {
			headers = append(headers, "x-mock-retry-after", tt.retryHeader)
		}
		rec := serve(s, http.MethodPost, "/v1/chat/completions", chatBody, headers...)
		require.Equal(t, tt.status, rec.Code)
		require.Equal(t, "gamma", rec.Header().Get("x-mock-name"), "errors carry x-mock-name too")
		require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
		e := decodeError(t, rec.Body.Bytes())
		require.True(t, strings.HasPrefix(e.Error.Message, tt.msgPrefix), "%d: %s", tt.status, e.Error.Message)
		require.Equal(t, tt.typ, e.Error.Type, "%d", tt.status)
		require.Equal(t, tt.code, deref(e.Error.Code), "%d", tt.status)
		require.Nil(t, e.Error.Param)
		require.Equal(t, tt.retryAfter, rec.Header().Get("Retry-After"), "%d", tt.status)
		require.Equal(t, tt.retryMS, rec.Header().Get("Retry-After-Ms"), "%d", tt.status)
		if tt.inBodyAs != "" {
			require.Contains(t, e.Error.Message, tt.inBodyAs)
		}
	}
}

func TestStatusOption(t *testing.T) {
	s := New(Options{Status: 429, RetryAfter: 2 * time.Second})
	for _, path := range []string{"/v1/chat/completions", "/v1/embeddings"} {
		body := chatBody
		if path == "/v1/embeddings" {
			body = `{"model":"e","input":"x"}`
		}
		rec := serve(s, http.MethodPost, path, body)
		require.Equal(t, 429, rec.Code, path)
		require.Equal(t, "2", rec.Header().Get("Retry-After"))
		require.Equal(t, "rate_limit_exceeded", deref(decodeError(t, rec.Body.Bytes()).Error.Code))
	}

	// x-mock-status: 200 forces success against Status.
	rec := serve(s, http.MethodPost, "/v1/chat/completions", chatBody, "x-mock-status", "200")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Empty(t, rec.Header().Get("Retry-After"), "success carries no Retry-After")

	// Status 200 in options means succeed.
	s.SetOptions(Options{Status: 200})
	require.Equal(t, http.StatusOK, serve(s, http.MethodPost, "/v1/chat/completions", chatBody).Code)

	// Models are listed whatever Status says: it is about model calls.
	s.SetOptions(Options{Status: 500})
	require.Equal(t, http.StatusOK, serve(s, http.MethodGet, "/v1/models", "").Code)
}

func TestStatusStillValidatesTheBodyFirst(t *testing.T) {
	s := New(Options{Status: 503})
	rec := serve(s, http.MethodPost, "/v1/chat/completions", `{"model":"m"}`)
	require.Equal(t, http.StatusBadRequest, rec.Code)
}

func TestFailureRate(t *testing.T) {
	outcomes := func(s *Server, n int) []int {
		codes := make([]int, n)
		for i := range codes {
			codes[i] = serve(s, http.MethodPost, "/v1/chat/completions", chatBody).Code
		}
		return codes
	}
	opts := Options{FailureRate: 0.3, FailStatus: 503, Seed: 42}
	a := outcomes(New(opts), 1000)
	failures := 0
	for _, c := range a {
		if c != http.StatusOK {
			require.Equal(t, 503, c)
			failures++
		}
	}
	// The sequence is fixed by the seed, so this is exact per run; the bound
	// only documents that the rate is honoured (±4.5 standard deviations).
	require.InDelta(t, 300, failures, 65)

	require.Equal(t, a, outcomes(New(opts), 1000), "same seed, same sequence")
	opts.Seed = 43
	require.NotEqual(t, a, outcomes(New(opts), 1000), "another seed, another sequence")

	s := New(Options{FailureRate: 0.3, Seed: 42})
	first := outcomes(s, 50)
	s.Reset()
	require.Equal(t, first, outcomes(s, 50), "Reset restarts the sequence")
	for _, c := range first {
		require.Contains(t, []int{200, DefaultFailStatus}, c)
	}

	all := New(Options{FailureRate: 1})
	for _, c := range outcomes(all, 20) {
		require.Equal(t, DefaultFailStatus, c)
	}
	// An explicit 200 skips the draw.
	require.Equal(t, http.StatusOK, serve(all, http.MethodPost, "/v1/chat/completions", chatBody, "x-mock-status", "200").Code)
}

func TestSlowRate(t *testing.T) {
	// Which requests are slow, as a sequence of booleans: a slow one waits
	// 30 ms, a fast one nothing.
	slow := func(s *Server, n int, headers ...string) []bool {
		out := make([]bool, n)
		for i := range out {
			began := time.Now()
			require.Equal(t, http.StatusOK, serve(s, http.MethodPost, "/v1/chat/completions", chatBody, headers...).Code)
			out[i] = time.Since(began) >= 30*time.Millisecond
		}
		return out
	}
	count := func(b []bool) (n int) {
		for _, v := range b {
			if v {
				n++
			}
		}
		return n
	}
	opts := Options{SlowRate: 0.2, SlowLatency: 30 * time.Millisecond, Seed: 7}
	a := slow(New(opts), 100)
	require.InDelta(t, 20, count(a), 18, "the rate is honoured")
	s := New(opts)
	require.Equal(t, a, slow(s, 100), "same seed, same slow requests")
	s.Reset()
	require.Equal(t, a, slow(s, 100), "Reset restarts the sequence")

	// Per request; no failures drawn on a forced success, and the slow
	// draws do not move FailureRate's sequence.
	fast := New(Options{})
	require.Equal(t, 10, count(slow(fast, 10, "x-mock-slow-rate", "1", "x-mock-slow-latency-ms", "30")))
	require.Zero(t, count(slow(fast, 10, "x-mock-slow-rate", "0", "x-mock-slow-latency-ms", "30")))
	require.Equal(t, http.StatusBadRequest, serve(fast, http.MethodPost, "/v1/chat/completions", chatBody, "x-mock-slow-rate", "2").Code)

	failures := func(o Options) []int {
		s := New(o)
		codes := make([]int, 50)
		for i := range codes {
			codes[i] = serve(s, http.MethodPost, "/v1/chat/completions", chatBody).Code
		}
		return codes
	}
	require.Equal(t, failures(Options{FailureRate: 0.5, Seed: 7}), failures(Options{FailureRate: 0.5, Seed: 7, SlowRate: 0.5, SlowLatency: time.Millisecond}))
}

func TestLatencyAppliesToResponsesAndInjectedErrors(t *testing.T) {
	s := New(Options{Latency: 80 * time.Millisecond})
	for _, h := range [][]string{nil, {"x-mock-status", "500"}} {
		began := time.Now()
		rec := serve(s, http.MethodPost, "/v1/chat/completions", chatBody, h...)
		require.GreaterOrEqual(t, time.Since(began), 80*time.Millisecond, "%v -> %d", h, rec.Code)
	}
	began := time.Now()
	serve(s, http.MethodPost, "/v1/chat/completions", chatBody, "x-mock-latency-ms", "0")
	require.Less(t, time.Since(began), 80*time.Millisecond)

	began = time.Now()
	serve(New(Options{}), http.MethodPost, "/v1/chat/completions", chatBody, "x-mock-latency-ms", "120")
	require.GreaterOrEqual(t, time.Since(began), 120*time.Millisecond)
}

func TestBadOverrideHeaders(t *testing.T) {
	tests := [][]string{
		{"x-mock-status", "abc"},
		{"x-mock-status", "99"},
		{"x-mock-status", "302"},
		{"x-mock-status", "0"},
		{"x-mock-latency-ms", "-5"},
		{"x-mock-latency-ms", "soon"},
		{"x-mock-chunk-delay-ms", "NaN"},
		{"x-mock-chunks", "0"},
		{"x-mock-chunks", "100001"},
		{"x-mock-retry-after", "-1"},
		{"x-mock-fail-stream-after", "-1"},
	}
	s := New(Options{})
	for _, h := range tests {
		rec := serve(s, http.MethodPost, "/v1/chat/completions", chatBody, h...)
		require.Equal(t, http.StatusBadRequest, rec.Code, "%v", h)
		e := decodeError(t, rec.Body.Bytes())
		require.Contains(t, e.Error.Message, h[0], "the message names the header")
	}
}

func TestOverrideHeadersOnEmbeddings(t *testing.T) {
	s := New(Options{})
	rec := serve(s, http.MethodPost, "/v1/embeddings", `{"model":"e","input":"x"}`, "x-mock-status", "429", "x-mock-retry-after", "7")
	require.Equal(t, 429, rec.Code)
	require.Equal(t, "7", rec.Header().Get("Retry-After"))
	e := decodeError(t, rec.Body.Bytes())
	require.Contains(t, e.Error.Message, "Rate limit reached for e ")
}
