package xds

import (
	"net/netip"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	upstreamcodecv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/upstream_codec/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/plan"
)

// makePassThroughCluster is the cluster of a provider pass-through route:
// its one deployment's api_base, resolved by Envoy (LOGICAL_DNS: the
// route is not balanced, cooled down or weighted, so llmvoy has no
// endpoint state to push for it). The gateway has already rewritten the
// path and swapped the credential; the cluster's processor only reads the
// answer's usage for a virtual key's spend.
func makePassThroughCluster(t *config.PassThrough, o Options) *clusterv3.Cluster {
	name, d := plan.PassThroughCluster(t.Name), t.Deployment
	port, _ := portOf(d) // checked by Translate
	ep := makeEndpoint(d, netip.AddrPort{}, 1, false)
	ep.GetEndpoint().Address = &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: d.APIBase.Hostname(), PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(port)},
	}}}
	c := &clusterv3.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_LOGICAL_DNS},
		DnsLookupFamily:      clusterv3.Cluster_V4_PREFERRED,
		ConnectTimeout:       durationpb.New(connectTimeout),
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: name,
			Endpoints:   []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{ep}}},
		},
		CircuitBreakers:               circuitBreakers(&plan.Group{}),
		PerConnectionBufferLimitBytes: wrapperspb.UInt32(o.MaxRequestBytes),
		TypedExtensionProtocolOptions: map[string]*anypb.Any{
			"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": mustAny(&httpv3.HttpProtocolOptions{
				UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
					ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_HttpProtocolOptions{HttpProtocolOptions: &corev3.Http1ProtocolOptions{}},
				}},
				HttpFilters: []*hcmv3.HttpFilter{
					{Name: plan.UpstreamFilterName, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(passThroughExtProc(o))}},
					{Name: "envoy.filters.http.upstream_codec", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&upstreamcodecv3.UpstreamCodec{})}},
				},
			}),
		},
	}
	if d.APIBase.Scheme == "https" {
		c.TransportSocket = tlsTransportSocket(o.CAFile)
	}
	return c
}

// passThroughExtProc asks for the request headers only (which request
// this is); the processor asks for the answer's phases when a virtual key
// is to be charged (mode_override). The body passes untouched.
func passThroughExtProc(o Options) *extprocv3.ExternalProcessor {
	return &extprocv3.ExternalProcessor{
		GrpcService:    extProcService(o, plan.ProcessorPassThrough),
		MessageTimeout: durationpb.New(extProcMessageTimeout),
		ProcessingMode: &extprocv3.ProcessingMode{
			RequestHeaderMode:   extprocv3.ProcessingMode_SEND,
			RequestBodyMode:     extprocv3.ProcessingMode_NONE,
			RequestTrailerMode:  extprocv3.ProcessingMode_SKIP,
			ResponseHeaderMode:  extprocv3.ProcessingMode_SKIP,
			ResponseBodyMode:    extprocv3.ProcessingMode_NONE,
			ResponseTrailerMode: extprocv3.ProcessingMode_SKIP,
		},
		AllowModeOverride: true,
		StatPrefix:        "passthrough",
	}
}

// makePassThroughRoute sends the gateway's pass-through requests to the
// route's cluster: no retries (LiteLLM makes one call, and a provider's
// non-idempotent endpoints, batches or files, must not be repeated), the
// request timeout, and the endpoint's hostname as :authority (what a
// Bedrock request was signed for).
func makePassThroughRoute(t *config.PassThrough, p *plan.Plan) *routev3.Route {
	name := plan.PassThroughCluster(t.Name)
	return &routev3.Route{
		Name:  name,
		Match: routeHeaderMatch(name),
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{
			ClusterSpecifier:     &routev3.RouteAction_Cluster{Cluster: name},
			Timeout:              durationpb.New(p.RouteTimeout),
			HostRewriteSpecifier: &routev3.RouteAction_AutoHostRewrite{AutoHostRewrite: wrapperspb.Bool(true)},
		}},
		RequestHeadersToRemove: []string{plan.RouteHeader},
	}
}
