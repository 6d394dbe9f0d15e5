// Package xds compiles a plan of a LiteLLM config (package plan) into Envoy
// resources (listener, routes, one cluster per model group, one endpoint per
// deployment) and serves them to Envoy over ADS. Translate is a pure
// function of the plan and the live endpoint state (addresses, unavailable
// and slow deployments); Server turns its output into consistent snapshots.
// The names the resources share with the Go request path are package
// plan's (contract.go).
package xds

import "github.com/llmvoy/llmvoy/plan"

// Names only Envoy's side needs (the bootstrap's listener and routes).
const (
	ListenerName    = "llmvoy_gateway"
	RouteConfigName = "llmvoy_routes"

	// tlsMatchKey marks endpoints whose api_base is https, selecting the TLS
	// transport socket through transport_socket_matches.
	tlsMatchKey = "tls"
)

// internalHeaders are llmvoy's own headers between its filters: never
// returned to a client (a redirect that is not followed would otherwise
// carry a signed fallback header back).
var internalHeaders = []string{plan.RouteHeader, plan.FallbackHeader}

// removedFromAnswers are the headers of an answer no client gets: llmvoy's
// internal ones, and a provider's cookies (a CDN's in front of its API),
// which would be set for the gateway's domain; LiteLLM returns none either.
// llmvoy sets no cookie of its own.
var removedFromAnswers = append(append([]string(nil), internalHeaders...), "set-cookie")
