package xds

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/stretchr/testify/require"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/llmvoy/llmvoy/internal/syncbuf"
)

func TestNACKIsLoggedOnce(t *testing.T) {
	var logs bytes.Buffer
	s := NewServer(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)))
	s.nackPause = 0
	ack := &discoverygrpc.DiscoveryRequest{TypeUrl: "type.googleapis.com/envoy.config.listener.v3.Listener"}
	nack := &discoverygrpc.DiscoveryRequest{TypeUrl: ack.TypeUrl, ErrorDetail: &statuspb.Status{Message: "InternalListener bootstrap extension is mandatory"}}

	require.NoError(t, s.onRequest(1, ack))
	require.Empty(t, logs.String())
	for range 3 {
		require.NoError(t, s.onRequest(1, nack))
	}
	require.Equal(t, 1, strings.Count(logs.String(), "envoy rejected the configuration"))
	require.Contains(t, logs.String(), "InternalListener bootstrap extension is mandatory")
}

func basicResources(t *testing.T) *Resources {
	t.Helper()
	cfg := loadGoldenConfig(t, "testdata/in/basic.yaml")
	res, err := Translate(mustPlan(t, cfg), State{Addrs: goldenAddrs(cfg)}, goldenOptions)
	require.NoError(t, err)
	return res
}

func TestSetRefusesInvalidResources(t *testing.T) {
	s := NewServer(context.Background(), slog.New(slog.DiscardHandler))
	res := basicResources(t)
	require.NoError(t, s.Set(context.Background(), res))

	// A route naming a cluster that is not in the snapshot is inconsistent.
	res.Clusters = res.Clusters[:1]
	res.Endpoints = res.Endpoints[:1]
	require.ErrorContains(t, s.Set(context.Background(), res), "inconsistent")
	require.Equal(t, s.epoch+"-1", s.Version(), "the refused snapshot is not served")
}

// Check serves nothing: the control loop checks a reload's resources
// before it swaps anything, and serves them last.
func TestCheckThenServe(t *testing.T) {
	s := NewServer(context.Background(), slog.New(slog.DiscardHandler))
	c, err := s.Check(basicResources(t))
	require.NoError(t, err)
	require.Equal(t, s.epoch+"-0", s.Version())
	require.NoError(t, s.Serve(context.Background(), c))
	require.Equal(t, s.epoch+"-1", s.Version())

	bad := basicResources(t)
	bad.Clusters = bad.Clusters[:1]
	_, err = s.Check(bad)
	require.ErrorContains(t, err, "inconsistent")
	require.Error(t, s.Serve(context.Background(), nil))
	require.Equal(t, s.epoch+"-1", s.Version())
}

// An ADS client over an in-memory connection, playing Envoy: it accepts or
// rejects what the server sends.
type fakeEnvoy struct {
	t      *testing.T
	stream discoverygrpc.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	node   *corev3.Node
}

func dialADS(t *testing.T, s *Server, nodeID string) *fakeEnvoy {
	t.Helper()
	ln := bufconn.Listen(1 << 20)
	g := grpc.NewServer()
	s.Register(g)
	go g.Serve(ln)
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stream, err := discoverygrpc.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	require.NoError(t, err)
	return &fakeEnvoy{t: t, stream: stream, node: &corev3.Node{Id: nodeID}}
}

func (e *fakeEnvoy) send(req *discoverygrpc.DiscoveryRequest) {
	e.t.Helper()
	req.Node, req.TypeUrl = e.node, resource.ClusterType
	require.NoError(e.t, e.stream.Send(req))
}

func (e *fakeEnvoy) recv() *discoverygrpc.DiscoveryResponse {
	e.t.Helper()
	resp, err := e.stream.Recv()
	require.NoError(e.t, err)
	return resp
}

func TestVersionsRecordWhatEachEnvoyAckedAndNacked(t *testing.T) {
	var logs syncbuf.Buffer
	ctx := context.Background()
	s := NewServer(ctx, slog.New(slog.NewTextHandler(&logs, nil)))
	s.nackPause = 0
	require.NoError(t, s.Set(ctx, basicResources(t)))
	envoy := dialADS(t, s, "sidecar-1")

	envoy.send(&discoverygrpc.DiscoveryRequest{})
	first := envoy.recv()
	require.Equal(t, s.epoch+"-1", first.GetVersionInfo())
	envoy.send(&discoverygrpc.DiscoveryRequest{VersionInfo: s.epoch + "-1", ResponseNonce: first.GetNonce()})
	require.Eventually(t, func() bool { return s.Versions()["sidecar-1"].Acked[resource.ClusterType] == s.epoch+"-1" },
		5*time.Second, 10*time.Millisecond)

	require.NoError(t, s.Set(ctx, basicResources(t)))
	second := envoy.recv()
	require.Equal(t, s.epoch+"-2", second.GetVersionInfo())
	envoy.send(&discoverygrpc.DiscoveryRequest{VersionInfo: s.epoch + "-1", ResponseNonce: second.GetNonce(),
		ErrorDetail: &statuspb.Status{Message: "cluster llmvoy_gpt: bad TLS context"}})
	want := NACK{Version: s.epoch + "-2", Error: "cluster llmvoy_gpt: bad TLS context"}
	require.Eventually(t, func() bool { return s.Versions()["sidecar-1"].Nacked[resource.ClusterType] == want },
		5*time.Second, 10*time.Millisecond)
	v := s.Versions()["sidecar-1"]
	require.Equal(t, s.epoch+"-1", v.Acked[resource.ClusterType], "a NACK leaves the Envoy on the version it accepted before")
	require.Contains(t, logs.String(), "level=ERROR")
	require.Contains(t, logs.String(), "node=sidecar-1")
	require.Contains(t, logs.String(), "version="+s.epoch+"-2")
	require.Contains(t, logs.String(), "bad TLS context")

	// The snapshot is sent again after a NACK; accepting a later version
	// clears the rejection.
	require.NoError(t, s.Set(ctx, basicResources(t)))
	third := envoy.recv()
	for third.GetVersionInfo() != s.epoch+"-3" {
		envoy.send(&discoverygrpc.DiscoveryRequest{VersionInfo: s.epoch + "-1", ResponseNonce: third.GetNonce(),
			ErrorDetail: &statuspb.Status{Message: "cluster llmvoy_gpt: bad TLS context"}})
		third = envoy.recv()
	}
	envoy.send(&discoverygrpc.DiscoveryRequest{VersionInfo: s.epoch + "-3", ResponseNonce: third.GetNonce()})
	require.Eventually(t, func() bool {
		v := s.Versions()["sidecar-1"]
		return v.Acked[resource.ClusterType] == s.epoch+"-3" && len(v.Nacked) == 0
	}, 5*time.Second, 10*time.Millisecond)

	// A disconnected Envoy is forgotten.
	require.NoError(t, envoy.stream.CloseSend())
	require.Eventually(t, func() bool { return len(s.Versions()) == 0 }, 5*time.Second, 10*time.Millisecond)
}

// A restarted llmvoy counts its snapshots from 1 again: an Envoy that kept
// the last process's "3" must not take the new process's third snapshot
// for what it already has.
func TestVersionsOfTwoProcessesNeverCollide(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, b := NewServer(context.Background(), log), NewServer(context.Background(), log)
	require.NotEqual(t, a.Version(), b.Version())
}
