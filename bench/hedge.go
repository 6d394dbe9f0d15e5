package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The hedge scenario: scenarioStream's request to llmvoy, on two model
// groups of the same two mocks, one without hedging and one with
// router_settings.model_group_hedging, while each mock begins a fraction
// of its answers late (the case: 2 s for 5% of requests). Both runs
// start the mocks' seeded draws afresh, so they meet the same slow answers
// on their first attempts.
const (
	hedgedModel      = benchModel + "-hedged"
	hedgeSlowRate    = 0.05
	hedgeSlowLatency = 2 * time.Second
	// targetHedged names llmvoy's steps on the hedging group.
	targetHedged = targetLLMvoy + "+hedging"
)

// hedgeConfig adds the hedging group to gatewayConfig's config: the same
// deployments under hedgedModel, with delay (a duration, or "p95") as its
// hedge delay. Only llmvoy reads it (model_group_hedging is not LiteLLM's).
func hedgeConfig(config []byte, mocks []mockDeployment, delay string) []byte {
	if d, err := time.ParseDuration(delay); err == nil {
		delay = strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
	}
	var deployments strings.Builder
	for _, m := range mocks {
		fmt.Fprintf(&deployments, `  - model_name: %s
    litellm_params:
      model: openai/%s
      api_base: %s/v1
      api_key: sk-bench
    model_info:
      id: %s-hedged
`, hedgedModel, upstreamModel, m.baseURL(), m.name)
	}
	out := bytes.Replace(config, []byte("router_settings:\n"), []byte(deployments.String()+"router_settings:\n"), 1)
	return bytes.Replace(out, []byte("router_settings:\n"),
		fmt.Appendf(nil, "router_settings:\n  model_group_hedging: {%q: {delay: %s}}\n", hedgedModel, delay), 1)
}

// runHedge measures the hedge scenario: llmvoy without hedging, then with.
func (b *bench) runHedge(ctx context.Context) error {
	i := slices.IndexFunc(b.targets, func(t target) bool { return t.name == targetLLMvoy })
	if i < 0 {
		return errors.New("the hedge scenario measures llmvoy: add it to --targets")
	}
	hedged := b.targets[i]
	hedged.name = targetHedged
	b.clients[hedged.name] = newClient(time.Duration(b.s.Timeout))
	plain := chatBody(true)
	body := bytes.Replace(plain, []byte(`"model":"`+benchModel+`"`), []byte(`"model":"`+hedgedModel+`"`), 1)
	for _, run := range []struct {
		t    target
		body []byte
	}{{b.targets[i], plain}, {hedged, body}} {
		// Setting the options restarts the mocks' draws.
		slow := map[string]any{"latency": b.s.MockLatency.String(), "chunk_delay": "0s",
			"slow_rate": hedgeSlowRate, "slow_latency": hedgeSlowLatency.String()}
		if err := b.configureMocks(ctx, slow); err != nil {
			return err
		}
		if err := b.step(ctx, run.t, scenarioHedge, openLoop{rate: b.s.HedgeRate}, run.body, true); err != nil {
			return err
		}
	}
	return b.configureMocks(ctx, map[string]any{"slow_rate": 0})
}

// hedgeGoal is the issue's: hedging at least halves the p99 time to first
// byte.
func hedgeGoal(steps []Step) Goal {
	g := Goal{Name: "hedging: p99 time to first byte, with / without", Want: "≤ 50%"}
	off, on := findStepScenario(steps, scenarioHedge, targetLLMvoy), findStepScenario(steps, scenarioHedge, targetHedged)
	if off != nil && on != nil && off.TTFT != nil && on.TTFT != nil && off.TTFT.P99 > 0 {
		r := on.TTFT.P99 / off.TTFT.P99
		g.Measured, g.Met = true, r <= 0.5
		g.Got = fmt.Sprintf("%.0f%% (%s vs %s ms)", r*100, fmtMS(on.TTFT.P99), fmtMS(off.TTFT.P99))
	}
	return g
}
