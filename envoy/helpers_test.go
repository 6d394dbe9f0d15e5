package envoy

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
)

// envoyBin returns the Envoy binary for tests. Without one the test is
// skipped, unless CI=true or LLMVOY_REQUIRE_ENVOY=1 make it fail.
func envoyBin(t *testing.T) string {
	t.Helper()
	bin, err := Find()
	if err != nil && os.Getenv(EnvBin) == "" {
		// `go test` runs in the package directory; the checkout's .venv is
		// one level up.
		if abs, aerr := filepath.Abs(filepath.Join("..", venvEnvoy)); aerr == nil && checkExecutable(abs) == nil {
			return abs
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" || os.Getenv("LLMVOY_REQUIRE_ENVOY") == "1" {
			t.Fatalf("envoy is required (CI=true or LLMVOY_REQUIRE_ENVOY=1): %v", err)
		}
		t.Skipf("skipping: %v (set LLMVOY_REQUIRE_ENVOY=1 to fail instead)", err)
	}
	return bin
}

// adsServer is a stub xDS control plane: a go-control-plane snapshot cache
// behind an ADS gRPC server.
type adsServer struct {
	cache cachev3.SnapshotCache
	// Address and Port go into BootstrapOptions.XDSAddress/XDSPort.
	Address string
	Port    int
}

// startADS serves an empty snapshot (no listeners, no clusters) on network
// "tcp" (loopback, random port) or "unix". An empty snapshot is enough for
// Envoy to finish initializing and report LIVE.
func startADS(t *testing.T, network string) *adsServer {
	t.Helper()
	var lis net.Listener
	var err error
	s := &adsServer{cache: cachev3.NewSnapshotCache(true, cachev3.IDHash{}, nil)}
	switch network {
	case "tcp":
		lis, err = net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		s.Address = "127.0.0.1"
		s.Port = lis.Addr().(*net.TCPAddr).Port
	case "unix":
		// t.TempDir paths can exceed the 108-byte limit of a socket path.
		dir, err := os.MkdirTemp("", "llmvoy")
		require.NoError(t, err)
		t.Cleanup(func() { os.RemoveAll(dir) })
		path := filepath.Join(dir, "xds.sock")
		lis, err = net.Listen("unix", path)
		require.NoError(t, err)
		s.Address = unixScheme + path
	default:
		t.Fatalf("unknown network %q", network)
	}
	s.set(t, nil)
	g := grpc.NewServer()
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(g, serverv3.NewServer(context.Background(), s.cache, nil))
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	return s
}

var snapshotVersion struct {
	sync.Mutex
	n int
}

// set replaces the snapshot for node "llmvoy".
func (s *adsServer) set(t *testing.T, resources map[string][]types.Resource) {
	t.Helper()
	snapshotVersion.Lock()
	snapshotVersion.n++
	v := snapshotVersion.n
	snapshotVersion.Unlock()
	// A type missing from the map has no version in the snapshot, and the
	// cache never answers Envoy's first request (version "") for it; an
	// empty list does get answered.
	all := map[string][]types.Resource{resourcev3.ClusterType: {}, resourcev3.ListenerType: {}}
	for typ, rs := range resources {
		all[typ] = rs
	}
	snap, err := cachev3.NewSnapshot(strconv.Itoa(v), all)
	require.NoError(t, err)
	require.NoError(t, snap.Consistent())
	require.NoError(t, s.cache.SetSnapshot(context.Background(), DefaultNodeID, snap))
}

// proxyTo returns a listener on 127.0.0.1 (port chosen by the kernel) that
// routes everything to one static cluster at upstream ("127.0.0.1:port").
func proxyTo(t *testing.T, upstream string) map[string][]types.Resource {
	t.Helper()
	host, portStr, err := net.SplitHostPort(upstream)
	require.NoError(t, err)
	port, err := net.LookupPort("tcp", portStr)
	require.NoError(t, err)

	router, err := anypb.New(&routerv3.Router{})
	require.NoError(t, err)
	hcm, err := anypb.New(&hcmv3.HttpConnectionManager{
		StatPrefix: "ingress",
		RouteSpecifier: &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: &routev3.RouteConfiguration{
			Name: "all",
			VirtualHosts: []*routev3.VirtualHost{{
				Name:    "all",
				Domains: []string{"*"},
				Routes: []*routev3.Route{{
					Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
					Action: &routev3.Route_Route{Route: &routev3.RouteAction{
						ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "upstream"},
						Timeout:          durationpb.New(0), // streams may be slow
					}},
				}},
			}},
		}},
		HttpFilters: []*hcmv3.HttpFilter{{
			Name:       "envoy.filters.http.router",
			ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: router},
		}},
	})
	require.NoError(t, err)
	return map[string][]types.Resource{
		resourcev3.ListenerType: {&listenerv3.Listener{
			Name:    "ingress",
			Address: socketAddress("127.0.0.1", 0),
			FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
				Name:       "envoy.filters.network.http_connection_manager",
				ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: hcm},
			}}}},
		}},
		resourcev3.ClusterType: {&clusterv3.Cluster{
			Name:                 "upstream",
			ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
			ConnectTimeout:       durationpb.New(time.Second),
			LoadAssignment: &endpointv3.ClusterLoadAssignment{
				ClusterName: "upstream",
				Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{
					HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
						Address: socketAddress(host, port),
					}},
				}}}},
			},
		}},
	}
}

func socketAddress(host string, port int) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address:       host,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(port)},
	}}}
}

// startEnvoy starts Envoy and makes sure it is gone when the test ends,
// whatever happened.
func startEnvoy(t *testing.T, o ProcessOptions) *Process {
	t.Helper()
	p, err := Start(context.Background(), o)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		select {
		case <-p.Done():
		case <-time.After(10 * time.Second):
			t.Errorf("envoy pid %d did not exit after SIGKILL", p.Pid())
		}
		if t.Failed() {
			t.Logf("envoy's last log lines:\n%s", strings.Join(p.log.lastLines(), "\n"))
		}
	})
	return p
}

// bootstrapFor renders a bootstrap for an Envoy whose ADS server is ads and
// whose admin interface is a socket in a new private directory.
func bootstrapFor(t *testing.T, ads *adsServer) []byte {
	t.Helper()
	b, err := RenderBootstrap(BootstrapOptions{
		AdminSocket: adminSocketPath(t),
		XDSAddress:  ads.Address, XDSPort: ads.Port,
		// Nothing listens here; Envoy only connects when a filter uses it.
		ExtProcPort: 1,
	})
	require.NoError(t, err)
	return b
}

// adminSocketPath is an admin socket's path in a new 0700 directory,
// removed when the test ends. t.TempDir paths can exceed the 108-byte limit
// of a socket path.
func adminSocketPath(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "llmvoy-admin")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, AdminSocketName)
}

// processGone reports whether no process with pid exists any more.
func processGone(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return true
	}
	return errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}
