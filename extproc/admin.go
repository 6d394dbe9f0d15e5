package extproc

import (
	"context"
	"maps"
	"net/url"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/llmvoy/llmvoy/admin"
)

// adminRequest is an admin call waiting for its body.
type adminRequest struct {
	endpoint *admin.Endpoint
	req      admin.Request
}

// adminHeaders checks an admin call's method and caller and answers it at
// once, unless it has a body to wait for. Package admin decides everything;
// this only carries its answer to Envoy.
func (g *gateway) adminHeaders(e *admin.Endpoint, method, rawPath string, endOfStream bool) *extprocv3.ProcessingResponse {
	path, rawQuery, _ := strings.Cut(rawPath, "?")
	query, _ := url.ParseQuery(rawQuery)
	req := admin.Request{Caller: admin.Caller{Master: g.caller.master, Key: g.caller.key}, Method: method, Path: path, Query: query}
	h := g.adminHandler()
	if refused := h.Admit(e, req); refused != nil {
		return replyAdmin(*refused)
	}
	if endOfStream || !e.TakesBody() {
		return replyAdmin(h.Serve(context.Background(), e, req))
	}
	g.admin = adminRequest{endpoint: e, req: req}
	return continueHeaders(nil, false)
}

// serveAdmin answers the admin call adminHeaders left waiting, with its body.
func (g *gateway) serveAdmin(body []byte) *extprocv3.ProcessingResponse {
	req := g.admin.req
	req.Body = body
	return replyAdmin(g.adminHandler().Serve(context.Background(), g.admin.endpoint, req))
}

// adminHandler answers from the config this request started with.
func (g *gateway) adminHandler() *admin.Handler {
	return &admin.Handler{Config: g.state.cfg, Keys: g.server.keys, Cache: g.server.cache, Log: g.server.log}
}

// replyAdmin is an admin answer as Envoy's local response.
func replyAdmin(r admin.Response) *extprocv3.ProcessingResponse {
	var headers []*corev3.HeaderValueOption
	for _, name := range slices.Sorted(maps.Keys(r.Header)) {
		if name != "Content-Type" { // reply sets it
			headers = append(headers, setHeader(strings.ToLower(name), r.Header.Get(name)))
		}
	}
	return reply(r.Status, r.Header.Get("Content-Type"), r.Body, headers...)
}
