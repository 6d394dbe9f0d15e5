// Package metrics is llmvoy's Prometheus registry, served as /metrics on the
// gateway port. What it counts comes from Envoy's access logs (router.
// AccessLog passes every client request and every upstream attempt to it,
// off the request path), from the upstream processor when it turns a failed
// attempt into a fallback, and from the router state (cooldowns, rpm/tpm
// limits), read when Prometheus scrapes.
//
// Names follow the OpenTelemetry GenAI semantic conventions where they have
// one (gen_ai_*); the rest are llmvoy's own (llmvoy_*). LiteLLM's names
// (litellm_*, litellm.go) count the same events again for its dashboards.
// Label values come from the config only (model groups, deployment ids,
// providers) or from a fixed set (classes, operations, chains), never from
// what a client sent, so
// the number of series is bounded by the config (and, for LiteLLM's token
// and spend series, by the virtual keys: their hashes and aliases).
package metrics

import (
	"bytes"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/plan"
	"github.com/llmvoy/llmvoy/router"
)

// Label values that are not names from the config.
const (
	// None: there is no such thing, e.g. the model group of a request llmvoy
	// answered without routing it, or the deployment of a request that made
	// no attempt.
	None = "none"
	// Unknown: a name the current config does not have (an attempt on a
	// deployment a reload just removed).
	Unknown = "unknown"
)

// Classes of outcomes, the class label of the llmvoy_* counters (and, but
// for ClassSuccess, the error_type label of the gen_ai_* histograms).
const (
	ClassSuccess     = "2xx"
	ClassClientError = "4xx"
	ClassRateLimited = "429"
	ClassServerError = "5xx"
	ClassTimeout     = string(router.FailureTimeout)
	ClassConnection  = string(router.FailureConnection)
	ClassOverflow    = string(router.FailureOverflow)
	ClassCancelled   = string(router.FailureCancelled)
	ClassHedged      = string(router.FailureHedged)
	ClassOther       = "other"
)

// ContentType is the exposition's media type: Prometheus' text format.
const ContentType = string(expfmt.FmtText)

// Buckets of the GenAI semantic conventions: operation durations up to
// about 80 s, first tokens from 1 ms to 10 s.
var (
	durationBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}
	ttftBuckets     = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0}
)

// Metrics holds the instruments. Its methods are safe for concurrent use,
// and do nothing on a nil *Metrics.
type Metrics struct {
	reg       *prometheus.Registry
	cooldowns *router.Cooldowns
	balance   *router.Balance
	names     atomic.Pointer[names]

	requests        *prometheus.CounterVec
	attempts        *prometheus.CounterVec
	retries         *prometheus.CounterVec
	hedged          *prometheus.CounterVec
	fallbacks       *prometheus.CounterVec
	continuations   *prometheus.CounterVec
	cooldownsTotal  *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	firstToken      *prometheus.HistogramVec
	attemptDuration *prometheus.HistogramVec
	tokens          *prometheus.CounterVec
	spend           *prometheus.CounterVec
	cacheLookups    *prometheus.CounterVec
	litellm         *litellmMetrics
	// failing: deployment id → *atomic.Bool, whether its last attempt
	// failed (LiteLLM's partial outage).
	failing sync.Map

	mu sync.Mutex
	// cooling is the last cooldowns seen (deployment → end), to count the
	// ones that start. Shared with Cooldowns: read only.
	cooling map[string]time.Time
}

var _ router.Observer = (*Metrics)(nil)

// New returns the metrics of a gateway serving p, reading cooldowns and
// rpm/tpm limits from c and b when scraped.
func New(p *plan.Plan, c *router.Cooldowns, b *router.Balance) *Metrics {
	m := &Metrics{
		reg:       prometheus.NewRegistry(),
		cooldowns: c,
		balance:   b,
		litellm:   newLiteLLMMetrics(),
		// metrics/cache.go
		cacheLookups: newCacheLookups(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "llmvoy_requests_total",
			Help: "Client requests to the model endpoints, by the model group and deployment that answered last (none: llmvoy answered itself) and outcome class.",
		}, []string{"model_group", "deployment", "class"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "llmvoy_attempts_total",
			Help: "Upstream attempts on deployments, retries and attempts that fell back included, by outcome class.",
		}, []string{"model_group", "deployment", "class"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "llmvoy_retries_total",
			Help: "Attempts Envoy made after the first one of a request within a model group.",
		}, []string{"model_group"}),
		hedged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "llmvoy_hedged_attempts_total",
			Help: "Attempts of groups with model_group_hedging that had not begun to answer at the hedge delay: Envoy raced each with another attempt while the request had a retry left.",
		}, []string{"model_group"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "llmvoy_fallbacks_total",
			Help: "Requests sent on to the next model group of a fallback chain after a failed attempt, by the group they left and the chain (generic, context_window, content_policy).",
		}, []string{"model_group", "chain"}),
		continuations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "llmvoy_stream_continuations_total",
			Help: "Chat completion streams cut after they began (enable_stream_continuation), by the deployment that cut them and the outcome: continued on another deployment, or failed (ended with an error event).",
		}, []string{"model_group", "deployment", "outcome"}),
		cooldownsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "llmvoy_cooldowns_total",
			Help: "Cooldowns started: a deployment failed more than allowed_fails times in a minute.",
		}, []string{"model_group", "deployment"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gen_ai_server_request_duration_seconds",
			Help:    "Client requests to the model endpoints, from their first byte to the answer's last, retries and fallbacks included.",
			Buckets: durationBuckets,
		}, []string{"gen_ai_operation_name", "model_group", "error_type"}),
		firstToken: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gen_ai_server_time_to_first_token_seconds",
			Help:    "Successful streamed answers: time from the request's first byte to the stream's first byte sent to the client.",
			Buckets: ttftBuckets,
		}, []string{"gen_ai_operation_name", "model_group", "deployment"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "llmvoy_tokens_total",
			Help: "Tokens of the answered requests made with virtual keys, by model group, deployment and type (input, output).",
		}, []string{"model_group", "deployment", "type"}),
		spend: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "llmvoy_spend_usd_total",
			Help: "Cost in USD of the answered requests made with virtual keys, by model group and deployment.",
		}, []string{"model_group", "deployment"}),
		attemptDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gen_ai_client_operation_duration_seconds",
			Help:    "Upstream attempts, llmvoy being the deployment's client: from the attempt's start to its end.",
			Buckets: durationBuckets,
		}, []string{"gen_ai_provider_name", "model_group", "deployment", "error_type"}),
	}
	m.SetPlan(p)
	m.reg.MustRegister(m.requests, m.attempts, m.retries, m.hedged, m.fallbacks, m.continuations, m.cooldownsTotal,
		m.requestDuration, m.firstToken, m.attemptDuration, m.tokens, m.spend, m.cacheLookups, stateCollector{m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(m.litellm.collectors()...)
	return m
}

// WatchRedis adds llmvoy_redis_up, read from healthy at each scrape: the
// gateway's Redis answered its last call or probe (1; it is probed every
// second) or the replica counts limits on its own (0). Only gateways with
// Redis configured have it.
func (m *Metrics) WatchRedis(healthy func() bool) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "llmvoy_redis_up",
		Help: "1 when Redis answered the last call or probe (every second), 0 while limits are counted per replica because it does not.",
	}, func() float64 {
		if healthy() {
			return 1
		}
		return 0
	}))
}

// WatchEnvoyRestarts adds llmvoy_envoy_restarts_total, read from restarts
// at each scrape: how often the supervised Envoy died and was started again.
func (m *Metrics) WatchEnvoyRestarts(restarts func() int64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "llmvoy_envoy_restarts_total",
		Help: "Times the Envoy llmvoy supervises died and was started again.",
	}, func() float64 { return float64(restarts()) }))
}

// WatchCallbackDrops counts the records callback name lost to its full
// queue (package callbacks).
func (m *Metrics) WatchCallbackDrops(name string, dropped func() uint64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name:        "llmvoy_callback_records_dropped_total",
		Help:        "Request records a logging callback dropped because its export queue was full.",
		ConstLabels: prometheus.Labels{"callback": name},
	}, func() float64 { return float64(dropped()) }))
}

// SetPlan makes p's model groups and deployments the label values.
func (m *Metrics) SetPlan(p *plan.Plan) {
	if m == nil {
		return
	}
	m.names.Store(newNames(p, m.litellm))
}

// Exposition is the text Prometheus scrapes.
func (m *Metrics) Exposition() ([]byte, error) {
	if m == nil {
		return nil, nil
	}
	m.noteCooldowns("", "")
	families, err := m.reg.Gather()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.FmtText)
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// ObserveRequest counts one client request (one pass of it, when it fell
// back).
func (m *Metrics) ObserveRequest(r router.Request) {
	if m == nil {
		return
	}
	route := endpoint(r.Path)
	op := operationOf(route)
	if op == "" && strings.HasPrefix(r.Cluster, plan.PassThroughCluster("")) {
		op = passThroughOperation // a general_settings.pass_through_endpoints path
	}
	if op == "" {
		return // probes, model listings, scrapes: not calls of a model
	}
	n := m.names.Load()
	cluster := r.Cluster
	if cluster == "" && r.AnsweredGroup != "" {
		// A cache hit: its group's, with no deployment.
		cluster = plan.ClusterName(r.AnsweredGroup)
	}
	group, deployment, _ := n.of(cluster, r.Deployment)
	if r.Attempts > 1 {
		m.retries.WithLabelValues(group).Add(float64(r.Attempts - 1))
	}
	if r.Redirected {
		return // the request goes on in the next group; its last pass counts it
	}
	class := classOf(r.Code, r.Failure)
	m.requests.WithLabelValues(group, deployment, class).Inc()
	m.requestDuration.WithLabelValues(op, group, errorType(class)).Observe(r.Duration.Seconds())
	if r.Stream && class == ClassSuccess && r.FirstByte > 0 {
		m.firstToken.WithLabelValues(op, group, deployment).Observe(r.FirstByte.Seconds())
	}
	m.litellm.observeRequest(r, n.litellmOf(r.Deployment), route, class == ClassSuccess)
}

// ObserveAttempt counts one upstream attempt, and the cooldown it may have
// started.
func (m *Metrics) ObserveAttempt(a router.Attempt) {
	if m == nil {
		return
	}
	m.noteCooldowns(a.Deployment, statusCode(a.Code))
	if a.Failure == "" && a.Code >= 300 && a.Code < 400 {
		// llmvoy's fallback redirect in place of the deployment's answer:
		// Fallback counted the attempt with the deployment's status.
		return
	}
	n := m.names.Load()
	group, deployment, provider := n.of(a.Cluster, a.Deployment)
	class := classOf(a.Code, a.Failure)
	m.attempts.WithLabelValues(group, deployment, class).Inc()
	if a.Hedged {
		m.hedged.WithLabelValues(group).Inc()
	}
	m.attemptDuration.WithLabelValues(provider, group, deployment, errorType(class)).Observe(a.Duration.Seconds())
	if class != ClassCancelled && class != ClassHedged {
		// The client leaving and a hedge losing its race say nothing
		// of the deployment's health.
		m.litellmAttempt(a, n.litellmOf(a.Deployment), class == ClassSuccess)
	}
}

// litellmAttempt counts an attempt in LiteLLM's deployment metrics, and
// notes whether the deployment's last attempt failed.
func (m *Metrics) litellmAttempt(a router.Attempt, d litellmDeployment, success bool) {
	m.litellm.observeAttempt(a, d, success)
	if d.id == litellmNone {
		return
	}
	failing, ok := m.failing.Load(d.id)
	if !ok {
		failing, _ = m.failing.LoadOrStore(d.id, new(atomic.Bool))
	}
	failing.(*atomic.Bool).Store(!success)
}

// Fallback counts a request leaving the model group of deployment for the
// next group of chain, after the deployment answered status. The access
// log sees that attempt only as llmvoy's redirect, so it is counted here.
// Called on the request path: two counter increments.
func (m *Metrics) Fallback(deployment string, status int, chain string) {
	if m == nil {
		return
	}
	n := m.names.Load()
	d := n.litellmOf(deployment)
	group, deployment, _ := n.of("", deployment)
	switch chain {
	case config.FallbackGeneric, config.FallbackContextWindow, config.FallbackContentPolicy:
	default:
		chain = Unknown
	}
	m.fallbacks.WithLabelValues(group, chain).Inc()
	class := classOf(status, "")
	m.attempts.WithLabelValues(group, deployment, class).Inc()
	m.litellmAttempt(router.Attempt{Code: status}, d, class == ClassSuccess)
}

// FallbackWithoutAnswer counts a request leaving a model group for the
// next group of chain after none of the group's deployments answered
// (refused, reset, timed out: the fallback hop's redirect). Envoy logged
// those attempts themselves, so only the fallback is counted here.
func (m *Metrics) FallbackWithoutAnswer(group, chain string) {
	if m == nil {
		return
	}
	if _, ok := m.names.Load().groups[plan.ClusterName(group)]; !ok {
		group = Unknown
	}
	switch chain {
	case config.FallbackGeneric, config.FallbackContextWindow, config.FallbackContentPolicy:
	default:
		chain = Unknown
	}
	m.fallbacks.WithLabelValues(group, chain).Inc()
}

// StreamContinuation counts a stream the relay found cut: outcome is
// "continued" or "failed".
func (m *Metrics) StreamContinuation(deployment, outcome string) {
	if m == nil {
		return
	}
	group, deployment, _ := m.names.Load().of("", deployment)
	m.continuations.WithLabelValues(group, deployment, outcome).Inc()
}

// Usage counts the tokens and cost of an answer a deployment gave, charged
// to key.
func (m *Metrics) Usage(deployment string, key Key, prompt, completion int, cost float64) {
	if m == nil {
		return
	}
	n := m.names.Load()
	n.litellmUsage(m.litellm, deployment, key).add(prompt, completion, cost)
	group, deployment, _ := n.of("", deployment)
	m.tokens.WithLabelValues(group, deployment, "input").Add(float64(prompt))
	m.tokens.WithLabelValues(group, deployment, "output").Add(float64(completion))
	m.spend.WithLabelValues(group, deployment).Add(cost)
}

// noteCooldowns counts the cooldowns that started since it last looked. A
// cooldown starts only when an attempt is recorded, and every attempt is
// observed right after, so none is missed. The attempt observed, on
// deployment id, answered status: a cooldown of id that starts now is its.
func (m *Metrics) noteCooldowns(id, status string) {
	active := m.cooldowns.Active()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(active) == 0 && len(m.cooling) == 0 {
		return
	}
	var n *names
	for cooling, until := range active {
		if seen, ok := m.cooling[cooling]; ok && seen.Equal(until) {
			continue
		}
		if n == nil {
			n = m.names.Load()
		}
		group, deployment, _ := n.of("", cooling)
		m.cooldownsTotal.WithLabelValues(group, deployment).Inc()
		exceptionStatus := litellmNone
		if cooling == id && status != "" {
			exceptionStatus = status
		}
		d := n.litellmOf(cooling)
		m.litellm.cooledDown.WithLabelValues(d.litellmModel, d.id, d.apiBase, d.provider, exceptionStatus).Inc()
	}
	m.cooling = active
}

// stateCollector reports the router state as it is when scraped.
type stateCollector struct{ m *Metrics }

var (
	coolingDesc = prometheus.NewDesc("llmvoy_deployment_cooling_down",
		"1 while the deployment is cooling down (gets no traffic), else 0.", []string{"model_group", "deployment"}, nil)
	overLimitDesc = prometheus.NewDesc("llmvoy_deployment_over_limit",
		"1 while the deployment is past its rpm or tpm for this minute (gets no traffic), else 0.", []string{"model_group", "deployment"}, nil)
)

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- coolingDesc
	ch <- overLimitDesc
	ch <- litellmStateDesc
	ch <- litellmRPMDesc
	ch <- litellmTPMDesc
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	cooling, over := c.m.cooldowns.Active(), c.m.balance.OverLimit()
	n := c.m.names.Load()
	for _, id := range n.order {
		group := n.deployments[id].group
		_, isCooling := cooling[id]
		ch <- prometheus.MustNewConstMetric(coolingDesc, prometheus.GaugeValue, gauge(isCooling), group, id)
		ch <- prometheus.MustNewConstMetric(overLimitDesc, prometheus.GaugeValue, gauge(over[id]), group, id)
		c.collectLiteLLM(ch, n.deployments[id], isCooling)
	}
}

// collectLiteLLM reports LiteLLM's gauges of deployment d.
func (c stateCollector) collectLiteLLM(ch chan<- prometheus.Metric, d deploymentNames, cooling bool) {
	l := d.litellm
	state := litellmHealthy
	if failing, ok := c.m.failing.Load(l.id); ok && failing.(*atomic.Bool).Load() {
		state = litellmPartialOutage
	}
	if cooling {
		state = litellmCompleteOutage
	}
	labels := []string{l.litellmModel, l.id, l.apiBase, l.provider}
	ch <- prometheus.MustNewConstMetric(litellmStateDesc, prometheus.GaugeValue, float64(state), labels...)
	if d.rpm > 0 {
		ch <- prometheus.MustNewConstMetric(litellmRPMDesc, prometheus.GaugeValue, float64(d.rpm), labels...)
	}
	if d.tpm > 0 {
		ch <- prometheus.MustNewConstMetric(litellmTPMDesc, prometheus.GaugeValue, float64(d.tpm), labels...)
	}
}

func gauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// names are the label values one config allows.
type names struct {
	groups      map[string]string // Envoy cluster → model group
	deployments map[string]deploymentNames
	order       []string // deployment ids in config order
	// noDeployment is the LiteLLM labels of an attempt on no deployment
	// or one the config does not have.
	noDeployment litellmDeployment
	// usage caches the LiteLLM series of the answers charged to a key
	// (usageKey → *litellmUsage): resolving their labels, the key's
	// hash among them, costs more than counting.
	usage sync.Map
}

type deploymentNames struct {
	group, provider string
	rpm, tpm        int
	litellm         litellmDeployment
}

func newNames(p *plan.Plan, l *litellmMetrics) *names {
	n := &names{groups: make(map[string]string), deployments: make(map[string]deploymentNames),
		noDeployment: newLiteLLMDeployment(l, nil)}
	for _, g := range p.Groups {
		n.groups[g.Cluster] = g.Name
		// A request through the fallback hop is logged with its cluster.
		n.groups[plan.HopClusterName(g.Name)] = g.Name
		if g.Relay {
			// A stream through the relay is logged with its cluster.
			n.groups[plan.RelayClusterName(g.Name)] = g.Name
		}
	}
	add := func(d *config.Deployment) {
		provider := d.Provider
		if provider == "" {
			provider = Unknown
		}
		n.deployments[d.ID] = deploymentNames{group: d.ModelName, provider: provider, rpm: d.RPM, tpm: d.TPM,
			litellm: newLiteLLMDeployment(l, d)}
		n.order = append(n.order, d.ID)
	}
	for _, d := range p.Config.Deployments {
		add(d)
	}
	// A pass-through route is counted under its deployment's group, or,
	// for a credential from the environment, under the route ("/gemini").
	for _, t := range p.Config.PassThrough {
		d := t.Deployment
		n.groups[plan.PassThroughCluster(t.Name)] = d.ModelName
		if _, ok := n.deployments[d.ID]; !ok {
			add(d)
		}
	}
	return n
}

// of maps what Envoy logged (a cluster, a deployment id, either may be
// empty) to label values: the model group, the deployment and its
// provider.
func (n *names) of(cluster, id string) (group, deployment, provider string) {
	if d, ok := n.deployments[id]; ok {
		return d.group, id, d.provider
	}
	deployment, provider = None, None
	if id != "" {
		deployment, provider = Unknown, Unknown
	}
	switch g, ok := n.groups[cluster]; {
	case ok:
		group = g
	case cluster == "" && id == "":
		group = None
	default:
		group = Unknown
	}
	return group, deployment, provider
}

// litellmUsage is the LiteLLM series of deployment id's answers charged
// to k.
func (n *names) litellmUsage(l *litellmMetrics, id string, k Key) *litellmUsage {
	if _, ok := n.deployments[id]; !ok {
		id = "" // one entry for every id the config does not have
	}
	key := usageKey{deployment: id, key: k}
	if u, ok := n.usage.Load(key); ok {
		return u.(*litellmUsage)
	}
	u, _ := n.usage.LoadOrStore(key, l.usage(n.litellmOf(id), k))
	return u.(*litellmUsage)
}

// litellmOf is deployment id's LiteLLM label values.
func (n *names) litellmOf(id string) litellmDeployment {
	if d, ok := n.deployments[id]; ok {
		return d.litellm
	}
	return n.noDeployment
}

// endpoint is the endpoint a client path calls: the path without its
// query, and without the model the Azure SDKs' paths name first.
func endpoint(path string) string {
	path, _, _ = strings.Cut(path, "?")
	for _, prefix := range []string{"/openai/deployments/", "/engines/"} {
		// The Azure SDKs' paths name the model first: what follows is
		// the endpoint.
		if rest, ok := strings.CutPrefix(path, prefix); ok {
			if _, tail, ok := strings.Cut(rest, "/"); ok {
				path = "/" + tail
			}
		}
	}
	return path
}

// passThroughOperation is a pass-through route's operation: LiteLLM's
// call type of them.
const passThroughOperation = "pass_through_endpoint"

// operationOf is the GenAI operation name of an endpoint; "" for
// endpoints that do not call a model.
func operationOf(endpoint string) string {
	switch endpoint {
	case "/v1/chat/completions", "/chat/completions",
		// The agent clients' APIs are chats too, in GenAI's terms.
		"/v1/messages", "/messages", "/v1/responses", "/responses":
		return "chat"
	case "/v1/completions", "/completions":
		return "text_completion"
	case "/v1/embeddings", "/embeddings":
		return "embeddings"
	// GenAI's conventions name none of these: LiteLLM's call types, without
	// their "a".
	case "/v1/images/generations", "/images/generations":
		return "image_generation"
	case "/v1/images/edits", "/images/edits":
		return "image_edit"
	case "/v1/rerank", "/v2/rerank", "/rerank":
		return "rerank"
	case "/v1/moderations", "/moderations":
		return "moderation"
	case "/v1/audio/speech", "/audio/speech":
		return "speech"
	case "/v1/audio/transcriptions", "/audio/transcriptions":
		return "transcription"
	}
	if _, ok := plan.ProviderRoute(endpoint); ok {
		return passThroughOperation
	}
	return ""
}

// classOf is an outcome's class: why there was no answer, else the status'.
func classOf(code int, f router.Failure) string {
	switch {
	case f != "":
		return string(f)
	case code >= 200 && code < 300:
		return ClassSuccess
	case code == 429:
		return ClassRateLimited
	case code >= 400 && code < 500:
		return ClassClientError
	case code >= 500:
		return ClassServerError
	}
	return ClassOther
}

// errorType is the semantic conventions' error.type: empty for a success
// (Prometheus drops an empty label).
func errorType(class string) string {
	if class == ClassSuccess {
		return ""
	}
	return class
}
