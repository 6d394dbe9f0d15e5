package extproc

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/llmvoy/llmvoy/admin"
	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/internal/jsonscan"
	"github.com/llmvoy/llmvoy/messagesapi"
	"github.com/llmvoy/llmvoy/metrics"
	"github.com/llmvoy/llmvoy/plan"
	"github.com/llmvoy/llmvoy/responsesapi"
	"github.com/llmvoy/llmvoy/translate"
)

// gateway handles one client request: authentication, local endpoints, and
// the choice of model group (the route) from the body's "model".
type gateway struct {
	state  *state
	server *Server
	// fallback is where this request is in its fallback chain when it is
	// one of llmvoy's internal redirects.
	fallback   fallback
	isRedirect bool
	// requestID is Envoy's id for the request (never the client's: the
	// connection manager replaces any x-request-id a client sends).
	requestID string
	caller    caller
	// admin is the admin endpoint a request with a body is for.
	admin adminRequest
	// path is the client's :path (query included) and endpoint what it
	// calls, for a request to a model; headers says which of its headers
	// a provider may get.
	path     string
	endpoint translate.Endpoint
	headers  headerPolicy
	// contentType is the request's, for a form body (media.go).
	contentType string
	// anthropicBeta is a Messages client's anthropic-beta header.
	anthropicBeta string
	// traceParent is the client's traceparent, kept for the callbacks.
	traceParent string
	// pass is set for a provider pass-through request (passthrough.go).
	pass *passThroughCall
	// limits are LiteLLM's x-litellm-* retry and timeout headers.
	limits limitHeaders
}

var _ processor = (*gateway)(nil)

func (g *gateway) RequestHeaders(h *extprocv3.HttpHeaders, attrs attributes) *extprocv3.ProcessingResponse {
	return g.shape(g.requestHeaders(h, attrs))
}

func (g *gateway) RequestBody(b *extprocv3.HttpBody, attrs attributes) *extprocv3.ProcessingResponse {
	return g.shape(g.requestBody(b, attrs))
}

func (g *gateway) requestHeaders(h *extprocv3.HttpHeaders, _ attributes) *extprocv3.ProcessingResponse {
	method := headerValue(h, ":method")
	path, _, _ := strings.Cut(headerValue(h, ":path"), "?")
	// Known first: every error, authentication's included, is in the
	// shape of the API the client called.
	g.endpoint, _ = modelEndpoint(path)
	g.pass = newPassThroughCall(g.state.cfg, path)

	// LiteLLM's probes answer without a key: orchestrators call them.
	if resp, ok := probe(path); ok {
		return resp
	}
	if path == "/metrics" {
		// As LiteLLM's, for Prometheus scrapers, which send no key: counts
		// by model group and deployment, nothing a key would protect.
		return g.serveMetrics()
	}

	g.requestID = headerValue(h, "x-request-id")
	if v := headerValue(h, plan.FallbackHeader); v != "" {
		// Only a header this process signed for this request id counts;
		// anything else a client sent is removed with the other
		// x-llmvoy-* headers (headerPolicy).
		g.fallback, g.isRedirect = parseFallback(v, g.server.fallbackToken, g.requestID, time.Now())
		if cause := headerValue(h, plan.FallbackCauseHeader); g.isRedirect && cause != "" {
			g.fellBackWithoutAnswer(cause)
		}
	}
	// A fallback redirect was authenticated on its first pass; its
	// credential headers now hold the failed deployment's key (upstream
	// filters share the router's request headers), so the token vouches
	// for it instead.
	if !g.isRedirect {
		c, err := g.authenticate(g.callerKey(h))
		if err != nil {
			return replyError(*err)
		}
		g.caller = c
	}
	if g.pass != nil {
		return g.passThroughHeaders(h)
	}
	if e := admin.Find(path); e != nil {
		return g.adminHeaders(e, method, headerValue(h, ":path"), h.GetEndOfStream())
	}

	if ep, ok := modelEndpoint(path); ok {
		g.path, g.endpoint, g.headers = headerValue(h, ":path"), ep, newHeaderPolicy(h, g.state.cfg.General.KeyHeader)
		g.contentType = headerValue(h, "content-type")
		g.limits = limitHeadersOf(h)
		if ep == translate.Messages {
			g.anthropicBeta = headerValue(h, "anthropic-beta")
		}
		if g.server.callbacks != nil {
			g.traceParent = headerValue(h, "traceparent")
		}
		if method != "POST" {
			return replyError(apiError{Status: 405, Message: "method " + method + " not allowed on " + path + "; use POST", Type: "invalid_request_error"})
		}
		if h.GetEndOfStream() {
			return replyError(apiError{Status: 400, Message: "request body is empty: send a JSON object with a \"model\"", Type: "invalid_request_error"})
		}
		return continueHeaders(nil, false)
	}

	switch {
	case path == "/v1/models" || path == "/models":
		return reply(200, "application/json", g.state.modelsFor(g.caller))
	case strings.HasPrefix(path, "/v1/responses/") || strings.HasPrefix(path, "/responses/"):
		id := path[strings.Index(path, "/responses/")+len("/responses/"):]
		return g.storedResponse(method, id)
	case strings.HasPrefix(path, "/v1/models/") || strings.HasPrefix(path, "/models/"):
		id := path[strings.Index(path, "/models/")+len("/models/"):]
		if unescaped, err := url.PathUnescape(id); err == nil {
			id = unescaped
		}
		return g.retrieveModel(id)
	}
	return replyError(apiError{Status: 404, Message: "unknown path " + path, Type: "invalid_request_error", Code: "not_found"})
}

func (g *gateway) requestBody(b *extprocv3.HttpBody, _ attributes) *extprocv3.ProcessingResponse {
	if g.admin.endpoint != nil {
		return g.serveAdmin(b.GetBody())
	}
	if g.pass != nil {
		return g.passThroughBody(b.GetBody())
	}
	form := translate.IsForm(g.endpoint)
	var fields []jsonscan.Field
	var err error
	if form {
		fields, err = formFields(g.contentType, b.GetBody(), g.path)
	} else {
		fields, err = jsonscan.Fields(b.GetBody())
	}
	if err == nil && !form && !utf8.Valid(b.GetBody()) {
		// JSON text is UTF-8 (RFC 8259), as LiteLLM's parser insists;
		// providers differ on what they make of anything else.
		err = errInvalidUTF8
	}
	if err != nil && form {
		return replyError(apiError{Status: 400, Type: "invalid_request_error", Message: "could not read the multipart/form-data body of your request: " + err.Error()})
	}
	if err != nil {
		return replyError(apiError{Status: 400, Type: "invalid_request_error",
			Message: "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.) Detail: " + err.Error()})
	}
	var body []byte
	clientPath, _, _ := strings.Cut(g.path, "?")
	if _, pathModel, azure := azurePath(clientPath); azure && !g.isRedirect && !form {
		// The Azure SDKs name the model in the path, which LiteLLM takes
		// over the body's: the body gets it, for every attempt to read.
		model := jsonscan.QuoteString(pathModel)
		if f, ok := jsonscan.Get(fields, "model"); !ok || string(f.Value) != string(model) {
			body = jsonscan.Set(b.GetBody(), fields, "model", model)
			if fields, err = jsonscan.Fields(body); err != nil {
				return replyError(apiError{Status: 400, Type: "invalid_request_error", Message: err.Error()})
			}
		}
	}
	f, ok := jsonscan.Get(fields, "model")
	if !ok {
		return replyError(apiError{Status: 400, Message: "you must provide a model parameter", Type: "invalid_request_error", Param: "model"})
	}
	model, ok := jsonscan.String(f.Value)
	if !ok {
		return replyError(apiError{Status: 400, Message: "model must be a string", Type: "invalid_request_error", Param: "model"})
	}
	var ownChain []string
	noFallbacks := false
	var mock drill
	var mockAnswer *extprocv3.ProcessingResponse
	// Read before num_retries and timeout are stripped. A fallback's pass
	// has neither: the next group's own settings hold.
	limits := requestLimits{retries: -1}
	if !g.isRedirect {
		var refused *apiError
		if limits, refused = readRequestLimits(fields, g.limits, isStream(fields)); refused != nil {
			return replyError(*refused)
		}
	}
	// The body as the client sent it, for the response cache's key.
	clientFields := fields
	if !isAgentAPI(g.endpoint) && !g.isRedirect {
		var badDrill *apiError
		if mock, badDrill = g.mockTesting(fields, model); badDrill != nil {
			return replyError(*badDrill)
		}
		if g.endpoint == translate.ChatCompletions && g.caller.allowsMockResponse() {
			// Read before the field is stripped, answered once the
			// request has been admitted. Another caller's is stripped.
			mockAnswer, _ = mockResponse(fields, model)
		}
		// Read before the field is stripped: the chain travels in the
		// signed fallback header, not in the body.
		var refused *extprocv3.ProcessingResponse
		if ownChain, refused = g.requestFallbacks(fields, model); refused != nil {
			return refused
		}
		if f, ok := jsonscan.Get(fields, "disable_fallbacks"); ok {
			noFallbacks, _ = jsonscan.Bool(f.Value)
		}
		// Once: a fallback's pass gets the body as this pass left it.
		src := body
		if src == nil {
			src = b.GetBody()
		}
		if stripped, sf, ok := stripLiteLLMParams(src, fields); ok {
			body, fields = stripped, sf
		}
	}
	origin, served := g.state.route(model)
	if g.isRedirect && g.fallback.origin != origin {
		// Envoy replays the body of the request the header was signed
		// for; a body naming another group is not that request.
		return replyError(apiError{Status: 401, Type: "auth_error", Code: "401",
			Message: "Authentication Error, the request does not match its fallback state"})
	}
	if !g.isRedirect && !g.mayCall(model, origin) {
		// LiteLLM checks a key's models before it routes: a model the
		// key may not use, known or not, gets the key's 403.
		return g.admitKey(model, origin)
	}
	if _, ok := g.state.groups[origin]; !ok {
		return replyError(g.state.unknownModel(model, g.caller))
	}
	if g.caller.key != nil && !g.isRedirect {
		if refused := g.admitKey(model, origin); refused != nil {
			return refused
		}
	}
	var bridged *bridged
	storeResponse := false
	if isAgentAPI(g.endpoint) && !g.isRedirect {
		agentBody := b.GetBody()
		if g.endpoint == translate.Responses {
			continued, refused := g.continueResponse(agentBody, fields)
			if refused != nil {
				return replyError(*refused)
			}
			if continued != nil {
				// The deployments get the whole conversation.
				agentBody, body = continued, continued
				if fields, err = jsonscan.Fields(body); err != nil {
					return replyError(apiError{Status: 400, Type: "invalid_request_error", Message: err.Error()})
				}
			}
		}
		var refused *apiError
		if bridged, refused = checkAgentRequest(g.endpoint, agentBody); refused != nil {
			return replyError(*refused)
		}
	}
	if g.endpoint == translate.Responses {
		// A fallback's pass too: the answer of whichever group serves is
		// kept. Its body is the first pass's, made whole already; fields
		// are the body's as sent.
		storeResponse = g.server.responses() != nil && responsesapi.Stores(fields)
	}
	fb := fallback{origin: origin, chain: ownChain, disabled: noFallbacks}
	if g.caller.key != nil {
		fb.caller = g.caller.key.Token
	}
	if g.isRedirect {
		fb = g.fallback
	}
	// Skip groups whose every deployment is cooling down, along the chain
	// an error of the group would take, as LiteLLM does when it finds no
	// deployment available.
	r := &g.state.cfg.Router
	cooling, over := g.server.cooldowns.Active(), g.server.balance.OverLimit()
	tokens := 0
	if r.EnablePreCallChecks {
		tokens = promptTokens(fields)
	}
	if mock.delay > 0 {
		time.Sleep(mock.delay)
	}
	if mock.refuse != nil {
		return replyError(*mock.refuse)
	}
	if mockAnswer != nil {
		return mockAnswer
	}
	var cached *cacheWrite
	if mock.chain == "" {
		var hit *extprocv3.ProcessingResponse
		if hit, cached = g.cacheLookup(model, origin, clientFields); hit != nil {
			return hit
		}
	}
	if mock.chain != "" {
		// The group fails on purpose: its chain serves, as after a real
		// failure.
		var refused *apiError
		if fb, refused = mock.failInto(fb, g, model); refused != nil {
			return replyError(*refused)
		}
	}
	var tried []string
	for {
		name := g.state.resolve(fb.group(g.state.plan))
		tried = append(tried, name)
		grp, ok := g.state.groups[name]
		if ok && grp.MaxInputTokens > 0 && tokens > grp.MaxInputTokens {
			// LiteLLM's pre-call check: the prompt fits no deployment of
			// the group, so the group's context-window chain serves.
			next, more := fb.next(g.state.plan, config.FallbackContextWindow)
			if !more {
				return replyError(apiError{Status: 400, Type: "invalid_request_error", Code: "context_length_exceeded", Param: "messages",
					Message: fmt.Sprintf("ContextWindowExceededError: the prompt has about %d tokens; the deployments of model group %s take at most %d (model_info.max_input_tokens), and it has no context_window_fallbacks left", tokens, name, grp.MaxInputTokens)})
			}
			fb = next
			continue
		}
		if ok && grp.Unroutable == "" && g.state.available(name, cooling, over) {
			break
		}
		next, more := fb.next(g.state.plan, config.FallbackGeneric)
		if !more {
			if ok && grp.Unroutable != "" && fb.step == 0 {
				return replyError(apiError{Status: 501, Message: "model group " + name + " has no deployment llmvoy can serve: " + grp.Unroutable, Type: "not_implemented", Param: "model"})
			}
			return g.noDeployments(model, tried, cooling, over)
		}
		fb = next
	}
	targetName := origin
	if fb.step > 0 {
		// The step's model names the group and what a wildcard group's
		// deployments are asked for.
		targetName, served = g.state.route(fb.group(g.state.plan))
	}
	target := g.state.groups[targetName]
	if refused := unservedEndpoint(g.endpoint, target); refused != nil {
		return refused
	}
	if g.endpoint == countTokens && !countsNatively(target) {
		// No count of the provider's own: an estimate (see
		// messagesapi.CountTokens).
		count, _ := messagesapi.CountTokens(b.GetBody())
		return reply(200, "application/json", count)
	}
	m := &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{setHeader(plan.RouteHeader, target.Cluster)}}
	streamTimeout := target.StreamTimeout > 0 && isStream(fields)
	if streamTimeout {
		// stream_timeout replaces the route's per-attempt timeout (which
		// is litellm_params.timeout) for this streaming request: Envoy's
		// router reads it from this header.
		m.SetHeaders = append(m.SetHeaders, setHeader(perTryTimeoutHeader, strconv.FormatInt(target.StreamTimeout.Milliseconds(), 10)))
	}
	// Not on a fallback's pass: Envoy replays the body as this filter left
	// it, and a later pass must still find the client's model there.
	// Nor with a chain of the request's own: its next pass is a redirect.
	// Nor in a form: each attempt writes its own (translate.FormBody).
	rewrite := target.BodyModel != "" && !g.isRedirect && fb.chain == nil && !form
	bodyModel := target.BodyModel
	if rewrite && target.IsPattern() {
		// The group's one model, with the requested name in its "*".
		bodyModel = target.UpstreamModel(target.Deployments[0], served)
	}
	if rewrite {
		// Envoy's buffer filter behind the gateway filter sets the new
		// content-length (see fullDuplex).
		src := body
		if src == nil {
			src = b.GetBody()
		}
		if set := translate.SetModel(src, fields, bodyModel); set != nil {
			body = set
		}
	}
	forward := g.state.cfg.General.ForwardsClientHeaders(targetName)
	// The path the deployment's request is made from. The client's query
	// string is a client header by another name (it could add a key= or
	// a tenant to the api_base's own): like LiteLLM, llmvoy passes it on
	// only where client headers are forwarded.
	path := g.path
	if !forward {
		path, _, _ = strings.Cut(path, "?")
	}
	// Not for a virtual key: its answer is priced by the upstream processor.
	// Nor for an agent API: it is bridged or passed through per deployment.
	// A stream of a group with stream continuation: through llmvoy's relay.
	relayed := target.relayRoute != "" && g.server.relayOn.Load() && (g.endpoint == translate.ChatCompletions || g.endpoint == translate.Messages || g.endpoint == translate.Responses) && isStream(fields)
	if relayed {
		cached = nil // the relay's attempts do not keep answers
	}
	// Nor for an answer to keep in the response cache: the upstream
	// processor reads it.
	if rewrite && target.directRoute != "" && g.caller.key == nil && !isAgentAPI(g.endpoint) && !relayed && cached == nil {
		// No upstream processor runs there to read a fallback header (or
		// to fall back): it is not set, so no provider gets it.
		if refused := g.direct(m, target, path); refused != nil {
			return refused
		}
	} else {
		if fb.hasChains(g.state.plan) {
			now := time.Now()
			m.SetHeaders = append(m.SetHeaders, setHeader(plan.FallbackHeader, fb.encode(g.server.fallbackToken, g.requestID, now)))
			if next, ok := fb.next(g.state.plan, config.FallbackGeneric); ok {
				signed := next.encode(g.server.fallbackToken, g.requestID, now)
				if relayed {
					// The relay's listener redirects like the hop's.
					m.SetHeaders = nextStep(m.SetHeaders, signed, path)
				} else {
					m.SetHeaders = viaHop(m.SetHeaders, target, streamTimeout, signed, path)
				}
			}
		}
		if relayed {
			m.SetHeaders = toRelay(m.SetHeaders, target)
		}
		// For the attempts' upstream processors, which cannot read it from
		// headers (see routed).
		rt := routed{clientPath: path, keyToken: fb.caller, anthropicBeta: g.anthropicBeta, bridged: bridged,
			storeResponse: storeResponse, served: served, cache: cached, traceParent: g.traceParent}
		if rewrite {
			rt.bodyModel = bodyModel
		}
		if relayed {
			rt.relay = &relayState{server: g.server, group: targetName, stored: storeResponse}
		}
		if limits.retries >= 0 {
			rt.retries = &limits.retries
		}
		g.server.requests.put(g.requestID, rt)
	}
	m.SetHeaders = limits.apply(m.SetHeaders, target)
	// Last: everything the client sent that the provider should not get,
	// including any x-llmvoy-* header llmvoy did not just set itself.
	g.headers.apply(m, forward)
	if g.endpoint == translate.Messages || g.endpoint == countTokens {
		// Anthropic's API gets a Messages client's anthropic-beta whatever
		// the group forwards, as LiteLLM's /v1/messages does; each attempt
		// on any other deployment removes it. Kept on the request, so a
		// fallback's pass has it too.
		m.RemoveHeaders = slices.DeleteFunc(m.RemoveHeaders, func(name string) bool { return name == "anthropic-beta" })
	}
	resp := continueBody(m, body, true)
	// The access log names the endpoint the client called: by the time
	// it logs, :path may be the deployment's.
	shownGroup := ""
	if target.IsPattern() {
		// A wildcard route's answer names the model the client asked
		// for as its model group, as LiteLLM's does.
		shownGroup = served
	}
	resp.DynamicMetadata = requestMetadata(g.path, fb.step, shownGroup)
	return resp
}

// direct sends the request on the group's direct route, where no upstream
// processor runs: m gets what that processor would have set for every
// deployment of the group alike (Envoy sets the authority and the key).
func (g *gateway) direct(m *extprocv3.HeaderMutation, target group, path string) *extprocv3.ProcessingResponse {
	d := target.Direct.Deployment
	_, query, _ := strings.Cut(path, "?")
	tr, err := translate.For(d)
	if err != nil {
		return replyError(translateError(d.ID, err))
	}
	head, err := tr.RequestHead(d, g.endpoint, query)
	if err != nil {
		return replyError(translateError(d.ID, err))
	}
	m.SetHeaders[0] = setHeader(plan.RouteHeader, target.directRoute)
	// The client's gateway key never reaches the provider (headerPolicy
	// removes it); the deployments' own key, if any, is added by Envoy.
	m.SetHeaders = append(m.SetHeaders, setHeader(":path", head.Path))
	return nil
}

// fellBackWithoutAnswer logs and counts a fallback the hop made (the
// upstream processor does it for the others): cause is the hop's
// "STATUS;DEPLOYMENT" of the last attempt, the status Envoy's own.
func (g *gateway) fellBackWithoutAnswer(cause string) {
	status, deployment, _ := strings.Cut(cause, ";")
	from := g.fallback
	from.step = max(from.step-1, 0)
	group := g.state.resolve(from.group(g.state.plan))
	g.server.log.Info("falling back", "from_deployment", deployment, "status", status, "no_answer", true,
		"model_group", g.fallback.origin, "chain", g.fallback.kind, "step", g.fallback.step)
	g.server.metrics.FallbackWithoutAnswer(group, g.fallback.kind)
}

// viaHop sends a request that has a next step in its fallback chain
// through the group's fallback hop, when Envoy has it: set are the
// gateway's headers for the group's route (the route first), next the
// next step's signed fallback header, path the client's. The hop turns a
// failure without an answer from the group's deployments into the
// redirect to next (see package xds, hop.go); an answer of a deployment
// is the upstream processor's to redirect, as on the group's route.
func viaHop(set []*corev3.HeaderValueOption, target group, streamTimeout bool, next, path string) []*corev3.HeaderValueOption {
	route := target.hopRoute
	if streamTimeout {
		route = target.hopStreamRoute
	}
	if route == "" {
		return set
	}
	if streamTimeout {
		// The hop's stream route has the stream_timeout: the header would
		// bound the hop's whole answer on the gateway listener instead.
		set = withoutHeader(set, perTryTimeoutHeader)
	}
	set[0] = setHeader(plan.RouteHeader, route)
	return nextStep(set, next, path)
}

// nextStep adds what the listener that makes the attempts (the hop's, the
// relay's) needs to redirect to the next step of the chain: its signed
// fallback header, and the redirect's location.
func nextStep(set []*corev3.HeaderValueOption, next, path string) []*corev3.HeaderValueOption {
	return append(set,
		setHeader(plan.FallbackNextHeader, next),
		setHeader(plan.FallbackLocationHeader, "http://"+plan.FallbackAuthority+path))
}

// perTryTimeoutHeader sets Envoy's per-attempt timeout for one request.
const perTryTimeoutHeader = "x-envoy-upstream-rq-per-try-timeout-ms"

// isStream reports whether the request asks for a stream.
func isStream(fields []jsonscan.Field) bool {
	f, ok := jsonscan.Get(fields, "stream")
	if !ok {
		return false
	}
	b, _ := jsonscan.Bool(f.Value)
	return b
}

// promptTokens estimates the tokens of a request's prompt for the pre-call
// check: the characters of its message contents (or prompt, or input) over
// four, OpenAI's rule of thumb. It underestimates non-English text, so a
// prompt is turned away only when it surely does not fit; the provider's
// own context-window error still takes the fallbacks otherwise.
func promptTokens(fields []jsonscan.Field) int {
	chars := 0
	for _, name := range []string{"messages", "prompt", "input"} {
		f, ok := jsonscan.Get(fields, name)
		if !ok {
			continue
		}
		var v any
		if json.Unmarshal(f.Value, &v) == nil {
			chars += textRunes(v, name == "messages")
		}
	}
	return chars / 4
}

// textRunes counts the runes of the text in a prompt value: strings, and in
// messages their "content" and its text parts (not roles, names or image
// data).
func textRunes(v any, messages bool) int {
	switch x := v.(type) {
	case string:
		return utf8.RuneCountInString(x)
	case []any:
		n := 0
		for _, item := range x {
			n += textRunes(item, messages)
		}
		return n
	case map[string]any:
		if !messages {
			return 0
		}
		if c, ok := x["content"]; ok {
			return textRunes(c, false) + textParts(c)
		}
		if t, ok := x["text"].(string); ok {
			return utf8.RuneCountInString(t)
		}
	}
	return 0
}

// textParts counts the text of content parts ([{"type":"text","text":...}]).
func textParts(content any) int {
	parts, ok := content.([]any)
	if !ok {
		return 0
	}
	n := 0
	for _, p := range parts {
		if m, ok := p.(map[string]any); ok {
			if t, ok := m["text"].(string); ok {
				n += utf8.RuneCountInString(t)
			}
		}
	}
	return n
}

// noDeployments is LiteLLM's answer when every deployment of a group (and of
// its fallbacks) is cooling down: a 429 saying when to try again.
func (g *gateway) noDeployments(model string, groups []string, cooling map[string]time.Time, overLimit map[string]bool) *extprocv3.ProcessingResponse {
	wait := time.Duration(math.MaxInt64)
	var ids, limited []string
	for _, name := range groups {
		for _, d := range g.state.cfg.Group(name) {
			if until, ok := cooling[d.ID]; ok {
				ids = append(ids, d.ID)
				wait = min(wait, time.Until(until))
			}
			if overLimit[d.ID] {
				limited = append(limited, d.ID)
				// rpm counts reset when the minute ends.
				wait = min(wait, time.Until(time.Now().Truncate(time.Minute).Add(time.Minute)))
			}
		}
	}
	if wait == math.MaxInt64 { // unservable deployments, or a race with a cooldown's end
		wait = g.state.cfg.Router.CooldownTime
	}
	slices.Sort(ids)
	slices.Sort(limited)
	msg := fmt.Sprintf("No deployments available for selected model, Try again in %d seconds. Passed model=%s. cooldown_list=%v", retryAfterSeconds(wait), model, ids)
	if len(limited) > 0 {
		msg += fmt.Sprintf(", over their rpm limit this minute=%v", limited)
	}
	return replyRetryAfter(apiError{Status: 429, Type: "rate_limit_error", Code: "429", Message: msg}, wait)
}

func (g *gateway) serveMetrics() *extprocv3.ProcessingResponse {
	body, err := g.server.metrics.Exposition()
	if err != nil {
		return replyError(apiError{Status: 500, Message: "llmvoy: metrics: " + err.Error(), Type: "internal_error"})
	}
	return reply(200, metrics.ContentType, body)
}

func (g *gateway) retrieveModel(id string) *extprocv3.ProcessingResponse {
	group := g.state.resolve(id)
	_, ok := g.state.groups[group]
	// A hidden alias is served but never shown; a key sees only what it
	// may call.
	if !ok || g.state.cfg.Router.Aliases[id].Hidden || !g.mayCall(id, group) {
		e := g.state.unknownModel(id, g.caller)
		e.Status = 404
		return replyError(e)
	}
	return replyJSON(200, map[string]any{"id": id, "object": "model", "created": liteLLMModelCreated, "owned_by": "openai"})
}

var errInvalidUTF8 = errors.New("the body is not valid UTF-8")

// clientPathMetadata is the dynamic metadata that tells Envoy's access log
// which path the client called, without its query (the log has no use for
// it), and the gateway listener how many fallback steps the request took.
// The few paths a model request can have, with no fallback yet, are built
// once: messages only read them.
func clientPathMetadata(path string, fallbacks int) *structpb.Struct {
	return requestMetadata(path, fallbacks, "")
}

// requestMetadata is clientPathMetadata with, for a wildcard route's
// request, the model group its answer names (the requested model).
func requestMetadata(path string, fallbacks int, modelGroup string) *structpb.Struct {
	path, _, _ = strings.Cut(path, "?")
	if md, ok := clientPaths[path]; ok && fallbacks == 0 && modelGroup == "" {
		return md
	}
	md := newClientPathMetadata(path, fallbacks)
	if modelGroup != "" {
		md.GetFields()[plan.MetadataNamespace].GetStructValue().GetFields()[plan.ModelGroupMetadataKey] = structpb.NewStringValue(modelGroup)
	}
	return md
}

var clientPaths = func() map[string]*structpb.Struct {
	m := make(map[string]*structpb.Struct)
	for _, ep := range append([]translate.Endpoint{translate.ChatCompletions, translate.Completions, translate.Embeddings, translate.Messages, translate.Responses, countTokens}, translate.MediaEndpoints...) {
		for _, p := range []string{string(ep), "/v1" + string(ep)} {
			m[p] = newClientPathMetadata(p, 0)
		}
	}
	return m
}()

// answeredMetadata is clientPathMetadata for a request the gateway answers
// itself for a model group (a cache hit): with the group, for the metrics.
func answeredMetadata(path, group string) *structpb.Struct {
	md := newClientPathMetadata(strings.SplitN(path, "?", 2)[0], 0)
	md.GetFields()[plan.MetadataNamespace].GetStructValue().GetFields()[plan.AnsweredGroupMetadataKey] = structpb.NewStringValue(group)
	return md
}

func newClientPathMetadata(path string, fallbacks int) *structpb.Struct {
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		plan.MetadataNamespace: structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
			plan.ClientPathMetadataKey:         structpb.NewStringValue(path),
			plan.AttemptedFallbacksMetadataKey: structpb.NewStringValue(strconv.Itoa(fallbacks)),
		}}),
	}}
}

// mayCall reports whether the caller may use a model (by its name or its
// group's): a virtual key limited to some models may use only those.
func (g *gateway) mayCall(model, group string) bool {
	k := g.caller.key
	return k == nil || k.Allows(model) || k.Allows(group)
}

// modelEndpoint maps a client path to the OpenAI endpoint it calls. Both
// /v1/... and the bare form are accepted, as LiteLLM does, and the Azure
// OpenAI SDK's (azurePath).
func modelEndpoint(path string) (translate.Endpoint, bool) {
	if ep, _, ok := azurePath(path); ok {
		return ep, true
	}
	p := strings.TrimPrefix(path, "/v1")
	switch ep := translate.Endpoint(p); ep {
	case translate.ChatCompletions, translate.Completions, translate.Embeddings, translate.Messages, translate.Responses, countTokens:
		return ep, true
	}
	if ep := translate.Endpoint(p); slices.Contains(translate.MediaEndpoints, ep) {
		return ep, true
	}
	if path == "/v2/rerank" {
		// LiteLLM's too: Cohere's v2 SDK calls it.
		return translate.Rerank, true
	}
	return "", false
}

// azurePath reads the paths the Azure OpenAI SDKs call,
// /openai/deployments/{model}/chat/completions (and completions,
// embeddings, images/generations and edits, audio/speech and transcriptions;
// LiteLLM's /engines/{model}/... too): the model is in the path, and it
// names the model group, as in LiteLLM.
func azurePath(path string) (ep translate.Endpoint, model string, ok bool) {
	rest, found := strings.CutPrefix(path, "/openai/deployments/")
	if !found {
		if rest, found = strings.CutPrefix(path, "/engines/"); !found {
			return "", "", false
		}
	}
	model, tail, found := strings.Cut(rest, "/")
	if !found || model == "" {
		return "", "", false
	}
	if unescaped, err := url.PathUnescape(model); err == nil {
		model = unescaped
	}
	switch ep := translate.Endpoint("/" + tail); ep {
	case translate.ChatCompletions, translate.Completions, translate.Embeddings,
		translate.ImageGenerations, translate.ImageEdits, translate.AudioSpeech, translate.AudioTranscriptions:
		return ep, model, true
	}
	return "", "", false
}

// presentedKey is the gateway key from any header LiteLLM accepts it in.
// x-litellm-api-key comes first, as in LiteLLM: a client whose
// Authorization header belongs to someone else (a cloud SDK's) names its
// gateway key there.
//
// keyHeader, when set, is general_settings.litellm_key_header_name, read
// before all of them.
func presentedKey(h *extprocv3.HttpHeaders, keyHeader string) string {
	for _, name := range []string{keyHeader, "x-litellm-api-key"} {
		if v := headerValue(h, name); name != "" && v != "" {
			if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
				return strings.TrimSpace(v[7:])
			}
			return strings.TrimSpace(v)
		}
	}
	if v := headerValue(h, "authorization"); v != "" {
		if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
			return strings.TrimSpace(v[7:])
		}
		return strings.TrimSpace(v)
	}
	// The headers the providers' own SDKs put a key in, as LiteLLM reads
	// them: Azure's, Anthropic's, Google's, Azure API Management's.
	for _, name := range []string{"api-key", "x-api-key", "x-goog-api-key", "ocp-apim-subscription-key"} {
		if v := headerValue(h, name); v != "" {
			return v
		}
	}
	return ""
}
