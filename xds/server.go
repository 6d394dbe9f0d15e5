package xds

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
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
	"google.golang.org/protobuf/proto"

	"github.com/llmvoy/llmvoy/envoy"
)

// One llmvoy may feed many Envoys (sidecars, edge replicas) with different
// node ids. They all serve the same model list; only the gateway listener's
// port may differ, when a bootstrap asks for one (node metadata). So Envoys
// share snapshots by requested port, not by node id.
const defaultKey = "default"

type byListenPort struct{}

func (byListenPort) ID(n *corev3.Node) string { return nodeKey(n) }

func nodeKey(n *corev3.Node) string {
	if v := n.GetMetadata().GetFields()[envoy.NodeListenPortKey]; v != nil {
		if p := v.GetNumberValue(); p > 0 && p <= 65535 && p == float64(int(p)) {
			return "port-" + strconv.Itoa(int(p))
		}
	}
	return defaultKey
}

// listenPortOf is the port a snapshot key asks for; 0 for the default.
func listenPortOf(key string) uint32 {
	p, _ := strconv.Atoi(strings.TrimPrefix(key, "port-"))
	return uint32(p)
}

// Server serves the latest Resources to every connected Envoy over ADS.
type Server struct {
	cache    cachev3.SnapshotCache
	xds      serverv3.Server
	log      *slog.Logger
	mu       sync.Mutex
	version  int
	res      *Resources      // the resources last Set
	keys     map[string]bool // snapshot keys of the Envoys seen so far
	lastNACK string          // type and message of the last NACK logged
	// nackPause throttles the resend loop after a NACK.
	nackPause time.Duration
}

// NewServer makes a Server; Register it on a gRPC server and Set resources.
func NewServer(ctx context.Context, log *slog.Logger) *Server {
	s := &Server{log: log, nackPause: time.Second, keys: map[string]bool{defaultKey: true}}
	s.cache = cachev3.NewSnapshotCache(true, byListenPort{}, slogAdapter{log})
	s.xds = serverv3.NewServer(ctx, s.cache, serverv3.CallbackFuncs{StreamRequestFunc: s.onRequest})
	return s
}

// onRequest watches Envoy's acknowledgements. A request carrying an error
// detail is a NACK: Envoy rejected what llmvoy sent and keeps serving its
// previous configuration, so the operator must hear about it. The cache
// answers a NACK by sending the same snapshot again, which Envoy rejects
// again; pausing here keeps that loop from spinning a core.
func (s *Server) onRequest(_ int64, req *discoverygrpc.DiscoveryRequest) error {
	if req.GetNode() != nil {
		if err := s.ensureSnapshot(nodeKey(req.GetNode())); err != nil {
			return err
		}
	}
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
	// Check the default snapshot before touching any Envoy's.
	if _, err := s.snapshot(r, 0, s.version+1); err != nil {
		return err
	}
	s.version++
	s.res = r
	for key := range s.keys {
		if err := s.setLocked(ctx, key); err != nil {
			return err
		}
	}
	s.log.Debug("xds snapshot set", "version", s.version, "clusters", len(r.Clusters), "listen_ports", len(s.keys))
	return nil
}

// ensureSnapshot makes sure an Envoy asking for key has a snapshot before
// the cache looks for one.
func (s *Server) ensureSnapshot(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys[key] {
		return nil
	}
	s.keys[key] = true
	if s.res == nil {
		return nil
	}
	return s.setLocked(context.Background(), key)
}

func (s *Server) setLocked(ctx context.Context, key string) error {
	snap, err := s.snapshot(s.res, listenPortOf(key), s.version)
	if err != nil {
		return err
	}
	if err := s.cache.SetSnapshot(ctx, key, snap); err != nil {
		return fmt.Errorf("xds: set snapshot: %w", err)
	}
	return nil
}

// snapshot builds a consistent snapshot of r whose gateway listener listens
// on port (0: as translated).
func (s *Server) snapshot(r *Resources, port uint32, version int) (*cachev3.Snapshot, error) {
	listeners := r.Listeners
	if port != 0 {
		listeners = make([]types.Resource, len(r.Listeners))
		for i, l := range r.Listeners {
			if l := l.(*listenerv3.Listener); l.GetName() == ListenerName {
				moved := proto.Clone(l).(*listenerv3.Listener)
				moved.GetAddress().GetSocketAddress().PortSpecifier = &corev3.SocketAddress_PortValue{PortValue: port}
				listeners[i] = moved
				continue
			}
			listeners[i] = l
		}
	}
	snap, err := cachev3.NewSnapshot(strconv.Itoa(version), map[resource.Type][]types.Resource{
		resource.ListenerType: listeners,
		resource.RouteType:    r.Routes,
		resource.ClusterType:  r.Clusters,
		resource.EndpointType: r.Endpoints,
		resource.SecretType:   r.Secrets,
	})
	if err != nil {
		return nil, fmt.Errorf("xds: snapshot: %w", err)
	}
	if err := snap.Consistent(); err != nil {
		return nil, fmt.Errorf("xds: inconsistent snapshot: %w", err)
	}
	return snap, nil
}

// slogAdapter gives go-control-plane's 4-method logger a slog backend.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Debugf(f string, args ...any) { a.l.Debug(fmt.Sprintf(f, args...)) }
func (a slogAdapter) Infof(f string, args ...any)  { a.l.Debug(fmt.Sprintf(f, args...)) }
func (a slogAdapter) Warnf(f string, args ...any)  { a.l.Warn(fmt.Sprintf(f, args...)) }
func (a slogAdapter) Errorf(f string, args ...any) { a.l.Error(fmt.Sprintf(f, args...)) }
