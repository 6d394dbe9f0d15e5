// Package xds compiles a LiteLLM config into Envoy resources (listener, routes,
// one cluster per model group, one endpoint per deployment) and serves them to
// Envoy over ADS. Translate is a pure function of the config and the resolved
// deployment addresses; Server turns its output into consistent snapshots.
package xds

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Names shared with the ext_proc processors and the bootstrap. They are the
// contract between the Envoy configuration generated here and the Go code
// that runs inside Envoy's request path.
const (
	ListenerName    = "llmvoy_gateway"
	RouteConfigName = "llmvoy_routes"

	// RouteHeader carries the cluster chosen by the gateway processor; the
	// route table matches on it. The gateway always overwrites or removes it,
	// so a client cannot pick a cluster by sending it.
	RouteHeader = "x-llmvoy-route"

	// MetadataNamespace and MetadataDeploymentID locate the deployment id in
	// endpoint metadata: the upstream processor reads it from the
	// xds.upstream_host_metadata attribute, and the response headers name the
	// deployment through %UPSTREAM_METADATA%.
	MetadataNamespace    = "llmvoy"
	MetadataDeploymentID = "deployment_id"
	// ClientPathMetadataKey is the key, under MetadataNamespace in the
	// request's dynamic metadata, of the path the client called: the gateway
	// processor sets it and the access log reads it.
	ClientPathMetadataKey = "client_path"

	// ProcessorHeader is sent as gRPC initial metadata by each ext_proc filter
	// so one ext_proc server can tell the two filters apart.
	ProcessorHeader   = "x-llmvoy-processor"
	ProcessorGateway  = "gateway"
	ProcessorUpstream = "upstream"

	// UpstreamFilterName names the upstream processor's filter in the
	// group clusters. Not Envoy's canonical ext_proc name: the direct
	// routes turn this filter off by name, and the gateway's filter,
	// listed under the canonical one, must stay on.
	UpstreamFilterName = "llmvoy.upstream"

	// FallbackHeader carries a request's place in its fallback chain. The
	// upstream processor answers a failed attempt with a redirect carrying
	// it, Envoy copies it into the redirected request, and the gateway
	// processor routes that request to the next group of the chain.
	FallbackHeader = "x-llmvoy-fallback"
	// FallbackStatus is the status of those redirects (307 keeps the
	// method and the body).
	FallbackStatus = 307

	// ModelIDHeader and LiteLLMModelIDHeader name the deployment that served.
	// ModelIDHeader is the one x-llmvoy-* header clients get.
	ModelIDHeader        = "x-llmvoy-model-id"
	LiteLLMModelIDHeader = "x-litellm-model-id"

	// AttrUpstreamHostMetadata is the Envoy attribute the upstream processor
	// asks for to learn which deployment Envoy picked for this attempt.
	AttrUpstreamHostMetadata = "xds.upstream_host_metadata"

	// tlsMatchKey marks endpoints whose api_base is https, selecting the TLS
	// transport socket through transport_socket_matches.
	tlsMatchKey = "tls"
)

// internalHeaders are llmvoy's own headers between its filters: never
// returned to a client (a redirect that is not followed would otherwise
// carry a signed fallback header back).
var internalHeaders = []string{RouteHeader, FallbackHeader}

// ClusterName is the Envoy cluster of a model group. Group names are free text
// ("gpt-4o", "openai/gpt-4", "my model"), and cluster names end up in stat
// names, where a dot would split the name when Envoy extracts the cluster_name
// tag. So anything outside a safe alphabet is replaced and a short hash keeps
// distinct groups distinct.
func ClusterName(group string) string {
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, group)
	if safe == group && group != "" {
		return "group_" + group
	}
	sum := sha256.Sum256([]byte(group))
	return "group_" + safe + "_" + hex.EncodeToString(sum[:4])
}
