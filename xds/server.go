package xds

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
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

// Server serves the latest Resources to every connected Envoy over ADS, and
// records what each Envoy made of them (Versions).
type Server struct {
	cache   cachev3.SnapshotCache
	xds     serverv3.Server
	log     *slog.Logger
	mu      sync.Mutex
	version int
	// epoch prefixes every version this process serves: a restarted
	// llmvoy counts from 1 again, and an Envoy that kept version "3" from
	// the last one must not take the new "3" for what it already has.
	epoch    string
	res      *Resources      // the resources last Set
	keys     map[string]bool // snapshot keys of the Envoys seen so far
	lastNACK string          // node, type and message of the last NACK logged
	// nackPause throttles the resend loop after a NACK.
	nackPause time.Duration
	acks      acks
}

// NewServer makes a Server; Register it on a gRPC server and Set resources.
func NewServer(ctx context.Context, log *slog.Logger) *Server {
	s := &Server{log: log, nackPause: time.Second, keys: map[string]bool{defaultKey: true}, acks: newAcks(), epoch: newEpoch()}
	s.cache = cachev3.NewSnapshotCache(true, byListenPort{}, slogAdapter{log})
	s.xds = serverv3.NewServer(ctx, s.cache, serverv3.CallbackFuncs{
		StreamRequestFunc:  s.onRequest,
		StreamResponseFunc: s.onResponse,
		StreamClosedFunc:   s.onClosed,
	})
	return s
}

// onRequest watches Envoy's acknowledgements. A request carrying an error
// detail is a NACK: Envoy rejected what llmvoy sent and keeps serving its
// previous configuration, so the operator must hear about it. The cache
// answers a NACK by sending the same snapshot again, which Envoy rejects
// again; pausing here keeps that loop from spinning a core.
func (s *Server) onRequest(stream int64, req *discoverygrpc.DiscoveryRequest) error {
	if req.GetNode() != nil {
		if err := s.ensureSnapshot(nodeKey(req.GetNode())); err != nil {
			return err
		}
	}
	version := s.acks.request(stream, req)
	detail := req.GetErrorDetail()
	if detail == nil {
		return nil
	}
	key := req.GetNode().GetId() + "|" + req.GetTypeUrl() + "|" + detail.GetMessage()
	s.mu.Lock()
	first := s.lastNACK != key
	s.lastNACK = key
	s.mu.Unlock()
	if first {
		s.log.Error("envoy rejected the configuration llmvoy sent; it keeps serving the previous one",
			"type", req.GetTypeUrl(), "node", req.GetNode().GetId(), "version", version, "error", detail.GetMessage())
	}
	time.Sleep(s.nackPause)
	return nil
}

// onResponse remembers which snapshot version each response carries, so
// that Envoy's answer to it (which names the response by nonce) can be
// matched to a version.
func (s *Server) onResponse(_ context.Context, stream int64, req *discoverygrpc.DiscoveryRequest, resp *discoverygrpc.DiscoveryResponse) {
	s.acks.response(stream, req.GetNode().GetId(), resp)
}

func (s *Server) onClosed(stream int64, _ *corev3.Node) { s.acks.closed(stream) }

// Versions returns, per connected Envoy node id, the snapshot versions it
// accepted and rejected.
func (s *Server) Versions() map[string]NodeVersions { return s.acks.versions() }

// Version is the version of the snapshot last Set: this process's epoch
// and a count ("EPOCH-0" before the first).
func (s *Server) Version() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.versionLocked()
}

func (s *Server) versionLocked() string { return s.epoch + "-" + strconv.Itoa(s.version) }

// newEpoch is a random name for this process's run of versions.
func newEpoch() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
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

// Checked is a set of Resources that Check found servable.
type Checked struct{ res *Resources }

// Check validates r (every resource's own rules, and references between
// them) and builds a snapshot of it, without serving it: a caller that
// swaps other state along with the snapshot checks first, so that a
// refused snapshot changes nothing.
func (s *Server) Check(r *Resources) (*Checked, error) {
	if err := r.Check(); err != nil {
		return nil, err
	}
	return &Checked{res: r}, nil
}

// Check checks r as Server.Check does, for a caller that serves nothing
// (llmvoy validate): every resource's own rules, then a snapshot of them
// and its consistency (a route naming a missing cluster, ...).
func (r *Resources) Check() error {
	if err := r.Validate(); err != nil {
		return err
	}
	_, err := snapshot(r, 0, "check")
	return err
}

// Serve makes checked resources the next snapshot of every Envoy. It fails
// only when ctx ends while an Envoy's watch is answered.
func (s *Server) Serve(ctx context.Context, c *Checked) error {
	if c == nil || c.res == nil {
		return fmt.Errorf("xds: serve: resources were not checked")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version++
	s.res = c.res
	for key := range s.keys {
		if err := s.setLocked(ctx, key); err != nil {
			return err
		}
	}
	s.log.Debug("xds snapshot set", "version", s.versionLocked(), "clusters", len(c.res.Clusters), "listen_ports", len(s.keys))
	return nil
}

// Set checks r and serves it as the next snapshot. A snapshot that is not
// valid or not consistent (a route naming a missing cluster, ...) is
// refused and the previous one keeps serving.
func (s *Server) Set(ctx context.Context, r *Resources) error {
	c, err := s.Check(r)
	if err != nil {
		return err
	}
	return s.Serve(ctx, c)
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
	snap, err := snapshot(s.res, listenPortOf(key), s.versionLocked())
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
func snapshot(r *Resources, port uint32, version string) (*cachev3.Snapshot, error) {
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
	snap, err := cachev3.NewSnapshot(version, map[resource.Type][]types.Resource{
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

// NodeVersions is what one Envoy made of the snapshots it was sent, per
// resource type URL.
type NodeVersions struct {
	// Acked is the snapshot version the Envoy last accepted.
	Acked map[string]string
	// Nacked is the version it last rejected, with Envoy's message; a later
	// acceptance of the type clears it.
	Nacked map[string]NACK
}

// NACK is one rejected snapshot version and Envoy's reason.
type NACK struct {
	Version string
	Error   string
}

// acks follows the xDS conversation of every stream: a response carries a
// version and a nonce; Envoy's next request of that type names the nonce
// and either accepts the version or rejects it (error_detail).
type acks struct {
	mu      sync.Mutex
	streams map[int64]*streamAcks
}

type streamAcks struct {
	node string
	sent map[string]sentResponse // by type URL: the last response
	seen NodeVersions
}

type sentResponse struct{ nonce, version string }

func newAcks() acks { return acks{streams: make(map[int64]*streamAcks)} }

func (a *acks) stream(id int64, node string) *streamAcks {
	st := a.streams[id]
	if st == nil {
		st = &streamAcks{sent: make(map[string]sentResponse),
			seen: NodeVersions{Acked: make(map[string]string), Nacked: make(map[string]NACK)}}
		a.streams[id] = st
	}
	if node != "" {
		st.node = node
	}
	return st
}

func (a *acks) response(stream int64, node string, resp *discoverygrpc.DiscoveryResponse) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stream(stream, node).sent[resp.GetTypeUrl()] = sentResponse{resp.GetNonce(), resp.GetVersionInfo()}
}

// request records Envoy's answer to the response req names, and returns
// that response's version ("" when req answers none: a first request, or a
// stale nonce the server ignores as well).
func (a *acks) request(stream int64, req *discoverygrpc.DiscoveryRequest) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.stream(stream, req.GetNode().GetId())
	sent, ok := st.sent[req.GetTypeUrl()]
	if !ok || req.GetResponseNonce() == "" || req.GetResponseNonce() != sent.nonce {
		return ""
	}
	if detail := req.GetErrorDetail(); detail != nil {
		st.seen.Nacked[req.GetTypeUrl()] = NACK{Version: sent.version, Error: detail.GetMessage()}
	} else {
		st.seen.Acked[req.GetTypeUrl()] = sent.version
		delete(st.seen.Nacked, req.GetTypeUrl())
	}
	return sent.version
}

func (a *acks) closed(stream int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.streams, stream)
}

// versions merges the streams of each node: an Envoy without ADS opens one
// stream per type.
func (a *acks) versions() map[string]NodeVersions {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]NodeVersions)
	for _, st := range a.streams {
		v, ok := out[st.node]
		if !ok {
			v = NodeVersions{Acked: make(map[string]string), Nacked: make(map[string]NACK)}
			out[st.node] = v
		}
		maps.Copy(v.Acked, st.seen.Acked)
		maps.Copy(v.Nacked, st.seen.Nacked)
	}
	return out
}

// slogAdapter gives go-control-plane's 4-method logger a slog backend.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Debugf(f string, args ...any) { a.l.Debug(fmt.Sprintf(f, args...)) }
func (a slogAdapter) Infof(f string, args ...any)  { a.l.Debug(fmt.Sprintf(f, args...)) }
func (a slogAdapter) Warnf(f string, args ...any)  { a.l.Warn(fmt.Sprintf(f, args...)) }
func (a slogAdapter) Errorf(f string, args ...any) { a.l.Error(fmt.Sprintf(f, args...)) }
