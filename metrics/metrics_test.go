package metrics_test

import (
	"bytes"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	dto "github.com/prometheus/client_model/go"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/metrics"
	"github.com/llmvoy/llmvoy/plan"
	"github.com/llmvoy/llmvoy/router"
)

// testConfig has two groups; gpt has two deployments, so one of them can
// cool down (the only deployment of a group never does).
func testConfig() *config.Config {
	return &config.Config{
		Router: config.RouterSettings{AllowedFails: 0, CooldownTime: time.Minute},
		Deployments: []*config.Deployment{
			{ID: "a", ModelName: "gpt", Provider: "openai", RPM: 1},
			{ID: "b", ModelName: "gpt", Provider: "azure"},
			{ID: "c", ModelName: "claude", Provider: "anthropic"},
		},
	}
}

func planOf(t *testing.T, cfg *config.Config) *plan.Plan {
	t.Helper()
	p, err := plan.Build(cfg)
	require.NoError(t, err)
	return p
}

type fixture struct {
	m         *metrics.Metrics
	cooldowns *router.Cooldowns
	balance   *router.Balance
	cfg       *config.Config
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	cfg := testConfig()
	cfg.Router.RoutingStrategy = config.RoutingUsageBasedV2
	c, b := router.NewCooldowns(cfg), router.NewBalance(cfg)
	return fixture{m: metrics.New(planOf(t, cfg), c, b), cooldowns: c, balance: b, cfg: cfg}
}

// attempt is an attempt on deployment id as router.AccessLog reports it:
// recorded, then observed.
func (f fixture) attempt(id string, code int, failure router.Failure) {
	o := router.Outcome{Deployment: id, Status: code}
	if failure != "" {
		o.Status = 0
	}
	f.cooldowns.Record(o)
	f.balance.Record(o)
	f.m.ObserveAttempt(router.Attempt{Outcome: o, Counted: true, Deployment: id, Code: code, Failure: failure,
		Cluster: plan.ClusterName(f.cfg.Deployment(id).ModelName), Duration: 50 * time.Millisecond})
}

// scrape parses the exposition.
func scrape(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	body, err := m.Exposition()
	require.NoError(t, err)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	require.NoError(t, err, "exposition:\n%s", body)
	return families
}

// value is the value of one series (a counter, a gauge, or a histogram's
// count), 0 when absent.
func value(families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	s := find(families, name, labels)
	switch {
	case s == nil:
		return 0
	case s.Counter != nil:
		return s.GetCounter().GetValue()
	case s.Gauge != nil:
		return s.GetGauge().GetValue()
	case s.Histogram != nil:
		return float64(s.GetHistogram().GetSampleCount())
	}
	return 0
}

// find is the series of name with exactly these labels; nil when absent.
func find(families map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	f, ok := families[name]
	if !ok {
		return nil
	}
series:
	for _, s := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range s.GetLabel() {
			if l.GetValue() != "" { // Prometheus' reading of an empty label
				got[l.GetName()] = l.GetValue()
			}
		}
		for k, v := range labels {
			if got[k] != v {
				continue series
			}
		}
		if len(got) == len(labels) {
			return s
		}
	}
	return nil
}

// labelValues lists the values one label takes across a family.
func labelValues(families map[string]*dto.MetricFamily, name, label string) map[string]bool {
	out := map[string]bool{}
	for _, s := range families[name].GetMetric() {
		for _, l := range s.GetLabel() {
			if l.GetName() == label {
				out[l.GetValue()] = true
			}
		}
	}
	return out
}

func TestRequestsMoveByGroupDeploymentAndClass(t *testing.T) {
	f := newFixture(t)
	ok := router.Request{Path: "/v1/chat/completions", Code: 200, Cluster: plan.ClusterName("gpt"), Deployment: "a", Attempts: 1,
		Duration: 300 * time.Millisecond}
	for range 3 {
		f.m.ObserveRequest(ok)
	}
	f.m.ObserveRequest(router.Request{Path: "/chat/completions", Code: 504, Failure: router.FailureTimeout, Cluster: plan.ClusterName("gpt"), Deployment: "b", Attempts: 3})
	f.m.ObserveRequest(router.Request{Path: "/v1/embeddings", Code: 429, Cluster: plan.ClusterName("claude"), Deployment: "c", Attempts: 1})
	f.m.ObserveRequest(router.Request{Path: "/v1/audio/transcriptions", Code: 200, Cluster: plan.ClusterName("gpt"), Deployment: "a", Attempts: 1})
	// Answered by llmvoy itself: a bad key, no attempt.
	f.m.ObserveRequest(router.Request{Path: "/v1/chat/completions", Code: 401})
	// Not calls of a model.
	f.m.ObserveRequest(router.Request{Path: "/health/liveliness", Code: 200})
	f.m.ObserveRequest(router.Request{Path: "/metrics", Code: 200})
	// A response-cache hit: the gateway answered for the group.
	f.m.ObserveRequest(router.Request{Path: "/v1/chat/completions", Code: 200, AnsweredGroup: "claude"})

	s := scrape(t, f.m)
	require.Equal(t, 1.0, value(s, "llmvoy_requests_total", map[string]string{"model_group": "claude", "deployment": "none", "class": "2xx"}))
	require.Equal(t, 4.0, value(s, "llmvoy_requests_total", map[string]string{"model_group": "gpt", "deployment": "a", "class": "2xx"}))
	require.Equal(t, 1.0, value(s, "llmvoy_requests_total", map[string]string{"model_group": "gpt", "deployment": "b", "class": "timeout"}))
	require.Equal(t, 1.0, value(s, "llmvoy_requests_total", map[string]string{"model_group": "claude", "deployment": "c", "class": "429"}))
	require.Equal(t, 1.0, value(s, "llmvoy_requests_total", map[string]string{"model_group": "none", "deployment": "none", "class": "4xx"}))
	require.Equal(t, 2.0, value(s, "llmvoy_retries_total", map[string]string{"model_group": "gpt"}))

	require.Equal(t, 3.0, value(s, "gen_ai_server_request_duration_seconds", map[string]string{"gen_ai_operation_name": "chat", "model_group": "gpt"}),
		"a success has no error_type")
	require.Equal(t, 1.0, value(s, "gen_ai_server_request_duration_seconds", map[string]string{"gen_ai_operation_name": "embeddings", "model_group": "claude", "error_type": "429"}))
	require.Equal(t, 1.0, value(s, "gen_ai_server_request_duration_seconds", map[string]string{"gen_ai_operation_name": "transcription", "model_group": "gpt"}))
	var total uint64
	for _, series := range s["llmvoy_requests_total"].GetMetric() {
		total += uint64(series.GetCounter().GetValue())
	}
	require.Equal(t, uint64(8), total, "probes and scrapes are not counted")
}

func TestTimeToFirstTokenCountsSuccessfulStreamsOnly(t *testing.T) {
	f := newFixture(t)
	stream := router.Request{Path: "/v1/chat/completions", Code: 200, Cluster: plan.ClusterName("gpt"), Deployment: "a", Attempts: 1,
		Stream: true, FirstByte: 80 * time.Millisecond, Duration: time.Second}
	f.m.ObserveRequest(stream)
	plain := stream
	plain.Stream = false
	f.m.ObserveRequest(plain)
	failed := stream
	failed.Code = 500
	f.m.ObserveRequest(failed)

	s := scrape(t, f.m)
	labels := map[string]string{"gen_ai_operation_name": "chat", "model_group": "gpt", "deployment": "a"}
	require.Equal(t, 1.0, value(s, "gen_ai_server_time_to_first_token_seconds", labels))
	h := s["gen_ai_server_time_to_first_token_seconds"].GetMetric()[0].GetHistogram()
	require.InDelta(t, 0.08, h.GetSampleSum(), 1e-9)
}

func TestFallbackCountsTheAttemptBehindTheRedirect(t *testing.T) {
	f := newFixture(t)
	// The pass that fell back: its attempts are retries, the request is
	// counted once, by its last pass.
	f.m.ObserveRequest(router.Request{Path: "/v1/chat/completions", Code: 307, Cluster: plan.ClusterName("gpt"), Deployment: "a", Attempts: 2, Redirected: true})
	f.m.ObserveRequest(router.Request{Path: "/v1/chat/completions", Code: 200, Cluster: plan.ClusterName("claude"), Deployment: "c", Attempts: 1})
	f.m.Fallback("a", 500, config.FallbackGeneric)
	// The access log sees the redirect in place of the deployment's 500.
	f.m.ObserveAttempt(router.Attempt{Deployment: "a", Code: 307, Cluster: plan.ClusterName("gpt")})
	f.m.Fallback("a", 400, "made-up")

	s := scrape(t, f.m)
	require.Equal(t, 1.0, value(s, "llmvoy_fallbacks_total", map[string]string{"model_group": "gpt", "chain": "generic"}))
	require.Equal(t, 1.0, value(s, "llmvoy_fallbacks_total", map[string]string{"model_group": "gpt", "chain": "unknown"}))
	require.Equal(t, 1.0, value(s, "llmvoy_attempts_total", map[string]string{"model_group": "gpt", "deployment": "a", "class": "5xx"}))
	require.Equal(t, 1.0, value(s, "llmvoy_attempts_total", map[string]string{"model_group": "gpt", "deployment": "a", "class": "4xx"}))
	require.Zero(t, value(s, "llmvoy_attempts_total", map[string]string{"model_group": "gpt", "deployment": "a", "class": "other"}))
	require.Equal(t, 1.0, value(s, "llmvoy_retries_total", map[string]string{"model_group": "gpt"}))
	require.Zero(t, value(s, "llmvoy_requests_total", map[string]string{"model_group": "gpt", "deployment": "a", "class": "other"}))
	require.Equal(t, 1.0, value(s, "llmvoy_requests_total", map[string]string{"model_group": "claude", "deployment": "c", "class": "2xx"}))
}

// The fallback hop's fallbacks: Envoy logged the attempts behind them, so
// only the fallback is counted, under the group it left.
func TestFallbackWithoutAnswerCountsOnlyTheFallback(t *testing.T) {
	f := newFixture(t)
	f.m.FallbackWithoutAnswer("gpt", config.FallbackGeneric)
	f.m.FallbackWithoutAnswer("gone", "made-up")
	s := scrape(t, f.m)
	require.Equal(t, 1.0, value(s, "llmvoy_fallbacks_total", map[string]string{"model_group": "gpt", "chain": "generic"}))
	require.Equal(t, 1.0, value(s, "llmvoy_fallbacks_total", map[string]string{"model_group": "unknown", "chain": "unknown"}))
	require.Zero(t, value(s, "llmvoy_attempts_total", map[string]string{}))
}

func TestAttemptsAndCooldowns(t *testing.T) {
	f := newFixture(t)
	attempt := f.attempt
	s := scrape(t, f.m)
	require.Zero(t, value(s, "llmvoy_deployment_cooling_down", map[string]string{"model_group": "gpt", "deployment": "b"}))
	require.Len(t, s["llmvoy_deployment_cooling_down"].GetMetric(), 3, "every deployment has its gauge")

	attempt("a", 200, "")
	attempt("b", 503, router.FailureConnection) // allowed_fails 0: b cools down
	attempt("b", 503, router.FailureConnection) // already cooling: no new cooldown
	attempt("c", 500, "")                       // alone in its group: never cools down

	s = scrape(t, f.m)
	require.Equal(t, 1.0, value(s, "llmvoy_attempts_total", map[string]string{"model_group": "gpt", "deployment": "a", "class": "2xx"}))
	require.Equal(t, 2.0, value(s, "llmvoy_attempts_total", map[string]string{"model_group": "gpt", "deployment": "b", "class": "connection_failure"}))
	require.Equal(t, 1.0, value(s, "gen_ai_client_operation_duration_seconds",
		map[string]string{"gen_ai_provider_name": "anthropic", "model_group": "claude", "deployment": "c", "error_type": "5xx"}))
	require.Equal(t, 1.0, value(s, "llmvoy_cooldowns_total", map[string]string{"model_group": "gpt", "deployment": "b"}))
	require.Zero(t, value(s, "llmvoy_cooldowns_total", map[string]string{"model_group": "claude", "deployment": "c"}))
	require.Equal(t, 1.0, value(s, "llmvoy_deployment_cooling_down", map[string]string{"model_group": "gpt", "deployment": "b"}))
	require.Zero(t, value(s, "llmvoy_deployment_cooling_down", map[string]string{"model_group": "gpt", "deployment": "a"}))
	// usage-based routing: a has rpm 1 and served one request.
	require.Equal(t, 1.0, value(s, "llmvoy_deployment_over_limit", map[string]string{"model_group": "gpt", "deployment": "a"}))
	require.Zero(t, value(s, "llmvoy_deployment_over_limit", map[string]string{"model_group": "gpt", "deployment": "b"}))

	// A reload without b ends its cooldown; its gauge goes with it.
	next := testConfig()
	next.Deployments = []*config.Deployment{next.Deployments[0], next.Deployments[2]}
	f.cooldowns.SetConfig(next)
	f.m.SetPlan(planOf(t, next))
	s = scrape(t, f.m)
	require.Equal(t, map[string]bool{"a": true, "c": true}, labelValues(s, "llmvoy_deployment_cooling_down", "deployment"))
	require.Equal(t, 1.0, value(s, "llmvoy_cooldowns_total", map[string]string{"model_group": "gpt", "deployment": "b"}), "counters keep their history")
}

// Label values are names from the config or fixed words: whatever Envoy
// logs that the config does not have becomes "unknown", and a client's path
// never becomes a label.
func TestLabelsAreBounded(t *testing.T) {
	f := newFixture(t)
	f.m.ObserveAttempt(router.Attempt{Deployment: "removed-by-reload", Code: 200, Cluster: "group_gone"})
	f.m.ObserveAttempt(router.Attempt{Deployment: "removed-by-reload", Code: 200, Cluster: plan.ClusterName("gpt")})
	f.m.ObserveRequest(router.Request{Path: "/v1/chat/completions", Code: 200, Cluster: "group_gone", Deployment: "x"})
	f.m.ObserveRequest(router.Request{Path: "/v1/chat/completions/../../sk-secret", Code: 404})
	f.m.ObserveRequest(router.Request{Path: "/v1/chat/completions", Code: 418})
	f.m.Fallback("sk-not-a-deployment", 500, config.FallbackGeneric)

	s := scrape(t, f.m)
	require.Equal(t, 1.0, value(s, "llmvoy_attempts_total", map[string]string{"model_group": "unknown", "deployment": "unknown", "class": "2xx"}))
	require.Equal(t, 1.0, value(s, "llmvoy_attempts_total", map[string]string{"model_group": "gpt", "deployment": "unknown", "class": "2xx"}))
	require.Equal(t, 1.0, value(s, "llmvoy_requests_total", map[string]string{"model_group": "unknown", "deployment": "unknown", "class": "2xx"}))
	require.Equal(t, 1.0, value(s, "llmvoy_fallbacks_total", map[string]string{"model_group": "unknown", "chain": "generic"}))

	groups := map[string]bool{"gpt": true, "claude": true, "none": true, "unknown": true}
	deployments := map[string]bool{"a": true, "b": true, "c": true, "none": true, "unknown": true}
	classes := map[string]bool{"2xx": true, "4xx": true, "429": true, "5xx": true, "timeout": true, "connection_failure": true, "overflow": true, "cancelled": true, "other": true}
	for name, f := range s {
		if !strings.HasPrefix(name, "llmvoy_") && !strings.HasPrefix(name, "gen_ai_") {
			continue
		}
		for _, series := range f.GetMetric() {
			for _, l := range series.GetLabel() {
				switch l.GetName() {
				case "model_group":
					require.Contains(t, groups, l.GetValue(), name)
				case "deployment":
					require.Contains(t, deployments, l.GetValue(), name)
				case "class":
					require.Contains(t, classes, l.GetValue(), name)
				case "error_type": // empty for a success
					require.True(t, l.GetValue() == "" || classes[l.GetValue()], "%s: error_type %q", name, l.GetValue())
				case "gen_ai_operation_name":
					require.Contains(t, []string{"chat", "text_completion", "embeddings"}, l.GetValue(), name)
				}
			}
		}
	}
	body, err := f.m.Exposition()
	require.NoError(t, err)
	require.NotContains(t, string(body), "sk-")
}

func TestNilMetricsDoNothing(t *testing.T) {
	var m *metrics.Metrics
	m.ObserveAttempt(router.Attempt{Code: 200})
	m.ObserveRequest(router.Request{Path: "/v1/chat/completions"})
	m.Fallback("a", 500, config.FallbackGeneric)
	m.SetPlan(planOf(t, testConfig()))
	body, err := m.Exposition()
	require.NoError(t, err)
	require.Empty(t, body)
}

func TestExpositionIsPrometheusText(t *testing.T) {
	f := newFixture(t)
	require.Equal(t, "text/plain; version=0.0.4; charset=utf-8", metrics.ContentType)
	s := scrape(t, f.m)
	require.Contains(t, s, "go_goroutines", "the Go runtime's metrics come along")
	require.Equal(t, dto.MetricType_GAUGE, s["llmvoy_deployment_cooling_down"].GetType())
}

// llmvoy_redis_up is there only when Redis is configured (WatchRedis), and
// reads Redis' health at each scrape.
func TestRedisUpIsReadAtScrapeTime(t *testing.T) {
	f := newFixture(t)
	_, ok := scrape(t, f.m)["llmvoy_redis_up"]
	require.False(t, ok, "no Redis configured, no series")
	var up atomic.Bool
	up.Store(true)
	f.m.WatchRedis(up.Load)
	families := scrape(t, f.m)
	require.Contains(t, families, "llmvoy_redis_up")
	require.EqualValues(t, 1, value(families, "llmvoy_redis_up", nil))
	up.Store(false)
	families = scrape(t, f.m)
	require.Contains(t, families, "llmvoy_redis_up")
	require.EqualValues(t, 0, value(families, "llmvoy_redis_up", nil))
}

// llmvoy_envoy_restarts_total counts what the supervisor reports.
func TestEnvoyRestartsAreCounted(t *testing.T) {
	f := newFixture(t)
	var n int64 = 2
	f.m.WatchEnvoyRestarts(func() int64 { return n })
	require.EqualValues(t, 2, value(scrape(t, f.m), "llmvoy_envoy_restarts_total", nil))
	n = 3
	require.EqualValues(t, 3, value(scrape(t, f.m), "llmvoy_envoy_restarts_total", nil))
}

// A hedged request's two attempts: the one past the delay, reset when the
// hedge answered, and the hedge.
func TestHedgedAttemptsAreCounted(t *testing.T) {
	f := newFixture(t)
	f.m.ObserveAttempt(router.Attempt{Deployment: "a", Failure: router.FailureHedged, Cluster: plan.ClusterName("gpt"), Hedged: true})
	f.m.ObserveAttempt(router.Attempt{Deployment: "b", Code: 200, Cluster: plan.ClusterName("gpt"), Counted: true})
	s := scrape(t, f.m)
	require.Equal(t, 1.0, value(s, "llmvoy_hedged_attempts_total", map[string]string{"model_group": "gpt"}))
	require.Equal(t, 1.0, value(s, "llmvoy_attempts_total", map[string]string{"model_group": "gpt", "deployment": "a", "class": "hedged"}))
	require.Equal(t, 1.0, value(s, "llmvoy_attempts_total", map[string]string{"model_group": "gpt", "deployment": "b", "class": "2xx"}))
}
