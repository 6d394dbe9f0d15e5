package controlplane

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/plan"
	"github.com/llmvoy/llmvoy/xds"
)

// Load reads and parses the config file at path and plans it, logging its
// warnings, including the settings llmvoy can apply only per model group.
func Load(path string, log *slog.Logger) (*plan.Plan, error) {
	cfg, warnings, err := config.Load(path)
	for _, w := range warnings {
		log.Warn("config: " + w.String())
	}
	if err != nil {
		return nil, err
	}
	p, err := plan.Build(cfg)
	if err != nil {
		return nil, err
	}
	for _, g := range p.MaxParallelConflicts() {
		log.Warn("config: max_parallel_requests is applied per model group when all its deployments set the same value; they differ in this group, so none is applied", "model_group", g)
	}
	for _, g := range p.TimeoutGaps() {
		log.Warn("config: litellm_params.timeout is applied per model group when all its deployments set one; some in this group do not, so none is applied", "model_group", g)
	}
	return p, nil
}

// Check does to p what a reload does before it swaps anything, translate
// it and check Envoy's resources, so that a config a reload would refuse
// (a group with more distinct orders than Envoy has priorities, say) is
// refused before it is deployed. It resolves no host: each deployment gets
// a placeholder address (xds.Placeholders), so every endpoint is built; no
// deployment is cooling down.
func Check(p *plan.Plan, opts xds.Options) error {
	res, err := xds.Translate(p, xds.State{Addrs: xds.Placeholders(p.Config)}, opts)
	if err == nil {
		err = res.Check()
	}
	var invalid *xds.InvalidError
	if errors.As(err, &invalid) {
		// The operator knows the group, not its Envoy cluster.
		for _, g := range p.Groups {
			if g.Cluster == invalid.Name {
				return fmt.Errorf("model group %q: %w", g.Name, err)
			}
		}
	}
	return err
}
