package xds

import (
	"time"

	mutationv3 "github.com/envoyproxy/go-control-plane/envoy/config/common/mutation_rules/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/llmvoy/llmvoy/plan"
)

// extProcMessageTimeout bounds each ext_proc round trip. Envoy's 200 ms
// default is too short for a multi-megabyte vision body on a busy machine.
const extProcMessageTimeout = 10 * time.Second

// gatewayExtProc is the listener filter that authenticates, resolves the model
// group and answers local endpoints. It needs the request headers (auth, local
// endpoints) and the request body (the model name); nothing of the response,
// so those phases are skipped. The body is FULL_DUPLEX_STREAMED: Envoy sends
// it right after the headers, without waiting for their answer, and holds
// the headers until llmvoy answers both after reading the body: one round
// trip instead of the two of BUFFERED (headers answered, then the body).
// That mode needs the trailers phase on, and drops the content-length the
// buffer filters around this one take care of (see makeListener).
func gatewayExtProc(o Options) *extprocv3.ExternalProcessor {
	return &extprocv3.ExternalProcessor{
		GrpcService:    extProcService(o, plan.ProcessorGateway),
		MessageTimeout: durationpb.New(extProcMessageTimeout),
		ProcessingMode: &extprocv3.ProcessingMode{
			RequestHeaderMode:   extprocv3.ProcessingMode_SEND,
			RequestBodyMode:     extprocv3.ProcessingMode_FULL_DUPLEX_STREAMED,
			RequestTrailerMode:  extprocv3.ProcessingMode_SEND,
			ResponseHeaderMode:  extprocv3.ProcessingMode_SKIP,
			ResponseBodyMode:    extprocv3.ProcessingMode_NONE,
			ResponseTrailerMode: extprocv3.ProcessingMode_SKIP,
		},
		// A streaming request's per-attempt timeout (stream_timeout) is
		// set through x-envoy-upstream-rq-per-try-timeout-ms.
		MutationRules: &mutationv3.HeaderMutationRules{AllowEnvoy: wrapperspb.Bool(true)},
		// The client's path, for the access log (ClientPathMetadataKey).
		MetadataOptions: &extprocv3.MetadataOptions{ReceivingNamespaces: &extprocv3.MetadataOptions_MetadataNamespaces{
			Untyped: []string{plan.MetadataNamespace},
		}},
		StatPrefix: "gateway",
	}
}

// upstreamExtProc runs once per attempt, after Envoy picked the deployment.
// The headers phase carries the picked host's metadata (which deployment) and
// rewrites path, authority and credentials; the body phase rewrites the model.
// Headers must be SENT even though the decision could wait for the body:
// with headers skipped, Envoy forwards them before the body phase can mutate
// them.
func upstreamExtProc(o Options) *extprocv3.ExternalProcessor {
	return &extprocv3.ExternalProcessor{
		GrpcService:    extProcService(o, plan.ProcessorUpstream),
		MessageTimeout: durationpb.New(extProcMessageTimeout),
		ProcessingMode: &extprocv3.ProcessingMode{
			RequestHeaderMode:   extprocv3.ProcessingMode_SEND,
			RequestBodyMode:     extprocv3.ProcessingMode_BUFFERED,
			RequestTrailerMode:  extprocv3.ProcessingMode_SKIP,
			ResponseHeaderMode:  extprocv3.ProcessingMode_SKIP,
			ResponseBodyMode:    extprocv3.ProcessingMode_NONE,
			ResponseTrailerMode: extprocv3.ProcessingMode_SKIP,
		},
		RequestAttributes: []string{plan.AttrUpstreamHostMetadata},
		// Providers with their own wire format ask, per attempt, for the
		// response phases they need to translate (mode_override).
		AllowModeOverride: true,
		// :authority must follow the deployment's api_base.
		MutationRules: &mutationv3.HeaderMutationRules{AllowAllRouting: wrapperspb.Bool(true)},
		StatPrefix:    "upstream",
	}
}

func extProcService(o Options, processor string) *corev3.GrpcService {
	return &corev3.GrpcService{
		TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: o.ExtProcCluster}},
		InitialMetadata: []*corev3.HeaderValue{{Key: plan.ProcessorHeader, Value: processor}},
	}
}
