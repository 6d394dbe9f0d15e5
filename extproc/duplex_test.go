package extproc_test

import (
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/llmvoy/llmvoy/xds"
)

func bodyChunk(b []byte, eos bool) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{
		RequestBody: &extprocv3.HttpBody{Body: b, EndOfStream: eos},
	}}
}

// A body in pieces, ended by trailers (an HTTP/2 client's): the gateway
// reads it whole, then answers the headers (with the route), the body (not
// the stream's end: the trailers are) and the trailers, in that order.
func TestGatewayFullDuplexChunksAndTrailers(t *testing.T) {
	h := startGateway(t)
	stream := h.open(t, xds.ProcessorGateway)
	body := chatBody("gpt-4o")
	sendHeaders(t, stream, postHeaders("/v1/chat/completions", body, bearer))
	require.NoError(t, stream.Send(bodyChunk(body[:10], false)))
	require.NoError(t, stream.Send(bodyChunk(body[10:], false)))
	require.NoError(t, stream.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestTrailers{
		RequestTrailers: &extprocv3.HttpTrailers{},
	}}))

	headers, err := stream.Recv()
	require.NoError(t, err)
	got, err := stream.Recv()
	require.NoError(t, err)
	streamed := got.GetRequestBody().GetResponse().GetBodyMutation().GetStreamedResponse()
	require.NotNil(t, streamed, "the body comes back whole: %v", got)
	require.Equal(t, string(body), string(streamed.GetBody()))
	require.False(t, streamed.GetEndOfStream(), "the trailers end the stream")
	trailers, err := stream.Recv()
	require.NoError(t, err)
	require.NotNil(t, trailers.GetRequestTrailers())
	finish(t, stream)

	route := routeResponse("gpt-4o", "/v1/chat/completions", "authorization")
	requireProtoEqual(t, &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{
		RequestHeaders: &extprocv3.HeadersResponse{Response: route.GetRequestBody().GetResponse()},
	}, DynamicMetadata: route.GetDynamicMetadata()}, headers)
}

// Envoy may have sent body pieces before it gets an answer that ends the
// request at its headers: they need none, and the stream ends cleanly.
func TestGatewayFullDuplexAnswerAtHeaders(t *testing.T) {
	h := startGateway(t)
	stream := h.open(t, xds.ProcessorGateway)
	body := chatBody("gpt-4o")
	require.NoError(t, stream.Send(postHeaders("/v1/chat/completions", body, header{"authorization", "Bearer sk-wrong"})))
	require.NoError(t, stream.Send(requestBody(body)))
	requireAPIError(t, recv(t, stream), 401, "auth_error")
	finish(t, stream)
}

func TestGatewayFullDuplexBodyBeforeHeaders(t *testing.T) {
	h := startGateway(t)
	stream := h.open(t, xds.ProcessorGateway)
	require.NoError(t, stream.Send(requestBody(chatBody("gpt-4o"))))
	_, err := stream.Recv()
	require.Equal(t, codes.Internal, status.Code(err), "err: %v", err)
}

func recv(t *testing.T, stream extprocv3.ExternalProcessor_ProcessClient) *extprocv3.ProcessingResponse {
	t.Helper()
	resp, err := stream.Recv()
	require.NoError(t, err)
	return resp
}
