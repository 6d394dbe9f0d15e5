package controlplane

import (
	"log/slog"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/plan"
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
