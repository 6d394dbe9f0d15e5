package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// The contract between the Envoy configuration package xds generates and
// the Go code on Envoy's request path (the ext_proc processors, the access
// log service, the metrics): every header, metadata key, access-log tag and
// name both sides must agree on, in this one file. Everything Envoy-only
// (listener and route config names, transport socket matches) stays in xds.
const (
	// InternalHeaderPrefix starts every header that carries llmvoy's own
	// state between its filters; no client may set one and no provider
	// gets one.
	InternalHeaderPrefix = "x-llmvoy-"

	// RouteHeader carries the cluster (or direct route) chosen by the
	// gateway processor; the route table matches on it. The gateway always
	// overwrites or removes it, so a client cannot pick a cluster by
	// sending it.
	RouteHeader = "x-llmvoy-route"

	// FallbackHeader carries a request's place in its fallback chain. The
	// upstream processor answers a failed attempt with a redirect carrying
	// it, Envoy copies it into the redirected request, and the gateway
	// processor routes that request to the next group of the chain.
	FallbackHeader = "x-llmvoy-fallback"
	// FallbackStatus is the status of those redirects (307 keeps the
	// method and the body).
	FallbackStatus = 307
	// FallbackAuthority is the host of fallback redirects. Any host routes
	// the same way; this one says what the request is in Envoy's logs.
	FallbackAuthority = "fallback.llmvoy.internal"

	// A request whose group has a next step in its fallback chain goes
	// through the fallback hop (HopRouteName): an Envoy internal listener
	// whose router makes the group's attempts. When they all fail without
	// an answer (refused, reset, timed out, no healthy deployment), that
	// router's own error reply is turned by the hop's local_reply_config
	// into the fallback redirect, which the gateway listener's router then
	// follows like the upstream processor's. The gateway processor signs the
	// next step's FallbackHeader ahead and sends it in FallbackNextHeader,
	// and the redirect's location in FallbackLocationHeader; the hop's
	// listener moves both into the request's metadata (under
	// MetadataNamespace) before routing, so no attempt carries them.
	FallbackNextHeader       = "x-llmvoy-fallback-next"
	FallbackLocationHeader   = "x-llmvoy-fallback-location"
	MetadataFallbackNext     = "fallback_next"
	MetadataFallbackLocation = "fallback_location"
	// A request's own retries and attempt timeout (LiteLLM's per-request
	// num_retries and timeout) reach the listener that makes its attempts
	// (the hop's, the relay's) in AttemptRetriesHeader and
	// AttemptTimeoutHeader: that listener trusts no x-envoy-* header it
	// receives, so it turns these into Envoy's own and removes them.
	AttemptRetriesHeader = "x-llmvoy-attempt-retries"
	AttemptTimeoutHeader = "x-llmvoy-attempt-timeout-ms"
	// FallbackCauseHeader is set on the hop's redirect (status and
	// deployment of the last attempt, "STATUS;DEPLOYMENT") and copied into
	// the redirected request, where the gateway processor counts the
	// fallback: no upstream processor saw that failure. It only feeds the
	// metrics, and only alongside a valid FallbackHeader.
	FallbackCauseHeader = "x-llmvoy-fallback-cause"

	// ProcessorHeader is sent as gRPC initial metadata by each ext_proc
	// filter so one ext_proc server can tell the two filters apart.
	ProcessorHeader   = "x-llmvoy-processor"
	ProcessorGateway  = "gateway"
	ProcessorUpstream = "upstream"

	// UpstreamFilterName names the upstream processor's filter in the
	// group clusters. Not Envoy's canonical ext_proc name: the direct
	// routes turn this filter off by name, and the gateway's filter,
	// listed under the canonical one, must stay on.
	UpstreamFilterName = "llmvoy.upstream"

	// ModelIDHeader and LiteLLMModelIDHeader name the deployment that
	// served. ModelIDHeader is one of the two x-llmvoy-* headers clients
	// get.
	ModelIDHeader        = "x-llmvoy-model-id"
	LiteLLMModelIDHeader = "x-litellm-model-id"

	// ResponseCostHeader and LiteLLMResponseCostHeader carry a
	// non-streaming answer's cost in USD: llmvoy's name, and LiteLLM's,
	// which its clients read.
	ResponseCostHeader        = "x-llmvoy-response-cost"
	LiteLLMResponseCostHeader = "x-litellm-response-cost"

	// MetadataNamespace and MetadataDeploymentID locate the deployment id
	// in endpoint metadata: the upstream processor reads it from the
	// AttrUpstreamHostMetadata attribute, the response headers name the
	// deployment through %UPSTREAM_METADATA%, the access logs tag it.
	MetadataNamespace    = "llmvoy"
	MetadataDeploymentID = "deployment_id"
	// MetadataAPIBase is an endpoint's deployment's api_base, as the
	// admin API shows it (no credential in its query).
	MetadataAPIBase = "api_base"
	// ClientPathMetadataKey is the key, under MetadataNamespace in the
	// request's dynamic metadata, of the path the client called: the
	// gateway processor sets it and the downstream access log reads it.
	ClientPathMetadataKey = "client_path"
	// AttemptedFallbacksMetadataKey, beside it, is how many steps of its
	// fallback chain the request took: LiteLLM's
	// x-litellm-attempted-fallbacks, which the gateway listener formats
	// from it.
	AttemptedFallbacksMetadataKey = "attempted_fallbacks"
	// ModelGroupMetadataKey, beside it, is the model group a wildcard
	// route's answer names (x-litellm-model-group): the requested model,
	// which the route's own headers cannot know.
	ModelGroupMetadataKey = "model_group"
	// AnsweredGroupMetadataKey, beside it, is the model group of a request
	// the gateway processor answered itself: AnsweredGroupTag.
	AnsweredGroupMetadataKey = "answered_group"

	// AttrUpstreamHostMetadata is the Envoy attribute the upstream
	// processor asks for to learn which deployment Envoy picked for this
	// attempt.
	AttrUpstreamHostMetadata = "xds.upstream_host_metadata"

	// DownstreamLogName names the access log of client requests on the
	// gateway listener; the upstream log, one entry per attempt, is
	// UpstreamLogName.
	DownstreamLogName = "llmvoy_downstream"
	UpstreamLogName   = "llmvoy_upstream"
	// DeploymentTag is the custom tag of both access logs that names the
	// deployment of an attempt (from the upstream host's metadata).
	DeploymentTag = "llmvoy_deployment"
	// ClientPathTag is the custom tag of the downstream log that holds the
	// path the client called: by the time a request is logged, its :path
	// is the one rewritten for the deployment.
	ClientPathTag = "llmvoy_client_path"
	// AnsweredGroupTag is the custom tag of the downstream log that names
	// the model group of a request the gateway processor answered itself
	// (a response-cache hit), from the request's metadata
	// (AnsweredGroupMetadataKey): no cluster says it.
	AnsweredGroupTag = "llmvoy_answered_group"

	// DefaultMaxRequestBytes is the request body limit: the gateway
	// processor gathers bodies up to it, Envoy's buffers are sized by it.
	// Vision requests carry megabytes of base64, so it is generous.
	DefaultMaxRequestBytes = 32 << 20
)

// ClusterName is the Envoy cluster of a model group, and the value of
// RouteHeader that routes to it. Group names are free text ("gpt-4o",
// "openai/gpt-4", "my model"), and cluster names end up in stat names, where
// a dot would split the name when Envoy extracts the cluster_name tag. So
// anything outside a safe alphabet is replaced and a short hash keeps
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

// HopRouteName is the route through the fallback hop of a group's
// requests that have a next step in their chain; HopStreamRouteName the
// same for streaming requests of a group with a stream_timeout. The
// gateway names them in RouteHeader.
func HopRouteName(group string) string       { return ClusterName(group) + "/fallback" }
func HopStreamRouteName(group string) string { return ClusterName(group) + "/fallback/stream" }

// HopClusterName is the cluster of a group's requests through the fallback
// hop on the gateway listener: one internal address, the hop listener.
// One per group, so the gateway listener's access log still names the
// group. The access log service ignores its attempts: the hop's router
// logs the real ones, to the group's cluster.
func HopClusterName(group string) string { return ClusterName(group) + HopClusterSuffix }

// HopClusterSuffix ends every HopClusterName.
const HopClusterSuffix = "/fallback"

// RelayRouteName is the route of a group's streaming chat completions
// through llmvoy's relay (Group.Relay), on the gateway listener and, for
// the relay's attempts, on the relay's own listener; the gateway names it
// in RouteHeader. RelayClusterName is its cluster on the gateway listener
// (one per group, like HopClusterName, and ignored by the access log
// service the same way: the relay listener's router logs the attempts).
func RelayRouteName(group string) string   { return ClusterName(group) + RelayClusterSuffix }
func RelayClusterName(group string) string { return ClusterName(group) + RelayClusterSuffix }

// RelayContinueRouteName is the relay listener's route of a relay group's
// continuation on one deployment (package relay).
func RelayContinueRouteName(group, deployment string) string {
	return RelayRouteName(group) + "/" + deployment
}

// RelayClusterSuffix ends every RelayClusterName.
const RelayClusterSuffix = "/relay"

// DirectRouteName is the route of a direct group's requests that skip the
// upstream processor; the gateway names it in RouteHeader.
func DirectRouteName(group string) string { return ClusterName(group) + "/direct" }
