// Package extproc is llmvoy's code on Envoy's request path: a gRPC
// external-processing server hosting two processors. The gateway processor
// (listener filter chain) authenticates, resolves the model group and answers
// local endpoints; the upstream processor (cluster filter chain, once per
// attempt) rewrites each attempt for the deployment Envoy picked.
package extproc

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/llmvoy/llmvoy/cache"
	"github.com/llmvoy/llmvoy/callbacks"
	"github.com/llmvoy/llmvoy/credentials"
	"github.com/llmvoy/llmvoy/keys"
	"github.com/llmvoy/llmvoy/metrics"
	"github.com/llmvoy/llmvoy/plan"
	"github.com/llmvoy/llmvoy/router"
)

// processor handles one HTTP request (gateway) or one attempt (upstream): one
// method per ext_proc phase it asked Envoy for.
type processor interface {
	RequestHeaders(h *extprocv3.HttpHeaders, attrs attributes) *extprocv3.ProcessingResponse
	RequestBody(b *extprocv3.HttpBody, attrs attributes) *extprocv3.ProcessingResponse
}

// responseProcessor is a processor that may also ask for response phases.
type responseProcessor interface {
	processor
	ResponseHeaders(h *extprocv3.HttpHeaders) *extprocv3.ProcessingResponse
	ResponseBody(b *extprocv3.HttpBody) *extprocv3.ProcessingResponse
}

// Server is the ext_proc gRPC service. Its config is swapped atomically on
// reload; each request keeps the config it started with.
type Server struct {
	extprocv3.UnimplementedExternalProcessorServer
	state     atomic.Pointer[state]
	cooldowns *router.Cooldowns
	balance   *router.Balance
	// fallbackToken signs the fallback headers this process writes.
	fallbackToken []byte
	attempts      attempts
	// requests are the gateway's routing decisions for the upstream
	// attempts, by request id.
	requests *requests
	// bodies counts the request body bytes the gateway streams hold.
	bodies heldBodies
	log    *slog.Logger
	// metrics counts fallbacks and is what /metrics serves; nil serves none.
	metrics *metrics.Metrics
	// keys are the virtual keys and spend; nil: only the master key.
	keys      *keys.Keys
	counters  Counters
	parallel  *inFlight
	summaries *summaries
	// callbacks get a record of each request; nil: none configured.
	callbacks *callbacks.Exporter
	// accessLog gets a JSON line per client request; nil: none.
	accessLog *jsonLog
	// googleTokens are the access tokens of Vertex AI deployments, kept
	// across requests and config reloads.
	googleTokens *credentials.GoogleTokens
	// beforePhase, when set, sees each message before its processor does:
	// tests make a phase panic with it. Always nil outside tests.
	beforePhase func(*extprocv3.ProcessingRequest)
	// relayOn: llmvoy's relay serves (SetRelay).
	relayOn atomic.Bool
	// cache is the response cache's store (cache.go); nil: none.
	cache cache.Store
}

var _ extprocv3.ExternalProcessorServer = (*Server)(nil)

// NewServer returns a Server serving cfg. It reads which deployments are
// cooling down from cooldowns (and records there the failures it turns into
// fallbacks) and which are past their rpm from balance.
func NewServer(p *plan.Plan, cooldowns *router.Cooldowns, balance *router.Balance, log *slog.Logger) *Server {
	s := &Server{log: log, cooldowns: cooldowns, balance: balance, fallbackToken: newFallbackToken(),
		googleTokens: credentials.NewGoogleTokens(nil)}
	s.bodies.limit = maxHeldBodyBytes
	s.requests = newRequests(func() time.Duration { return routeTTL(s.state.Load().plan.RouteTimeout) })
	s.SetPlan(p)
	return s
}

// SetPlan makes p's config the one for requests that start from now on.
func (s *Server) SetPlan(p *plan.Plan) {
	var prev *plan.Plan
	if old := s.state.Load(); old != nil {
		prev = old.plan
	}
	s.state.Store(newState(p, prev))
	s.metrics.SetPlan(p)
}

// SetMetrics makes m the metrics the processors report to and /metrics
// serves; call it before serving. SetPlan keeps m's labels current.
func (s *Server) SetMetrics(m *metrics.Metrics) { s.metrics = m }

// Register adds the service to g.
func (s *Server) Register(g *grpc.Server) { extprocv3.RegisterExternalProcessorServer(g, s) }

// Process serves one HTTP request's (or attempt's) stream of phases. A
// panic fails this request only: it is logged once, the request gets a 500
// while one can still be sent, and the server goes on serving.
func (s *Server) Process(stream extprocv3.ExternalProcessor_ProcessServer) (err error) {
	h, err := s.handlerFor(stream)
	if err != nil {
		return err
	}
	var seen streamSeen
	defer s.ended(h, &seen)
	defer func() {
		if v := recover(); v != nil {
			err = s.failRequest(stream, &seen, v)
		}
	}()
	for {
		req, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) || status.Code(err) == codes.Canceled {
				return nil
			}
			return err
		}
		if seen.headers == nil {
			seen.headers = req.GetRequestHeaders()
		}
		if s.beforePhase != nil {
			s.beforePhase(req)
		}
		resps, err := h.handle(req)
		if err != nil {
			return status.Errorf(codes.Internal, "llmvoy: %v", err)
		}
		for _, resp := range resps {
			seen.answered(resp)
			if err := stream.Send(resp); err != nil {
				return err
			}
		}
	}
}

// closer is a processor that must learn that its stream ended, however it
// ended (the answer complete, the client gone, the upstream reset, a
// panic): the upstream processor charges what a stream it did not see to
// the end produced.
type closer interface{ close() }

// streamSeen is what the stream loop keeps for a panic's sake: the request
// headers, for the request id, and whether the client may already have part
// of the answer, after which the request can no longer be answered whole.
type streamSeen struct {
	headers *extprocv3.HttpHeaders
	begun   bool
}

// answered notes an answer about to be sent: once the response headers go
// on toward the client without holding them for a buffered body, or a
// response body piece goes, an immediate response can no longer replace the
// answer.
func (s *streamSeen) answered(resp *extprocv3.ProcessingResponse) {
	switch {
	case resp.GetResponseBody() != nil || resp.GetImmediateResponse() != nil:
		s.begun = true
	case resp.GetResponseHeaders() != nil:
		s.begun = resp.GetModeOverride().GetResponseBodyMode() != extprocfilterv3.ProcessingMode_BUFFERED
	}
}

// failRequest answers a request whose processor panicked: a 500 in OpenAI's
// shape while the answer has not begun, else a gRPC error that makes Envoy
// reset the request.
func (s *Server) failRequest(stream extprocv3.ExternalProcessor_ProcessServer, seen *streamSeen, v any) error {
	requestID := headerValue(seen.headers, "x-request-id")
	s.log.Error("llmvoy bug: request failed by a panic", "request_id", requestID,
		"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	if !seen.begun {
		msg := "llmvoy: internal error"
		if requestID != "" {
			msg += " (request id " + requestID + ")"
		}
		resp := replyError(apiError{Status: 500, Message: msg, Type: "internal_error"})
		seen.begun = true
		if stream.Send(resp) == nil {
			return nil
		}
	}
	return status.Error(codes.Internal, "llmvoy: internal error")
}

// ended tells a processor that wants to know that its stream is over. A
// panic there is logged and goes no further.
func (s *Server) ended(h handler, seen *streamSeen) {
	c := closerOf(h)
	if c == nil {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("llmvoy bug: panic at the end of a request", "request_id", headerValue(seen.headers, "x-request-id"),
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
	}()
	c.close()
}

func closerOf(h handler) closer {
	switch h := h.(type) {
	case closer:
		return h
	case inTurn:
		c, _ := h.p.(closer)
		return c
	}
	return nil
}

func (s *Server) handlerFor(stream extprocv3.ExternalProcessor_ProcessServer) (handler, error) {
	// ValueFromIncomingContext reads the one key without copying all the
	// stream's metadata (it showed in the profile).
	st := s.state.Load()
	switch kind := first(metadata.ValueFromIncomingContext(stream.Context(), plan.ProcessorHeader)); kind {
	case plan.ProcessorGateway:
		return &fullDuplex{p: &gateway{state: st, server: s}, held: &s.bodies}, nil
	case plan.ProcessorUpstream:
		return inTurn{&upstream{state: st, server: s}}, nil
	case plan.ProcessorPassThrough:
		return inTurn{&passThrough{u: upstream{state: st, server: s}}}, nil
	default:
		return nil, status.Error(codes.InvalidArgument, fmt.Sprintf("llmvoy: unknown processor %q", kind))
	}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
