package metrics

import (
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/router"
)

// LiteLLM's proxy metrics (its Prometheus callback), beside llmvoy's own, so
// that dashboards and alerts written for LiteLLM keep working: the same
// names as prometheus_client exposes them (a counter's name ends in _total),
// the same label names, the same histogram buckets.

// litellmNone is the value of a label LiteLLM has no value for: it passes
// Python's None, which prometheus_client writes as "None". llmvoy writes it
// for the labels it does not know (teams, users, client ips, the key of a
// request it saw only in Envoy's access log) and for the end user, which
// LiteLLM leaves out of its metrics by default too (cardinality).
const litellmNone = "None"

// litellmLatencyBuckets are LiteLLM's LATENCY_BUCKETS, in seconds.
var litellmLatencyBuckets = []float64{0.005, 0.00625, 0.0125, 0.025, 0.05, 0.1, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5,
	5.0, 5.5, 6.0, 6.5, 7.0, 7.5, 8.0, 8.5, 9.0, 9.5, 10.0, 15.0, 20.0, 25.0, 30.0, 60.0, 120.0, 180.0, 240.0, 300.0}

// LiteLLM's label sets (PrometheusMetricLabels), in its order; the
// functions that observe them pass the values in the same order.
var (
	litellmProxyRequestLabels = []string{"end_user", "hashed_api_key", "api_key_alias", "requested_model", "team", "team_alias",
		"user", "status_code", "user_email", "route", "client_ip", "user_agent", "model_id"}
	litellmProxyFailureLabels = []string{"end_user", "hashed_api_key", "api_key_alias", "requested_model", "team", "team_alias",
		"user", "user_email", "exception_status", "exception_class", "route", "client_ip", "user_agent", "model_id"}
	litellmRequestLatencyLabels = []string{"end_user", "hashed_api_key", "api_key_alias", "requested_model", "team", "team_alias",
		"user", "model", "model_id"}
	litellmAPILatencyLabels = []string{"model", "hashed_api_key", "api_key_alias", "team", "team_alias", "requested_model",
		"end_user", "user", "model_id"}
	litellmSpendLabels = []string{"end_user", "hashed_api_key", "api_key_alias", "model", "team", "team_alias", "user",
		"user_email", "client_ip", "user_agent", "model_id"}
	litellmTokenLabels = []string{"end_user", "hashed_api_key", "api_key_alias", "model", "team", "team_alias", "user",
		"user_email", "requested_model", "model_id"}
	litellmDeploymentRequestLabels = []string{"requested_model", "litellm_model_name", "model_id", "api_base", "api_provider",
		"hashed_api_key", "api_key_alias", "team", "team_alias", "client_ip", "user_agent"}
	litellmDeploymentFailureLabels = []string{"requested_model", "litellm_model_name", "model_id", "api_base", "api_provider",
		"exception_status", "exception_class", "hashed_api_key", "api_key_alias", "team", "team_alias", "client_ip", "user_agent"}
	litellmDeploymentLabels = []string{"litellm_model_name", "model_id", "api_base", "api_provider"}
)

// Key is the virtual key an answer was charged to, for LiteLLM's labels:
// Hash is the key's token (LiteLLM's hashed_api_key, the SHA-256 of the
// secret in hex), never the secret.
type Key struct{ Hash, Alias string }

type litellmMetrics struct {
	proxyRequests, proxyFailures                 *prometheus.CounterVec
	requests, spend                              *prometheus.CounterVec
	totalTokens, inputTokens, outputTokens       *prometheus.CounterVec
	deploymentRequests, deploymentSuccesses      *prometheus.CounterVec
	deploymentFailures, cooledDown               *prometheus.CounterVec
	requestLatency, apiLatency, timeToFirstToken *prometheus.HistogramVec
}

func newLiteLLMMetrics() *litellmMetrics {
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	histogram := func(name, help string, labels []string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: litellmLatencyBuckets}, labels)
	}
	return &litellmMetrics{
		proxyRequests: counter("litellm_proxy_total_requests_metric_total",
			"LiteLLM's name: client requests to the model endpoints, by status code.", litellmProxyRequestLabels),
		proxyFailures: counter("litellm_proxy_failed_requests_metric_total",
			"LiteLLM's name: client requests to the model endpoints that did not get a success.", litellmProxyFailureLabels),
		requests: counter("litellm_requests_metric_total",
			"LiteLLM's name: answered requests made with virtual keys.", litellmSpendLabels),
		spend: counter("litellm_spend_metric_total",
			"LiteLLM's name: cost in USD of the answered requests made with virtual keys.", litellmSpendLabels),
		totalTokens: counter("litellm_total_tokens_metric_total",
			"LiteLLM's name: input + output tokens of the answered requests made with virtual keys.", litellmTokenLabels),
		inputTokens: counter("litellm_input_tokens_metric_total",
			"LiteLLM's name: input tokens of the answered requests made with virtual keys.", litellmTokenLabels),
		outputTokens: counter("litellm_output_tokens_metric_total",
			"LiteLLM's name: output tokens of the answered requests made with virtual keys.", litellmTokenLabels),
		deploymentRequests: counter("litellm_deployment_total_requests_total",
			"LiteLLM's name: upstream attempts on a deployment, success + failure.", litellmDeploymentRequestLabels),
		deploymentSuccesses: counter("litellm_deployment_success_responses_total",
			"LiteLLM's name: successful upstream attempts on a deployment.", litellmDeploymentRequestLabels),
		deploymentFailures: counter("litellm_deployment_failure_responses_total",
			"LiteLLM's name: failed upstream attempts on a deployment; exception_status is the deployment's status.", litellmDeploymentFailureLabels),
		cooledDown: counter("litellm_deployment_cooled_down_total",
			"LiteLLM's name: cooldowns started; exception_status is the status of the attempt that started it.",
			[]string{"litellm_model_name", "model_id", "api_base", "api_provider", "exception_status"}),
		requestLatency: histogram("litellm_request_total_latency_metric",
			"LiteLLM's name: successful client requests, seconds from their first byte to the answer's last.", litellmRequestLatencyLabels),
		apiLatency: histogram("litellm_llm_api_latency_metric",
			"LiteLLM's name: successful upstream attempts, seconds from their start to their end.", litellmAPILatencyLabels),
		timeToFirstToken: histogram("litellm_llm_api_time_to_first_token_metric",
			"LiteLLM's name: successful streamed answers, seconds from the request's first byte to the stream's first byte.", litellmAPILatencyLabels),
	}
}

func (l *litellmMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{l.proxyRequests, l.proxyFailures, l.requests, l.spend, l.totalTokens, l.inputTokens,
		l.outputTokens, l.deploymentRequests, l.deploymentSuccesses, l.deploymentFailures, l.cooledDown,
		l.requestLatency, l.apiLatency, l.timeToFirstToken}
}

// litellmDeployment is a deployment's LiteLLM label values, and its
// series of successes resolved once (a success's labels are all the
// deployment's): the config's deployments, and one for attempts on no
// deployment or one the config does not have.
type litellmDeployment struct {
	id, group      string // model_id; requested_model, the group LiteLLM routed the request to
	model          string // model: the model the provider is asked for
	litellmModel   string // litellm_model_name: litellm_params.model
	apiBase        string
	provider       string // api_provider
	providerPrefix string // exception_class's prefix: "Openai."

	attempts, successes                        prometheus.Counter
	requestLatency, apiLatency, firstTokenTime prometheus.Observer
}

func newLiteLLMDeployment(l *litellmMetrics, d *config.Deployment) litellmDeployment {
	out := litellmDeployment{id: litellmNone, group: litellmNone, model: litellmNone, litellmModel: litellmNone,
		apiBase: litellmNone, provider: litellmNone}
	if d != nil {
		out.id, out.group, out.model, out.litellmModel = d.ID, d.ModelName, d.UpstreamModel, d.LiteLLMModel()
		out.apiBase, out.provider = orNone(d.PublicAPIBase()), orNone(d.Provider)
		if d.Provider != "" {
			// LiteLLM's _get_exception_class_name: "openai" → "Openai.".
			out.providerPrefix = strings.ToUpper(d.Provider[:1]) + d.Provider[1:] + "."
		}
	}
	n := litellmNone
	out.attempts = l.deploymentRequests.WithLabelValues(out.group, out.litellmModel, out.id, out.apiBase, out.provider, n, n, n, n, n, n)
	out.successes = l.deploymentSuccesses.WithLabelValues(out.group, out.litellmModel, out.id, out.apiBase, out.provider, n, n, n, n, n, n)
	out.requestLatency = l.requestLatency.WithLabelValues(n, n, n, out.group, n, n, n, out.model, out.id)
	out.apiLatency = l.apiLatency.WithLabelValues(out.model, n, n, n, n, out.group, n, n, out.id)
	out.firstTokenTime = l.timeToFirstToken.WithLabelValues(out.model, n, n, n, n, out.group, n, n, out.id)
	return out
}

// statusCodes are the status codes as label values, made once: the hot
// paths do not format them.
var statusCodes = func() (s [600]string) {
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func statusCode(code int) string {
	if code <= 0 || code >= len(statusCodes) {
		return litellmNone
	}
	return statusCodes[code]
}

// litellmExceptions are the exceptions LiteLLM raises for a deployment's
// statuses (its exception_mapping).
var litellmExceptions = map[int]string{
	400: "BadRequestError", 401: "AuthenticationError", 403: "PermissionDeniedError", 404: "NotFoundError",
	408: "Timeout", 422: "UnprocessableEntityError", 429: "RateLimitError", 503: "ServiceUnavailableError", 504: "Timeout",
}

// exceptionClass is LiteLLM's exception_class: the provider's name and the
// class of the exception LiteLLM raises for the outcome.
func exceptionClass(d litellmDeployment, code int, f router.Failure) string {
	class, ok := litellmExceptions[code]
	switch {
	case f == router.FailureTimeout:
		class = "Timeout"
	case f == router.FailureConnection:
		class = "APIConnectionError"
	case f != "":
		return litellmNone // llmvoy's own reasons: no LiteLLM exception matches
	case ok:
	case code >= 500:
		class = "InternalServerError"
	case code >= 400:
		class = "APIError"
	default:
		return litellmNone
	}
	return d.providerPrefix + class
}

// observeRequest counts a client request that ended (not one that went on
// to the next group of a fallback) on endpoint route.
func (l *litellmMetrics) observeRequest(r router.Request, d litellmDeployment, route string, success bool) {
	n := litellmNone
	l.proxyRequests.WithLabelValues(n, n, n, d.group, n, n, n, statusCode(r.Code), n, route, n, n, d.id).Inc()
	if !success {
		l.proxyFailures.WithLabelValues(n, n, n, d.group, n, n, n, n, statusCode(r.Code), exceptionClass(d, r.Code, r.Failure),
			route, n, n, d.id).Inc()
		return
	}
	d.requestLatency.Observe(r.Duration.Seconds())
	if r.Stream && r.FirstByte > 0 {
		d.firstTokenTime.Observe(r.FirstByte.Seconds())
	}
}

// observeAttempt counts an upstream attempt on d.
func (l *litellmMetrics) observeAttempt(a router.Attempt, d litellmDeployment, success bool) {
	n := litellmNone
	d.attempts.Inc()
	if !success {
		l.deploymentFailures.WithLabelValues(d.group, d.litellmModel, d.id, d.apiBase, d.provider,
			statusCode(a.Code), exceptionClass(d, a.Code, a.Failure), n, n, n, n, n, n).Inc()
		return
	}
	d.successes.Inc()
	d.apiLatency.Observe(a.Duration.Seconds())
}

// litellmUsage is the series of the answers of one deployment charged to
// one key.
type litellmUsage struct{ requests, spend, totalTokens, inputTokens, outputTokens prometheus.Counter }

type usageKey struct {
	deployment string
	key        Key
}

// usage is the series of d's answers charged to k.
func (l *litellmMetrics) usage(d litellmDeployment, k Key) *litellmUsage {
	n := litellmNone
	hash, alias := orNone(k.Hash), orNone(k.Alias)
	return &litellmUsage{
		requests:     l.requests.WithLabelValues(n, hash, alias, d.model, n, n, n, n, n, n, d.id),
		spend:        l.spend.WithLabelValues(n, hash, alias, d.model, n, n, n, n, n, n, d.id),
		totalTokens:  l.totalTokens.WithLabelValues(n, hash, alias, d.model, n, n, n, n, d.group, d.id),
		inputTokens:  l.inputTokens.WithLabelValues(n, hash, alias, d.model, n, n, n, n, d.group, d.id),
		outputTokens: l.outputTokens.WithLabelValues(n, hash, alias, d.model, n, n, n, n, d.group, d.id),
	}
}

func (u *litellmUsage) add(prompt, completion int, cost float64) {
	u.requests.Inc()
	u.spend.Add(cost)
	u.totalTokens.Add(float64(prompt + completion))
	u.inputTokens.Add(float64(prompt))
	u.outputTokens.Add(float64(completion))
}

func orNone(s string) string {
	if s == "" {
		return litellmNone
	}
	return s
}

// LiteLLM's deployment_state values.
const (
	litellmHealthy        = 0
	litellmPartialOutage  = 1
	litellmCompleteOutage = 2
)

var (
	litellmStateDesc = prometheus.NewDesc("litellm_deployment_state",
		"LiteLLM's name: the state of the deployment: 0 = healthy, 1 = partial outage (its last attempt failed), 2 = complete outage (cooling down).",
		litellmDeploymentLabels, nil)
	litellmRPMDesc = prometheus.NewDesc("litellm_deployment_rpm_limit",
		"LiteLLM's name: the deployment's rpm in the config.", litellmDeploymentLabels, nil)
	litellmTPMDesc = prometheus.NewDesc("litellm_deployment_tpm_limit",
		"LiteLLM's name: the deployment's tpm in the config.", litellmDeploymentLabels, nil)
)
