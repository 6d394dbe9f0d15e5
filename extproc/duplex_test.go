package extproc_test

import (
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/llmvoy/llmvoy/extproc"
	"github.com/llmvoy/llmvoy/plan"
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
	stream := h.open(t, plan.ProcessorGateway)
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
	stream := h.open(t, plan.ProcessorGateway)
	body := chatBody("gpt-4o")
	require.NoError(t, stream.Send(postHeaders("/v1/chat/completions", body, header{"authorization", "Bearer sk-wrong"})))
	require.NoError(t, stream.Send(requestBody(body)))
	requireAPIError(t, recv(t, stream), 401, "auth_error")
	finish(t, stream)
}

func TestGatewayFullDuplexBodyBeforeHeaders(t *testing.T) {
	h := startGateway(t)
	stream := h.open(t, plan.ProcessorGateway)
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

// The bodies gateway streams hold together are bounded: past the bound a
// request is refused (503, retry shortly) instead of held, and what a
// stream held is given back once its body is answered.
func TestGatewayBoundsTheBodiesItHolds(t *testing.T) {
	body := chatBody("gpt-4o")
	h := startServerWith(t, parseConfig(t, gatewayConfig, testEnv), func(s *extproc.Server) {
		s.SetHeldBodyLimit(int64(len(body) + 10))
	})
	first := h.open(t, plan.ProcessorGateway)
	for len(h.received) > 0 {
		<-h.received
	}
	sendHeaders(t, first, postHeaders("/v1/chat/completions", body, bearer))
	require.NoError(t, first.Send(bodyChunk(body[:20], false)))
	for range 2 { // the server has read the headers and the first piece
		select {
		case <-h.received:
		case <-time.After(10 * time.Second):
			t.Fatal("the server did not read the first request")
		}
	}

	second := h.open(t, plan.ProcessorGateway)
	sendHeaders(t, second, postHeaders("/v1/chat/completions", body, bearer))
	r := requireImmediate(t, exchange(t, second, bodyChunk(body, true)))
	requireAPIErrorReply(t, r, 503, "service_unavailable")
	require.Equal(t, "1", r.headers["retry-after"])
	finish(t, second)

	// The first goes on, and gives its bytes back when answered.
	require.NoError(t, first.Send(bodyChunk(body[20:], true)))
	headers, err := first.Recv()
	require.NoError(t, err)
	require.NotNil(t, headers.GetRequestHeaders(), "routed: %v", headers)
	_, err = first.Recv()
	require.NoError(t, err)
	finish(t, first)
	for range 3 {
		requireProtoEqual(t, routeResponse("gpt-4o", "/v1/chat/completions", "authorization"),
			postThroughGateway(t, h, "/v1/chat/completions", body, bearer))
	}
}
