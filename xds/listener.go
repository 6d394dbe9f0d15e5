package xds

import (
	"strconv"
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	grpcalsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/grpc/v3"
	bufferv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/buffer/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	metadatav3 "github.com/envoyproxy/go-control-plane/envoy/type/metadata/v3"
	tracingv3 "github.com/envoyproxy/go-control-plane/envoy/type/tracing/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/llmvoy/llmvoy/plan"
)

func makeListener(o Options) *listenerv3.Listener {
	addr := o.ListenAddress
	if addr == "" {
		addr = "0.0.0.0"
	}
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix: "llmvoy",
		CodecType:  hcmv3.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			RouteConfigName: RouteConfigName,
			ConfigSource:    adsSource(),
		}},
		HttpFilters: []*hcmv3.HttpFilter{
			// Browsers' preflight requests are answered here, before any
			// key is asked for (they carry none), as LiteLLM answers them;
			// the policy is the virtual host's (corsPolicy).
			{Name: corsFilterName, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&corsv3.Cors{})}},
			// Then, with nothing buffering ahead of it: the headers reach
			// llmvoy as soon as they arrive, so a request without a valid
			// key is refused before its body is read. llmvoy gathers the
			// body of an authenticated one and answers 413 past the limit.
			{Name: "envoy.filters.http.ext_proc", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(gatewayExtProc(o))}},
			// Again after it, for the content-length its body mode drops:
			// the buffer filter sets it once the body is complete, so
			// deployments get a Content-Length, not a chunked body. The
			// gateway may have made the body a little longer (the model).
			bufferFilter("llmvoy.request_length", o.MaxRequestBytes+rewriteAllowance),
			{Name: wellknown.Router, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&routerv3.Router{
				// x-envoy-* headers are Envoy internals: providers and
				// clients of an LLM gateway have no use for them.
				SuppressEnvoyHeaders: true,
				UpstreamLog:          []*accesslogv3.AccessLog{upstreamLog(o)},
			})}},
		},
		// One entry per client request, for llmvoy's metrics: a gRPC
		// access log is batched and sent off the request path, where
		// counting in the gateway processor would need its response
		// phases (two more ext_proc messages per request) to learn the
		// status.
		AccessLog: []*accesslogv3.AccessLog{downstreamLog(o)},
		// Every request is external: Envoy replaces any x-request-id a
		// client sends with its own, and llmvoy keys spend, parallel slots,
		// fallback state and log joins on it (a client-chosen id could be
		// reused to be charged once, or to collide with another's state).
		// The client's address is the connection's, not x-forwarded-for.
		UseRemoteAddress: wrapperspb.Bool(true),
		InternalAddressConfig: &hcmv3.HttpConnectionManager_InternalAddressConfig{
			CidrRanges: []*corev3.CidrRange{{AddressPrefix: "255.255.255.255", PrefixLen: wrapperspb.UInt32(32)}},
		},
		ServerName: "llmvoy",
		// A client gets this long to send its headers, and its whole
		// request: a slow sender cannot hold a connection and its buffers
		// open indefinitely. Streams idle for Envoy's default 5 minutes
		// (stream_idle_timeout) are closed too.
		RequestHeadersTimeout: durationpb.New(requestHeadersTimeout),
		// x-llmvoy_key or x-api_key would pass every check on header
		// names and then be read as x-llmvoy-key or x-api-key by a server
		// that folds "_" into "-" (CGI, WSGI): such headers are dropped.
		CommonHttpProtocolOptions: &corev3.HttpProtocolOptions{
			HeadersWithUnderscoresAction: corev3.HttpProtocolOptions_DROP_HEADER,
		},
		RequestTimeout:   durationpb.New(requestReceiveTimeout),
		NormalizePath:    wrapperspb.Bool(true),
		MergeSlashes:     true,
		LocalReplyConfig: localReplyConfig(o),
	}
	return &listenerv3.Listener{
		Name: ListenerName,
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address:       addr,
			PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: o.ListenPort},
		}}},
		// Whole request bodies are buffered (the model name is in them, and
		// retries and fallbacks replay them), so the per-connection limit is
		// the request size limit; the gateway processor answers 413 past it
		// (it gathers the body of an authenticated request itself).
		PerConnectionBufferLimitBytes: wrapperspb.UInt32(o.MaxRequestBytes),
		FilterChains: []*listenerv3.FilterChain{{
			Filters: []*listenerv3.Filter{{
				Name:       wellknown.HTTPConnectionManager,
				ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(hcm)},
			}},
		}},
	}
}

// downstreamLog streams one entry per client request (status, path, how
// many attempts it took, timings, the deployment of its last attempt) to
// the same service as the upstream log, under its own log name.
func downstreamLog(o Options) *accesslogv3.AccessLog {
	return &accesslogv3.AccessLog{
		Name: "envoy.access_loggers.http_grpc",
		ConfigType: &accesslogv3.AccessLog_TypedConfig{TypedConfig: mustAny(&grpcalsv3.HttpGrpcAccessLogConfig{
			CommonConfig: &grpcalsv3.CommonGrpcAccessLogConfig{
				LogName: plan.DownstreamLogName,
				GrpcService: &corev3.GrpcService{
					TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: o.ExtProcCluster}},
				},
				TransportApiVersion: corev3.ApiVersion_V3,
				BufferFlushInterval: durationpb.New(upstreamLogFlush),
				CustomTags: []*tracingv3.CustomTag{{
					Tag: plan.ClientPathTag,
					Type: &tracingv3.CustomTag_Metadata_{Metadata: &tracingv3.CustomTag_Metadata{
						Kind: &metadatav3.MetadataKind{Kind: &metadatav3.MetadataKind_Request_{Request: &metadatav3.MetadataKind_Request{}}},
						MetadataKey: &metadatav3.MetadataKey{
							Key:  plan.MetadataNamespace,
							Path: []*metadatav3.MetadataKey_PathSegment{{Segment: &metadatav3.MetadataKey_PathSegment_Key{Key: plan.ClientPathMetadataKey}}},
						},
					}},
				}, {
					Tag: plan.AnsweredGroupTag,
					Type: &tracingv3.CustomTag_Metadata_{Metadata: &tracingv3.CustomTag_Metadata{
						Kind: &metadatav3.MetadataKind{Kind: &metadatav3.MetadataKind_Request_{Request: &metadatav3.MetadataKind_Request{}}},
						MetadataKey: &metadatav3.MetadataKey{
							Key:  plan.MetadataNamespace,
							Path: []*metadatav3.MetadataKey_PathSegment{{Segment: &metadatav3.MetadataKey_PathSegment_Key{Key: plan.AnsweredGroupMetadataKey}}},
						},
					}},
				}, {
					Tag: plan.DeploymentTag,
					Type: &tracingv3.CustomTag_Metadata_{Metadata: &tracingv3.CustomTag_Metadata{
						Kind: &metadatav3.MetadataKind{Kind: &metadatav3.MetadataKind_Host_{Host: &metadatav3.MetadataKind_Host{}}},
						MetadataKey: &metadatav3.MetadataKey{
							Key:  plan.MetadataNamespace,
							Path: []*metadatav3.MetadataKey_PathSegment{{Segment: &metadatav3.MetadataKey_PathSegment_Key{Key: plan.MetadataDeploymentID}}},
						},
					}},
				}},
			},
			// A stream's first byte is its first token.
			// x-llmvoy-model-id: the deployment of a request through the
			// fallback hop, whose host is the hop's.
			AdditionalResponseHeadersToLog: []string{"content-type", plan.ModelIDHeader},
		})},
	}
}

// requestHeadersTimeout and requestReceiveTimeout bound how long a client
// may take to send its headers, and its whole request (a 32 MiB body at
// 2 Mbit/s takes about two minutes).
const (
	requestHeadersTimeout = 10 * time.Second
	requestReceiveTimeout = 5 * time.Minute
)

// rewriteAllowance is how much longer than the client's a body the gateway
// rewrote (its model) may be.
const rewriteAllowance = 64 << 10

func bufferFilter(name string, limit uint32) *hcmv3.HttpFilter {
	return &hcmv3.HttpFilter{Name: name, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&bufferv3.Buffer{
		MaxRequestBytes: wrapperspb.UInt32(limit),
	})}}
}

func adsSource() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ResourceApiVersion:    corev3.ApiVersion_V3,
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
	}
}

// localReplyConfig gives replies that Envoy itself generates (no deployment
// available, upstream unreachable, timeout, body too large) OpenAI's error
// shape, so SDKs raise their usual typed errors. Mappers match on response
// flags or on 413, never on status alone: the gateway processor's own
// immediate responses are already OpenAI-shaped and must pass untouched.
//
// A Messages client (Claude Code) gets the same replies in Anthropic's
// shape: the gateway processor put the path it called in the request's
// metadata, and those mappers come first.
func localReplyConfig(o Options) *hcmv3.LocalReplyConfig {
	type reply struct {
		filter         *accessLogFilter
		status         uint32
		typ, anthropic string
		message        string
	}
	replies := []reply{
		{statusFilter(413), 413, "invalid_request_error", "request_too_large",
			"request body too large: the limit is " + byteSize(o.MaxRequestBytes)},
		{flagFilter("NC"), 404, "invalid_request_error", "not_found_error",
			"no route for this request"},
		{flagFilter("UH", "NR"), 503, "service_unavailable", "overloaded_error",
			"no deployment is available for this model group right now (all are cooling down or unhealthy)"},
		// LiteLLM's statuses: a timeout is its litellm.Timeout (408), a
		// deployment it could not reach its APIConnectionError (500,
		// typed internal_server_error). Both are retried by the OpenAI
		// and Anthropic SDKs, as 504 and 502 would be. The timeout keeps
		// its own type (LiteLLM's is invalid_request_error: docs/compat.md).
		{flagFilter("UT", "SI"), 408, "timeout", "timeout_error",
			"the model deployment did not answer in time"},
		{flagFilter("UO"), 503, "service_unavailable", "overloaded_error",
			"llmvoy is at its limit of requests in flight for this model group; retry shortly"},
		{flagFilter("OM"), 503, "service_unavailable", "overloaded_error",
			"llmvoy is overloaded (its memory limit); retry shortly"},
		// Envoy's reason (a reset, a refused connection) goes to the
		// access log, not to clients: it names Envoy's internals.
		{flagFilter("UF", "UC", "URX", "UR", "LR", "UPE", "UMSDR"), 500, "internal_server_error", "api_error",
			"could not get a response from the model deployment"},
	}
	var mappers []*hcmv3.ResponseMapper
	for _, r := range replies {
		mappers = append(mappers, anthropicErrorMapper(r.filter, r.status, r.anthropic, r.message))
	}
	for _, r := range replies {
		mappers = append(mappers, errorMapper(r.filter, r.status, r.typ, r.message))
	}
	return &hcmv3.LocalReplyConfig{Mappers: mappers}
}

// messagesClient matches a request to Anthropic's Messages API, or to the
// /anthropic pass-through route (Anthropic's SDKs), by the client path the
// gateway processor recorded in its metadata.
func messagesClient() *accessLogFilter {
	return &accessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_MetadataFilter{MetadataFilter: &accesslogv3.MetadataFilter{
		Matcher: &matcherv3.MetadataMatcher{
			Filter: plan.MetadataNamespace,
			Path:   []*matcherv3.MetadataMatcher_PathSegment{{Segment: &matcherv3.MetadataMatcher_PathSegment_Key{Key: plan.ClientPathMetadataKey}}},
			Value: &matcherv3.ValueMatcher{MatchPattern: &matcherv3.ValueMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{
				MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: `^((/v1)?/messages(/count_tokens)?|/anthropic/.*)$`}},
			}}},
		},
		MatchIfKeyNotFound: wrapperspb.Bool(false),
	}}}
}

// anthropicErrorMapper is errorMapper for Messages clients: Anthropic's
// {"type":"error","error":{"type","message"}}.
func anthropicErrorMapper(filter *accessLogFilter, status uint32, typ, message string) *hcmv3.ResponseMapper {
	body := &structpb.Struct{Fields: map[string]*structpb.Value{
		"type": structpb.NewStringValue("error"),
		"error": structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
			"type":    structpb.NewStringValue(typ),
			"message": structpb.NewStringValue(message),
		}}),
	}}
	and := &accessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_AndFilter{AndFilter: &accesslogv3.AndFilter{
		Filters: []*accessLogFilter{messagesClient(), filter},
	}}}
	return &hcmv3.ResponseMapper{
		Filter:     and,
		StatusCode: wrapperspb.UInt32(status),
		BodyFormatOverride: &corev3.SubstitutionFormatString{
			Format:      &corev3.SubstitutionFormatString_JsonFormat{JsonFormat: body},
			ContentType: "application/json",
		},
	}
}

func errorMapper(filter *accessLogFilter, status uint32, typ, message string) *hcmv3.ResponseMapper {
	body := &structpb.Struct{Fields: map[string]*structpb.Value{
		"error": structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
			"message": structpb.NewStringValue(message),
			"type":    structpb.NewStringValue(typ),
			"param":   structpb.NewNullValue(),
			// Not %RESPONSE_CODE%: a JSON format renders a lone command
			// typed, and OpenAI's code is a string.
			"code": structpb.NewStringValue(strconv.Itoa(int(status))),
		}}),
	}}
	return &hcmv3.ResponseMapper{
		Filter:     filter,
		StatusCode: wrapperspb.UInt32(status),
		BodyFormatOverride: &corev3.SubstitutionFormatString{
			Format:      &corev3.SubstitutionFormatString_JsonFormat{JsonFormat: body},
			ContentType: "application/json",
		},
	}
}
