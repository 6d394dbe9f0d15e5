package metrics_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/metrics"
	"github.com/llmvoy/llmvoy/plan"
	"github.com/llmvoy/llmvoy/router"
)

// none is LiteLLM's value of a label it does not know.
const none = "None"

// litellmLabels are the labels of a LiteLLM series: every name, "None"
// unless set.
func litellmLabels(names string, set map[string]string) map[string]string {
	out := map[string]string{}
	for _, n := range strings.Fields(names) {
		out[n] = none
	}
	for k, v := range set {
		out[k] = v
	}
	return out
}

const (
	proxyRequestLabels      = "end_user hashed_api_key api_key_alias requested_model team team_alias user status_code user_email route client_ip user_agent model_id"
	proxyFailureLabels      = "end_user hashed_api_key api_key_alias requested_model team team_alias user user_email exception_status exception_class route client_ip user_agent model_id"
	requestLatencyLabels    = "end_user hashed_api_key api_key_alias requested_model team team_alias user model model_id"
	apiLatencyLabels        = "model hashed_api_key api_key_alias team team_alias requested_model end_user user model_id"
	spendLabels             = "end_user hashed_api_key api_key_alias model team team_alias user user_email client_ip user_agent model_id"
	tokenLabels             = "end_user hashed_api_key api_key_alias model team team_alias user user_email requested_model model_id"
	deploymentRequestLabels = "requested_model litellm_model_name model_id api_base api_provider hashed_api_key api_key_alias team team_alias client_ip user_agent"
	deploymentFailureLabels = "requested_model litellm_model_name model_id api_base api_provider exception_status exception_class hashed_api_key api_key_alias team team_alias client_ip user_agent"
	deploymentLabels        = "litellm_model_name model_id api_base api_provider"
)

// litellmFixture is newFixture's config with the model names and api
// bases LiteLLM's labels carry.
func litellmFixture(t *testing.T) fixture {
	t.Helper()
	cfg := testConfig()
	cfg.Router.RoutingStrategy = config.RoutingUsageBasedV2
	for _, d := range cfg.Deployments {
		d.UpstreamModel = "up-" + d.ID
	}
	cfg.Deployments[1].APIBase = &url.URL{Scheme: "https", User: url.UserPassword("u", "secret"), Host: "b.example", Path: "/openai"}
	cfg.Deployments[0].TPM = 1000
	c, b := router.NewCooldowns(cfg), router.NewBalance(cfg)
	return fixture{m: metrics.New(planOf(t, cfg), c, b), cooldowns: c, balance: b, cfg: cfg}
}

func TestLiteLLMRequestMetrics(t *testing.T) {
	f := litellmFixture(t)
	gpt := plan.ClusterName("gpt")
	f.m.ObserveRequest(router.Request{Path: "/v1/chat/completions", Code: 200, Cluster: gpt, Deployment: "a", Attempts: 1,
		Stream: true, Duration: 2 * time.Second, FirstByte: 300 * time.Millisecond})
	f.m.ObserveRequest(router.Request{Path: "/openai/deployments/gpt/chat/completions?api-version=1", Code: 200, Cluster: gpt,
		Deployment: "a", Attempts: 1, Duration: time.Second})
	f.m.ObserveRequest(router.Request{Path: "/v1/chat/completions", Code: 429, Cluster: gpt, Deployment: "b", Attempts: 1})
	f.m.ObserveRequest(router.Request{Path: "/v1/embeddings", Code: 401})
	f.m.ObserveRequest(router.Request{Path: "/v1/models", Code: 200}) // not a model call

	s := scrape(t, f.m)
	require.Equal(t, 1.0, value(s, "litellm_proxy_total_requests_metric_total", litellmLabels(proxyRequestLabels, map[string]string{
		"requested_model": "gpt", "status_code": "200", "route": "/v1/chat/completions", "model_id": "a"})))
	require.Equal(t, 1.0, value(s, "litellm_proxy_total_requests_metric_total", litellmLabels(proxyRequestLabels, map[string]string{
		"requested_model": "gpt", "status_code": "200", "route": "/chat/completions", "model_id": "a"})), "an Azure path's endpoint")
	require.Equal(t, 1.0, value(s, "litellm_proxy_total_requests_metric_total", litellmLabels(proxyRequestLabels, map[string]string{
		"requested_model": "gpt", "status_code": "429", "route": "/v1/chat/completions", "model_id": "b"})))
	require.Equal(t, 1.0, value(s, "litellm_proxy_total_requests_metric_total", litellmLabels(proxyRequestLabels, map[string]string{
		"status_code": "401", "route": "/v1/embeddings"})), "answered by llmvoy: no model, no deployment")
	require.Len(t, s["litellm_proxy_total_requests_metric_total"].GetMetric(), 4)

	require.Equal(t, 1.0, value(s, "litellm_proxy_failed_requests_metric_total", litellmLabels(proxyFailureLabels, map[string]string{
		"requested_model": "gpt", "exception_status": "429", "exception_class": "Azure.RateLimitError", "route": "/v1/chat/completions", "model_id": "b"})))
	require.Equal(t, 1.0, value(s, "litellm_proxy_failed_requests_metric_total", litellmLabels(proxyFailureLabels, map[string]string{
		"exception_status": "401", "exception_class": "AuthenticationError", "route": "/v1/embeddings"})))

	latency := litellmLabels(requestLatencyLabels, map[string]string{"requested_model": "gpt", "model": "up-a", "model_id": "a"})
	require.Equal(t, 2.0, value(s, "litellm_request_total_latency_metric", latency), "successes only")
	ttft := litellmLabels(apiLatencyLabels, map[string]string{"requested_model": "gpt", "model": "up-a", "model_id": "a"})
	require.Equal(t, 1.0, value(s, "litellm_llm_api_time_to_first_token_metric", ttft), "streams only")
	// LiteLLM's buckets: 0.3 s lands in the 0.5 s bucket, not the 0.1 s one.
	h := find(s, "litellm_llm_api_time_to_first_token_metric", ttft).GetHistogram()
	require.Len(t, h.GetBucket(), 36, "35 bounds and +Inf")
	for _, b := range h.GetBucket() {
		switch b.GetUpperBound() {
		case 0.1:
			require.Zero(t, b.GetCumulativeCount())
		case 0.5:
			require.Equal(t, uint64(1), b.GetCumulativeCount())
		}
	}
}

func TestLiteLLMDeploymentMetrics(t *testing.T) {
	f := litellmFixture(t)
	attempt := f.attempt
	a := map[string]string{"requested_model": "gpt", "litellm_model_name": "openai/up-a", "model_id": "a", "api_provider": "openai"}
	b := map[string]string{"requested_model": "gpt", "litellm_model_name": "azure/up-b", "model_id": "b", "api_provider": "azure",
		"api_base": "https://b.example/openai"} // without its credentials
	c := map[string]string{"requested_model": "claude", "litellm_model_name": "anthropic/up-c", "model_id": "c", "api_provider": "anthropic"}
	state := func(d map[string]string) map[string]string {
		out := litellmLabels(deploymentLabels, d)
		delete(out, "requested_model")
		return out
	}

	s := scrape(t, f.m)
	for _, d := range []map[string]string{a, b, c} {
		require.Zero(t, value(s, "litellm_deployment_state", state(d)), "healthy until told otherwise: %v", d)
	}
	require.Equal(t, 1000.0, value(s, "litellm_deployment_tpm_limit", state(a)))
	require.Equal(t, 1.0, value(s, "litellm_deployment_rpm_limit", state(a)))
	require.Len(t, s["litellm_deployment_rpm_limit"].GetMetric(), 1, "only deployments with a limit")

	attempt("a", 200, "")
	attempt("b", 503, router.FailureConnection) // allowed_fails 0: b cools down
	attempt("c", 500, "")                       // alone in its group: never cools down
	attempt("c", 200, router.FailureCancelled)  // the client left: says nothing of c

	s = scrape(t, f.m)
	require.Equal(t, 1.0, value(s, "litellm_deployment_total_requests_total", litellmLabels(deploymentRequestLabels, a)))
	require.Equal(t, 1.0, value(s, "litellm_deployment_success_responses_total", litellmLabels(deploymentRequestLabels, a)))
	require.Equal(t, 1.0, value(s, "litellm_llm_api_latency_metric", litellmLabels(apiLatencyLabels,
		map[string]string{"model": "up-a", "requested_model": "gpt", "model_id": "a"})))
	require.Equal(t, 1.0, value(s, "litellm_deployment_total_requests_total", litellmLabels(deploymentRequestLabels, c)))
	require.Zero(t, value(s, "litellm_deployment_success_responses_total", litellmLabels(deploymentRequestLabels, c)))
	require.Equal(t, 1.0, value(s, "litellm_deployment_failure_responses_total", litellmLabels(deploymentFailureLabels,
		merge(c, map[string]string{"exception_status": "500", "exception_class": "Anthropic.InternalServerError"}))))
	require.Equal(t, 1.0, value(s, "litellm_deployment_failure_responses_total", litellmLabels(deploymentFailureLabels,
		merge(b, map[string]string{"exception_status": "503", "exception_class": "Azure.APIConnectionError"}))))
	require.Equal(t, 1.0, value(s, "litellm_deployment_cooled_down_total", merge(state(b), map[string]string{"exception_status": "503"})))
	require.Len(t, s["litellm_deployment_cooled_down_total"].GetMetric(), 1)

	require.Equal(t, 0.0, value(s, "litellm_deployment_state", state(a)))
	require.Equal(t, 2.0, value(s, "litellm_deployment_state", state(b)), "cooling down: complete outage")
	require.Equal(t, 1.0, value(s, "litellm_deployment_state", state(c)), "last attempt failed: partial outage")
	attempt("c", 200, "")
	require.Equal(t, 0.0, value(scrape(t, f.m), "litellm_deployment_state", state(c)), "healthy again")

	// A fallback's attempt is counted with the deployment's own status.
	f.m.Fallback("a", 500, config.FallbackGeneric)
	s = scrape(t, f.m)
	require.Equal(t, 1.0, value(s, "litellm_deployment_failure_responses_total", litellmLabels(deploymentFailureLabels,
		merge(a, map[string]string{"exception_status": "500", "exception_class": "Openai.InternalServerError"}))))
	require.Equal(t, 1.0, value(s, "litellm_deployment_state", state(a)))
}

func TestLiteLLMUsageMetricsCarryTheKeyHash(t *testing.T) {
	f := litellmFixture(t)
	hash := "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b"
	for range 2 {
		f.m.Usage("a", metrics.Key{Hash: hash, Alias: "ci"}, 10, 20, 0.25)
	}
	f.m.Usage("c", metrics.Key{Hash: hash}, 1, 2, 0.5)

	s := scrape(t, f.m)
	a := map[string]string{"hashed_api_key": hash, "api_key_alias": "ci", "model": "up-a", "model_id": "a"}
	require.Equal(t, 2.0, value(s, "litellm_requests_metric_total", litellmLabels(spendLabels, a)))
	require.Equal(t, 0.5, value(s, "litellm_spend_metric_total", litellmLabels(spendLabels, a)))
	tokens := litellmLabels(tokenLabels, merge(a, map[string]string{"requested_model": "gpt"}))
	require.Equal(t, 60.0, value(s, "litellm_total_tokens_metric_total", tokens))
	require.Equal(t, 20.0, value(s, "litellm_input_tokens_metric_total", tokens))
	require.Equal(t, 40.0, value(s, "litellm_output_tokens_metric_total", tokens))
	c := litellmLabels(tokenLabels, map[string]string{"hashed_api_key": hash, "model": "up-c", "model_id": "c", "requested_model": "claude"})
	require.Equal(t, 3.0, value(s, "litellm_total_tokens_metric_total", c), "no alias: None")
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
