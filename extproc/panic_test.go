package extproc_test

import (
	"strings"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/llmvoy/llmvoy/plan"
)

// panicking makes every message of a stream whose request headers carry
// x-test-panic: <phase> panic when that phase comes, as a bug in a
// processor would.
func panicking(t *testing.T, h *harness) {
	t.Helper()
	h.server.BeforePhase(func(req *extprocv3.ProcessingRequest) {
		if rh := req.GetRequestHeaders(); rh != nil {
			for _, kv := range rh.GetHeaders().GetHeaders() {
				if kv.GetKey() == "x-test-panic" && string(kv.GetRawValue()) == "request_headers" {
					panic("processor bug")
				}
			}
		}
		if rb := req.GetResponseBody(); rb != nil && strings.Contains(string(rb.GetBody()), "PANIC") {
			panic("processor bug in the response body")
		}
	})
}

// A panicking processor fails its request with a 500 in OpenAI's shape,
// logged once with the request id and the stack; the server lives on and
// serves the next stream.
func TestServerPanicFailsOnlyItsRequest(t *testing.T) {
	for _, processor := range []string{plan.ProcessorGateway, plan.ProcessorUpstream} {
		t.Run(processor, func(t *testing.T) {
			h := startServer(t, parseConfig(t, upstreamConfig, testEnv))
			panicking(t, h)
			body := chatBody("gpt-4o")
			stream := h.open(t, processor)
			req := postHeaders("/v1/chat/completions", body, bearer, header{"x-test-panic", "request_headers"}, header{"x-request-id", "req-panic-1"})
			if processor == plan.ProcessorUpstream {
				req = attempt(t, "dep-a", "/v1/chat/completions", body, header{"x-test-panic", "request_headers"}, header{"x-request-id", "req-panic-1"})
			}
			e := requireAPIError(t, exchange(t, stream, req), 500, "internal_error")
			require.Contains(t, e.Message, "req-panic-1")
			finish(t, stream)

			logs := h.logs.String()
			require.Equal(t, 1, strings.Count(logs, "request failed by a panic"), logs)
			require.Contains(t, logs, "request_id=req-panic-1")
			require.Contains(t, logs, "processor bug")
			require.Contains(t, logs, "panic_test.go", "the stack is logged")
			require.NotContains(t, logs, masterKey)

			// The same server serves the next request.
			if processor == plan.ProcessorGateway {
				route := postThroughGateway(t, h, "/v1/chat/completions", body, bearer)
				require.NotNil(t, route.GetRequestBody(), "want the request routed, got %v", route)
			} else {
				next := h.open(t, plan.ProcessorUpstream)
				resp := exchange(t, next, attempt(t, "dep-a", "/v1/chat/completions", body))
				require.NotNil(t, resp.GetRequestHeaders(), "want the headers answer, got %v", resp)
				finish(t, next)
			}
		})
	}
}

// Once the answer's first bytes may have reached the client (a streamed
// response body), a 500 cannot replace it: the stream ends with a gRPC
// error, which makes Envoy reset the request, and the server lives on.
func TestServerPanicMidStreamEndsTheStream(t *testing.T) {
	h := startServer(t, parseConfig(t, usageConfig, testEnv))
	panicking(t, h)
	body := []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}`)
	stream := h.open(t, plan.ProcessorUpstream)
	require.NotNil(t, exchange(t, stream, attempt(t, "dep-t", "/v1/chat/completions", body)).GetRequestHeaders())
	require.NotNil(t, exchange(t, stream, requestBody(body)).GetRequestBody())
	resp := exchange(t, stream, streamHeaders(200, "text/event-stream"))
	require.NotNil(t, resp.GetResponseHeaders())
	require.NoError(t, stream.Send(responseChunk(`data: {"choices":[{"delta":{"content":"PANIC"}}]}`+"\n\n", false)))
	_, err := stream.Recv()
	require.Equal(t, codes.Internal, status.Code(err), "err: %v", err)
	select {
	case err := <-h.ended:
		require.Equal(t, codes.Internal, status.Code(err))
	case <-time.After(10 * time.Second):
		t.Fatal("Process did not return")
	}
	require.Equal(t, 1, strings.Count(h.logs.String(), "request failed by a panic"))

	next := h.open(t, plan.ProcessorUpstream)
	require.NotNil(t, exchange(t, next, attempt(t, "dep-t", "/v1/chat/completions", body)).GetRequestHeaders())
	finish(t, next)
}
