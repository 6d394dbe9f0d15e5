// Package admin is LiteLLM's admin REST API as llmvoy answers it: virtual
// keys (/key/*), spend (/spend/logs, /global/spend), model information
// (/model/info, /model_group/info) and the deployments' health (/health).
//
// It is pure request → answer: a caller (whom the gateway already
// authenticated), a method, a path, a query and a body in; a status, JSON
// and headers out. One table says which endpoints exist, the method each
// answers and who may call it; one constructor makes every error, in
// OpenAI's shape as LiteLLM answers them. It knows nothing of Envoy: the
// gateway processor (package extproc) turns its answers into ext_proc
// immediate responses.
//
// The gateway keeps what must stay cheapest or needs no key: LiteLLM's
// probes (/health/liveliness, /health/readiness), /metrics, and OpenAI's
// model list (/v1/models), which it builds once per config.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/llmvoy/llmvoy/cache"
	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/keys"
)

// Caller is who made a request, as the gateway authenticated it.
type Caller struct {
	// Master: the request carried the master key.
	Master bool
	// Key is the virtual key the request carried; nil for the master key
	// and when the gateway has no master key (nobody is authenticated).
	Key *keys.Key
}

// Access says who may call an endpoint. The gateway has authenticated
// every caller before; these rules are what LiteLLM allows each of them.
type Access int

const (
	// MasterKey: the master key only.
	MasterKey Access = iota + 1
	// MasterKeyOrSelf: the master key, or a virtual key asking about itself
	// (no ?key=), as LiteLLM lets a key read its own /key/info.
	MasterKeyOrSelf
	// MasterKeyIfSet: the master key, or anyone when the gateway has none.
	// /health calls every deployment with its credentials, so it is never
	// a virtual key's.
	MasterKeyIfSet
	// AnyCaller: anyone the gateway admitted. A virtual key sees only the
	// model groups it may call.
	AnyCaller
)

// Endpoint is one admin endpoint.
type Endpoint struct {
	// Path is the endpoint's name; Aliases are other paths LiteLLM answers
	// it on.
	Path    string
	Aliases []string
	// Method is the one method the endpoint answers; empty: any (only
	// /health, which has always answered them all).
	Method string
	Access Access
	// Store: it reads or writes virtual keys or spend, and so needs the key
	// store.
	Store bool
	serve func(*Handler, context.Context, Request) (any, error)
}

// TakesBody reports whether the endpoint reads a request body: the gateway
// then waits for it before calling Serve.
func (e *Endpoint) TakesBody() bool { return e.Method == http.MethodPost }

// endpoints is every admin endpoint, LiteLLM's names and shapes.
var endpoints = []*Endpoint{
	{Path: "/key/generate", Method: http.MethodPost, Access: MasterKey, Store: true, serve: (*Handler).generateKey},
	{Path: "/key/update", Method: http.MethodPost, Access: MasterKey, Store: true, serve: (*Handler).updateKey},
	{Path: "/key/delete", Method: http.MethodPost, Access: MasterKey, Store: true, serve: (*Handler).deleteKeys},
	{Path: "/key/block", Method: http.MethodPost, Access: MasterKey, Store: true, serve: (*Handler).blockKey},
	{Path: "/key/unblock", Method: http.MethodPost, Access: MasterKey, Store: true, serve: (*Handler).unblockKey},
	{Path: "/key/info", Aliases: []string{"/v1/key/info"}, Method: http.MethodGet, Access: MasterKeyOrSelf, Store: true, serve: (*Handler).keyInfo},
	{Path: "/key/list", Method: http.MethodGet, Access: MasterKey, Store: true, serve: (*Handler).listKeys},
	{Path: "/spend/logs", Aliases: []string{"/v1/spend/logs"}, Method: http.MethodGet, Access: MasterKey, Store: true, serve: (*Handler).spendLogs},
	{Path: "/global/spend", Method: http.MethodGet, Access: MasterKey, Store: true, serve: (*Handler).globalSpend},
	{Path: "/model/info", Aliases: []string{"/v1/model/info"}, Method: http.MethodGet, Access: AnyCaller, serve: (*Handler).modelInfo},
	{Path: "/model_group/info", Method: http.MethodGet, Access: AnyCaller, serve: (*Handler).modelGroupInfo},
	{Path: "/health", Access: MasterKeyIfSet, serve: (*Handler).health},
	{Path: "/cache/ping", Method: http.MethodGet, Access: MasterKeyIfSet, serve: (*Handler).cachePing},
	{Path: "/cache/delete", Method: http.MethodPost, Access: MasterKeyIfSet, serve: (*Handler).cacheDelete},
}

// byPath finds an endpoint by any of its paths.
var byPath = func() map[string]*Endpoint {
	m := make(map[string]*Endpoint)
	for _, e := range endpoints {
		for _, p := range append([]string{e.Path}, e.Aliases...) {
			m[p] = e
		}
	}
	return m
}()

// Find returns the endpoint a path (without its query) names, or nil when
// it is none of them.
func Find(path string) *Endpoint { return byPath[path] }

// Endpoints lists every endpoint, in the table's order.
func Endpoints() []*Endpoint { return endpoints }

// Request is one call of an endpoint.
type Request struct {
	Caller Caller
	Method string
	// Path is the path called (one of the endpoint's), without the query.
	Path  string
	Query url.Values
	// Body is the request body; nil when it has none.
	Body []byte
}

// Response is an endpoint's answer: a status, and JSON.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Handler answers the endpoints from one config. The gateway makes one per
// request, with the config that request started with.
type Handler struct {
	Config *config.Config
	// Keys are the virtual keys and spend; nil when the gateway has none.
	Keys *keys.Keys
	// Cache is the response cache's store; nil when there is none.
	Cache cache.Store
	Log   *slog.Logger
}

// storeTimeout bounds one call's work on the key store.
const storeTimeout = 10 * time.Second

// Admit checks what the request line and the caller decide: the method,
// the key store, who may call. It returns the refusal, or nil when Serve
// may answer. The gateway calls it before a body arrives, so a refused
// caller's body is never read.
func (h *Handler) Admit(e *Endpoint, r Request) *Response {
	if e.Method != "" && r.Method != e.Method {
		return errorResponse(errorf(405, "method %s not allowed on %s; use %s", r.Method, r.Path, e.Method))
	}
	if e.Store && h.Keys == nil {
		return errorResponse(errorf(400, "%s: virtual keys and spend need general_settings.master_key (and a store: the SQLite file under --data-dir, or general_settings.database_url)", r.Path))
	}
	if !h.allowed(e.Access, r) {
		return errorResponse(errorf(401, "Authentication Error, only the master key may call %s", r.Path))
	}
	return nil
}

func (h *Handler) allowed(a Access, r Request) bool {
	c := r.Caller
	switch a {
	case MasterKey:
		return c.Master
	case MasterKeyOrSelf:
		return c.Master || (c.Key != nil && r.Query.Get("key") == "")
	case MasterKeyIfSet:
		return c.Master || h.Config.General.MasterKey == ""
	case AnyCaller:
		return true
	}
	return false
}

// Serve answers a request Admit let through.
func (h *Handler) Serve(ctx context.Context, e *Endpoint, r Request) Response {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	out, err := e.serve(h, ctx, r)
	if err != nil {
		var ae *Error
		if errors.As(err, &ae) {
			return *errorResponse(ae)
		}
		// The store's own error (a driver's names the database user, host
		// and database) goes to the log, not to the caller.
		h.Log.Error("admin endpoint failed", "path", e.Path, "err", err)
		return *errorResponse(errorf(500, "llmvoy: %s failed: the key store did not answer (see llmvoy's log)", e.Path))
	}
	b, err := json.Marshal(out)
	if err != nil {
		return *errorResponse(errorf(500, "llmvoy: encode response: %v", err))
	}
	return Response{Status: 200, Header: jsonHeader(), Body: b}
}

func jsonHeader() http.Header { return http.Header{"Content-Type": {"application/json"}} }

// Error is an error answer in OpenAI's shape, which LiteLLM's admin API
// shares: SDKs map the status and type to their exceptions.
type Error struct {
	Status  int
	Message string
	// Param names the request parameter at fault, when one is.
	Param string
}

func (e *Error) Error() string { return e.Message }

// errorTypes are the OpenAI error types of the statuses the endpoints
// answer with.
var errorTypes = map[int]string{
	400: "invalid_request_error",
	401: "auth_error",
	404: "not_found_error",
	405: "invalid_request_error",
	500: "internal_error",
}

// errorf is how every error of this package is made: the status decides
// its type and code.
func errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// The errors several endpoints answer with.
var (
	errKeyRequired = errorf(400, "key is required: the key (sk-...) or its token")
	errKeyNotFound = errorf(404, "key not found")
)

// Body is the error's JSON: {"error": {message, type, param, code}}, with
// param null when unset and code the status.
func (e *Error) Body() []byte {
	type inner struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    string  `json:"code"`
	}
	in := inner{Message: e.Message, Type: errorTypes[e.Status], Code: strconv.Itoa(e.Status)}
	if e.Param != "" {
		in.Param = &e.Param
	}
	b, _ := json.Marshal(struct {
		Error inner `json:"error"`
	}{in})
	return b
}

func errorResponse(e *Error) *Response {
	return &Response{Status: e.Status, Header: jsonHeader(), Body: e.Body()}
}
