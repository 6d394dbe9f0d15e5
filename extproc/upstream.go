package extproc

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/translate"
)

// upstream adapts one attempt for the deployment Envoy picked: path,
// authority, credentials and body. A retry on another deployment is a new
// attempt with its own upstream processor.
type upstream struct {
	state *state
	log   *slog.Logger

	deployment *config.Deployment
	translator translate.Translator
	endpoint   translate.Endpoint
}

var _ processor = (*upstream)(nil)

func (u *upstream) RequestHeaders(h *extprocv3.HttpHeaders, attrs attributes) *extprocv3.ProcessingResponse {
	id, err := attrs.deploymentID()
	if err != nil {
		return replyError(apiError{Status: 500, Message: "llmvoy: cannot tell which deployment was picked: " + err.Error(), Type: "internal_error"})
	}
	d := u.state.deployment(id)
	if d == nil {
		// Removed two reloads ago while Envoy still held its endpoint;
		// 503 lets the retry policy move on.
		return replyError(apiError{Status: 503, Message: "deployment " + id + " is no longer configured", Type: "service_unavailable"})
	}
	tr, err := translate.For(d)
	if err != nil {
		return replyError(apiError{Status: 501, Message: "deployment " + id + ": " + err.Error(), Type: "not_implemented"})
	}
	path, query, _ := strings.Cut(headerValue(h, ":path"), "?")
	ep, ok := modelEndpoint(path)
	if !ok {
		return replyError(apiError{Status: 404, Message: "unknown path " + path, Type: "invalid_request_error", Code: "not_found"})
	}
	head, err := tr.RequestHead(d, ep, query)
	if err != nil {
		return replyError(apiError{Status: 500, Message: "deployment " + id + ": " + err.Error(), Type: "internal_error"})
	}
	u.deployment, u.translator, u.endpoint = d, tr, ep

	m := &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{
		setHeader(":path", head.Path),
		setHeader(":authority", head.Authority),
	}}
	for _, hd := range head.Set {
		m.SetHeaders = append(m.SetHeaders, setHeader(hd.Key, hd.Value))
	}
	// The client's gateway key never leaves llmvoy: drop every credential
	// header the translator did not set for the deployment.
	for _, name := range translate.ClientCredentialHeaders {
		if !slices.ContainsFunc(head.Set, func(hd translate.Header) bool { return hd.Key == name }) {
			m.RemoveHeaders = append(m.RemoveHeaders, name)
		}
	}
	if u.log.Enabled(context.Background(), slog.LevelDebug) {
		u.log.Debug("upstream attempt", "deployment", id, "path", head.Path)
	}
	return continueHeaders(m, false)
}

func (u *upstream) RequestBody(b *extprocv3.HttpBody, _ attributes) *extprocv3.ProcessingResponse {
	if u.deployment == nil {
		return replyError(apiError{Status: 500, Message: "llmvoy: request body before headers", Type: "internal_error"})
	}
	body, err := u.translator.RequestBody(u.deployment, u.endpoint, b.GetBody())
	if err != nil {
		if errors.Is(err, translate.ErrBadRequest) {
			return replyError(apiError{Status: 400, Message: err.Error(), Type: "invalid_request_error"})
		}
		return replyError(apiError{Status: 500, Message: "deployment " + u.deployment.ID + ": " + err.Error(), Type: "internal_error"})
	}
	if body == nil {
		return continueBody(nil, nil, false)
	}
	// Envoy refuses a mutated body whose length disagrees with content-length.
	m := &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{setHeader("content-length", strconv.Itoa(len(body)))}}
	return continueBody(m, body, false)
}
