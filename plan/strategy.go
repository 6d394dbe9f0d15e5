package plan

import (
	"math"
	"slices"

	"github.com/llmvoy/llmvoy/config"
)

// The inputs of load balancing that the config alone decides, per group:
// where `order` puts each deployment, its weight, and which cost more than
// the cheapest of their order. What Go learns at run time (cooldowns, slow
// deployments) is applied by xds on top.

// ranks ranks the distinct `order` values densely from 0; deployments
// without an order come after every ordered one.
func ranks(deployments []*config.Deployment) []uint32 {
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

// weights turns LiteLLM weights (any positive number; unset = 1) into
// Envoy's integer weights. Fractional weights are scaled so that their ratios
// survive rounding. Like LiteLLM's simple-shuffle, a group without weights
// is split by rpm, else by tpm, when its deployments set them.
func weights(deployments []*config.Deployment, strategy string) []uint32 {
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
