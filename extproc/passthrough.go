package extproc

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/llmvoy/llmvoy/admin"
	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/credentials"
	"github.com/llmvoy/llmvoy/internal/eventstream"
	"github.com/llmvoy/llmvoy/internal/jsonscan"
	"github.com/llmvoy/llmvoy/messagesapi"
	"github.com/llmvoy/llmvoy/plan"
	"github.com/llmvoy/llmvoy/translate"
)

// LiteLLM's provider pass-through routes (/anthropic, /gemini, /openai,
// /azure, /bedrock): the client's request goes to the provider as it was
// written, body untouched, with its gateway key swapped for the route's
// deployment's credential. The gateway processor authenticates the caller
// and admits a virtual key as for any request, rewrites the path and the
// credential (and signs a Bedrock request over its body), and sends the
// request to the route's cluster; that cluster's processor (passThrough)
// reads the answer's usage to charge a virtual key.

// passThroughEndpoint is what a pass-through request calls, for its spend
// log's call type (callType).
const passThroughEndpoint translate.Endpoint = "pass_through"

// passThroughCall is a pass-through request the gateway is handling.
type passThroughCall struct {
	// route is the provider route's name ("" for an endpoint of
	// general_settings): its errors are in the provider's shape.
	route string
	// t is the route; nil for a provider route without a deployment.
	t    *config.PassThrough
	d    *config.Deployment
	rest string
	// path is the provider's :path, query included.
	path string
	// model is the model the request names, in its path (Gemini, Bedrock,
	// Azure) or else its body.
	model string
	// m is the headers' mutation, completed once the body is read.
	m *extprocv3.HeaderMutation
}

// newPassThroughCall returns the call for a pass-through path, nil for any
// other. llmvoy's own endpoints come first: a path the gateway routes by
// model (Azure SDKs' /openai/deployments/{model}/chat/completions), as in
// LiteLLM, and the admin API.
func newPassThroughCall(cfg *config.Config, path string) *passThroughCall {
	if _, routed := modelEndpoint(path); routed || admin.Find(path) != nil {
		return nil
	}
	route, provider := plan.ProviderRoute(path)
	t, rest := plan.FindPassThrough(cfg, path)
	if t == nil && !provider {
		return nil
	}
	c := &passThroughCall{t: t, rest: rest}
	if provider {
		c.route = route
	}
	return c
}

// callerKey is the gateway key the request presents: in a header, or, on
// the Gemini route, in Google's ?key= query parameter.
func (g *gateway) callerKey(h *extprocv3.HttpHeaders) string {
	k := presentedKey(h, g.state.cfg.General.KeyHeader)
	if k == "" && g.pass != nil && g.pass.route == "gemini" {
		_, query, _ := strings.Cut(headerValue(h, ":path"), "?")
		if q, err := url.ParseQuery(query); err == nil {
			k = q.Get("key")
		}
	}
	return k
}

// shape words an error the gateway answers in the API the client called.
func (g *gateway) shape(resp *extprocv3.ProcessingResponse) *extprocv3.ProcessingResponse {
	if g.pass != nil {
		return inProviderShape(g.pass.route, resp)
	}
	return inClientShape(g.endpoint, resp)
}

// passThroughHeaders handles a pass-through request's headers, after its
// caller was authenticated: the provider's path and credential, and which
// client headers go on. A request without a body is sent on from here.
func (g *gateway) passThroughHeaders(h *extprocv3.HttpHeaders) *extprocv3.ProcessingResponse {
	c := g.pass
	if c.t == nil {
		return replyError(apiError{Status: 503, Type: "service_unavailable",
			Message: "the /" + c.route + " pass-through has no credential: mark a " + config.PassThroughRoutes[c.route] + " deployment use_in_pass_through: true, or set the provider's API key variable (and a valid base URL variable, if any)"})
	}
	c.d = c.t.Deployment
	g.path = headerValue(h, ":path")
	_, query, _ := strings.Cut(g.path, "?")
	method := headerValue(h, ":method")
	if c.d.API == config.APIBedrock && method != http.MethodPost {
		// Bedrock's runtime API is POSTs, and the signature is a POST's.
		return replyError(apiError{Status: 405, Type: "invalid_request_error", Message: "method " + method + " not allowed on /bedrock; use POST"})
	}
	c.path = plan.PassThroughPath(c.t, c.rest, passThroughQuery(c.d, query))
	c.model = pathModel(c.rest)
	c.m = &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{
		setHeader(plan.RouteHeader, plan.PassThroughCluster(c.t.Name)),
		setHeader(":path", c.path),
	}}
	if hd, ok := passThroughCredential(c.d); ok {
		c.m.SetHeaders = append(c.m.SetHeaders, setHeader(hd.Key, hd.Value))
	}
	for _, name := range slices.Sorted(maps.Keys(c.t.Headers)) {
		c.m.SetHeaders = append(c.m.SetHeaders, setHeader(name, c.t.Headers[name].Reveal()))
	}
	for _, hv := range h.GetHeaders().GetHeaders() {
		name := hv.GetKey()
		kept := passedThrough(name, g.state.cfg.General.KeyHeader) && (c.t.ForwardHeaders || strings.HasPrefix(name, ":") || slices.Contains(keptHeaders, name))
		if !kept && !slices.ContainsFunc(c.m.SetHeaders, func(s *corev3.HeaderValueOption) bool { return s.GetHeader().GetKey() == name }) {
			c.m.RemoveHeaders = append(c.m.RemoveHeaders, name)
		}
	}
	if h.GetEndOfStream() {
		if refused := g.passThroughSend(nil); refused != nil {
			return refused
		}
		resp := continueHeaders(c.m, true)
		resp.DynamicMetadata = clientPathMetadata(g.path, 0)
		return resp
	}
	return continueHeaders(nil, false)
}

// passThroughBody completes a pass-through request with its body, which
// goes on untouched.
func (g *gateway) passThroughBody(body []byte) *extprocv3.ProcessingResponse {
	c := g.pass
	if c.model == "" {
		if fields, err := jsonscan.Fields(body); err == nil {
			if f, ok := jsonscan.Get(fields, "model"); ok {
				c.model, _ = jsonscan.String(f.Value)
			}
		}
	}
	if refused := g.passThroughSend(body); refused != nil {
		return refused
	}
	resp := continueBody(c.m, nil, true)
	resp.DynamicMetadata = clientPathMetadata(g.path, 0)
	return resp
}

// passThroughSend admits a virtual key, signs a Bedrock request, and
// records what the cluster's processor needs to charge the key.
func (g *gateway) passThroughSend(body []byte) *extprocv3.ProcessingResponse {
	c := g.pass
	if k := g.caller.key; k != nil {
		if refused := g.admitKey(c.model, g.passThroughGroup(c.model)); refused != nil {
			return refused
		}
		// Priced as the model the request names, as LiteLLM's pass-through
		// logging does.
		priced := *c.d
		if c.model != "" {
			priced.UpstreamModel = c.model
		}
		g.server.requests.put(g.requestID, routed{keyToken: k.Token, passThrough: &priced})
	}
	if c.d.API == config.APIBedrock {
		signed, err := credentials.SigV4(c.d.AWS, "bedrock", c.d.APIBase.Scheme, plan.EndpointHostname(c.d.APIBase), c.path, body, time.Now())
		if err != nil {
			return replyError(apiError{Status: 500, Type: "internal_error", Message: "cannot sign the Bedrock request: " + err.Error()})
		}
		for _, hd := range signed {
			c.m.SetHeaders = append(c.m.SetHeaders, setHeader(hd.Key, hd.Value))
			c.m.RemoveHeaders = slices.DeleteFunc(c.m.RemoveHeaders, func(name string) bool { return name == hd.Key })
		}
	}
	return nil
}

// passThroughGroup is the model group a virtual key is admitted under for a
// pass-through request naming model: the model itself, unless the key is
// limited to groups and one of its groups has a deployment of that model.
// A key limited to models may call no other (a request naming none, a
// listing or a batch, is only for keys without a model list): LiteLLM
// checks no model on its pass-through routes, and llmvoy does not let them
// widen a key's access (admitKey refuses the model).
func (g *gateway) passThroughGroup(model string) string {
	k := g.caller.key
	if model == "" || k.Allows(model) {
		return model
	}
	i := slices.IndexFunc(g.state.cfg.Deployments, func(d *config.Deployment) bool {
		return d.UpstreamModel == model && k.Allows(d.ModelName)
	})
	if i < 0 {
		return model
	}
	return g.state.cfg.Deployments[i].ModelName
}

// passThroughCredential is the header that carries the deployment's
// credential in its provider's API; false for Bedrock, whose request is
// signed over its body, and for a deployment without a key.
func passThroughCredential(d *config.Deployment) (translate.Header, bool) {
	key := d.APIKey.Reveal()
	if key == "" && d.API == config.APIAzure && d.AzureADToken != "" {
		// An Entra ID token instead of a key, as the Azure SDK sends it.
		return translate.Header{Key: "authorization", Value: "Bearer " + d.AzureADToken.Reveal()}, true
	}
	if key == "" {
		return translate.Header{}, false
	}
	switch d.API {
	case config.APIAnthropic:
		return translate.Header{Key: "x-api-key", Value: key}, true
	case config.APIGemini:
		// The header, not LiteLLM's ?key=: a key in the URL would be in
		// every log that records paths.
		return translate.Header{Key: "x-goog-api-key", Value: key}, true
	case config.APIAzure:
		return translate.Header{Key: "api-key", Value: key}, true
	case config.APIOpenAI:
		return translate.Header{Key: "authorization", Value: "Bearer " + key}, true
	}
	return translate.Header{}, false
}

// passThroughQuery is the query the provider gets: the client's, without a
// gateway key in Gemini's ?key=, and with the deployment's api-version when
// an Azure client sent none.
func passThroughQuery(d *config.Deployment, query string) string {
	needsVersion := d.API == config.APIAzure && d.APIVersion != "" && !strings.Contains(query, "api-version=")
	if !(d.API == config.APIGemini && strings.Contains(query, "key=")) && !needsVersion {
		return query
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return query
	}
	if d.API == config.APIGemini {
		q.Del("key")
	}
	if needsVersion {
		q.Set("api-version", d.APIVersion)
	}
	return q.Encode()
}

// pathModel is the model a provider path names: Gemini's
// /v1beta/models/{model}:generateContent, Bedrock's /model/{id}/converse,
// Azure's /openai/deployments/{deployment}/...; "" for others.
func pathModel(rest string) string {
	for _, seg := range []string{"/models/", "/model/", "/deployments/"} {
		i := strings.Index(rest, seg)
		if i < 0 {
			continue
		}
		m := rest[i+len(seg):]
		if j := strings.IndexAny(m, "/:"); j >= 0 {
			m = m[:j]
		}
		if u, err := url.PathUnescape(m); err == nil {
			m = u
		}
		return m
	}
	return ""
}

// passedThrough reports whether a client header goes on to the provider of
// a pass-through route: every header of the provider's API (its version
// and beta headers, content type, ...) does, except a credential, the
// gateway's key header, cookies, and llmvoy's, Envoy's and LiteLLM's own.
func passedThrough(name, keyHeader string) bool {
	switch {
	case strings.HasPrefix(name, ":"), name == "x-forwarded-proto":
		return true
	case name == keyHeader, name == "cookie", neverForwarded(name):
		return false
	}
	return true
}

// inProviderShape words an error llmvoy answers on a pass-through route the
// way the route's provider words its own, so its SDK reads it.
func inProviderShape(route string, resp *extprocv3.ProcessingResponse) *extprocv3.ProcessingResponse {
	im := resp.GetImmediateResponse()
	if im == nil || im.GetStatus().GetCode() < 400 {
		return resp
	}
	status := int(im.GetStatus().GetCode())
	switch route {
	case "anthropic":
		im.Body = messagesapi.FromOpenAIError(status, im.GetBody())
	case "gemini":
		im.Body = googleError(status, errorMessage(im.GetBody()))
	case "bedrock":
		// What the AWS SDKs read: the message, and the error's type in
		// x-amzn-errortype.
		im.Body, _ = json.Marshal(map[string]string{"message": errorMessage(im.GetBody())})
		im.Headers.SetHeaders = append(im.Headers.SetHeaders, setHeader("x-amzn-errortype", awsErrorType(status)))
	}
	return resp
}

// errorMessage is the message of an error in OpenAI's shape.
func errorMessage(body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Message == "" {
		return string(body)
	}
	return e.Error.Message
}

// googleError is a Google API error (google.rpc.Status in JSON).
func googleError(status int, message string) []byte {
	code := map[int]string{400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
		405: "INVALID_ARGUMENT", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 501: "UNIMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}[status]
	if code == "" {
		code = "INTERNAL"
	}
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": status, "message": message, "status": code}})
	return b
}

func awsErrorType(status int) string {
	switch status {
	case 401, 403:
		return "UnrecognizedClientException"
	case 429:
		return "ThrottlingException"
	case 400, 404, 405, 413:
		return "ValidationException"
	}
	return "ServiceUnavailableException"
}

// passThrough is the processor of a pass-through cluster: for a request
// made with a virtual key, it reads the answer's usage (Anthropic's,
// OpenAI's, Gemini's usageMetadata, Bedrock Converse's) as it passes,
// untouched, and charges the key. Other requests pass with no phase after
// their headers.
type passThrough struct {
	u upstream
	// sse: the answer is an event stream, read event by event; events: it
	// is AWS's binary event stream (Bedrock's converse-stream and
	// invoke-with-response-stream), read message by message; else its
	// body is kept (up to maxUsageRead) and read at its end.
	sse    bool
	events *eventstream.Decoder
	kept   []byte
}

var _ responseProcessor = (*passThrough)(nil)
var _ closer = (*passThrough)(nil)

// maxUsageRead bounds the answer kept to read its usage: past it (a file
// download), nothing is charged from it.
const maxUsageRead = 8 << 20

func (p *passThrough) RequestHeaders(h *extprocv3.HttpHeaders, _ attributes) *extprocv3.ProcessingResponse {
	resp := continueHeaders(nil, false)
	p.u.requestID = headerValue(h, "x-request-id")
	r, ok := p.u.server.requests.get(p.u.requestID)
	if !ok || r.passThrough == nil || r.keyToken == "" || p.u.server.keys == nil {
		resp.ModeOverride = passThroughMode(extprocfilterv3.ProcessingMode_SKIP)
		return resp
	}
	p.u.deployment, p.u.clientEP = r.passThrough, passThroughEndpoint
	p.u.spend = &spender{token: r.keyToken, start: time.Now()}
	p.u.usage = &usageCounter{}
	resp.ModeOverride = passThroughMode(extprocfilterv3.ProcessingMode_SEND)
	return resp
}

func (p *passThrough) RequestBody(*extprocv3.HttpBody, attributes) *extprocv3.ProcessingResponse {
	return replyError(apiError{Status: 500, Type: "internal_error", Message: "llmvoy: unexpected request body phase on a pass-through"})
}

func (p *passThrough) ResponseHeaders(h *extprocv3.HttpHeaders) *extprocv3.ProcessingResponse {
	p.u.status, _ = strconv.Atoi(headerValue(h, ":status"))
	resp := &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{}}}
	if p.u.status >= 300 {
		p.u.usage = nil // nothing spent
		return resp
	}
	ct := headerValue(h, "content-type")
	p.sse = strings.HasPrefix(ct, "text/event-stream")
	if strings.HasPrefix(ct, "application/vnd.amazon.eventstream") {
		p.events = &eventstream.Decoder{}
	}
	p.u.usage.stream = p.sse
	// Streamed whatever it is: a stream in another format (Gemini's JSON
	// array, Bedrock's event stream) must not wait for its end either.
	resp.ModeOverride = upstreamMode(extprocfilterv3.ProcessingMode_SEND, extprocfilterv3.ProcessingMode_STREAMED)
	return resp
}

func (p *passThrough) ResponseBody(b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	end := b.GetEndOfStream()
	if p.u.usage != nil {
		switch {
		case p.sse:
			// Google's events end in CRLF pairs; the counter reads LF.
			p.u.countUsage(bytes.ReplaceAll(b.GetBody(), []byte("\r\n"), []byte("\n")), end)
		case p.events != nil:
			p.readEvents(b.GetBody())
			if end {
				p.u.countUsage(nil, true)
			}
		default:
			if len(p.kept)+len(b.GetBody()) <= maxUsageRead {
				p.kept = append(p.kept, b.GetBody()...)
			}
			if end {
				p.u.countUsage(lastElement(p.kept), true)
			}
		}
	}
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{}}}
}

// readEvents reads the usage in a Bedrock event stream's messages:
// ConverseStream's metadata event ({"usage": {"inputTokens", ...}}), or an
// InvokeModel stream's chunks ({"bytes": base64 of the model's own event,
// Anthropic's message_start and message_delta with their usage}).
func (p *passThrough) readEvents(piece []byte) {
	p.events.Write(piece)
	for {
		m, ok, err := p.events.Next()
		if err != nil || !ok {
			return
		}
		var chunk struct {
			Bytes []byte `json:"bytes"`
		}
		if json.Unmarshal(m.Payload, &chunk) == nil && len(chunk.Bytes) > 0 {
			p.u.usage.readUsage(chunk.Bytes)
		} else {
			p.u.usage.readUsage(m.Payload)
		}
	}
}

// close charges an answer cut before its end, as the upstream processor
// does.
func (p *passThrough) close() {
	if p.u.deployment != nil {
		p.u.close()
	}
}

// lastElement is the last element of a JSON array (Gemini's
// streamGenerateContent without alt=sse: its last chunk has the usage), or
// b itself.
func lastElement(b []byte) []byte {
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '[' {
		return b
	}
	var items []json.RawMessage
	if json.Unmarshal(b, &items) != nil || len(items) == 0 {
		return b
	}
	return items[len(items)-1]
}

func passThroughMode(response extprocfilterv3.ProcessingMode_HeaderSendMode) *extprocfilterv3.ProcessingMode {
	return &extprocfilterv3.ProcessingMode{
		RequestHeaderMode:   extprocfilterv3.ProcessingMode_SEND,
		RequestBodyMode:     extprocfilterv3.ProcessingMode_NONE,
		RequestTrailerMode:  extprocfilterv3.ProcessingMode_SKIP,
		ResponseHeaderMode:  response,
		ResponseBodyMode:    extprocfilterv3.ProcessingMode_NONE,
		ResponseTrailerMode: extprocfilterv3.ProcessingMode_SKIP,
	}
}
