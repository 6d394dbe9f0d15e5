package xds

import (
	"net/netip"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/plan"
)

// strictPriority is the overprovisioning factor (in percent) that makes
// `order` strict: a priority keeps 100% of the traffic as long as a single
// one of its deployments is healthy (up to 1,000 deployments per order).
// Envoy's default of 140 spills traffic to order 2 while order 1 is merely
// degraded.
const strictPriority = 100_000

// makeLoadAssignment lists one endpoint per deployment of the group. `order`
// becomes the Envoy priority (lowest order first, deployments without an
// order last, as in LiteLLM), `weight` the endpoint weight, and the
// deployment id rides along as metadata for the upstream processor.
//
// It also returns the egresses its endpoints use (see egress.go).
func makeLoadAssignment(g *plan.Group, strategy string, st State) (*endpointv3.ClusterLoadAssignment, []egress) {
	deployments := g.Deployments
	priorities := levels(g, strategy, st)
	weights := g.Weights
	var localities []*endpointv3.LocalityLbEndpoints
	var egresses []egress
	taken := make(map[netip.AddrPort]bool)
	for i, d := range deployments {
		addr, ok := st.Addrs[d.ID]
		if !ok || !plan.Servable(d) {
			continue
		}
		p := priorities[i]
		for len(localities) <= int(p) {
			localities = append(localities, &endpointv3.LocalityLbEndpoints{Priority: uint32(len(localities))})
		}
		ep := makeEndpoint(d, addr, weights[i], g.Relay)
		switch {
		case st.Unavailable[d.ID]:
			// With the panic threshold at 0, Envoy sends an unhealthy
			// endpoint nothing, and moves on to the next order when a whole
			// order is unavailable.
			ep.HealthStatus = corev3.HealthStatus_UNHEALTHY
		}
		if taken[addr] {
			e := egressFor(d, addr)
			egresses = append(egresses, e)
			ep.GetEndpoint().Address = internalEndpoint(d, e)
			ep.Metadata.FilterMetadata[transportSocketMatch] = &structpb.Struct{Fields: map[string]*structpb.Value{
				internalMatchKey: structpb.NewBoolValue(true),
			}}
		}
		taken[addr] = true
		localities[p].LbEndpoints = append(localities[p].LbEndpoints, ep)
	}
	// Envoy wants contiguous priorities; a priority whose deployments all
	// failed to resolve stays as an empty level rather than shifting the rest.
	return &endpointv3.ClusterLoadAssignment{
		ClusterName: g.Cluster,
		Endpoints:   localities,
		Policy: &endpointv3.ClusterLoadAssignment_Policy{
			OverprovisioningFactor: wrapperspb.UInt32(strictPriority),
		},
	}, egresses
}

func makeEndpoint(d *config.Deployment, addr netip.AddrPort, weight uint32, relay bool) *endpointv3.LbEndpoint {
	filterMetadata := map[string]*structpb.Struct{
		plan.MetadataNamespace: {Fields: map[string]*structpb.Value{
			plan.MetadataDeploymentID: structpb.NewStringValue(d.ID),
			// For x-litellm-model-api-base: what /model/info shows, no
			// credential in it.
			plan.MetadataAPIBase: structpb.NewStringValue(d.PublicAPIBase()),
		}},
	}
	if relay {
		// The relay's continuation names its deployment (relaySubsets).
		filterMetadata[subsetNamespace] = &structpb.Struct{Fields: map[string]*structpb.Value{
			plan.MetadataDeploymentID: structpb.NewStringValue(d.ID),
		}}
	}
	if d.APIBase.Scheme == "https" {
		filterMetadata[transportSocketMatch] = &structpb.Struct{Fields: map[string]*structpb.Value{
			tlsMatchKey: structpb.NewBoolValue(true),
		}}
	}
	return &endpointv3.LbEndpoint{
		HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address: socketAddress(addr),
			// The hostname drives SNI and certificate checks (auto_host_sni)
			// and the :authority of direct routes (auto_host_rewrite).
			Hostname: plan.EndpointHostname(d.APIBase),
		}},
		Metadata:            &corev3.Metadata{FilterMetadata: filterMetadata},
		LoadBalancingWeight: wrapperspb.UInt32(weight),
	}
}

// transportSocketMatch is the metadata namespace transport_socket_matches
// look in.
const transportSocketMatch = "envoy.transport_socket_match"

func socketAddress(addr netip.AddrPort) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address:       addr.Addr().String(),
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(addr.Port())},
	}}}
}

// levels are the Envoy priorities of a group's deployments. `order` ranks
// come first; within an order, the deployments a Go-driven strategy prefers
// less (slower for latency-based, pricier for cost-based routing) sit one
// level below the preferred ones: they serve only when no preferred one can,
// and a retry still reaches them (previous_priorities), which Envoy's
// degraded hosts would not allow. Which are slower is live state; ranks and
// prices are the plan's.
func levels(g *plan.Group, strategy string, st State) []uint32 {
	if strategy != config.RoutingLatencyBased && strategy != config.RoutingCostBased {
		return g.Ranks
	}
	out := make([]uint32, len(g.Deployments))
	for i, d := range g.Deployments {
		out[i] = 2 * g.Ranks[i]
		if st.Slow[d.ID] || g.Pricier[i] {
			out[i]++
		}
	}
	return out
}
