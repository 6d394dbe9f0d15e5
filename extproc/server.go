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
	"sync/atomic"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/keys"
	"github.com/llmvoy/llmvoy/metrics"
	"github.com/llmvoy/llmvoy/router"
	"github.com/llmvoy/llmvoy/xds"
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
	log           *slog.Logger
	// metrics counts fallbacks and is what /metrics serves; nil serves none.
	metrics *metrics.Metrics
	// keys are the virtual keys and spend; nil: only the master key.
	keys      *keys.Keys
	counters  Counters
	parallel  *inFlight
	summaries *summaries
	// accessLog gets a JSON line per client request; nil: none.
	accessLog *jsonLog
}

var _ extprocv3.ExternalProcessorServer = (*Server)(nil)

// NewServer returns a Server serving cfg. It reads which deployments are
// cooling down from cooldowns (and records there the failures it turns into
// fallbacks) and which are past their rpm from balance.
func NewServer(cfg *config.Config, cooldowns *router.Cooldowns, balance *router.Balance, log *slog.Logger) *Server {
	s := &Server{log: log, cooldowns: cooldowns, balance: balance, fallbackToken: newFallbackToken()}
	s.SetConfig(cfg)
	return s
}

// SetConfig makes cfg the config for requests that start from now on.
func (s *Server) SetConfig(cfg *config.Config) {
	var prev *config.Config
	if old := s.state.Load(); old != nil {
		prev = old.cfg
	}
	s.state.Store(newState(cfg, prev))
	s.metrics.SetConfig(cfg)
}

// SetMetrics makes m the metrics the processors report to and /metrics
// serves; call it before serving. SetConfig keeps m's labels current.
func (s *Server) SetMetrics(m *metrics.Metrics) { s.metrics = m }

// Register adds the service to g.
func (s *Server) Register(g *grpc.Server) { extprocv3.RegisterExternalProcessorServer(g, s) }

// Process serves one HTTP request's (or attempt's) stream of phases.
func (s *Server) Process(stream extprocv3.ExternalProcessor_ProcessServer) error {
	h, err := s.handlerFor(stream)
	if err != nil {
		return err
	}
	for {
		req, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) || status.Code(err) == codes.Canceled {
				return nil
			}
			return err
		}
		resps, err := h.handle(req)
		if err != nil {
			return status.Errorf(codes.Internal, "llmvoy: %v", err)
		}
		for _, resp := range resps {
			if err := stream.Send(resp); err != nil {
				return err
			}
		}
	}
}

func (s *Server) handlerFor(stream extprocv3.ExternalProcessor_ProcessServer) (handler, error) {
	// ValueFromIncomingContext reads the one key without copying all the
	// stream's metadata (it showed in the profile).
	st := s.state.Load()
	switch kind := first(metadata.ValueFromIncomingContext(stream.Context(), xds.ProcessorHeader)); kind {
	case xds.ProcessorGateway:
		return &fullDuplex{p: &gateway{state: st, server: s}}, nil
	case xds.ProcessorUpstream:
		return inTurn{&upstream{state: st, server: s}}, nil
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
