package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestModelGroupHedging(t *testing.T) {
	cfg, warnings := mustParse(t, routingModels+`
  - {model_name: a, litellm_params: {model: openai/a2}}
router_settings:
  num_retries: 1
  model_group_hedging:
    a: {delay: 0.25}
    b: {delay: 2}
    c: {delay: p95}
`, nil)
	require.Equal(t, map[string]Hedge{"a": {Delay: 250 * time.Millisecond, line: 12}, "b": {Delay: 2 * time.Second, line: 13},
		"c": {P95: true, line: 14}}, cfg.Router.Hedging)
	require.Equal(t, []Warning{
		{File: "config.yaml", Line: 13, Path: "router_settings.model_group_hedging.b", Msg: "the group has one deployment: the hedge goes to that same deployment"},
		{File: "config.yaml", Line: 14, Path: "router_settings.model_group_hedging.c", Msg: "the group has one deployment: the hedge goes to that same deployment"},
	}, warnings)
}

func TestModelGroupHedgingErrors(t *testing.T) {
	for name, tc := range map[string]struct{ settings, want string }{
		"unknown group": {`
  model_group_hedging: {nope: {delay: 1}}`, `config.yaml:8: router_settings.model_group_hedging.nope: unknown model group "nope"; model groups: a, b, c, big`},
		"no retries": {`
  num_retries: 0
  model_group_hedging: {a: {delay: 1}}`, `config.yaml:9: router_settings.model_group_hedging.a: hedging sends the second attempt as a retry: it needs num_retries >= 1`},
		"delay past the request's timeout": {`
  timeout: 1
  model_group_hedging: {a: {delay: 1}}`, `config.yaml:9: router_settings.model_group_hedging.a: the delay (1s) must be shorter than router_settings.timeout (1s)`},
		"no delay": {`
  model_group_hedging: {a: {}}`, `config.yaml:8: router_settings.model_group_hedging.a: want a delay in seconds, e.g. {delay: 0.5}, or {delay: "p95"}`},
		"zero delay": {`
  model_group_hedging: {a: {delay: 0}}`, `config.yaml:8: router_settings.model_group_hedging.a.delay: want seconds > 0, got 0`},
		"another percentile": {`
  model_group_hedging: {a: {delay: p90}}`, `config.yaml:8: router_settings.model_group_hedging.a.delay: want a number, got "p90"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := Parse([]byte(routingModels+"router_settings:"+tc.settings+"\n"), "config.yaml", nil)
			require.EqualError(t, err, tc.want)
		})
	}
}
