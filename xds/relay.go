package xds

import (
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	subsetv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/subset/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/llmvoy/llmvoy/plan"
)

// The relay (package relay): a group with stream continuation on sends its
// streaming chat completions from the gateway listener to llmvoy's relay
// socket (a cluster per group, one endpoint: the socket), and the relay
// makes the group's attempts through the relay listener, an Envoy listener
// on a private unix socket whose router makes them as the group's own
// route does (retries, per-try timeouts, the upstream processor) and, like
// the fallback hop's, redirects to the next step of a fallback chain when
// the last attempt fails without an answer. The relay passes that redirect
// back, and the gateway listener's router follows it.
//
// Only llmvoy reaches the relay listener: its socket is in the private
// control directory, and it trusts the request id it is given.

// Names only Envoy's side needs.
const (
	RelayListenerName    = "llmvoy_relay"
	RelayRouteConfigName = "llmvoy_relay_routes"
)

// relayOn says whether the plan's relay groups get their routes: the
// sockets are known (not under a TCP control plane).
func relayOn(o Options) bool { return o.RelaySocket != "" && o.RelayListenSocket != "" }

func relayGroups(p *plan.Plan, o Options) []*plan.Group {
	if !relayOn(o) {
		return nil
	}
	var out []*plan.Group
	for _, g := range p.Groups {
		if g.Relay {
			out = append(out, g)
		}
	}
	return out
}

// makeRelayRoute is a group's route to the relay on the gateway listener:
// one attempt, the relay's; the fallback redirects it passes back are
// followed here. The route header stays on the request: the relay
// listener's route table matches it too.
func makeRelayRoute(g *plan.Group, p *plan.Plan) *routev3.Route {
	return routeToOneHop(plan.RelayRouteName(g.Name), plan.RelayClusterName(g.Name), g, p)
}

// makeRelayRouteConfig is the relay listener's route table: per relay
// group, the group's own route with the per-try timeout of a stream, and a
// route per deployment for the relay's continuations, which name the
// deployment that is to continue (one that did not cut the answer).
func makeRelayRouteConfig(groups []*plan.Group, p *plan.Plan, st State) *routev3.RouteConfiguration {
	var routes []*routev3.Route
	for _, g := range groups {
		attempt := g.AttemptTimeout
		if g.StreamTimeout > 0 {
			attempt = g.StreamTimeout
		}
		route := func(name string, action *routev3.RouteAction) *routev3.Route {
			return &routev3.Route{
				Name:                   name,
				Match:                  routeHeaderMatch(name),
				Action:                 &routev3.Route_Route{Route: action},
				RequestHeadersToRemove: []string{plan.RouteHeader},
			}
		}
		routes = append(routes, route(plan.RelayRouteName(g.Name), groupAction(g, p, st, attempt)))
		for _, id := range g.Routable {
			action := unhedged(groupAction(g, p, st, attempt), attempt)
			action.MetadataMatch = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
				subsetNamespace: {Fields: map[string]*structpb.Value{plan.MetadataDeploymentID: structpb.NewStringValue(id)}},
			}}
			routes = append(routes, route(plan.RelayContinueRouteName(g.Name, id), action))
		}
	}
	return &routev3.RouteConfiguration{
		Name: RelayRouteConfigName,
		VirtualHosts: []*routev3.VirtualHost{{
			Name:    RelayListenerName,
			Domains: []string{"*"},
			Routes:  routes,
			// The relay passes them on; the gateway listener's are
			// formatted from the relay's endpoint, which has no
			// deployment: empty, so these stay.
			ResponseHeadersToAdd: append(servedByHeaders(), attemptHeaders()...),
		}},
	}
}

// subsetNamespace is the endpoint metadata namespace Envoy's subset load
// balancer reads.
const subsetNamespace = "envoy.lb"

// relaySubsets wraps a relay group's load balancing policy in Envoy's
// subset load balancer: a request whose route names a deployment (the
// relay's continuations) goes to that deployment alone; every other request
// is balanced over the whole group as before.
func relaySubsets(policy *clusterv3.LoadBalancingPolicy) *clusterv3.LoadBalancingPolicy {
	return &clusterv3.LoadBalancingPolicy{Policies: []*clusterv3.LoadBalancingPolicy_Policy{{
		TypedExtensionConfig: &corev3.TypedExtensionConfig{Name: "llmvoy_relay_subsets", TypedConfig: mustAny(&subsetv3.Subset{
			FallbackPolicy: subsetv3.Subset_ANY_ENDPOINT,
			SubsetSelectors: []*subsetv3.Subset_LbSubsetSelector{{
				Keys:                []string{plan.MetadataDeploymentID},
				SingleHostPerSubset: true,
				FallbackPolicy:      subsetv3.Subset_LbSubsetSelector_NO_FALLBACK,
			}},
			SubsetLbPolicy: policy,
		})},
	}}}
}

// makeRelayListener listens on the relay listener's unix socket, which
// only llmvoy's user can connect to.
func makeRelayListener(o Options) *listenerv3.Listener {
	addr := &corev3.Address{Address: &corev3.Address_Pipe{Pipe: &corev3.Pipe{Path: o.RelayListenSocket, Mode: o.RelaySocketMode}}}
	return attemptsListener(RelayListenerName, RelayRouteConfigName, nil, addr, o)
}

// makeRelayCluster is a group's cluster on the gateway listener for its
// streams through the relay: llmvoy's relay socket.
func makeRelayCluster(g *plan.Group, o Options) *clusterv3.Cluster {
	return oneHopCluster(plan.RelayClusterName(g.Name), &corev3.Address{Address: &corev3.Address_Pipe{Pipe: &corev3.Pipe{Path: o.RelaySocket}}}, g, o)
}
