// Package relay holds a client's chat completion stream itself, so that a
// deployment that dies after its answer began does not end the answer.
//
// Envoy's router cannot do this: once a response byte reached the client,
// an upstream reset resets the client's stream too, and nothing after the
// router can write to it. So for model groups with stream continuation on,
// the gateway listener sends streaming chat completions to llmvoy's relay
// socket, and the relay makes the group's attempts through an Envoy
// listener of their own on a private unix socket (package xds, relay.go),
// where Envoy does the retries, timeouts, translation and credentials as
// on the group's route. The relay passes the answer on event by event and
// remembers the text sent. When the attempt's stream is cut (a reset, an
// end without [DONE], a provider's error event) before the answer
// finished, it asks again with the text so far as the assistant's last
// message (the deployment's translator makes it the provider's prefill or
// a continuation instruction), on another deployment, and splices the
// continuation into the same client stream: the continuation's role chunk
// dropped, its chunks given the first completion id. A comment event
// before [DONE] says the answer was continued. An answer that cannot be
// continued (a tool call in flight, several choices, no deployment left)
// ends with an error event in OpenAI's shape and a clean end of stream,
// never a cut connection.
package relay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/llmvoy/llmvoy/internal/sse"
	"github.com/llmvoy/llmvoy/plan"
)

// MaxContinuations bounds how often one answer is continued.
const MaxContinuations = 2

// Requests are llmvoy's requests by Envoy's request id (package extproc
// implements it).
type Requests interface {
	// Relayed is the relay's handle on a request the gateway routed to it.
	Relayed(requestID string) Request
}

// Request is what the relay tells the rest of llmvoy about one request.
type Request interface {
	// Continue says the request's next attempt continues an answer that
	// deployment cut, and returns the route (of the relay listener) of the
	// deployment to make it on, one that has not cut it; "" when none is
	// left. The attempt's body ends with the answer so far.
	Continue(deployment string) (route string)
	// Done says the relay has finished the request's answer, continued or
	// not: its spend is recorded now, once.
	Done()
}

// Metrics counts continuations: outcome is "continued" or "failed".
type Metrics interface {
	StreamContinuation(deployment, outcome string)
}

// Handler is the relay's HTTP handler, on the socket the gateway
// listener's relay cluster reaches.
type Handler struct {
	attempts *http.Client
	requests Requests
	metrics  Metrics
	log      *slog.Logger
	maxBody  int64
}

// New is a relay that makes its attempts through the Envoy listener on the
// unix socket attemptsSocket.
func New(attemptsSocket string, requests Requests, metrics Metrics, maxBody int64, log *slog.Logger) *Handler {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &Handler{
		attempts: &http.Client{
			Transport: &http.Transport{
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					return dialer.DialContext(ctx, "unix", attemptsSocket)
				},
				MaxIdleConnsPerHost: 256,
				IdleConnTimeout:     time.Minute,
				// The client's Accept-Encoding goes on as it is: the
				// answer is read as the client gets it.
				DisableCompression: true,
			},
			// A fallback's redirect is the gateway listener's to follow.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		requests: requests, metrics: metrics, maxBody: maxBody, log: log,
	}
}

// hopByHop are the headers of one connection, not of the request.
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade", "Te", "Trailer", "Content-Length"}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("x-request-id")
	req := h.requests.Relayed(id)
	defer req.Done()
	a := followerFor(r.URL.Path)
	body, err := io.ReadAll(io.LimitReader(r.Body, h.maxBody+1))
	if err != nil || int64(len(body)) > h.maxBody {
		writeError(w, http.StatusBadRequest, a.errorBody("the request body could not be read"))
		return
	}
	resp, err := h.attempt(r, body)
	if err != nil && r.Context().Err() != nil {
		return // the client left
	}
	if err != nil {
		h.log.Warn("relay: attempt failed", "request_id", id, "err", err)
		writeError(w, http.StatusBadGateway, a.errorBody("could not get a response from the model deployment"))
		return
	}
	copyHeaders(w.Header(), resp.Header)
	if !isStream(resp) {
		// An error, a fallback's redirect, an answer that is not a
		// stream: passed on as it is.
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
		resp.Body.Close()
		return
	}
	w.WriteHeader(resp.StatusCode)
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	flush()
	var continuedOn []string
	for n := 0; ; n++ {
		deployment := resp.Header.Get(plan.ModelIDHeader)
		ended, reason := h.pass(resp.Body, w, flush, a, continuedOn)
		resp.Body.Close()
		if ended || r.Context().Err() != nil {
			// Done, or the client left: nothing to continue for it.
			return
		}
		if !a.continuable() || n >= MaxContinuations {
			h.fail(w, flush, a, id, deployment, reason, "the answer could not be continued")
			return
		}
		route := req.Continue(deployment)
		if route == "" {
			h.fail(w, flush, a, id, deployment, reason, "no other deployment of the group is available")
			return
		}
		next, ok := continuationBody(body, a.prefill())
		if !ok {
			h.fail(w, flush, a, id, deployment, reason, "the request cannot be continued")
			return
		}
		r.Header.Set(plan.RouteHeader, route)
		resp, err = h.attempt(r, next)
		if err == nil && !isStream(resp) {
			resp.Body.Close()
			err = errors.New("status " + strconv.Itoa(resp.StatusCode))
		}
		if err != nil {
			h.fail(w, flush, a, id, deployment, reason, "no deployment could continue it: "+err.Error())
			return
		}
		h.metrics.StreamContinuation(deployment, "continued")
		h.log.Info("continuing a cut stream", "request_id", id, "cut_by", deployment, "on", resp.Header.Get(plan.ModelIDHeader), "reason", reason, "bytes_sent", a.sent())
		continuedOn = append(continuedOn, resp.Header.Get(plan.ModelIDHeader))
	}
}

// pass relays one attempt's events. ended is true when the answer is
// complete (the client has its [DONE]); else reason says how the attempt
// failed.
func (h *Handler) pass(body io.Reader, w io.Writer, flush func(), a follower, continuedOn []string) (ended bool, reason string) {
	var rd sse.Reader
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		events, ferr := rd.Feed(buf[:n], err == io.EOF)
		for _, ev := range events {
			out, v := a.event(ev)
			switch v {
			case drop:
				continue
			case failed:
				return false, "error event: " + string(truncate(ev, 200))
			case done:
				if len(continuedOn) > 0 {
					// A comment: SSE clients skip it; a person reading
					// the stream sees where the answer was continued.
					io.WriteString(w, ": llmvoy: continued on deployment "+continuedOn[len(continuedOn)-1]+"\n\n")
				}
				w.Write(a.frame(out))
				flush()
				return true, ""
			}
			w.Write(a.frame(out))
		}
		if len(events) > 0 {
			flush()
		}
		switch {
		case ferr != nil:
			return false, ferr.Error()
		case err != nil && a.finished():
			// The answer is whole; only its last event is missing.
			w.Write(a.end())
			flush()
			return true, ""
		case err == io.EOF:
			return false, "the stream ended before the answer"
		case err != nil:
			return false, err.Error()
		}
	}
}

// fail ends the client's stream with an error event and a clean end.
func (h *Handler) fail(w io.Writer, flush func(), a follower, id, deployment, reason, why string) {
	h.log.Warn("stream cut: ending it with an error event", "request_id", id, "deployment", deployment, "reason", reason, "why", why)
	h.metrics.StreamContinuation(deployment, "failed")
	w.Write(a.errorEvent("the model deployment's stream was cut and " + why))
	flush()
}

func (h *Handler) attempt(r *http.Request, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, "http://llmvoy-relay"+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	copyHeaders(req.Header, r.Header)
	req.Host = r.Host
	return h.attempts.Do(req)
}

func isStream(resp *http.Response) bool {
	ct := resp.Header.Get("Content-Type")
	return resp.StatusCode == http.StatusOK && len(ct) >= len("text/event-stream") && ct[:len("text/event-stream")] == "text/event-stream"
}

func copyHeaders(dst, src http.Header) {
	for k, vs := range src {
		dst[k] = append([]string(nil), vs...)
	}
	for _, k := range hopByHop {
		dst.Del(k)
	}
}

func writeError(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
