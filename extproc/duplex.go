package extproc

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/llmvoy/llmvoy/plan"
)

// handler answers one ext_proc stream's messages: none, one or several
// answers per message.
type handler interface {
	handle(req *extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error)
}

// heldBodies counts request body bytes held by gateway streams.
type heldBodies struct {
	n     atomic.Int64
	limit int64
}

// take counts n more bytes, unless that would pass the limit.
func (b *heldBodies) take(n int64) bool {
	if b.n.Add(n) > b.limit {
		b.n.Add(-n)
		return false
	}
	return true
}

func (b *heldBodies) give(n int64) { b.n.Add(-n) }

// maxHeldBodyBytes is how many request body bytes all gateway streams may
// hold at once: 32 bodies at the size limit.
const maxHeldBodyBytes = 32 * maxRequestBytes

// maxRequestBytes is the largest request body the gateway takes (Envoy's
// listener buffers as much per connection).
const maxRequestBytes = plan.DefaultMaxRequestBytes

// errUnexpectedPhase is a phase the processor did not ask Envoy for: a
// config and processor mismatch, which fails the request loudly rather than
// guess.
var errUnexpectedPhase = errors.New("unexpected ext_proc phase")

// inTurn answers each message as it comes: Envoy waits for the answer to
// one phase before it sends the next (the upstream processor's modes).
type inTurn struct{ p processor }

func (t inTurn) handle(req *extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
	resp := answer(t.p, req)
	if resp == nil {
		return nil, fmt.Errorf("%w %T", errUnexpectedPhase, req.Request)
	}
	return []*extprocv3.ProcessingResponse{resp}, nil
}

// answer calls the processor's method for req's phase; nil when it has none.
func answer(p processor, req *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
	attrs := attributes(req.GetAttributes())
	switch r := req.Request.(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		return p.RequestHeaders(r.RequestHeaders, attrs)
	case *extprocv3.ProcessingRequest_RequestBody:
		return p.RequestBody(r.RequestBody, attrs)
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		if rp, ok := p.(responseProcessor); ok {
			return rp.ResponseHeaders(r.ResponseHeaders)
		}
	case *extprocv3.ProcessingRequest_ResponseBody:
		if rp, ok := p.(responseProcessor); ok {
			return rp.ResponseBody(r.ResponseBody)
		}
	}
	return nil
}

// fullDuplex answers the gateway filter, whose request body mode is
// FULL_DUPLEX_STREAMED: Envoy sends the headers and then the body without
// waiting for the answer to the headers, and holds the headers until that
// answer comes. So one round trip carries both phases: fullDuplex keeps the
// processor's answer to the headers until the body is complete, then sends
// it with the body phase's header mutation (the route, the path, the key
// headers) folded in, followed by the body. The processor itself still
// sees a headers phase and a body phase, as in BUFFERED mode.
//
// Nothing buffers the body ahead of the gateway filter, so the headers
// reach llmvoy as soon as they arrive: a request without a valid key is
// refused before its body is read (Envoy answers and closes the
// connection), and only an authenticated one makes llmvoy hold up to
// maxRequestBytes of body, answering 413 past it. A buffer filter behind
// the gateway filter restores the content-length this body mode removes.
type fullDuplex struct {
	p processor
	// held counts the body bytes every gateway stream holds, against a
	// limit for them all: authenticated clients (a key over its budget, or
	// at its parallel limit, is refused only once its body is read) cannot
	// make llmvoy hold more than that, however many bodies they send.
	held *heldBodies
	// holding is this stream's part of held.
	holding int64
	// headers is the processor's answer to the headers phase, held until
	// the body is complete.
	headers *extprocv3.ProcessingResponse
	body    []byte
	// over: the request has its answer (an immediate response, or both
	// phases); whatever Envoy sent meanwhile needs none.
	over bool
}

func (d *fullDuplex) handle(req *extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
	if d.over {
		return nil, nil
	}
	switch r := req.Request.(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		resp := d.p.RequestHeaders(r.RequestHeaders, attributes(req.GetAttributes()))
		if resp.GetRequestHeaders() == nil || r.RequestHeaders.GetEndOfStream() {
			// An immediate response, or a request without a body: no
			// body phase follows.
			d.over = true
			return []*extprocv3.ProcessingResponse{resp}, nil
		}
		d.headers = resp
		return nil, nil
	case *extprocv3.ProcessingRequest_RequestBody:
		if d.headers == nil {
			return nil, errors.New("request body before its headers")
		}
		chunk := r.RequestBody.GetBody()
		if len(d.body)+len(chunk) > maxRequestBytes {
			d.over = true
			d.close()
			return []*extprocv3.ProcessingResponse{replyError(apiError{Status: 413, Type: "invalid_request_error",
				Message: fmt.Sprintf("request body too large: the limit is %d MiB", maxRequestBytes>>20)})}, nil
		}
		if d.held != nil {
			if !d.held.take(int64(len(chunk))) {
				d.over = true
				d.close()
				return []*extprocv3.ProcessingResponse{replyRetryAfter(apiError{Status: 503, Type: "service_unavailable",
					Message: "llmvoy is holding as many request bodies as it may; retry shortly"}, time.Second)}, nil
			}
			d.holding += int64(len(chunk))
		}
		if d.body == nil {
			d.body = chunk
		} else {
			d.body = append(d.body, chunk...)
		}
		if !r.RequestBody.GetEndOfStream() {
			return nil, nil
		}
		return d.finish(attributes(req.GetAttributes()), false), nil
	case *extprocv3.ProcessingRequest_RequestTrailers:
		// Trailers end a body that came without end_of_stream: they are
		// passed on as they are.
		if d.headers == nil {
			return nil, errors.New("request trailers before their headers")
		}
		trailers := &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocv3.TrailersResponse{}}}
		return append(d.finish(attributes(req.GetAttributes()), true), trailers), nil
	}
	return nil, fmt.Errorf("%w %T", errUnexpectedPhase, req.Request)
}

// close gives back the body bytes this stream held; once is enough (the
// stream ends, or its answer no longer needs them).
func (d *fullDuplex) close() {
	if d.held != nil && d.holding > 0 {
		d.held.give(d.holding)
		d.holding = 0
	}
}

// finish runs the body phase on the whole body and answers both phases.
func (d *fullDuplex) finish(attrs attributes, trailers bool) []*extprocv3.ProcessingResponse {
	d.over = true
	// The body goes back to Envoy with the answer: it is Envoy's to hold.
	defer d.close()
	resp := d.p.RequestBody(&extprocv3.HttpBody{Body: d.body, EndOfStream: true}, attrs)
	if resp.GetRequestBody() == nil {
		return []*extprocv3.ProcessingResponse{resp} // an immediate response
	}
	bodyPhase := resp.GetRequestBody().GetResponse()
	headers := d.headers.GetRequestHeaders()
	if headers.Response == nil {
		headers.Response = &extprocv3.CommonResponse{}
	}
	h := headers.Response
	if m := bodyPhase.GetHeaderMutation(); m != nil {
		if h.HeaderMutation == nil {
			h.HeaderMutation = &extprocv3.HeaderMutation{}
		}
		h.HeaderMutation.SetHeaders = append(h.HeaderMutation.SetHeaders, m.GetSetHeaders()...)
		h.HeaderMutation.RemoveHeaders = append(h.HeaderMutation.RemoveHeaders, m.GetRemoveHeaders()...)
	}
	h.ClearRouteCache = h.ClearRouteCache || bodyPhase.GetClearRouteCache()
	if md := resp.GetDynamicMetadata(); md != nil {
		d.headers.DynamicMetadata = md
	}

	body := d.body
	switch m := bodyPhase.GetBodyMutation().GetMutation().(type) {
	case *extprocv3.BodyMutation_Body:
		body = m.Body
	case *extprocv3.BodyMutation_ClearBody:
		if m.ClearBody {
			body = nil
		}
	}
	return []*extprocv3.ProcessingResponse{d.headers, {Response: &extprocv3.ProcessingResponse_RequestBody{
		RequestBody: &extprocv3.BodyResponse{Response: &extprocv3.CommonResponse{BodyMutation: &extprocv3.BodyMutation{
			Mutation: &extprocv3.BodyMutation_StreamedResponse{StreamedResponse: &extprocv3.StreamedBodyResponse{Body: body, EndOfStream: !trailers}},
		}}},
	}}}
}
