// Package plan compiles a parsed LiteLLM config into the facts every other
// part of llmvoy reads: per model group, its Envoy cluster, its deployments,
// whether its attempts can skip the upstream processor (direct) and why
// not, the model the gateway writes into the body, its timeouts, limits and
// fallback chains. It also holds the contract between the Envoy resources
// and the Go request path (contract.go): header, metadata and log names.
//
// Data flows one way: config → plan → {xds, extproc, router, metrics}. A
// fact is derived here once per config, so the resources Envoy gets and
// the processors' decisions cannot disagree on it.
package plan

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/translate"
)

// DefaultRouteTimeout is LiteLLM's default request timeout, the route
// timeout when router_settings.timeout is unset.
const DefaultRouteTimeout = 600 * time.Second

// DefaultHedgeDelay is the hedge delay of a group with `delay: p95` until
// the router has measured enough of its answers.
const DefaultHedgeDelay = time.Second

// Plan is one config compiled. It is immutable once built: reloads build a
// new one.
type Plan struct {
	// Config is the config the plan was built from; settings that are not
	// per group (keys, general settings, aliases) are read from it.
	Config *config.Config
	// Groups are the model groups in config order.
	Groups []*Group
	// RouteTimeout bounds a whole request, retries included
	// (router_settings.timeout, else DefaultRouteTimeout).
	RouteTimeout time.Duration

	byName map[string]*Group
	// patterns are the wildcard groups, most specific first (Match).
	patterns []*Group
}

// Group is what the consumers of the config need to know about one model
// group.
type Group struct {
	Name string
	// Cluster is the group's Envoy cluster (ClusterName).
	Cluster string
	// Deployments are all of the group's deployments, in config order,
	// servable or not.
	Deployments []*config.Deployment
	// Routable are the ids of the deployments llmvoy has a translator for:
	// the ones a request can be served by.
	Routable []string
	// Unroutable says why no deployment of the group can be served (its
	// providers are not supported yet); empty when Routable is not.
	Unroutable string

	// Chains are the group's fallback chains by kind (config.Fallback*),
	// only the non-empty ones.
	Chains map[string][]string
	// Relay is set when the group's streaming chat completions go through
	// llmvoy's relay, which continues a stream cut after it began
	// (router_settings.enable_stream_continuation; see RelayRouteName).
	Relay bool
	// BodyModel is set when every deployment of the group takes OpenAI's
	// format and wants this same model, and the group has no fallbacks:
	// the gateway then writes the model into the body once.
	BodyModel string
	// Direct is set when Envoy alone can send the group's attempts (see
	// Direct); NotDirect says why not otherwise.
	Direct    *Direct
	NotDirect string

	// AttemptTimeout is the per-attempt timeout: litellm_params.timeout
	// when every deployment sets one (the largest; Envoy has one per
	// route), else 0. TimeoutGap is set when only some set one: none is
	// applied, and the operator should be told.
	AttemptTimeout time.Duration
	TimeoutGap     bool
	// StreamTimeout is the per-attempt timeout of streaming requests:
	// litellm_params.stream_timeout when every deployment sets one (the
	// largest), else 0.
	StreamTimeout time.Duration
	// HedgeDelay is the group's router_settings.model_group_hedging delay,
	// 0 when it does not hedge. It replaces both per-attempt timeouts: an
	// attempt that has not begun to answer by then is raced by another,
	// not abandoned (StreamTimeout is 0 for such a group). HedgeP95 is
	// set for `delay: p95`: the router's measured delay replaces
	// HedgeDelay (DefaultHedgeDelay until it has one).
	HedgeDelay time.Duration
	HedgeP95   bool
	// MaxInputTokens is the largest prompt a routable deployment takes; 0
	// when one of them does not say (it may take anything).
	MaxInputTokens int
	// MaxParallel is the max_parallel_requests every deployment sets when
	// they agree (Envoy applies one per-host limit per cluster);
	// MaxParallelConflict is set when they do not, and none is applied.
	MaxParallel         int
	MaxParallelConflict bool

	// Ranks, Weights and Pricier are per deployment, in Deployments'
	// order. Ranks are the `order` values ranked densely from 0, with the
	// deployments without an order after every ordered one (Envoy's
	// priorities, before a Go-driven strategy's levels). Weights are Envoy
	// endpoint weights from weight, or rpm or tpm under simple-shuffle.
	// Pricier marks, under cost-based routing, the deployments that cost
	// more per token than the cheapest of their order.
	Ranks   []uint32
	Weights []uint32
	Pricier []bool

	// pattern matches the requested names a wildcard group serves; nil for
	// a group that serves its name alone.
	pattern *regexp.Regexp
}

// HasFallbacks reports whether any fallback chain starts at the group.
func (g *Group) HasFallbacks() bool { return len(g.Chains) > 0 }

// Chain is the group's fallback chain for errors of kind.
func (g *Group) Chain(kind string) []string { return g.Chains[kind] }

// Direct is what the attempts of a direct group share. A model group is
// direct when Envoy alone can send its attempts: every deployment takes
// OpenAI's format as is, wants the same model, the same path and the same
// credential, and nothing needs the answer (no fallback chain to redirect
// into, no tokens to count). Envoy then gets a second route to its cluster
// with the upstream processor off (see package xds).
type Direct struct {
	// Deployment stands for all of the group's deployments: each gets the
	// request the way it would.
	Deployment *config.Deployment
	// Credential is the header that carries their key; zero when they have
	// none.
	Credential translate.Header
}

// Build compiles cfg. It derives and does not validate: config.Parse has
// checked the file, and what Envoy would refuse is xds's to find.
func Build(cfg *config.Config) (*Plan, error) {
	if cfg == nil {
		return nil, errors.New("plan: no config")
	}
	p := &Plan{Config: cfg, RouteTimeout: cfg.Router.Timeout, byName: make(map[string]*Group)}
	if p.RouteTimeout == 0 {
		p.RouteTimeout = DefaultRouteTimeout
	}
	for _, name := range append(cfg.Groups(), cfg.DeploymentGroups...) {
		g := buildGroup(cfg, name)
		p.Groups = append(p.Groups, g)
		p.byName[name] = g
		g.Relay = cfg.Router.EnableStreamContinuation && g.Unroutable == ""
		if IsPattern(name) {
			g.pattern = patternRegexp(name)
			p.patterns = append(p.patterns, g)
		}
	}
	sortPatterns(p.patterns)
	return p, nil
}

// Group is the named model group, nil when there is none.
func (p *Plan) Group(name string) *Group { return p.byName[name] }

// Chain is the fallback chain of group for errors of kind. A group this
// plan does not have (a request that began under the previous config) gets
// the chain the config's rules give it, as before the reload.
func (p *Plan) Chain(kind, group string) []string {
	if g := p.byName[group]; g != nil {
		return g.Chains[kind]
	}
	return p.Config.Router.FallbackChain(kind, group)
}

// MaxParallelConflicts and TimeoutGaps name the groups where a per-group
// setting cannot be applied because their deployments disagree on it.
func (p *Plan) MaxParallelConflicts() []string {
	return p.groupsWhere(func(g *Group) bool { return g.MaxParallelConflict })
}

// TimeoutGaps: see MaxParallelConflicts.
func (p *Plan) TimeoutGaps() []string {
	return p.groupsWhere(func(g *Group) bool { return g.TimeoutGap })
}

func (p *Plan) groupsWhere(f func(*Group) bool) []string {
	var out []string
	for _, g := range p.Groups {
		if f(g) {
			out = append(out, g.Name)
		}
	}
	return out
}

func buildGroup(cfg *config.Config, name string) *Group {
	ds := cfg.Group(name)
	g := &Group{Name: name, Cluster: ClusterName(name), Deployments: ds}
	var reasons []string
	for _, d := range ds {
		if _, err := translate.For(d); err != nil {
			reasons = append(reasons, err.Error())
		} else {
			g.Routable = append(g.Routable, d.ID)
		}
	}
	if len(g.Routable) == 0 {
		g.Unroutable = strings.Join(reasons, "; ")
	}
	for _, kind := range []string{config.FallbackGeneric, config.FallbackContextWindow, config.FallbackContentPolicy} {
		if chain := cfg.Router.FallbackChain(kind, name); len(chain) > 0 {
			if g.Chains == nil {
				g.Chains = make(map[string][]string)
			}
			g.Chains[kind] = chain
		}
	}
	if !g.HasFallbacks() {
		g.BodyModel = uniformModel(ds)
	}
	if d, why := direct(cfg, g); why == "" {
		g.Direct = &d
	} else {
		g.NotDirect = why
	}
	g.AttemptTimeout = largestIfAll(ds, func(d *config.Deployment) time.Duration { return d.Timeout })
	g.TimeoutGap = g.AttemptTimeout == 0 && slices.ContainsFunc(ds, func(d *config.Deployment) bool { return d.Timeout > 0 })
	g.StreamTimeout = largestIfAll(ds, func(d *config.Deployment) time.Duration { return d.StreamTimeout })
	if h, ok := cfg.Router.Hedging[name]; ok {
		g.HedgeDelay, g.HedgeP95, g.StreamTimeout = h.Delay, h.P95, 0
		if h.P95 {
			g.HedgeDelay = DefaultHedgeDelay
		}
	}
	g.MaxInputTokens = maxInputTokens(cfg, g.Routable)
	g.MaxParallel, g.MaxParallelConflict = uniformMaxParallel(ds)
	g.Ranks = ranks(ds)
	g.Weights = weights(ds, cfg.Router.RoutingStrategy)
	g.Pricier = pricierThanCheapest(ds, g.Ranks, cfg.Router.RoutingStrategy)
	return g
}

// largestIfAll is the largest of a per-deployment duration, 0 when one of
// the deployments does not set it.
func largestIfAll(ds []*config.Deployment, of func(*config.Deployment) time.Duration) time.Duration {
	var most time.Duration
	for _, d := range ds {
		if of(d) == 0 {
			return 0
		}
		most = max(most, of(d))
	}
	return most
}

// maxInputTokens is the largest prompt any of the deployments takes, 0 when
// one of them does not say.
func maxInputTokens(cfg *config.Config, ids []string) int {
	most := 0
	for _, id := range ids {
		n := cfg.Deployment(id).MaxInputTokens
		if n == 0 {
			return 0
		}
		most = max(most, n)
	}
	return most
}

// uniformMaxParallel is the max_parallel_requests every deployment sets;
// conflict when they differ.
func uniformMaxParallel(ds []*config.Deployment) (n int, conflict bool) {
	if len(ds) == 0 {
		return 0, true
	}
	for _, d := range ds[1:] {
		if d.MaxParallelRequests != ds[0].MaxParallelRequests {
			return 0, true
		}
	}
	return ds[0].MaxParallelRequests, false
}

// uniformModel is the upstream model every deployment wants when they all
// take OpenAI's format as is; "" otherwise.
func uniformModel(ds []*config.Deployment) string {
	model := ""
	for _, d := range ds {
		if d.API != config.APIOpenAI || d.UpstreamModel == "" || (model != "" && d.UpstreamModel != model) {
			return ""
		}
		model = d.UpstreamModel
	}
	return model
}

// directEndpoints are the endpoints whose upstream requests must agree for
// a group to be direct.
var directEndpoints = []translate.Endpoint{translate.ChatCompletions, translate.Completions, translate.Embeddings}

// direct decides whether g is direct: what its attempts share, or why it
// is not.
func direct(cfg *config.Config, g *Group) (Direct, string) {
	switch {
	case len(g.Deployments) == 0:
		return Direct{}, "no deployments"
	case g.HasFallbacks():
		return Direct{}, "fallbacks redirect from the upstream processor"
	case uniformModel(g.Deployments) == "":
		return Direct{}, "its deployments do not all take OpenAI's format with one model"
	}
	var heads []translate.RequestHead
	for _, d := range g.Deployments {
		if !Servable(d) {
			return Direct{}, fmt.Sprintf("deployment %s gets no endpoint", d.ID)
		}
		if d.ShapesRequest() || len(d.Headers) > 0 {
			return Direct{}, fmt.Sprintf("deployment %s sets request parameters or headers of its own", d.ID)
		}
		if cfg.Router.CountsTokens(d) {
			return Direct{}, fmt.Sprintf("deployment %s: its tokens are counted from the answer", d.ID)
		}
		tr, err := translate.For(d)
		if err != nil {
			return Direct{}, fmt.Sprintf("deployment %s: %v", d.ID, err)
		}
		if tr.TranslatesResponses(d) {
			return Direct{}, fmt.Sprintf("deployment %s: its answers are translated", d.ID)
		}
		for i, ep := range directEndpoints {
			h, err := tr.RequestHead(d, ep, "")
			switch {
			case err != nil:
				return Direct{}, fmt.Sprintf("deployment %s: %v", d.ID, err)
			case len(h.Set) > 1:
				return Direct{}, fmt.Sprintf("deployment %s sets more than one header", d.ID)
			case h.Authority != EndpointHostname(d.APIBase):
				// The authority must be what auto_host_rewrite puts there.
				return Direct{}, fmt.Sprintf("deployment %s: its authority is not its endpoint's hostname", d.ID)
			}
			if len(heads) <= i {
				heads = append(heads, h)
				continue
			}
			if h.Path != heads[i].Path || !slices.Equal(h.Set, heads[i].Set) {
				return Direct{}, fmt.Sprintf("deployment %s differs from the others in path or credential", d.ID)
			}
		}
	}
	out := Direct{Deployment: g.Deployments[0]}
	if set := heads[0].Set; len(set) == 1 {
		out.Credential = set[0]
	}
	return out, ""
}

// Servable reports whether llmvoy can send traffic to d: deployments of
// providers it does not speak yet get no endpoint (the gateway answers 501).
func Servable(d *config.Deployment) bool {
	return d.API != "" && d.APIBase != nil
}

// EndpointHostname is the hostname of a deployment's endpoint: the host of
// its api_base, with the port for plaintext ones (auto_host_rewrite puts it
// in :authority). An https endpoint's hostname is also its SNI and the name
// its certificate is checked against, so it never carries a port.
func EndpointHostname(base *url.URL) string {
	if base.Scheme == "https" {
		return base.Hostname()
	}
	return base.Host
}
