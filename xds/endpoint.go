package xds

import (
	"math"
	"net/netip"
	"slices"

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
	priorities := levels(deployments, strategy, st)
	weights := lbWeights(deployments, strategy)
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
		ep := makeEndpoint(d, addr, weights[i])
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

func makeEndpoint(d *config.Deployment, addr netip.AddrPort, weight uint32) *endpointv3.LbEndpoint {
	filterMetadata := map[string]*structpb.Struct{
		plan.MetadataNamespace: {Fields: map[string]*structpb.Value{
			plan.MetadataDeploymentID: structpb.NewStringValue(d.ID),
		}},
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
// degraded hosts would not allow.
func levels(deployments []*config.Deployment, strategy string, st State) []uint32 {
	ranks := priorityOf(deployments)
	if strategy != config.RoutingLatencyBased && strategy != config.RoutingCostBased {
		return ranks
	}
	pricier := pricierThanCheapest(deployments, ranks, strategy)
	out := make([]uint32, len(deployments))
	for i, d := range deployments {
		out[i] = 2 * ranks[i]
		if st.Slow[d.ID] || pricier[i] {
			out[i]++
		}
	}
	return out
}

// priorityOf ranks the distinct `order` values densely from 0; deployments
// without an order come after every ordered one.
func priorityOf(deployments []*config.Deployment) []uint32 {
	var orders []int
	for _, d := range deployments {
		if d.Order > 0 && !slices.Contains(orders, d.Order) {
			orders = append(orders, d.Order)
		}
	}
	slices.Sort(orders)
	out := make([]uint32, len(deployments))
	for i, d := range deployments {
		if d.Order > 0 {
			out[i] = uint32(slices.Index(orders, d.Order))
		} else {
			out[i] = uint32(len(orders))
		}
	}
	return out
}

// pricierThanCheapest marks, for cost-based-routing, the deployments that
// cost more per token than the cheapest of their order: like LiteLLM, the
// cheapest deployment serves, and the others only when it cannot.
func pricierThanCheapest(deployments []*config.Deployment, priorities []uint32, strategy string) []bool {
	out := make([]bool, len(deployments))
	if strategy != config.RoutingCostBased {
		return out
	}
	cheapest := make(map[uint32]float64)
	for i, d := range deployments {
		if c, ok := cheapest[priorities[i]]; !ok || d.RoutingCost() < c {
			cheapest[priorities[i]] = d.RoutingCost()
		}
	}
	for i, d := range deployments {
		out[i] = d.RoutingCost() > cheapest[priorities[i]]
	}
	return out
}

const maxWeight = 1_000_000

// lbWeights turns LiteLLM weights (any positive number; unset = 1) into
// Envoy's integer weights. Fractional weights are scaled so that their ratios
// survive rounding. Like LiteLLM's simple-shuffle, a group without weights
// is split by rpm, else by tpm, when its deployments set them.
func lbWeights(deployments []*config.Deployment, strategy string) []uint32 {
	weight := func(d *config.Deployment) float64 { return d.Weight }
	if strategy == config.RoutingSimpleShuffle && !slices.ContainsFunc(deployments, func(d *config.Deployment) bool { return d.Weight > 0 }) {
		switch {
		case slices.ContainsFunc(deployments, func(d *config.Deployment) bool { return d.RPM > 0 }):
			weight = func(d *config.Deployment) float64 { return float64(d.RPM) }
		case slices.ContainsFunc(deployments, func(d *config.Deployment) bool { return d.TPM > 0 }):
			weight = func(d *config.Deployment) float64 { return float64(d.TPM) }
		}
	}
	scale, largest := 1.0, 0.0
	for _, d := range deployments {
		if w := weight(d); w != math.Trunc(w) {
			scale = 1000
		}
		largest = max(largest, weight(d))
	}
	// Envoy sums a locality's weights in 32 bits: keep each at most 1e6
	// (tpm limits run into the millions).
	if largest*scale > maxWeight {
		scale = maxWeight / largest
	}
	out := make([]uint32, len(deployments))
	for i, d := range deployments {
		w := weight(d)
		if w <= 0 {
			w = 1
		}
		out[i] = uint32(max(1, math.Round(w*scale)))
	}
	return out
}
