package xds

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	clusterservice "github.com/envoyproxy/go-control-plane/envoy/service/cluster/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	endpointservice "github.com/envoyproxy/go-control-plane/envoy/service/endpoint/v3"
	listenerservice "github.com/envoyproxy/go-control-plane/envoy/service/listener/v3"
	routeservice "github.com/envoyproxy/go-control-plane/envoy/service/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
)

// snapshotKey is the single snapshot every Envoy gets: one llmvoy may feed
// many Envoys (sidecars, edge replicas) with different node ids, and they all
// serve the same model list.
const snapshotKey = "llmvoy"

type sameForAllNodes struct{}

func (sameForAllNodes) ID(*corev3.Node) string { return snapshotKey }

// Server serves the latest Resources to every connected Envoy over ADS.
type Server struct {
	cache   cachev3.SnapshotCache
	xds     serverv3.Server
	log     *slog.Logger
	mu       sync.Mutex
	version  int
	lastNACK string // type and message of the last NACK logged
	// nackPause throttles the resend loop after a NACK.
	nackPause time.Duration
}

// NewServer makes a Server; Register it on a gRPC server and Set resources.
func NewServer(ctx context.Context, log *slog.Logger) *Server {
	s := &Server{log: log, nackPause: time.Second}
	s.cache = cachev3.NewSnapshotCache(true, sameForAllNodes{}, slogAdapter{log})
	s.xds = serverv3.NewServer(ctx, s.cache, serverv3.CallbackFuncs{StreamRequestFunc: s.onRequest})
	return s
}

// onRequest watches Envoy's acknowledgements. A request carrying an error
// detail is a NACK: Envoy rejected what llmvoy sent and keeps serving its
// previous configuration, so the operator must hear about it. The cache
// answers a NACK by sending the same snapshot again, which Envoy rejects
// again; pausing here keeps that loop from spinning a core.
func (s *Server) onRequest(_ int64, req *discoverygrpc.DiscoveryRequest) error {
	detail := req.GetErrorDetail()
	if detail == nil {
		return nil
	}
	s.mu.Lock()
	first := s.lastNACK != req.GetTypeUrl()+"|"+detail.GetMessage()
	s.lastNACK = req.GetTypeUrl() + "|" + detail.GetMessage()
	s.mu.Unlock()
	if first {
		s.log.Error("envoy rejected the configuration llmvoy sent; it keeps serving the previous one",
			"type", req.GetTypeUrl(), "node", req.GetNode().GetId(), "error", detail.GetMessage())
	}
	time.Sleep(s.nackPause)
	return nil
}

// Register adds the ADS service (and the per-type services, for Envoys
// configured without ADS) to g.
func (s *Server) Register(g *grpc.Server) {
	discoverygrpc.RegisterAggregatedDiscoveryServiceServer(g, s.xds)
	listenerservice.RegisterListenerDiscoveryServiceServer(g, s.xds)
	routeservice.RegisterRouteDiscoveryServiceServer(g, s.xds)
	clusterservice.RegisterClusterDiscoveryServiceServer(g, s.xds)
	endpointservice.RegisterEndpointDiscoveryServiceServer(g, s.xds)
}

// Set validates r and serves it as the next snapshot. A snapshot that is not
// consistent (a route naming a missing cluster, ...) is refused and the
// previous one keeps serving.
func (s *Server) Set(ctx context.Context, r *Resources) error {
	if err := r.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version++
	snap, err := cachev3.NewSnapshot(strconv.Itoa(s.version), map[resource.Type][]types.Resource{
		resource.ListenerType: r.Listeners,
		resource.RouteType:    r.Routes,
		resource.ClusterType:  r.Clusters,
		resource.EndpointType: r.Endpoints,
	})
	if err != nil {
		return fmt.Errorf("xds: snapshot: %w", err)
	}
	if err := snap.Consistent(); err != nil {
		return fmt.Errorf("xds: inconsistent snapshot: %w", err)
	}
	if err := s.cache.SetSnapshot(ctx, snapshotKey, snap); err != nil {
		return fmt.Errorf("xds: set snapshot: %w", err)
	}
	s.log.Debug("xds snapshot set", "version", s.version, "clusters", len(r.Clusters))
	return nil
}

// slogAdapter gives go-control-plane's 4-method logger a slog backend.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Debugf(f string, args ...any) { a.l.Debug(fmt.Sprintf(f, args...)) }
func (a slogAdapter) Infof(f string, args ...any)  { a.l.Debug(fmt.Sprintf(f, args...)) }
func (a slogAdapter) Warnf(f string, args ...any)  { a.l.Warn(fmt.Sprintf(f, args...)) }
func (a slogAdapter) Errorf(f string, args ...any) { a.l.Error(fmt.Sprintf(f, args...)) }
