package xds

import (
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	upstreamcodecv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/upstream_codec/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	leastrequestv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/least_request/v3"
	roundrobinv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/round_robin/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/plan"
)

const connectTimeout = 5 * time.Second

// makeCluster builds the cluster of one model group: its endpoints are the
// group's deployments (served by EDS), and its upstream filter chain runs the
// upstream processor once per attempt, after Envoy picked the deployment.
func makeCluster(g *plan.Group, p *plan.Plan, o Options) *clusterv3.Cluster {
	name := g.Cluster
	c := &clusterv3.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig:     &clusterv3.Cluster_EdsClusterConfig{EdsConfig: adsSource(), ServiceName: name},
		ConnectTimeout:       durationpb.New(connectTimeout),
		LoadBalancingPolicy:  lbPolicy(p.Config.Router.RoutingStrategy),
		CommonLbConfig: &clusterv3.Cluster_CommonLbConfig{
			// Envoy's default (50%) sends traffic to ejected deployments once
			// half of a group is ejected. A cooling-down deployment must get
			// no traffic at all; the client gets a clear 503 instead.
			HealthyPanicThreshold: &typev3.Percent{Value: 0},
		},
		// Cooldowns are LiteLLM's (failures per minute, 429s included),
		// counted in Go and served as endpoint health: see package router.
		CircuitBreakers:               circuitBreakers(g),
		PerConnectionBufferLimitBytes: wrapperspb.UInt32(o.MaxRequestBytes),
		TypedExtensionProtocolOptions: map[string]*anypb.Any{
			"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": mustAny(&httpv3.HttpProtocolOptions{
				UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
					ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_HttpProtocolOptions{HttpProtocolOptions: &corev3.Http1ProtocolOptions{}},
				}},
				HttpFilters: upstreamFilters(g, o),
			}),
		},
	}
	if g.Relay && relayOn(o) {
		c.LoadBalancingPolicy = relaySubsets(c.LoadBalancingPolicy)
	}
	// Endpoints say how to reach them through their metadata: plaintext by
	// default, TLS for https api_bases, the internal upstream for egresses.
	if o.CAFile != "" {
		c.TransportSocketMatches = append(c.TransportSocketMatches, &clusterv3.Cluster_TransportSocketMatch{
			Name:            "tls",
			Match:           &structpb.Struct{Fields: map[string]*structpb.Value{tlsMatchKey: structpb.NewBoolValue(true)}},
			TransportSocket: tlsTransportSocket(o.CAFile),
		})
	}
	c.TransportSocketMatches = append(c.TransportSocketMatches, &clusterv3.Cluster_TransportSocketMatch{
		Name:            "internal",
		Match:           &structpb.Struct{Fields: map[string]*structpb.Value{internalMatchKey: structpb.NewBoolValue(true)}},
		TransportSocket: internalUpstreamSocket(),
	})
	return c
}

// upstreamFilters run once per attempt: the upstream processor, and for a
// direct group with a key the filter that adds it on the direct route
// (where the processor is off; on the other route both set the same key).
func upstreamFilters(g *plan.Group, o Options) []*hcmv3.HttpFilter {
	filters := []*hcmv3.HttpFilter{{Name: plan.UpstreamFilterName, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(upstreamExtProc(o))}}}
	if g.Direct != nil && g.Direct.Credential.Key != "" {
		filters = append(filters, credentialFilter(g))
	}
	return append(filters, &hcmv3.HttpFilter{Name: "envoy.filters.http.upstream_codec", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&upstreamcodecv3.UpstreamCodec{})}})
}

// tlsTransportSocket verifies the provider's certificate against the CA
// bundle, with SNI and SAN checks taken from the endpoint hostname: one
// cluster holds deployments on different hosts, so neither can be static.
func tlsTransportSocket(caFile string) *corev3.TransportSocket {
	return &corev3.TransportSocket{
		Name: "envoy.transport_sockets.tls",
		ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(&tlsv3.UpstreamTlsContext{
			AutoHostSni:          true,
			AutoSniSanValidation: true,
			CommonTlsContext: &tlsv3.CommonTlsContext{
				ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
					TrustedCa: &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: caFile}},
				}},
			},
		})},
	}
}

// lbPolicy maps LiteLLM's routing_strategy. Round robin is Envoy's weighted
// policy (random ignores weights), so simple-shuffle's weighted pick keeps
// the same traffic split. least-busy scans every deployment for the fewest
// requests in flight: Envoy's default of two random choices would send the
// busier of two deployments a quarter of the traffic. Strategies driven by Go
// (latency, usage, cost) steer through endpoint weights and health pushed
// over EDS, on round robin.
func lbPolicy(strategy string) *clusterv3.LoadBalancingPolicy {
	var policy proto.Message = &roundrobinv3.RoundRobin{}
	if strategy == config.RoutingLeastBusy {
		policy = &leastrequestv3.LeastRequest{SelectionMethod: leastrequestv3.LeastRequest_FULL_SCAN}
	}
	return &clusterv3.LoadBalancingPolicy{Policies: []*clusterv3.LoadBalancingPolicy_Policy{{
		TypedExtensionConfig: &corev3.TypedExtensionConfig{Name: "llmvoy_lb", TypedConfig: mustAny(policy)},
	}}}
}

// circuitBreakers lift Envoy's defaults (1,024 requests, 3 concurrent
// retries per cluster), which an LLM gateway outgrows: a group serving a
// thousand slow streams would start refusing requests and retries that its
// deployments could take.
//
// LiteLLM's max_parallel_requests is a per-deployment semaphore. Envoy's
// per-host limit is on connections, and with HTTP/1.1 upstreams a
// connection carries one request at a time: capping a host's connections
// caps its requests in flight, and the requests past it wait in the
// cluster's queue as they would on the semaphore. Envoy applies one per-host
// value to every host of a cluster, so it is set when the group's
// deployments agree on it (plan.Group.MaxParallel).
func circuitBreakers(g *plan.Group) *clusterv3.CircuitBreakers {
	cb := &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{
		MaxConnections:     wrapperspb.UInt32(maxInFlight),
		MaxPendingRequests: wrapperspb.UInt32(maxInFlight),
		MaxRequests:        wrapperspb.UInt32(maxInFlight),
		MaxRetries:         wrapperspb.UInt32(maxInFlight),
	}}}
	if n := g.MaxParallel; !g.MaxParallelConflict && n > 0 {
		cb.PerHostThresholds = []*clusterv3.CircuitBreakers_Thresholds{{MaxConnections: wrapperspb.UInt32(uint32(n))}}
	}
	return cb
}

const maxInFlight = 100_000
