package xds

import (
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	mutationrulesv3 "github.com/envoyproxy/go-control-plane/envoy/config/common/mutation_rules/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	headertometadatav3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_to_metadata/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/llmvoy/llmvoy/plan"
)

// The fallback hop. A fallback is an internal redirect, which Envoy's
// router follows only for an upstream's answer: when every attempt of a
// group fails without one (a refused connection, a reset, a per-try
// timeout, no healthy deployment), the router answers the client itself
// and no fallback happens. So the requests that have a next step in their
// chain take one more in-process
// hop: the gateway listener's route sends them, without retries, to the
// group's hop cluster, whose one endpoint is an internal listener. That
// listener's router makes the group's attempts (retries, timeouts, the
// upstream processor) exactly as the group's own route does, and its local
// reply after the last retry is an upstream answer to the gateway
// listener's router: the hop's local_reply_config turns it into the
// fallback redirect, carrying the next step's fallback header the gateway
// processor signed ahead (plan.FallbackNextHeader). Answers of a
// deployment, 5xx and 429 included, pass through the hop unchanged, and
// the upstream processor redirects on them as on the group's route.
//
// Every group has its hop, since a request's own fallbacks can give a
// request of any group a next step; requests that cannot fall back further
// never take it and pay nothing for it.

// Names only Envoy's side needs.
const (
	HopListenerName    = "llmvoy_fallback_hop"
	HopRouteConfigName = "llmvoy_fallback_hop_routes"
)

// hopTimeoutMargin is how much longer the gateway listener's route to the
// hop waits than the hop's own route timeout: the hop's timeout is a
// failure of the group that falls back, the gateway listener's is the
// client's 504.
const hopTimeoutMargin = 5 * time.Second

// makeHopRoutes are a group's routes to its hop cluster on the gateway
// listener: one attempt, the hop's, which makes the group's attempts. The
// route header stays on the request: the hop's route table matches it too.
func makeHopRoutes(g *plan.Group, p *plan.Plan) []*routev3.Route {
	var routes []*routev3.Route
	for _, name := range hopRouteNames(g) {
		routes = append(routes, routeToOneHop(name, plan.HopClusterName(g.Name), g, p))
	}
	return routes
}

// routeToOneHop is a gateway listener's route of a group's requests to
// cluster, whose one endpoint makes the group's attempts (the fallback
// hop, the relay): one attempt, and the fallback redirects it answers
// with followed here.
func routeToOneHop(name, cluster string, g *plan.Group, p *plan.Plan) *routev3.Route {
	return &routev3.Route{
		Name:  name,
		Match: routeHeaderMatch(name),
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{
			ClusterSpecifier:       &routev3.RouteAction_Cluster{Cluster: cluster},
			Timeout:                durationpb.New(p.RouteTimeout + hopTimeoutMargin),
			InternalRedirectPolicy: fallbackRedirects(p),
		}},
		// With the virtual host's internal headers: a redirect Envoy did
		// not follow keeps its cause to itself.
		ResponseHeadersToRemove: []string{plan.FallbackCauseHeader},
		ResponseHeadersToAdd:    groupHeaders(g, p),
	}
}

// hopRouteNames are the names of a group's routes through the hop: one,
// and one for streams when the group has a stream_timeout (Envoy's router
// would read a per-try timeout header on the gateway listener, where it
// would bound the hop's whole answer; each route of the hop has its own).
func hopRouteNames(g *plan.Group) []string {
	names := []string{plan.HopRouteName(g.Name)}
	if g.StreamTimeout > 0 {
		names = append(names, plan.HopStreamRouteName(g.Name))
	}
	return names
}

// makeHopRouteConfig is the hop listener's route table: per hop group, the
// group's own route (retries, per-try and route timeouts) without internal
// redirects, which only the gateway listener follows.
func makeHopRouteConfig(p *plan.Plan, st State) *routev3.RouteConfiguration {
	var routes []*routev3.Route
	for _, g := range p.Groups {
		for _, name := range hopRouteNames(g) {
			attempt := g.AttemptTimeout
			if name == plan.HopStreamRouteName(g.Name) {
				attempt = g.StreamTimeout
			}
			r := &routev3.Route{
				Name:                   name,
				Match:                  routeHeaderMatch(name),
				Action:                 &routev3.Route_Route{Route: groupAction(g, p, st, attempt)},
				RequestHeadersToRemove: []string{plan.RouteHeader},
			}
			routes = append(routes, r)
		}
	}
	return &routev3.RouteConfiguration{
		Name: HopRouteConfigName,
		VirtualHosts: []*routev3.VirtualHost{{
			Name:    "llmvoy_fallback_hop",
			Domains: []string{"*"},
			Routes:  routes,
			// The gateway listener's own are formatted from the hop's
			// endpoint, which has no deployment: empty, so these stay.
			ResponseHeadersToAdd: append(servedByHeaders(), attemptHeaders()...),
		}},
	}
}

// makeHopListener is the internal listener behind every hop cluster.
func makeHopListener(o Options) *listenerv3.Listener {
	return attemptsListener(HopListenerName, HopRouteConfigName,
		&listenerv3.Listener_InternalListener{InternalListener: &listenerv3.Listener_InternalListenerConfig{}}, nil, o)
}

// attemptsListener is a listener whose router makes a group's attempts
// for a request the gateway listener routed already: the fallback hop's
// and the relay's. Its route table (routeConfig) has the groups' own
// routes; it makes the fallback redirect when the last attempt fails
// without an answer and the request has a next step.
func attemptsListener(name, routeConfig string, specifier *listenerv3.Listener_InternalListener, address *corev3.Address, o Options) *listenerv3.Listener {
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix: name,
		CodecType:  hcmv3.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			RouteConfigName: routeConfig,
			ConfigSource:    adsSource(),
		}},
		HttpFilters: []*hcmv3.HttpFilter{
			{Name: "envoy.filters.http.header_to_metadata", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(hopHeadersToMetadata())}},
			{Name: "envoy.filters.http.header_mutation", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(attemptLimits())}},
			{Name: wellknown.Router, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&routerv3.Router{
				SuppressEnvoyHeaders: true,
				// The attempts are logged here; the gateway listener logs
				// the request (and its one attempt, the hop's or the
				// relay's, which the access log service ignores).
				UpstreamLog: []*accesslogv3.AccessLog{upstreamLog(o)},
			})}},
		},
		// The request id is the gateway listener's, which every piece of
		// llmvoy's request state is keyed on.
		PreserveExternalRequestId: true,
		// Nothing is internal: x-envoy-* request headers set by the
		// gateway listener's router are not obeyed here.
		InternalAddressConfig: &hcmv3.HttpConnectionManager_InternalAddressConfig{
			CidrRanges: []*corev3.CidrRange{{AddressPrefix: "255.255.255.255", PrefixLen: wrapperspb.UInt32(32)}},
		},
		ServerName:       "llmvoy",
		LocalReplyConfig: hopLocalReplyConfig(o),
	}
	l := &listenerv3.Listener{
		Name:    name,
		Address: address,
		// Retries replay the buffered body, as on the gateway listener.
		PerConnectionBufferLimitBytes: wrapperspb.UInt32(o.MaxRequestBytes + rewriteAllowance),
		FilterChains: []*listenerv3.FilterChain{{
			Filters: []*listenerv3.Filter{{
				Name:       wellknown.HTTPConnectionManager,
				ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(hcm)},
			}},
		}},
	}
	if specifier != nil {
		l.ListenerSpecifier = specifier
	}
	return l
}

// attemptLimits gives the router a request's own retries and attempt
// timeout, which the gateway processor sent in llmvoy's headers (x-envoy-*
// ones are not trusted here), and removes those. An absent header formats
// to nothing, which Envoy does not add.
func attemptLimits() *headermutationv3.HeaderMutation {
	set := func(envoy, ours string) *mutationrulesv3.HeaderMutation {
		return &mutationrulesv3.HeaderMutation{Action: &mutationrulesv3.HeaderMutation_Append{Append: &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: envoy, Value: "%REQ(" + ours + ")%"},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		}}}
	}
	remove := func(name string) *mutationrulesv3.HeaderMutation {
		return &mutationrulesv3.HeaderMutation{Action: &mutationrulesv3.HeaderMutation_Remove{Remove: name}}
	}
	return &headermutationv3.HeaderMutation{Mutations: &headermutationv3.Mutations{RequestMutations: []*mutationrulesv3.HeaderMutation{
		set("x-envoy-max-retries", plan.AttemptRetriesHeader),
		set("x-envoy-upstream-rq-per-try-timeout-ms", plan.AttemptTimeoutHeader),
		remove(plan.AttemptRetriesHeader),
		remove(plan.AttemptTimeoutHeader),
	}}}
}

// hopHeadersToMetadata moves the next step's signed fallback header and
// the redirect's location off the request, before the router: no attempt
// (the upstream processor's, a provider's) gets them.
func hopHeadersToMetadata() *headertometadatav3.Config {
	rule := func(header, key string) *headertometadatav3.Config_Rule {
		return &headertometadatav3.Config_Rule{
			Header: header,
			OnHeaderPresent: &headertometadatav3.Config_KeyValuePair{
				MetadataNamespace: plan.MetadataNamespace,
				Key:               key,
				Type:              headertometadatav3.Config_STRING,
			},
			Remove: true,
		}
	}
	return &headertometadatav3.Config{RequestRules: []*headertometadatav3.Config_Rule{
		rule(plan.FallbackNextHeader, plan.MetadataFallbackNext),
		rule(plan.FallbackLocationHeader, plan.MetadataFallbackLocation),
	}}
}

// hopLocalReplyConfig turns the hop router's own error replies (status 500
// and up: no deployment answered in the end) into the fallback redirect
// when the request has a next step; the rest get the gateway listener's
// error bodies, since that listener passes the hop's answers on as they
// are.
func hopLocalReplyConfig(o Options) *hcmv3.LocalReplyConfig {
	meta := func(key string) string { return "%DYNAMIC_METADATA(" + plan.MetadataNamespace + ":" + key + ")%" }
	redirect := &hcmv3.ResponseMapper{
		Filter: &accessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_AndFilter{AndFilter: &accesslogv3.AndFilter{
			Filters: []*accessLogFilter{metadataPresent(plan.MetadataFallbackNext), statusAtLeast(500)},
		}}},
		StatusCode: wrapperspb.UInt32(plan.FallbackStatus),
		HeadersToAdd: []*corev3.HeaderValueOption{
			header("location", meta(plan.MetadataFallbackLocation)),
			header(plan.FallbackHeader, meta(plan.MetadataFallbackNext)),
			header(plan.FallbackCauseHeader, "%RESPONSE_CODE%;%UPSTREAM_METADATA("+plan.MetadataNamespace+":"+plan.MetadataDeploymentID+")%"),
		},
		// Only seen if Envoy did not follow the redirect: no Envoy
		// internals (its reason goes to the access log).
		BodyFormatOverride: &corev3.SubstitutionFormatString{
			Format: &corev3.SubstitutionFormatString_JsonFormat{JsonFormat: &structpb.Struct{Fields: map[string]*structpb.Value{
				"error": structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
					"message": structpb.NewStringValue("could not get a response from the model deployment"),
					"type":    structpb.NewStringValue("bad_gateway"),
					"param":   structpb.NewNullValue(),
					"code":    structpb.NewStringValue("502"),
				}}),
			}}},
			ContentType: "application/json",
		},
	}
	lr := localReplyConfig(o)
	lr.Mappers = append([]*hcmv3.ResponseMapper{redirect}, lr.Mappers...)
	return lr
}

// makeHopCluster is a group's cluster on the gateway listener for requests
// through the hop: the hop listener, reached in process. No upstream
// filters: the upstream processor runs on the hop's attempts.
func makeHopCluster(g *plan.Group, o Options) *clusterv3.Cluster {
	c := oneHopCluster(plan.HopClusterName(g.Name), &corev3.Address{Address: &corev3.Address_EnvoyInternalAddress{EnvoyInternalAddress: &corev3.EnvoyInternalAddress{
		AddressNameSpecifier: &corev3.EnvoyInternalAddress_ServerListenerName{ServerListenerName: HopListenerName},
	}}}, g, o)
	c.TransportSocket = internalUpstreamSocket()
	return c
}

// oneHopCluster is a group's cluster of one endpoint, addr, that makes the
// group's attempts itself (the fallback hop, the relay): one request per
// client request, as many in flight as the group's own cluster takes.
func oneHopCluster(name string, addr *corev3.Address, g *plan.Group, o Options) *clusterv3.Cluster {
	return &clusterv3.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
		ConnectTimeout:       durationpb.New(connectTimeout),
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: name,
			Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: addr}},
			}}}},
		},
		CircuitBreakers:               &clusterv3.CircuitBreakers{Thresholds: circuitBreakers(g).GetThresholds()},
		PerConnectionBufferLimitBytes: wrapperspb.UInt32(o.MaxRequestBytes + rewriteAllowance),
	}
}

// metadataPresent matches requests with the key set in their metadata
// (under plan.MetadataNamespace).
func metadataPresent(key string) *accessLogFilter {
	return &accessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_MetadataFilter{MetadataFilter: &accesslogv3.MetadataFilter{
		Matcher: &matcherv3.MetadataMatcher{
			Filter: plan.MetadataNamespace,
			Path:   []*matcherv3.MetadataMatcher_PathSegment{{Segment: &matcherv3.MetadataMatcher_PathSegment_Key{Key: key}}},
			Value:  &matcherv3.ValueMatcher{MatchPattern: &matcherv3.ValueMatcher_PresentMatch{PresentMatch: true}},
		},
		MatchIfKeyNotFound: wrapperspb.Bool(false),
	}}}
}
