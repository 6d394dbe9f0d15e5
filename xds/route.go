package xds

import (
	"slices"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	previoushostsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"
	previousprioritiesv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/priority/previous_priorities/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/plan"
)

// noRouteCluster is the cluster of requests that reach the router without
// a model group: it does not exist, so Envoy answers 404 (response flag
// NC), which the listener's local reply config words in the client's API.
// The gateway processor routes or answers every request itself, so this is
// a safety net, not a code path clients should see. It is a route to a
// cluster rather than a direct response because Envoy's CORS filter skips
// the requests whose route, as matched before the gateway processor names
// their group, is a direct response.
const noRouteCluster = "llmvoy_no_route"

func makeRouteConfig(p *plan.Plan, st State, o Options) *routev3.RouteConfiguration {
	var routes []*routev3.Route
	for _, g := range p.Groups {
		routes = append(routes, makeGroupRoute(g, p, st))
		if g.Direct != nil {
			routes = append(routes, makeDirectRoute(g, p, st))
		}
		routes = append(routes, makeHopRoutes(g, p)...)
		if g.Relay && relayOn(o) {
			routes = append(routes, makeRelayRoute(g, p))
		}
	}
	for _, t := range p.Config.PassThrough {
		routes = append(routes, makePassThroughRoute(t, p))
	}
	routes = append(routes, &routev3.Route{
		Name:  "not_found",
		Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{
			ClusterSpecifier:            &routev3.RouteAction_Cluster{Cluster: noRouteCluster},
			ClusterNotFoundResponseCode: routev3.RouteAction_NOT_FOUND,
		}},
	})
	return &routev3.RouteConfiguration{
		Name: RouteConfigName,
		VirtualHosts: []*routev3.VirtualHost{{
			Name:                    "llmvoy",
			Domains:                 []string{"*"},
			Routes:                  routes,
			ResponseHeadersToAdd:    append(servedByHeaders(), requestHeaders()...),
			ResponseHeadersToRemove: removedFromAnswers,
			TypedPerFilterConfig:    map[string]*anypb.Any{corsFilterName: mustAny(corsPolicy())},
		}},
	}
}

const corsFilterName = "envoy.filters.http.cors"

// corsPolicy lets browser code on any origin call the gateway, as
// LiteLLM's proxy does (any origin, method and header). The key travels in
// a header, which a browser never adds by itself, and llmvoy sets no
// cookies: so no credentials (cookies) are allowed, unlike LiteLLM, whose
// admin UI signs in with one. The headers the client may read include
// llmvoy's and LiteLLM's own.
func corsPolicy() *corsv3.CorsPolicy {
	return &corsv3.CorsPolicy{
		AllowOriginStringMatch: []*matcherv3.StringMatcher{{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: ".*"}}}},
		AllowMethods:           "GET, POST, PUT, PATCH, DELETE, OPTIONS",
		// "*" does not cover authorization (the Fetch standard), so the
		// credential headers llmvoy reads are named.
		AllowHeaders: "*, authorization, x-api-key, api-key, x-goog-api-key, x-litellm-api-key, ocp-apim-subscription-key, content-type, anthropic-version, anthropic-beta",
		ExposeHeaders: strings.Join([]string{plan.ModelIDHeader, plan.LiteLLMModelIDHeader, "x-litellm-model-group", "x-litellm-call-id",
			"x-litellm-response-cost", "x-llmvoy-response-cost", "x-litellm-max-retries", "x-litellm-response-duration-ms",
			"x-litellm-model-api-base", "x-litellm-attempted-retries", "x-litellm-attempted-fallbacks", "x-litellm-cache-key", "retry-after", "x-request-id"}, ", "),
		MaxAge:           "86400",
		AllowCredentials: wrapperspb.Bool(false),
	}
}

// requestHeaders are LiteLLM's response headers that say which request
// this was and how long it took: the request's id (Envoy's, the key of
// llmvoy's logs) and the time to the deployment's first byte (where an
// attempt's listener is another, the fallback hop's or the relay's, the
// first byte of its answer).
func requestHeaders() []*corev3.HeaderValueOption {
	return []*corev3.HeaderValueOption{
		header("x-litellm-call-id", "%REQ(x-request-id)%"),
		header("x-litellm-response-duration-ms", "%RESPONSE_DURATION%"),
		// The steps of its fallback chain the request took, as the gateway
		// processor counted them on the pass that answered.
		header("x-litellm-attempted-fallbacks", "%DYNAMIC_METADATA("+plan.MetadataNamespace+":"+plan.AttemptedFallbacksMetadataKey+")%"),
	}
}

// groupHeaders are LiteLLM's response headers of a group's answers: the
// model group and its retries. Group names are the operator's text, which
// Envoy would read as a format string: "%" is escaped.
func groupHeaders(g *plan.Group, p *plan.Plan) []*corev3.HeaderValueOption {
	name := strings.ReplaceAll(g.Name, "%", "%%")
	if g.IsPattern() {
		// The requested model, which the gateway processor put in the
		// request's metadata.
		name = "%DYNAMIC_METADATA(" + plan.MetadataNamespace + ":" + plan.ModelGroupMetadataKey + ")%"
	}
	return []*corev3.HeaderValueOption{
		header("x-litellm-model-group", name),
		header("x-litellm-max-retries", strconv.Itoa(max(p.Config.Router.MaxRetries(), 0))),
	}
}

// attemptHeaders are LiteLLM's retry count of an answer, on a route whose
// router made the attempts (the group's own, the fallback hop's, the
// relay's): the attempts Envoy made, less the first; none for a reply
// made before any attempt. (A hedged request's attempts count too.)
func attemptHeaders() []*corev3.HeaderValueOption {
	return []*corev3.HeaderValueOption{
		header("x-litellm-attempted-retries", "%CEL(upstream.request_attempt_count > 0u ? upstream.request_attempt_count - 1u : null)%"),
	}
}

func makeGroupRoute(g *plan.Group, p *plan.Plan, st State) *routev3.Route {
	action := groupAction(g, p, st, g.AttemptTimeout)
	// A fallback is an internal redirect: Envoy replays the buffered
	// request through the gateway processor, which picks the next group.
	// Any group's request may have one: its own (the body's "fallbacks").
	action.InternalRedirectPolicy = fallbackRedirects(p)
	return &routev3.Route{
		Name:                   g.Cluster,
		Match:                  routeHeaderMatch(g.Cluster),
		Action:                 &routev3.Route_Route{Route: action},
		RequestHeadersToRemove: []string{plan.RouteHeader},
		ResponseHeadersToAdd:   append(groupHeaders(g, p), attemptHeaders()...),
	}
}

// groupAction sends a request to the group's cluster: its retries, its
// per-attempt timeout and the request's.
func groupAction(g *plan.Group, p *plan.Plan, st State, attempt time.Duration) *routev3.RouteAction {
	timeout := p.RouteTimeout
	action := &routev3.RouteAction{
		ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: g.Cluster},
		Timeout:          durationpb.New(timeout),
		RetryPolicy:      makeRetryPolicy(p.Config.Router, levels(g, p.Config.Router.RoutingStrategy, st), len(g.Deployments) == 1),
	}
	if delay := hedgeDelay(g, st); delay > 0 && action.RetryPolicy != nil {
		// Hedging: when an attempt has not begun to answer within the
		// delay, Envoy sends the next one (a retry: on another deployment,
		// within num_retries) and leaves the first running; the first
		// answer wins and the others are reset. An attempt is then bounded
		// only by the request's timeout.
		action.RetryPolicy.PerTryTimeout = durationpb.New(delay)
		action.HedgePolicy = &routev3.HedgePolicy{HedgeOnPerTryTimeout: true}
		return action
	}
	if attempt > 0 {
		if action.RetryPolicy != nil {
			action.RetryPolicy.PerTryTimeout = durationpb.New(attempt)
		} else if attempt < timeout {
			// One attempt: its timeout is the request's.
			action.Timeout = durationpb.New(attempt)
		}
	}
	return action
}

// hedgeDelay is the group's hedge delay: the measured one for `delay: p95`
// once there is one; 0 when it does not hedge.
func hedgeDelay(g *plan.Group, st State) time.Duration {
	if d, ok := st.HedgeDelays[g.Name]; ok && g.HedgeP95 {
		return d
	}
	return g.HedgeDelay
}

// unhedged is a hedging group's action for a route that names its
// deployment (the relay's continuations): a hedge could only go to that
// same deployment, so the attempt gets the per-try timeout it would have
// without hedging.
func unhedged(action *routev3.RouteAction, attempt time.Duration) *routev3.RouteAction {
	if action.HedgePolicy == nil {
		return action
	}
	action.HedgePolicy, action.RetryPolicy.PerTryTimeout = nil, nil
	if attempt > 0 {
		action.RetryPolicy.PerTryTimeout = durationpb.New(attempt)
	}
	return action
}

// fallbackRedirects follows the fallback redirects (of the upstream
// processor, or of the fallback hop) by replaying the request through the
// gateway listener's filters.
func fallbackRedirects(p *plan.Plan) *routev3.InternalRedirectPolicy {
	return &routev3.InternalRedirectPolicy{
		MaxInternalRedirects:     wrapperspb.UInt32(uint32(p.Config.Router.MaxFallbacks)),
		RedirectResponseCodes:    []uint32{plan.FallbackStatus},
		AllowCrossSchemeRedirect: true,
		ResponseHeadersToCopy:    []string{plan.FallbackHeader, plan.FallbackCauseHeader},
	}
}

// routeHeaderMatch matches the requests the gateway processor sent to the
// named route.
func routeHeaderMatch(name string) *routev3.RouteMatch {
	return &routev3.RouteMatch{
		PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"},
		Headers: []*routev3.HeaderMatcher{{
			Name: plan.RouteHeader,
			HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{
				MatchPattern: &matcherv3.StringMatcher_Exact{Exact: name},
			}},
		}},
	}
}

// servedByHeaders name the deployment that served, formatted from the
// endpoint Envoy actually used, so a retry on another deployment is
// reported correctly. Empty values (local replies) are dropped by Envoy.
func servedByHeaders() []*corev3.HeaderValueOption {
	servedBy := "%UPSTREAM_METADATA(" + plan.MetadataNamespace + ":" + plan.MetadataDeploymentID + ")%"
	return []*corev3.HeaderValueOption{
		header(plan.ModelIDHeader, servedBy),
		header(plan.LiteLLMModelIDHeader, servedBy),
		header("x-litellm-model-api-base", "%UPSTREAM_METADATA("+plan.MetadataNamespace+":"+plan.MetadataAPIBase+")%"),
	}
}

// makeRetryPolicy maps num_retries. Each retry avoids the deployments already
// tried (previous_hosts), like LiteLLM's retries, and 429 counts as
// retriable. Envoy never retries once response bytes reached the client, so a
// started stream is never replayed.
//
// A group's only deployment is retried after the wait its Retry-After asks
// for (up to a minute), as LiteLLM does when no other deployment is
// healthy; in a group of several the retry goes to another deployment at
// once, as in LiteLLM.
func makeRetryPolicy(r config.RouterSettings, priorities []uint32, single bool) *routev3.RetryPolicy {
	retryOn, codes := retryConditions(r)
	if len(retryOn) == 0 {
		return nil
	}
	// Also with num_retries 0: a request's own num_retries (Envoy's
	// x-envoy-max-retries, which the gateway sets) then has the group's
	// conditions and host predicates to retry by.
	p := &routev3.RetryPolicy{
		RetryOn:              strings.Join(retryOn, ","),
		RetriableStatusCodes: codes,
		NumRetries:           wrapperspb.UInt32(uint32(r.MaxRetries())),
		RetryHostPredicate: []*routev3.RetryPolicy_RetryHostPredicate{{
			Name:       "envoy.retry_host_predicates.previous_hosts",
			ConfigType: &routev3.RetryPolicy_RetryHostPredicate_TypedConfig{TypedConfig: mustAny(&previoushostsv3.PreviousHostsPredicate{})},
		}},
		HostSelectionRetryMaxAttempts: 5,
	}
	if r.RetryAfter > 0 {
		// Envoy's jittered exponential back-off, from retry_after.
		p.RetryBackOff = &routev3.RetryPolicy_RetryBackOff{BaseInterval: durationpb.New(r.RetryAfter)}
	}
	if single {
		p.RateLimitedRetryBackOff = &routev3.RetryPolicy_RateLimitedRetryBackOff{
			ResetHeaders: []*routev3.RetryPolicy_ResetHeader{{Name: "retry-after", Format: routev3.RetryPolicy_SECONDS}},
			MaxInterval:  durationpb.New(maxRetryAfter),
		}
	}
	// With several priorities (orders, or the levels of latency- and
	// cost-based routing), a retry moves to the next one once every
	// deployment of the first was tried (previous_hosts spreads the attempts
	// within a priority first): without this, Envoy keeps retrying the first
	// priority until a cooldown takes it out.
	if slices.Max(append(priorities, 0)) > 0 {
		perLevel := make(map[uint32]uint32)
		for _, p := range priorities {
			perLevel[p]++
		}
		// The first level holding deployments, which is not always 0: when
		// every deployment of the first order is slower than one of a later
		// order, latency-based routing leaves level 0 empty, and Envoy
		// refuses an update frequency of 0.
		p.RetryPriority = &routev3.RetryPolicy_RetryPriority{
			Name: "envoy.retry_priorities.previous_priorities",
			ConfigType: &routev3.RetryPolicy_RetryPriority_TypedConfig{TypedConfig: mustAny(&previousprioritiesv3.PreviousPrioritiesConfig{
				UpdateFrequency: int32(perLevel[slices.Min(priorities)]),
			})},
		}
	}
	return p
}

// maxRetryAfter is the longest Retry-After a retry waits for; LiteLLM
// ignores a longer one (and backs off exponentially instead).
const maxRetryAfter = time.Minute

// retryConditions are Envoy's retry_on conditions and retriable status codes
// for the error classes that get retries (config.RouterSettings.RetriesFor
// says the same in Go). Envoy has one retry count per route: with a
// retry_policy, a class set to 0 is not retried and the others share the
// largest count.
func retryConditions(r config.RouterSettings) ([]string, []uint32) {
	if r.RetryPolicy == nil {
		return []string{"5xx", "reset", "connect-failure", "refused-stream", "retriable-status-codes"}, []uint32{429}
	}
	var on []string
	var codes []uint32
	timeouts, server := r.Retries(config.ErrTimeout) > 0, r.Retries(config.ErrInternalServer) > 0
	switch {
	case timeouts && server:
		on = append(on, "5xx", "reset", "connect-failure", "refused-stream")
		codes = append(codes, 408)
	case timeouts:
		on = append(on, "reset", "connect-failure", "refused-stream")
		codes = append(codes, 408, 504)
	case server:
		for c := uint32(500); c <= 599; c++ {
			if c != 504 {
				codes = append(codes, c)
			}
		}
	}
	if r.Retries(config.ErrRateLimit) > 0 {
		codes = append(codes, 429)
	}
	if r.Retries(config.ErrAuthentication) > 0 {
		codes = append(codes, 401)
	}
	if r.Retries(config.ErrBadRequest) > 0 {
		codes = append(codes, 400)
	}
	if len(codes) > 0 {
		on = append(on, "retriable-status-codes")
	}
	slices.Sort(codes)
	return on, codes
}

func header(key, value string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: key, Value: value},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}
