// Package mock is a fake LLM provider that speaks OpenAI's wire format
// (chat completions with and without SSE streaming, Responses, embeddings,
// models) with knobs for latency, streaming pace and failures, and a script
// that makes it call a client's tools (toolscript.go). The quickstart runs it as the
// deployments behind llmvoy, the e2e tests put it behind a real Envoy, and the
// benchmarks drive thousands of requests a second through it, so the request
// path takes no lock except the one guarding the bounded request log.
//
// Routes:
//
//	POST   /v1/chat/completions   chat.completion, or chat.completion.chunk SSE with "stream": true
//	POST   /v1/responses          response, or the Responses event stream (responses.go)
//	POST   /v1/embeddings         embeddings list (float or base64 encoding)
//	POST   /v1/images/generations, /v1/images/edits, /v1/moderations,
//	       /v1/audio/speech, /v1/audio/transcriptions   OpenAI's answers (media.go)
//	POST   /v2/rerank, /v1/rerank, /rerank   Cohere's rerank answer (rerank.go)
//	GET    /v1/models             one model, "mock-model"
//	GET    /v1/models/{id}        that model, or 404
//	GET    /mock/requests         recorded requests, oldest first (JSON array of Request)
//	DELETE /mock/requests         forget recorded requests
//	GET    /mock/config           current Options as JSON
//	PUT    /mock/config           apply the JSON keys present to the current Options
//	PUT    /mock/vertex/service-accounts  trust a service account for Vertex AI (vertex.go)
//	GET    /health                200
//
// Every other path answers 404 with OpenAI's "Invalid URL" error. Every
// response carries x-mock-name. Requests other than /mock/* and /health are
// recorded, including the Authorization header as received.
//
// Request headers override the options for one request, so tests sharing a
// mock can inject faults independently:
//
//	x-mock-status              HTTP status to fail with (400-599), or 200 to force success
//	x-mock-latency-ms          Latency in milliseconds
//	x-mock-chunk-delay-ms      ChunkDelay in milliseconds
//	x-mock-chunks              Chunks
//	x-mock-retry-after         RetryAfter in seconds (decimals allowed)
//	x-mock-slow-rate           SlowRate (0..1)
//	x-mock-slow-latency-ms     SlowLatency in milliseconds
//	x-mock-fail-stream-after   abort the connection after N content chunks (no
//	                           finish chunk, no [DONE]); on a non-streaming
//	                           request, abort before sending any response
package mock

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// RecordLimit is how many requests a Server remembers; older ones are dropped.
const RecordLimit = 1000

// maxBodyBytes bounds a request body; vision requests carry megabytes of base64.
const maxBodyBytes = 64 << 20

// Request is one request as the mock received it.
type Request struct {
	Method string `json:"method"`
	// Host is the Host header (net/http moves it out of Header).
	Host string `json:"host"`
	Path string `json:"path"`
	// Query is the raw query string without '?', e.g. Azure's api-version.
	Query  string          `json:"query,omitempty"`
	Header http.Header     `json:"header"`
	Body   json.RawMessage `json:"body"`
	Time   time.Time       `json:"time"`
}

// MarshalJSON writes the body as received when it is JSON (without
// encoding/json's HTML escaping), as a JSON string when it is not (a malformed
// request), and as null when it is empty.
func (r Request) MarshalJSON() ([]byte, error) {
	type plain Request
	p := plain(r)
	switch {
	case len(r.Body) == 0:
		p.Body = json.RawMessage("null")
	case !json.Valid(r.Body):
		p.Body = jsonscan.AppendString(nil, string(r.Body))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// Server is a mock OpenAI-compatible deployment. It is safe for concurrent use.
type Server struct {
	opts  atomic.Pointer[Options]
	rolls atomic.Uint64 // position in the FailureRate sequence
	slows atomic.Uint64 // position in the SlowRate sequence
	ids   atomic.Uint64 // response id counter
	salt  uint64        // makes ids differ between Server instances

	// vertex holds Vertex AI's service accounts and access tokens.
	vertex vertexAuth

	mu   sync.Mutex
	ring []Request // RecordLimit slots, next is the oldest once full
	next int
	full bool
}

var _ http.Handler = (*Server)(nil)

// New returns a mock with opts (defaults filled in, out-of-range values clamped).
func New(opts Options) *Server {
	s := &Server{
		salt: uint64(time.Now().UnixNano()),
		ring: make([]Request, RecordLimit),
	}
	s.SetOptions(opts)
	return s
}

// SetOptions replaces the options for requests that start from now on. Zero
// fields get their defaults and out-of-range values are clamped (see
// Options.Validate for the ranges). The FailureRate sequence restarts.
func (s *Server) SetOptions(o Options) {
	n := o.normalized()
	s.opts.Store(&n)
	s.rolls.Store(0)
	s.slows.Store(0)
}

// Options returns the options in effect, defaults filled in.
func (s *Server) Options() Options { return *s.opts.Load() }

// Requests returns the recorded requests, oldest first (at most RecordLimit).
func (s *Server) Requests() []Request {
	s.mu.Lock()
	var out []Request
	if s.full {
		out = make([]Request, 0, RecordLimit)
		out = append(out, s.ring[s.next:]...)
	}
	out = append(out, s.ring[:s.next]...)
	s.mu.Unlock()
	// Recorded headers and bodies are never written to; copy them so callers may.
	for i := range out {
		out[i].Header = out[i].Header.Clone()
		out[i].Body = append(json.RawMessage(nil), out[i].Body...)
	}
	return out
}

// Reset forgets the recorded requests and restarts the FailureRate sequence.
func (s *Server) Reset() {
	s.mu.Lock()
	clear(s.ring)
	s.next, s.full = 0, false
	s.mu.Unlock()
	s.rolls.Store(0)
	s.slows.Store(0)
}

func (s *Server) record(r *http.Request, body []byte, now time.Time) {
	// r.Header is not touched by net/http after the handler returns and not by
	// us, so it is stored without a copy; Requests copies on the way out.
	req := Request{Method: r.Method, Host: r.Host, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header, Body: body, Time: now}
	s.mu.Lock()
	s.ring[s.next] = req
	s.next++
	if s.next == len(s.ring) {
		s.next, s.full = 0, true
	}
	s.mu.Unlock()
}

// providerRoute serves one provider's own wire format (Anthropic's
// /v1/messages, ...). Each provider file adds its routes in init, so a new
// provider touches one file here.
type providerRoute struct {
	match func(method, path string) bool
	serve func(s *Server, w http.ResponseWriter, r *http.Request, body []byte, opts *Options)
}

var providerRoutes []providerRoute

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	opts := s.opts.Load()
	w.Header()["X-Mock-Name"] = []string{opts.Name}

	path := r.URL.Path
	switch path {
	case "/health":
		writeJSONBytes(w, http.StatusOK, []byte(`{"status":"ok"}`))
		return
	case "/mock/requests":
		s.serveRequests(w, r)
		return
	case "/mock/config":
		s.serveConfig(w, r)
		return
	case "/mock/vertex/service-accounts":
		s.serveServiceAccounts(w, r)
		return
	}

	now := time.Now()
	body, err := readBody(w, r)
	s.record(r, body, now)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, newAPIError(http.StatusRequestEntityTooLarge, "invalid_request_error", "Request body too large.", "", ""))
		}
		return // the client went away mid-body: nobody to answer
	}

	for _, route := range providerRoutes {
		if route.match(r.Method, path) {
			route.serve(s, w, r, body, opts)
			return
		}
	}
	switch {
	case path == "/v1/chat/completions" && r.Method == http.MethodPost:
		s.chatCompletions(w, r, body, opts)
	case path == "/v1/embeddings" && r.Method == http.MethodPost:
		s.embeddings(w, r, body, opts)
	case path == "/v1/completions" && r.Method == http.MethodPost:
		s.completions(w, r, body, opts)
	case path == "/v1/models" && r.Method == http.MethodGet:
		writeJSONBytes(w, http.StatusOK, modelsList)
	case strings.HasPrefix(path, "/v1/models/") && r.Method == http.MethodGet:
		serveModel(w, strings.TrimPrefix(path, "/v1/models/"))
	default:
		writeError(w, newAPIError(http.StatusNotFound, "invalid_request_error", "Invalid URL ("+r.Method+" "+path+")", "", ""))
	}
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > maxBodyBytes {
		return nil, &http.MaxBytesError{Limit: maxBodyBytes}
	}
	rd := http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if r.ContentLength > 0 {
		buf := make([]byte, r.ContentLength)
		n, err := io.ReadFull(rd, buf)
		if err != nil {
			return buf[:n], err
		}
		return buf, nil
	}
	return io.ReadAll(rd)
}

func (s *Server) serveRequests(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		reqs := s.Requests()
		if reqs == nil {
			reqs = []Request{}
		}
		writeJSON(w, http.StatusOK, reqs)
	case http.MethodDelete:
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, DELETE")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (s *Server) serveConfig(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, s.Options())
	case http.MethodPut:
		o := s.Options()
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err == nil {
			err = json.Unmarshal(body, &o)
		}
		if err == nil {
			err = o.Validate()
		}
		if err != nil {
			writeError(w, invalidRequest(err.Error(), "", ""))
			return
		}
		s.SetOptions(o)
		writeJSON(w, http.StatusOK, s.Options())
	default:
		w.Header().Set("Allow", "GET, PUT")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// writeJSON encodes v without encoding/json's HTML escaping: OpenAI sends
// "<" and "&" literally, and recorded bodies should read as they arrived.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		writeError(w, newAPIError(http.StatusInternalServerError, "server_error", "mock: "+err.Error(), "", ""))
		return
	}
	writeJSONBytes(w, status, bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}))
}

// attempt is what one request will do: the options with its x-mock-* headers
// applied and its failure drawn.
type attempt struct {
	latency, chunkDelay time.Duration
	chunks              int
	failStatus          int // 0: succeed
	retryAfter          time.Duration
	failStreamAfter     int // -1: never
}

// Canonical header keys, indexed directly to skip canonicalization per lookup.
const (
	hdrStatus          = "X-Mock-Status"
	hdrLatencyMS       = "X-Mock-Latency-Ms"
	hdrChunkDelayMS    = "X-Mock-Chunk-Delay-Ms"
	hdrChunks          = "X-Mock-Chunks"
	hdrRetryAfter      = "X-Mock-Retry-After"
	hdrFailStreamAfter = "X-Mock-Fail-Stream-After"
	hdrSlowRate        = "X-Mock-Slow-Rate"
	hdrSlowLatencyMS   = "X-Mock-Slow-Latency-Ms"
)

// resolve applies the request's x-mock-* headers to opts and draws whether
// this request fails. A malformed header is the test's bug: it gets a 400.
func (s *Server) resolve(opts *Options, h http.Header) (attempt, *apiError) {
	a := attempt{
		latency:         opts.Latency,
		chunkDelay:      opts.ChunkDelay,
		chunks:          opts.Chunks,
		retryAfter:      opts.RetryAfter,
		failStreamAfter: -1,
	}
	if opts.CutStreamAfter > 0 {
		a.failStreamAfter = opts.CutStreamAfter
	}
	status := opts.Status
	if v, ok := header(h, hdrStatus); ok {
		n, err := strconv.Atoi(v)
		if err != nil || !validStatus(n) || n == 0 {
			return a, badHeader(hdrStatus, "an HTTP status: 200 or 400-599")
		}
		status = n
	}
	if v, ok := header(h, hdrLatencyMS); ok {
		d, err := parseMillis(v)
		if err != nil {
			return a, badHeader(hdrLatencyMS, "non-negative milliseconds")
		}
		a.latency = d
	}
	if v, ok := header(h, hdrChunkDelayMS); ok {
		d, err := parseMillis(v)
		if err != nil {
			return a, badHeader(hdrChunkDelayMS, "non-negative milliseconds")
		}
		a.chunkDelay = d
	}
	if v, ok := header(h, hdrChunks); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxChunks {
			return a, badHeader(hdrChunks, "an integer from 1 to "+strconv.Itoa(MaxChunks))
		}
		a.chunks = n
	}
	if v, ok := header(h, hdrRetryAfter); ok {
		secs, err := strconv.ParseFloat(v, 64)
		if err != nil || secs < 0 || math.IsInf(secs, 0) || math.IsNaN(secs) {
			return a, badHeader(hdrRetryAfter, "non-negative seconds")
		}
		a.retryAfter = time.Duration(secs * float64(time.Second))
	}
	if v, ok := header(h, hdrFailStreamAfter); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return a, badHeader(hdrFailStreamAfter, "a non-negative number of chunks")
		}
		a.failStreamAfter = n
	}
	slowRate, slowLatency := opts.SlowRate, opts.SlowLatency
	if v, ok := header(h, hdrSlowRate); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f >= 0 && f <= 1) {
			return a, badHeader(hdrSlowRate, "a fraction from 0 to 1")
		}
		slowRate = f
	}
	if v, ok := header(h, hdrSlowLatencyMS); ok {
		d, err := parseMillis(v)
		if err != nil {
			return a, badHeader(hdrSlowLatencyMS, "non-negative milliseconds")
		}
		slowLatency = d
	}
	if slowRate > 0 && s.draw(&s.slows, slowSequence) < slowRate {
		a.latency = slowLatency
	}

	switch {
	case validFailure(status):
		a.failStatus = status
	case status == 200 && h[hdrStatus] != nil:
		// forced success: skip FailureRate
	case opts.FailureRate > 0 && s.draw(&s.rolls, 0) < opts.FailureRate:
		a.failStatus = opts.FailStatus
	}
	return a, nil
}

// draw returns the next number in [0,1) of a seeded sequence (FailureRate's
// at position pos with salt 0, SlowRate's with slowSequence). It is
// lock-free: concurrent requests take distinct positions.
func (s *Server) draw(pos *atomic.Uint64, salt uint64) float64 {
	n := pos.Add(1)
	seed := uint64(s.opts.Load().Seed) ^ salt
	return float64(splitmix64(seed^splitmix64(n))>>11) / (1 << 53)
}

// slowSequence sets SlowRate's draws apart from FailureRate's under one
// Seed.
const slowSequence = 0x5eed51011

func header(h http.Header, key string) (string, bool) {
	v := h[key]
	if len(v) == 0 {
		return "", false
	}
	return strings.TrimSpace(v[0]), true
}

func parseMillis(v string) (time.Duration, error) {
	ms, err := strconv.ParseFloat(v, 64)
	if err != nil || ms < 0 || math.IsInf(ms, 0) || math.IsNaN(ms) {
		return 0, errors.New("bad milliseconds")
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}

func badHeader(name, want string) *apiError {
	return invalidRequest("Invalid "+strings.ToLower(name)+" header: expected "+want+".", "", "")
}

// wait sleeps for d or until the client goes away; it reports whether to go on.
func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return r.Context().Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// newID returns prefix followed by n base62 characters, unique per Server.
func (s *Server) newID(prefix string, n int) string {
	b := make([]byte, 0, len(prefix)+n)
	b = append(b, prefix...)
	return string(appendID(b, s.salt+s.ids.Add(1)*0x9e3779b97f4a7c15, n))
}
