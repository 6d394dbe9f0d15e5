package extproc

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/credentials"
	"github.com/llmvoy/llmvoy/internal/jsonscan"
	"github.com/llmvoy/llmvoy/plan"
	"github.com/llmvoy/llmvoy/responsesapi"
	"github.com/llmvoy/llmvoy/router"
	"github.com/llmvoy/llmvoy/translate"
)

// upstream adapts one attempt for the deployment Envoy picked: path,
// authority, credentials and body. A retry on another deployment is a new
// attempt with its own upstream processor.
type upstream struct {
	state  *state
	server *Server
	// relay is set for an attempt made by llmvoy's relay; continuing
	// when it continues a cut answer (see package relay).
	relay      *relayState
	continuing bool

	deployment *config.Deployment
	translator translate.Translator
	endpoint   translate.Endpoint
	// response translates the provider's answer; nil when it is already
	// OpenAI's.
	response translate.ResponseTranslator
	// clientEP is the endpoint the client called; endpoint the one the
	// deployment is called on (ChatCompletions for a bridged agent API).
	clientEP translate.Endpoint
	// native: an agent API passed through to a deployment that speaks it.
	native bool
	// client translates the chat answer of a bridged agent API request
	// into the client's API; nil otherwise.
	client translate.ResponseTranslator
	// bridged is the gateway's chat completion of an agent API request.
	bridged *bridged
	// tap reads a Responses answer to keep (responses_store.go), for
	// callerToken; responsesRequest is the client's request.
	tap              *responsesapi.Tap
	store            bool
	callerToken      string
	responsesRequest []byte
	// contentType is the request's, for a form body (media.go).
	contentType string
	status      int
	// chatStatus is the status once the provider's translator had its
	// say (Anthropic's 529 is a 500 in OpenAI's world).
	chatStatus int
	stream     bool

	// fallback is the attempt's place in its fallback chain; hasFallback
	// when the group the client asked for has chains at all.
	fallback    fallback
	hasFallback bool
	// attempt is the number of this attempt at its step of the chain, 1
	// for the first.
	attempt int
	// retries is the request's own num_retries; nil: the router's.
	retries    *int
	clientPath string
	requestID  string
	// usage counts the answer's tokens when the deployment has a tpm limit
	// to enforce; nil otherwise.
	usage *usageCounter
	// classify asks the response body phase to look for a context-window or
	// content-policy error, which have their own chains.
	classify bool
	// spend records the answer's cost when the request was made with a
	// virtual key; nil otherwise.
	spend *spender
	// stripUsage holds back the stream's usage-only chunk, which llmvoy
	// asked for and the client did not; nil when the client gets the
	// stream as it comes.
	stripUsage *usageStripper
	// cacheWrite keeps the answer in the response cache (cache.go), which
	// cached collects; nil when the request is not cached. cacheDropped:
	// this answer is not kept.
	cacheWrite   *cacheWrite
	cached       []byte
	cacheDropped bool
}

var _ responseProcessor = (*upstream)(nil)

func (u *upstream) RequestHeaders(h *extprocv3.HttpHeaders, attrs attributes) *extprocv3.ProcessingResponse {
	return inClientShape(u.clientEP, u.requestHeaders(h, attrs))
}

func (u *upstream) requestHeaders(h *extprocv3.HttpHeaders, attrs attributes) *extprocv3.ProcessingResponse {
	id, err := attrs.deploymentID()
	if err != nil {
		return replyError(apiError{Status: 500, Message: "llmvoy: cannot tell which deployment was picked: " + err.Error(), Type: "internal_error"})
	}
	d := u.state.deployment(id)
	if d == nil {
		// Removed two reloads ago while Envoy still held its endpoint.
		// The client gets this 503: Envoy's router does not retry a
		// local reply of an upstream filter (seen with the relay's
		// continuations, which therefore name their deployment).
		return replyError(apiError{Status: 503, Message: "deployment " + id + " is no longer configured", Type: "service_unavailable"})
	}
	tr, err := translate.For(d)
	if err != nil {
		return replyError(apiError{Status: 501, Message: "deployment " + id + ": " + err.Error(), Type: "not_implemented"})
	}
	u.requestID = headerValue(h, "x-request-id")
	r, known := u.server.requests.get(u.requestID)
	d = u.state.forModel(d, r.served)
	u.bridged, u.retries, u.cacheWrite = r.bridged, r.retries, r.cache
	if r.relay != nil {
		u.relay, u.continuing = r.relay, r.relay.continues()
	}
	u.store, u.callerToken = r.storeResponse && u.server.responses() != nil, r.keyToken
	clientPath := r.clientPath
	if !known {
		// The gateway routes every request that reaches a group's route;
		// its decision is gone only if llmvoy restarted (or the request
		// outlived its route's timeout). On a first attempt :path is
		// still the client's; no virtual key is known to charge.
		u.server.log.Warn("upstream attempt of a request the gateway did not route here; using its :path", "request_id", u.requestID)
		clientPath = headerValue(h, ":path")
	}
	path, query, _ := strings.Cut(clientPath, "?")
	ep, ok := modelEndpoint(path)
	if !ok {
		return replyError(apiError{Status: 404, Message: "unknown path " + path, Type: "invalid_request_error", Code: "not_found"})
	}
	u.clientEP = ep
	if isAgentAPI(ep) {
		// The query (Claude Code's ?beta=true) is the client API's, not
		// the provider's.
		query = ""
		if u.native = translate.NativeAPI(d, ep); !u.native {
			ep = translate.ChatCompletions
		}
	}
	if err := translate.Serves(d, ep); err != nil {
		return replyError(translateError(id, err))
	}
	u.contentType = headerValue(h, "content-type")
	head, err := tr.RequestHead(d, ep, query)
	if err == nil {
		err = u.addToken(&head, d)
	}
	if err != nil {
		return replyError(translateError(id, err))
	}
	for _, name := range d.HeaderNames() {
		// extra_headers: the operator's, after the translator's.
		head.Set = append(head.Set, translate.Header{Key: name, Value: d.Headers[name].Reveal()})
	}
	u.deployment, u.translator, u.endpoint = d, tr, ep

	m := &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{
		setHeader(":path", head.Path),
		setHeader(":authority", head.Authority),
	}}
	u.clientPath = clientPath
	if fb := headerValue(h, plan.FallbackHeader); fb != "" {
		// Only llmvoy reads it; the provider does not get it.
		m.RemoveHeaders = append(m.RemoveHeaders, plan.FallbackHeader)
		u.fallback, u.hasFallback = parseFallback(fb, u.server.fallbackToken, u.requestID, time.Now())
	}
	// Envoy makes num_retries + 1 attempts at each step of the chain; any
	// request may have one (its own "fallbacks").
	n := 1
	if u.hasFallback {
		u.server.attempts.first(u.requestID, u.fallback)
	} else {
		u.fallback, n, u.hasFallback = u.server.attempts.retry(u.requestID)
	}
	u.attempt = n
	for _, hd := range head.Set {
		m.SetHeaders = append(m.SetHeaders, setHeader(hd.Key, hd.Value))
	}
	if u.clientEP == translate.Messages || u.clientEP == countTokens {
		// Only Anthropic's API reads anthropic-beta (a forwarding group
		// passed it on): a bridged request must not carry it.
		if u.native && r.anthropicBeta != "" {
			m.SetHeaders = append(m.SetHeaders, setHeader("anthropic-beta", r.anthropicBeta))
		} else if !u.native {
			m.RemoveHeaders = append(m.RemoveHeaders, "anthropic-beta")
		}
	}
	// The client's gateway key never leaves llmvoy: drop every credential
	// header the translator did not set for the deployment.
	for _, name := range translate.ClientCredentialHeaders {
		if !slices.ContainsFunc(head.Set, func(hd translate.Header) bool { return hd.Key == name }) {
			m.RemoveHeaders = append(m.RemoveHeaders, name)
		}
	}
	if u.server.log.Enabled(context.Background(), slog.LevelDebug) {
		u.server.log.Debug("upstream attempt", "deployment", id, "path", head.Path)
	}
	if u.server.balance.CountsTokens(d) {
		u.usage = &usageCounter{}
	}
	if (r.keyToken != "" && u.server.keys != nil) || u.server.callbacks != nil {
		// Every attempt is charged under the key, retries included; the
		// callbacks want every answer's usage and cost.
		u.spend = &spender{token: r.keyToken, start: time.Now()}
		u.usage = &usageCounter{}
	}
	if u.clientEP == countTokens {
		// A count costs nothing and answers no prompt: not charged, no
		// tokens counted.
		u.spend, u.usage = nil, nil
	}
	resp := continueHeaders(m, false)
	bridged := isAgentAPI(u.clientEP) && !u.native
	if r.bodyModel != "" && r.bodyModel == d.UpstreamModel && d.API == config.APIOpenAI && u.usage == nil && !u.hasFallback && !bridged && !u.store && !u.continuing && !translate.ShapedBy(d, ep) && u.cacheWrite == nil {
		// The gateway already wrote this deployment's model into the body,
		// and nothing else here needs it or the answer: no more phases.
		resp.ModeOverride = &extprocfilterv3.ProcessingMode{
			RequestHeaderMode:   extprocfilterv3.ProcessingMode_SEND,
			RequestBodyMode:     extprocfilterv3.ProcessingMode_NONE,
			RequestTrailerMode:  extprocfilterv3.ProcessingMode_SKIP,
			ResponseHeaderMode:  extprocfilterv3.ProcessingMode_SKIP,
			ResponseBodyMode:    extprocfilterv3.ProcessingMode_NONE,
			ResponseTrailerMode: extprocfilterv3.ProcessingMode_SKIP,
		}
		return resp
	}
	if (tr.TranslatesResponses(d) && !u.native) || bridged || u.hasFallback || u.usage != nil || u.store || u.cacheWrite != nil {
		// Ask for the response headers of this attempt only; the body mode
		// is chosen once the headers say whether it is a stream.
		resp.ModeOverride = upstreamMode(extprocfilterv3.ProcessingMode_SEND, extprocfilterv3.ProcessingMode_NONE)
	}
	if bridged && r.bridged != nil && !u.continuing && !u.store && (u.spend == nil || !u.state.cfg.General.StorePrompts) {
		// The gateway bridged the client's body already, and nothing here
		// needs it as the client sent it: the deployment's body goes with
		// these headers, replacing the client's, which saves the request
		// body's round trip on every bridged attempt.
		return u.replaceBody(resp, r.bridged)
	}
	return resp
}

// replaceBody answers a bridged attempt's headers with the deployment's
// body (CONTINUE_AND_REPLACE: Envoy sends no request body phase).
func (u *upstream) replaceBody(resp *extprocv3.ProcessingResponse, b *bridged) *extprocv3.ProcessingResponse {
	u.client = b.answer()
	if u.usage != nil {
		if fields, err := jsonscan.Fields(b.chat); err == nil {
			u.usage.promptEstimate = promptTokens(fields)
		}
	}
	bm, body, refused := u.deploymentBody(b.chat)
	if refused != nil {
		return replyError(*refused)
	}
	common := resp.GetRequestHeaders().GetResponse()
	if bm != nil {
		common.HeaderMutation.SetHeaders = append(common.HeaderMutation.SetHeaders, bm.SetHeaders...)
	}
	common.Status = extprocv3.CommonResponse_CONTINUE_AND_REPLACE
	common.BodyMutation = &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: body}}
	return resp
}

// googleTokenWait bounds how long a request waits for an access token when
// none is cached (the first request, or one after a long idle time).
const googleTokenWait = 10 * time.Second

// addToken adds the access token head asks for, from the process's token
// cache (fetched, and refreshed ahead of expiry, by package credentials).
func (u *upstream) addToken(head *translate.RequestHead, d *config.Deployment) error {
	if head.Token != translate.GoogleToken {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), googleTokenWait)
	defer cancel()
	token, err := u.server.googleTokens.Token(ctx, d)
	if err != nil {
		return err
	}
	head.Set = append(head.Set, translate.Header{Key: "authorization", Value: "Bearer " + token})
	return nil
}

// translateError is what the client sees when a request cannot be
// translated for a deployment. A bad request and a feature the provider
// lacks (embeddings on Anthropic) are 400s: a 5xx would count toward the
// deployment's cooldown, though nothing is wrong with it.
func translateError(id string, err error) apiError {
	switch {
	case errors.Is(err, translate.ErrBadRequest):
		return apiError{Status: 400, Message: err.Error(), Type: "invalid_request_error"}
	case errors.Is(err, translate.ErrUnsupported):
		return apiError{Status: 400, Message: "deployment " + id + ": " + err.Error(), Type: "invalid_request_error"}
	case errors.Is(err, credentials.ErrUnavailable):
		// No credential to call it with (a Vertex AI access token); the
		// message names the deployment.
		return apiError{Status: 503, Message: err.Error(), Type: "service_unavailable"}
	}
	return apiError{Status: 500, Message: "deployment " + id + ": " + err.Error(), Type: "internal_error"}
}

// upstreamMode is the upstream processor's processing mode with the given
// response phases; the request phases stay as configured.
func upstreamMode(respHeaders extprocfilterv3.ProcessingMode_HeaderSendMode, respBody extprocfilterv3.ProcessingMode_BodySendMode) *extprocfilterv3.ProcessingMode {
	return &extprocfilterv3.ProcessingMode{
		RequestHeaderMode:   extprocfilterv3.ProcessingMode_SEND,
		RequestBodyMode:     extprocfilterv3.ProcessingMode_BUFFERED,
		RequestTrailerMode:  extprocfilterv3.ProcessingMode_SKIP,
		ResponseHeaderMode:  respHeaders,
		ResponseBodyMode:    respBody,
		ResponseTrailerMode: extprocfilterv3.ProcessingMode_SKIP,
	}
}

func (u *upstream) ResponseHeaders(h *extprocv3.HttpHeaders) *extprocv3.ProcessingResponse {
	u.status, _ = strconv.Atoi(headerValue(h, ":status"))
	r := &u.state.cfg.Router
	o := router.Outcome{Deployment: u.deployment.ID, Status: u.status}
	// Envoy retries no more once the retries of the error's class, or of
	// the request, are used up.
	all, forStatus := retriesFor(r, u.status, u.retries)
	last := u.attempt > all || u.attempt > forStatus
	if u.hasFallback && (u.status < 400 || last) {
		u.server.attempts.done(u.requestID)
	}
	if u.hasFallback && u.status >= 400 {
		o.RetryAfter = router.ParseRetryAfter(headerValue(h, "retry-after"))
		if o.Failed() && last {
			if next, ok := u.fallback.next(u.state.plan, config.FallbackGeneric); ok {
				// Envoy's upstream log sees only the redirect: count the
				// failure here.
				u.server.cooldowns.Record(o)
				return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{
					Response: &extprocv3.CommonResponse{HeaderMutation: u.redirect(next)},
				}}}
			}
		}
		// A context-window or content-policy error is a 400; its body says
		// which.
		u.classify = !o.Failed() && (len(u.state.plan.Chain(config.FallbackContextWindow, u.fallback.origin)) > 0 ||
			len(u.state.plan.Chain(config.FallbackContentPolicy, u.fallback.origin)) > 0 || u.fallback.step > 0)
	}
	var costSet []*corev3.HeaderValueOption
	if u.usage != nil && u.status < 300 && u.clientEP == translate.AudioSpeech {
		// Speech is priced by its input, and its answer is audio, passed
		// on unread: charged now.
		if cost, recorded := u.countUsage(nil, true); recorded {
			costSet = costHeaders(cost)
		}
	}
	if u.usage != nil {
		if u.status >= 300 {
			u.usage = nil // no tokens spent
		} else {
			u.usage.stream = strings.HasPrefix(headerValue(h, "content-type"), "text/event-stream")
		}
	}
	if u.response == nil && u.client == nil {
		nativeStream := strings.HasPrefix(headerValue(h, "content-type"), "text/event-stream")
		if u.store && u.status < 300 {
			// A Responses answer from OpenAI's own API, read on its way.
			u.tap = responsesapi.NewTap(nativeStream)
		}
		resp := &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{}}}
		if set := append(costSet, u.cacheKeyHeader()...); set != nil {
			resp.GetResponseHeaders().Response = &extprocv3.CommonResponse{HeaderMutation: &extprocv3.HeaderMutation{SetHeaders: set}}
		}
		switch {
		case u.classify:
			resp.ModeOverride = upstreamMode(extprocfilterv3.ProcessingMode_SEND, extprocfilterv3.ProcessingMode_BUFFERED)
		case u.usage != nil && u.usage.stream:
			// Chunks pass through as they come; llmvoy only reads them.
			resp.ModeOverride = upstreamMode(extprocfilterv3.ProcessingMode_SEND, extprocfilterv3.ProcessingMode_STREAMED)
		case u.usage != nil:
			resp.ModeOverride = upstreamMode(extprocfilterv3.ProcessingMode_SEND, extprocfilterv3.ProcessingMode_BUFFERED)
		case u.tap != nil && nativeStream:
			resp.ModeOverride = upstreamMode(extprocfilterv3.ProcessingMode_SEND, extprocfilterv3.ProcessingMode_STREAMED)
		case u.tap != nil:
			resp.ModeOverride = upstreamMode(extprocfilterv3.ProcessingMode_SEND, extprocfilterv3.ProcessingMode_BUFFERED)
		case u.collectsAnswer() && nativeStream:
			resp.ModeOverride = upstreamMode(extprocfilterv3.ProcessingMode_SEND, extprocfilterv3.ProcessingMode_STREAMED)
		case u.collectsAnswer():
			resp.ModeOverride = upstreamMode(extprocfilterv3.ProcessingMode_SEND, extprocfilterv3.ProcessingMode_BUFFERED)
		}
		return resp
	}
	stream, set := u.translatedHeaders(headerValue(h, "content-type"))
	u.stream = stream
	if u.store && u.status < 300 {
		// The client gets an event stream when the content type says so,
		// whatever the provider's answer was.
		clientStream := slices.ContainsFunc(set, func(hd translate.Header) bool {
			return hd.Key == "content-type" && strings.HasPrefix(hd.Value, "text/event-stream")
		})
		u.tap = responsesapi.NewTap(clientStream)
	}
	if u.usage != nil {
		// The counter reads the translated answer, in OpenAI's format.
		u.usage.stream = stream
	}
	m := &extprocv3.HeaderMutation{RemoveHeaders: []string{"content-length"}, SetHeaders: u.cacheKeyHeader()}
	for _, hd := range set {
		m.SetHeaders = append(m.SetHeaders, setHeader(hd.Key, hd.Value))
	}
	body := extprocfilterv3.ProcessingMode_BUFFERED
	if stream {
		body = extprocfilterv3.ProcessingMode_STREAMED
	}
	return &extprocv3.ProcessingResponse{
		Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{
			Response: &extprocv3.CommonResponse{HeaderMutation: m},
		}},
		ModeOverride: upstreamMode(extprocfilterv3.ProcessingMode_SEND, body),
	}
}

// translatedHeaders asks the provider's translator (provider → OpenAI
// chat), then the client's (chat → the client's API), what the answer's
// headers become; the client's win. stream is whether the provider's answer
// is translated chunk by chunk.
func (u *upstream) translatedHeaders(contentType string) (stream bool, set []translate.Header) {
	u.chatStatus = u.status
	if u.response != nil {
		stream, set = u.response.Headers(u.status, contentType)
		for _, hd := range set {
			switch hd.Key {
			case "content-type":
				contentType = hd.Value
			case ":status":
				u.chatStatus, _ = strconv.Atoi(hd.Value)
			}
		}
	}
	if u.client == nil {
		return stream, set
	}
	clientStream, clientSet := u.client.Headers(u.chatStatus, contentType)
	if u.response == nil {
		stream = clientStream
	}
	for _, hd := range clientSet {
		set = slices.DeleteFunc(set, func(old translate.Header) bool { return old.Key == hd.Key })
		set = append(set, hd)
	}
	return stream, set
}

func (u *upstream) ResponseBody(b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	return inClientShape(u.clientEP, u.responseBody(b))
}

func (u *upstream) responseBody(b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	if u.response == nil && u.client == nil {
		u.tapAnswer(b.GetBody(), b.GetEndOfStream())
		if u.classify {
			if m := u.classifiedRedirect(b.GetBody()); m != nil {
				return responseBody(m, nil)
			}
			return responseBody(nil, b.GetBody())
		}
		if u.usage == nil {
			// Read (a Responses answer to keep), passed on as it is.
			return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{}}}
		}
		stream := u.usage.stream
		cost, recorded := u.countUsage(b.GetBody(), b.GetEndOfStream() || !stream)
		var m *extprocv3.HeaderMutation
		if recorded && !stream {
			// Buffered: the headers are still held and can carry the cost.
			m = &extprocv3.HeaderMutation{SetHeaders: costHeaders(cost)}
		}
		if stream && u.stripUsage != nil {
			return responseBody(nil, u.stripUsage.write(b.GetBody(), b.GetEndOfStream()))
		}
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{
			Response: &extprocv3.CommonResponse{HeaderMutation: m}}}}
	}
	end := b.GetEndOfStream()
	if u.stream {
		out := b.GetBody()
		if u.response != nil {
			var err error
			if out, err = u.response.Chunk(out, end); err != nil {
				// The client already has the stream's headers: end it with an
				// error event rather than a silent cut.
				u.server.log.Warn("malformed provider stream", "deployment", u.deployment.ID, "err", err)
				out = append(out, streamError("malformed response from the provider: "+err.Error())...)
			}
		}
		u.countUsage(out, end)
		if u.client != nil {
			// The client API's translators turn errors into its own
			// events; they return none.
			out, _ = u.client.Chunk(out, end)
		}
		u.tapAnswer(out, end)
		return responseBody(nil, out)
	}
	out := b.GetBody()
	if u.response != nil {
		var err error
		if out, err = u.response.Body(u.status, out); err != nil {
			u.server.log.Warn("malformed provider response", "deployment", u.deployment.ID, "err", err)
			return replyError(apiError{Status: 502, Type: "bad_gateway",
				Message: "malformed response from the provider of deployment " + u.deployment.ID + ": " + err.Error()})
		}
	}
	if u.classify {
		if m := u.classifiedRedirect(out); m != nil {
			return responseBody(m, nil)
		}
	}
	cost, recorded := u.countUsage(out, true)
	status := 0
	if so, ok := u.response.(translate.StatusOverrider); ok {
		status = so.BodyStatus()
	}
	if u.client != nil {
		chatStatus := u.chatStatus
		if status != 0 {
			chatStatus = status
		}
		out, _ = u.client.Body(chatStatus, out)
		if so, ok := u.client.(translate.StatusOverrider); ok && so.BodyStatus() != 0 {
			status = so.BodyStatus()
		}
	}
	u.tapAnswer(out, true)
	m := &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{setHeader("content-length", strconv.Itoa(len(out)))}}
	if recorded {
		m.SetHeaders = append(m.SetHeaders, costHeaders(cost)...)
	}
	if status != 0 {
		m.SetHeaders = append(m.SetHeaders, setHeader(":status", strconv.Itoa(status)))
	}
	return responseBody(m, out)
}

func (u *upstream) RequestBody(b *extprocv3.HttpBody, attrs attributes) *extprocv3.ProcessingResponse {
	return inClientShape(u.clientEP, u.requestBody(b, attrs))
}

func (u *upstream) requestBody(b *extprocv3.HttpBody, _ attributes) *extprocv3.ProcessingResponse {
	if u.deployment == nil {
		return replyError(apiError{Status: 500, Message: "llmvoy: request body before headers", Type: "internal_error"})
	}
	if u.spend != nil && u.state.cfg.General.StorePrompts && !translate.IsForm(u.endpoint) {
		// (Not a form's audio or image bytes.)
		u.spend.request = b.GetBody()
	}
	if u.spend != nil && u.endpoint == translate.AudioSpeech {
		u.spend.characters = speechCharacters(b.GetBody())
	}
	if u.usage != nil {
		// A stream without usage is counted from its text and this.
		if fields, err := jsonscan.Fields(b.GetBody()); err == nil {
			u.usage.promptEstimate = promptTokens(fields)
		}
	}
	in := b.GetBody()
	if u.store {
		u.responsesRequest = in
	}
	switch {
	case translate.IsForm(u.endpoint):
		// A form, not JSON: only its model field may change.
		body, err := translate.FormBody(u.deployment, u.endpoint, u.contentType, in)
		if err != nil {
			return replyError(translateError(u.deployment.ID, err))
		}
		return continueBody(contentLength(nil, body), body, false)
	case u.native && (u.clientEP == translate.Messages || u.clientEP == countTokens):
		// Anthropic's own API: only the model changes.
		var body []byte
		if fields, err := jsonscan.Fields(in); err == nil {
			body = translate.SetModel(in, fields, u.deployment.UpstreamModel)
		}
		return continueBody(contentLength(nil, body), body, false)
	case isAgentAPI(u.clientEP) && !u.native:
		b := u.bridged
		if b == nil || u.continuing {
			// A fallback's pass, a gateway restarted in between, or the
			// relay's continuation (the answer so far is a new message).
			var err error
			if b, err = bridge(u.clientEP, in); err != nil {
				return replyError(translateError(u.deployment.ID, err))
			}
		}
		in, u.client = b.chat, b.answer()
	}
	m, body, refused := u.deploymentBody(in)
	if refused != nil {
		return replyError(*refused)
	}
	return continueBody(m, body, false)
}

// deploymentBody is the request the deployment gets for in (the client's
// body, or the chat request a client API was bridged to) and the headers
// that change with it, and sets up the translation of the answer.
func (u *upstream) deploymentBody(in []byte) (*extprocv3.HeaderMutation, []byte, *apiError) {
	switch {
	case u.continuing && u.endpoint == translate.ChatCompletions:
		// The relay's continuation: the answer so far is the last
		// message, which the provider is to continue.
		in = translate.Continuation(u.deployment, in)
	case u.continuing && u.endpoint == translate.Responses:
		in = translate.ResponsesContinuation(in)
	}
	shaped := translate.ShapedBy(u.deployment, u.endpoint)
	if shaped {
		var err error
		if in, err = translate.DeploymentParams(u.deployment, in); err != nil {
			refused := translateError(u.deployment.ID, err)
			return nil, nil, &refused
		}
	}
	body, response, err := u.translator.RequestBody(u.deployment, u.endpoint, in)
	if err != nil {
		refused := translateError(u.deployment.ID, err)
		return nil, nil, &refused
	}
	if body == nil && (u.client != nil || u.continuing || shaped) {
		body = in // the chat request, as the deployment takes it
	}
	u.response = response
	if u.usage != nil && response == nil && u.client == nil && u.deployment.API == config.APIOpenAI &&
		(u.endpoint == translate.ChatCompletions || u.endpoint == translate.Completions) {
		// A priced or tpm-counted stream is counted from the provider's
		// usage, not from an estimate of its text.
		sent := body
		if sent == nil {
			sent = in
		}
		if withUsage, err := translate.IncludeStreamUsage(sent); err == nil && withUsage != nil {
			body, u.stripUsage = withUsage, &usageStripper{}
		}
	}
	// Headers are still held in this phase, so they can change with the body.
	m := &extprocv3.HeaderMutation{}
	if p, ok := response.(translate.PathOverrider); ok && p.UpstreamPath() != "" {
		m.SetHeaders = append(m.SetHeaders, setHeader(":path", p.UpstreamPath()))
	}
	if o, ok := response.(translate.HeaderOverrider); ok {
		// A signature over the final body (AWS SigV4), and the authority
		// it was signed for.
		for _, hd := range o.UpstreamHeaders() {
			m.SetHeaders = append(m.SetHeaders, setHeader(hd.Key, hd.Value))
		}
	}
	return contentLength(m, body), body, nil
}

// contentLength adds the length of a new body to m: Envoy refuses a
// mutated body whose length disagrees with content-length. nil for no
// mutation at all.
func contentLength(m *extprocv3.HeaderMutation, body []byte) *extprocv3.HeaderMutation {
	if body != nil {
		if m == nil {
			m = &extprocv3.HeaderMutation{}
		}
		m.SetHeaders = append(m.SetHeaders, setHeader("content-length", strconv.Itoa(len(body))))
	}
	if m != nil && len(m.SetHeaders) == 0 {
		return nil
	}
	return m
}

// redirect turns the response into the internal redirect that sends the
// request on to the next group of its chain.
func (u *upstream) redirect(next fallback) *extprocv3.HeaderMutation {
	u.server.log.Info("falling back", "from_deployment", u.deployment.ID, "status", u.status,
		"model_group", u.fallback.origin, "chain", next.kind, "step", next.step)
	u.server.metrics.Fallback(u.deployment.ID, u.status, next.kind)
	return &extprocv3.HeaderMutation{
		SetHeaders: []*corev3.HeaderValueOption{
			setHeader(":status", strconv.Itoa(plan.FallbackStatus)),
			setHeader("location", "http://"+plan.FallbackAuthority+u.clientPath),
			setHeader(plan.FallbackHeader, next.encode(u.server.fallbackToken, u.requestID, time.Now())),
		},
		RemoveHeaders: []string{"content-length"},
	}
}

// classifiedRedirect is the redirect for an OpenAI-shaped error body that
// has a chain to go to, or nil.
func (u *upstream) classifiedRedirect(body []byte) *extprocv3.HeaderMutation {
	kind := translate.ErrorKind(body)
	if kind == "" {
		if u.fallback.step == 0 {
			return nil
		}
		// Inside a chain any error moves on to the chain's next group.
		kind = u.fallback.kind
	}
	next, ok := u.fallback.next(u.state.plan, kind)
	if !ok {
		return nil
	}
	return u.redirect(next)
}

// countUsage feeds the answer (in OpenAI's format) to the usage counter and
// records its tokens at the end, and its spend when the request was made
// with a virtual key: then recorded is true and cost is its cost.
func (u *upstream) countUsage(out []byte, end bool) (cost float64, recorded bool) {
	if u.usage == nil {
		return 0, false
	}
	if len(out) > 0 {
		u.usage.write(out)
	}
	if !end {
		return 0, false
	}
	u.server.balance.RecordTokens(u.deployment.ID, u.usage.tokens())
	if u.spend != nil {
		prompt, completion := u.usage.split()
		var answer []byte
		if !u.usage.stream {
			answer = out
		}
		cost, recorded = u.recordSpend(prompt, completion, answer), true
	}
	u.usage = nil
	return cost, recorded
}

// close charges an answer that ended before its end of stream: the client
// left or the deployment reset the stream, and Envoy closed the ext_proc
// stream. What was produced so far is charged: the provider's usage if it
// came, else the prompt estimate and the text streamed. An answer seen to
// its end was charged then (countUsage drops the counter), so nothing is
// charged twice; an answer that never began (no 2xx headers) costs
// nothing.
var _ closer = (*upstream)(nil)

func (u *upstream) close() {
	if u.status < 200 || u.status >= 300 {
		return
	}
	if u.spend != nil && u.server.parallel != nil {
		// The answer went to the client: the request no longer holds its
		// max_parallel_requests slot. Envoy's log of the request's end,
		// a little later, frees it too, and is what frees a failed one's.
		u.server.parallel.release(u.requestID)
	}
	if u.usage == nil {
		return
	}
	u.usage.aborted = true
	if u.server.log.Enabled(context.Background(), slog.LevelDebug) {
		u.server.log.Debug("answer ended early: charging what was produced", "deployment", u.deployment.ID, "request_id", u.requestID)
	}
	u.countUsage(nil, true)
}

func costHeaders(usd float64) []*corev3.HeaderValueOption {
	out := make([]*corev3.HeaderValueOption, len(CostHeaders))
	for i, name := range CostHeaders {
		out[i] = setHeader(name, formatCost(usd))
	}
	return out
}
