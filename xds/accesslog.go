package xds

import (
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	grpcalsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/grpc/v3"
	metadatav3 "github.com/envoyproxy/go-control-plane/envoy/type/metadata/v3"
	tracingv3 "github.com/envoyproxy/go-control-plane/envoy/type/tracing/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/llmvoy/llmvoy/plan"
)

// upstreamLogFlush is how long Envoy may hold attempt outcomes before
// sending them: the delay before a failing deployment's cooldown starts.
const upstreamLogFlush = 20 * time.Millisecond

// upstreamLog streams the outcome of every upstream attempt (status, the
// deployment, Retry-After, why it failed) to llmvoy's router state over
// gRPC, off the request path: Envoy batches entries and never waits.
func upstreamLog(o Options) *accesslogv3.AccessLog {
	return &accesslogv3.AccessLog{
		Name: "envoy.access_loggers.http_grpc",
		ConfigType: &accesslogv3.AccessLog_TypedConfig{TypedConfig: mustAny(&grpcalsv3.HttpGrpcAccessLogConfig{
			CommonConfig: &grpcalsv3.CommonGrpcAccessLogConfig{
				LogName: plan.UpstreamLogName,
				GrpcService: &corev3.GrpcService{
					TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: o.ExtProcCluster}},
				},
				TransportApiVersion: corev3.ApiVersion_V3,
				BufferFlushInterval: durationpb.New(upstreamLogFlush),
				CustomTags: []*tracingv3.CustomTag{{
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
			AdditionalResponseHeadersToLog: []string{"retry-after"},
		})},
	}
}
