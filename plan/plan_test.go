package plan

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/translate"
)

// build parses a config made of deployments (model_list entries) and the
// rest of the file, and plans it.
func build(t *testing.T, deployments, rest string) *Plan {
	t.Helper()
	cfg, _, err := config.Parse([]byte("model_list:\n"+deployments+rest), "test.yaml", func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	p, err := Build(cfg)
	require.NoError(t, err)
	return p
}

func dep(group, params string) string {
	return "  - model_name: " + group + "\n    litellm_params: {" + params + "}\n"
}

const shared = "model: openai/m, api_base: http://h:1/v1, api_key: sk-1"

func TestDirect(t *testing.T) {
	tests := []struct {
		name        string
		deployments string
		rest        string
		key         string // the credential of a direct group
		notDirect   string // part of the reason it is not; "" when direct
	}{
		{"one deployment", dep("g", shared), "", "Bearer sk-1", ""},
		{"replicas sharing a key", dep("g", shared) + dep("g", "model: openai/m, api_base: http://h2:2/v1, api_key: sk-1"), "", "Bearer sk-1", ""},
		{"no key", dep("g", "model: openai/m, api_base: http://h:1/v1"), "", "", ""},
		{"https without a port", dep("g", "model: openai/m, api_base: https://api.example.com/v1, api_key: sk-1"), "", "Bearer sk-1", ""},
		{"tpm not enforced", dep("g", shared+", tpm: 1000"), "", "Bearer sk-1", ""},
		{"a key each", dep("g", shared) + dep("g", "model: openai/m, api_base: http://h2:2/v1, api_key: sk-2"), "", "", "path or credential"},
		{"different paths", dep("g", shared) + dep("g", "model: openai/m, api_base: http://h2:2/openai/v1, api_key: sk-1"), "", "", "path or credential"},
		{"different models", dep("g", shared) + dep("g", "model: openai/n, api_base: http://h2:2/v1, api_key: sk-1"), "", "", "one model"},
		// SNI must not carry the port, :authority must.
		{"https on a port", dep("g", "model: openai/m, api_base: https://api.example.com:8443/v1"), "", "", "authority"},
		{"translated", dep("g", "model: anthropic/claude-sonnet-4-5, api_key: sk-1"), "", "", "one model"},
		{"fallbacks", dep("g", shared) + dep("other", shared), "router_settings:\n  fallbacks: [{g: [other]}]\n", "", "fallbacks"},
		{"tokens counted", dep("g", shared+", tpm: 1000"), "router_settings:\n  routing_strategy: usage-based-routing-v2\n", "", "tokens are counted"},
		{"request defaults", dep("g", shared+", temperature: 0.2"), "", "", "request parameters or headers"},
		{"dropped fields", dep("g", shared+", additional_drop_params: [user]"), "", "", "request parameters or headers"},
		{"extra headers", dep("g", shared+", extra_headers: {X-Team: a}"), "", "", "request parameters or headers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := build(t, tt.deployments, tt.rest).Group("g")
			require.NotNil(t, g)
			if tt.notDirect != "" {
				require.Nil(t, g.Direct)
				require.Contains(t, g.NotDirect, tt.notDirect)
				return
			}
			require.NotNil(t, g.Direct, g.NotDirect)
			require.Empty(t, g.NotDirect)
			require.Same(t, g.Deployments[0], g.Direct.Deployment)
			want := translate.Header{}
			if tt.key != "" {
				want = translate.Header{Key: "authorization", Value: tt.key}
			}
			require.Equal(t, want, g.Direct.Credential)
		})
	}
}

func TestBodyModel(t *testing.T) {
	tests := []struct {
		name        string
		deployments string
		rest        string
		want        string
	}{
		{"one model", dep("g", shared) + dep("g", "model: openai/m, api_base: http://h2:2/v1, api_key: sk-2"), "", "m"},
		{"two models", dep("g", shared) + dep("g", "model: openai/n, api_base: http://h2:2/v1"), "", ""},
		{"not OpenAI's format", dep("g", "model: anthropic/claude-sonnet-4-5, api_key: sk-1"), "", ""},
		// A fallback's pass into another group must not find this group's
		// model in the body.
		{"fallbacks", dep("g", shared) + dep("other", shared), "router_settings:\n  fallbacks: [{g: [other]}]\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, build(t, tt.deployments, tt.rest).Group("g").BodyModel)
		})
	}
}

func TestChains(t *testing.T) {
	p := build(t, dep("g", shared)+dep("a", shared)+dep("b", shared)+dep("c", shared),
		"router_settings:\n  fallbacks: [{g: [a, b]}]\n  context_window_fallbacks: [{g: [c]}]\n  content_policy_fallbacks: [{\"*\": [b]}]\n")
	g := p.Group("g")
	require.Equal(t, map[string][]string{
		config.FallbackGeneric:       {"a", "b"},
		config.FallbackContextWindow: {"c"},
		config.FallbackContentPolicy: {"b"},
	}, g.Chains)
	require.True(t, g.HasFallbacks())
	// "*" reaches every group, but a group never falls back to itself.
	require.Equal(t, []string{"b"}, p.Group("a").Chain(config.FallbackContentPolicy))
	require.Nil(t, p.Group("b").Chain(config.FallbackContentPolicy))
	require.False(t, p.Group("b").HasFallbacks())

	// A group gone in a reload keeps the chain the rules give it ("*"), for
	// the requests that began before.
	require.Equal(t, []string{"a", "b"}, p.Chain(config.FallbackGeneric, "g"))
	require.Equal(t, []string{"b"}, p.Chain(config.FallbackContentPolicy, "removed"))
	require.Nil(t, p.Chain(config.FallbackGeneric, "removed"))
}

func TestTimeoutsAndLimits(t *testing.T) {
	tests := []struct {
		name        string
		deployments string
		attempt     time.Duration
		gap         bool
		stream      time.Duration
		maxInput    int
		parallel    int
		conflict    bool
	}{
		{"none set", dep("g", shared) + dep("g", "model: openai/m, api_base: http://h2:2/v1"), 0, false, 0, 0, 0, false},
		{"all set: the largest", dep("g", shared+", timeout: 10, stream_timeout: 3, max_parallel_requests: 4") +
			dep("g", shared+", timeout: 20, stream_timeout: 2, max_parallel_requests: 4"), 20 * time.Second, false, 3 * time.Second, 0, 4, false},
		{"some set: none applies", dep("g", shared+", timeout: 10, stream_timeout: 3, max_parallel_requests: 4") + dep("g", "model: openai/m, api_base: http://h2:2/v1"),
			0, true, 0, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := build(t, tt.deployments, "")
			g := p.Group("g")
			require.Equal(t, tt.attempt, g.AttemptTimeout)
			require.Equal(t, tt.gap, g.TimeoutGap)
			require.Equal(t, tt.stream, g.StreamTimeout)
			require.Equal(t, tt.parallel, g.MaxParallel)
			require.Equal(t, tt.conflict, g.MaxParallelConflict)
			if tt.gap {
				require.Equal(t, []string{"g"}, p.TimeoutGaps())
			} else {
				require.Empty(t, p.TimeoutGaps())
			}
			if tt.conflict {
				require.Equal(t, []string{"g"}, p.MaxParallelConflicts())
			} else {
				require.Empty(t, p.MaxParallelConflicts())
			}
		})
	}
}

// A hedging group's delay replaces its per-attempt timeouts: no
// stream_timeout for the gateway to set, nor a stream route through the hop.
func TestHedgeDelay(t *testing.T) {
	ds := dep("g", shared+", timeout: 10, stream_timeout: 3") + dep("g", "model: openai/m, api_base: http://h2:2/v1, timeout: 10, stream_timeout: 3") +
		dep("h", shared+", stream_timeout: 3")
	p := build(t, ds, "router_settings:\n  model_group_hedging: {g: {delay: 0.5}}\n")
	g, h := p.Group("g"), p.Group("h")
	require.Equal(t, 500*time.Millisecond, g.HedgeDelay)
	require.Zero(t, g.StreamTimeout)
	require.Equal(t, 10*time.Second, g.AttemptTimeout, "read, and replaced by the delay in Envoy's route")
	require.Zero(t, h.HedgeDelay)
	require.Equal(t, 3*time.Second, h.StreamTimeout)

	p = build(t, ds, "router_settings:\n  model_group_hedging: {g: {delay: p95}}\n")
	require.Equal(t, DefaultHedgeDelay, p.Group("g").HedgeDelay, "until measured")
	require.True(t, p.Group("g").HedgeP95)
}

func TestMaxInputTokens(t *testing.T) {
	withInfo := func(id string, n int) string {
		return "  - model_name: g\n    litellm_params: {" + shared + "}\n    model_info: {id: " + id + ", max_input_tokens: " + strconv.Itoa(n) + "}\n"
	}
	require.Equal(t, 200, build(t, withInfo("a", 100)+withInfo("b", 200), "").Group("g").MaxInputTokens)
	require.Equal(t, 0, build(t, withInfo("a", 100)+dep("g", shared), "").Group("g").MaxInputTokens, "one deployment may take anything")
}

func TestRoutable(t *testing.T) {
	p := build(t, dep("g", "model: sagemaker/jumpstart-dft-meta-textgeneration-llama-2-7b"), "")
	g := p.Group("g")
	require.Empty(t, g.Routable)
	require.NotEmpty(t, g.Unroutable, "the client is told why")

	g = build(t, dep("g", shared)+dep("g", "model: sagemaker/jumpstart-dft-meta-textgeneration-llama-2-7b"), "").Group("g")
	require.Len(t, g.Routable, 1)
	require.Empty(t, g.Unroutable)
	require.Len(t, g.Deployments, 2)
}

func TestRouteTimeout(t *testing.T) {
	require.Equal(t, DefaultRouteTimeout, build(t, dep("g", shared), "").RouteTimeout)
	require.Equal(t, 30*time.Second, build(t, dep("g", shared), "router_settings:\n  timeout: 30\n").RouteTimeout)
}

func TestClusterName(t *testing.T) {
	require.Equal(t, "group_gpt-4o", ClusterName("gpt-4o"))
	require.Equal(t, "group_Llama_3_1", ClusterName("Llama_3_1"))
	require.Equal(t, "group_gpt-4o/direct", DirectRouteName("gpt-4o"))

	// Names outside the safe alphabet are sanitized and disambiguated.
	seen := map[string]string{}
	for _, group := range []string{"openai/gpt-4", "openai_gpt-4", "openai gpt-4", "claude-3.5", "claude-3_5", "", "日本語"} {
		name := ClusterName(group)
		require.NotContains(t, name, ".", "a dot would split the cluster_name stat tag")
		require.True(t, strings.HasPrefix(name, "group_"))
		require.NotContains(t, seen, name, "%q and %q collide", group, seen[name])
		seen[name] = group
		require.Equal(t, name, ClusterName(group), "stable")
	}
}

func TestBuildNil(t *testing.T) {
	_, err := Build(nil)
	require.Error(t, err)
}

func TestStrategyInputs(t *testing.T) {
	withID := func(id, params string) string {
		return "  - model_name: g\n    litellm_params: {" + params + "}\n    model_info: {id: " + id + "}\n"
	}
	base := func(host string) string { return "model: openai/m, api_base: http://" + host + ":1/v1" }
	tests := []struct {
		name        string
		deployments string
		rest        string
		ranks       []uint32
		weights     []uint32
		pricier     []bool
	}{
		{"orders ranked densely, unordered last",
			withID("a", base("a")+", order: 5") + withID("b", base("b")+", order: 1") + withID("c", base("c")) + withID("d", base("d")+", order: 5"),
			"", []uint32{1, 0, 2, 1}, []uint32{1, 1, 1, 1}, []bool{false, false, false, false}},
		{"fractional weights keep their ratio",
			withID("a", base("a")+", weight: 0.25") + withID("b", base("b")+", weight: 0.75"),
			"", []uint32{0, 0}, []uint32{250, 750}, []bool{false, false}},
		{"simple-shuffle splits by rpm without weights",
			withID("a", base("a")+", rpm: 30") + withID("b", base("b")+", rpm: 10"),
			"", []uint32{0, 0}, []uint32{30, 10}, []bool{false, false}},
		// Envoy sums a priority's weights in 32 bits.
		{"weights capped at a million",
			withID("a", base("a")+", tpm: 20000000") + withID("b", base("b")+", tpm: 2000000"),
			"", []uint32{0, 0}, []uint32{1_000_000, 100_000}, []bool{false, false}},
		{"cost-based: the cheapest of each order is preferred",
			withID("a", base("a")+", order: 1, input_cost_per_token: 0.002, output_cost_per_token: 0.002") +
				withID("b", base("b")+", order: 1, input_cost_per_token: 0.001, output_cost_per_token: 0.001") +
				withID("c", base("c")+", order: 2, input_cost_per_token: 0.003, output_cost_per_token: 0.003"),
			"router_settings:\n  routing_strategy: cost-based-routing\n", []uint32{0, 0, 1}, []uint32{1, 1, 1}, []bool{true, false, false}},
		{"prices matter only to cost-based routing",
			withID("a", base("a")+", input_cost_per_token: 0.002") + withID("b", base("b")+", input_cost_per_token: 0.001"),
			"", []uint32{0, 0}, []uint32{1, 1}, []bool{false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := build(t, tt.deployments, tt.rest).Group("g")
			require.Equal(t, tt.ranks, g.Ranks)
			require.Equal(t, tt.weights, g.Weights)
			require.Equal(t, tt.pricier, g.Pricier)
		})
	}
}
