package xds

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	internalupstreamv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/internal_upstream/v3"
	rawbufferv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/raw_buffer/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/llmvoy/llmvoy/config"
)

// Envoy identifies the hosts of a cluster by address: two deployments of one
// group on the same host:port (two API keys for api.openai.com is the common
// case) would collapse into one endpoint and the second would never serve.
// Such a deployment reaches its provider through an egress instead: an
// Envoy internal listener that forwards bytes to a cluster holding the real
// address (and doing TLS). Its endpoint in the group cluster is an internal
// address whose endpoint_id is the deployment id, which keeps it distinct.
// Only the second and later deployments at an address take the extra
// in-process hop.

// egress is one upstream address reached through an internal listener.
type egress struct {
	name     string
	addr     netip.AddrPort
	hostname string
	tls      bool
}

func egressFor(d *config.Deployment, addr netip.AddrPort) egress {
	e := egress{addr: addr, hostname: d.APIBase.Hostname(), tls: d.APIBase.Scheme == "https"}
	key := addr.String() + "|" + e.hostname
	if e.tls {
		key += "|tls"
	}
	sum := sha256.Sum256([]byte(key))
	e.name = "egress_" + hex.EncodeToString(sum[:6])
	return e
}

// internalEndpointMatch selects the internal_upstream transport socket for
// endpoints that point at an egress listener.
const internalMatchKey = "internal"

func makeEgressListener(e egress) *listenerv3.Listener {
	proxy := &tcpproxyv3.TcpProxy{
		StatPrefix:       e.name,
		ClusterSpecifier: &tcpproxyv3.TcpProxy_Cluster{Cluster: e.name},
	}
	return &listenerv3.Listener{
		Name:              e.name,
		ListenerSpecifier: &listenerv3.Listener_InternalListener{InternalListener: &listenerv3.Listener_InternalListenerConfig{}},
		FilterChains: []*listenerv3.FilterChain{{
			Filters: []*listenerv3.Filter{{
				Name:       wellknown.TCPProxy,
				ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(proxy)},
			}},
		}},
	}
}

func makeEgressCluster(e egress, o Options) *clusterv3.Cluster {
	c := &clusterv3.Cluster{
		Name:                 e.name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
		ConnectTimeout:       durationpb.New(connectTimeout),
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: e.name,
			Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
					Address:  socketAddress(e.addr),
					Hostname: e.hostname,
				}},
			}}}},
		},
	}
	if e.tls {
		c.TransportSocket = tlsTransportSocket(o.CAFile)
	}
	return c
}

// internalEndpoint is a deployment's endpoint in its group cluster when it
// goes through egress e.
func internalEndpoint(d *config.Deployment, e egress) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_EnvoyInternalAddress{EnvoyInternalAddress: &corev3.EnvoyInternalAddress{
		AddressNameSpecifier: &corev3.EnvoyInternalAddress_ServerListenerName{ServerListenerName: e.name},
		EndpointId:           d.ID,
	}}}
}

// internalUpstreamSocket carries group-cluster connections into an egress
// listener; TLS, if any, happens in the egress cluster.
func internalUpstreamSocket() *corev3.TransportSocket {
	return &corev3.TransportSocket{
		Name: "envoy.transport_sockets.internal_upstream",
		ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(&internalupstreamv3.InternalUpstreamTransport{
			TransportSocket: &corev3.TransportSocket{
				Name:       "envoy.transport_sockets.raw_buffer",
				ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(&rawbufferv3.RawBuffer{})},
			},
		})},
	}
}
