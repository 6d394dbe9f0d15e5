package extproc

import (
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/llmvoy/llmvoy/plan"
	"github.com/llmvoy/llmvoy/translate"
)

// Which request headers reach a provider. By default only what a provider's
// API needs to read the request: the rest of what a client sends (cookies,
// openai-organization and openai-project, which pick the account that is
// billed, x-forwarded-for, tracing headers, any x-*) is removed by the
// gateway processor, as LiteLLM does. The deployment's own credential and
// version headers are set afterwards for each attempt (by the upstream
// processor, or by Envoy on a direct route).

// keptHeaders pass to every provider. x-request-id is Envoy's own id for
// the request (the HTTP connection manager replaces a client's), so a
// provider's logs can be joined with llmvoy's. x-forwarded-proto is
// Envoy's too (it overwrites a client's with the connection's scheme), and
// Envoy's router finds no route for a request without it.
var keptHeaders = []string{"content-type", "content-length", "accept", "x-request-id", "x-forwarded-proto"}

// forwardable reports whether a client header is passed on to the providers
// of a model group that forwards client headers
// (forward_client_headers_to_llm_api): LiteLLM's rule, x-* except
// x-stainless-* (the OpenAI SDK's telemetry) and anthropic-beta; never
// llmvoy's or Envoy's own headers, a credential, or the client's claims
// about where it connects from.
func forwardable(name string) bool {
	switch {
	case name == "anthropic-beta":
		return true
	case !strings.HasPrefix(name, "x-"), strings.HasPrefix(name, "x-stainless-"), neverForwarded(name):
		return false
	}
	return true
}

// neverForwarded reports whether a client header is one no provider gets,
// whatever the route: llmvoy's, Envoy's or LiteLLM's own, the client's
// claims about where it connects from, or a credential.
func neverForwarded(name string) bool {
	return strings.HasPrefix(name, plan.InternalHeaderPrefix) ||
		strings.HasPrefix(name, "x-envoy-") ||
		strings.HasPrefix(name, "x-forwarded-") ||
		strings.HasPrefix(name, "x-litellm-") ||
		slices.Contains(translate.ClientCredentialHeaders, name)
}

// headerPolicy sorts a request's headers into those no provider gets and
// those only a forwarding group's providers get.
type headerPolicy struct {
	drop, forward []string
}

// keyHeader is the operator's own key header (litellm_key_header_name),
// a credential like the others.
func newHeaderPolicy(h *extprocv3.HttpHeaders, keyHeader string) headerPolicy {
	var p headerPolicy
	for _, hv := range h.GetHeaders().GetHeaders() {
		name := hv.GetKey()
		switch {
		case name == keyHeader:
			p.drop = append(p.drop, name)
		case strings.HasPrefix(name, ":"), slices.Contains(keptHeaders, name):
		case forwardable(name):
			p.forward = append(p.forward, name)
		default:
			p.drop = append(p.drop, name)
		}
	}
	return p
}

// apply adds the removals to m for a request to a group that forwards
// client headers or not. A header m sets is not removed: it is llmvoy's
// own value now (Envoy applies removals before sets, but a header that is
// both set and removed would depend on it).
func (p headerPolicy) apply(m *extprocv3.HeaderMutation, forward bool) {
	remove := func(name string) {
		if !slices.ContainsFunc(m.SetHeaders, func(s *corev3.HeaderValueOption) bool { return s.GetHeader().GetKey() == name }) &&
			!slices.Contains(m.RemoveHeaders, name) {
			m.RemoveHeaders = append(m.RemoveHeaders, name)
		}
	}
	for _, name := range p.drop {
		remove(name)
	}
	if !forward {
		for _, name := range p.forward {
			remove(name)
		}
	}
}
