package extproc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/llmvoy/llmvoy/plan"
)

func TestServerRejectsUnknownProcessor(t *testing.T) {
	h := startGateway(t)
	for _, processor := range []string{"", "Gateway", "router"} {
		t.Run(fmt.Sprintf("%q", processor), func(t *testing.T) {
			stream := h.open(t, processor)
			// The send may or may not see the stream end; the status is in Recv.
			_ = stream.Send(requestHeaders("GET", "/v1/models", true, bearer))
			_, err := stream.Recv()
			require.Equal(t, codes.InvalidArgument, status.Code(err), "err: %v", err)
			require.Contains(t, status.Convert(err).Message(), fmt.Sprintf("unknown processor %q", processor))
		})
	}
}

func TestServerFailsOnPhaseNotAskedFor(t *testing.T) {
	h := startGateway(t)
	stream := h.open(t, plan.ProcessorGateway)
	require.NoError(t, stream.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{
		ResponseHeaders: &extprocv3.HttpHeaders{},
	}}))
	_, err := stream.Recv()
	require.Equal(t, codes.Internal, status.Code(err), "err: %v", err)
}

// Envoy resets the stream when the client goes away mid-request: the server
// returns without an error of its own and goes on serving.
func TestServerEndsWithClientCancel(t *testing.T) {
	h := startGateway(t)
	ctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(context.Background(), plan.ProcessorHeader, plan.ProcessorGateway))
	defer cancel()
	stream, err := h.client.Process(ctx)
	require.NoError(t, err)
	body := chatBody("gpt-4o")
	require.NoError(t, stream.Send(postHeaders("/v1/chat/completions", body, bearer)))
	require.NoError(t, stream.Send(requestBody(body)))
	_, err = stream.Recv()
	require.NoError(t, err)
	drain(h.ended)
	cancel()
	select {
	case err := <-h.ended:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Process did not return after the stream was cancelled")
	}
	requireProtoEqual(t, routeResponse("gpt-4o", "/v1/chat/completions", "authorization"), postThroughGateway(t, h, "/v1/chat/completions", body, bearer))
}

func drain(c chan error) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

// Many requests at once, each a gateway stream and an upstream attempt, while
// the config is reloaded: run with -race.
func TestServerConcurrentStreams(t *testing.T) {
	cfg := parseConfig(t, upstreamConfig, testEnv)
	h := startServer(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	attemptMsg := attempt(t, "dep-a", "/v1/chat/completions", nil)
	stop := make(chan struct{})
	p := mustPlan(t, cfg)
	var reloads sync.WaitGroup
	reloads.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				h.server.SetPlan(p)
				time.Sleep(100 * time.Microsecond)
			}
		}
	})

	const n = 50
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			msg := proto.CloneOf(attemptMsg)
			if err := oneRequest(ctx, h.client, i, msg); err != nil {
				errs <- fmt.Errorf("request %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(stop)
	reloads.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// oneRequest plays a gateway stream and an upstream attempt without the
// testing helpers, which must not stop a test from another goroutine.
func oneRequest(ctx context.Context, client extprocv3.ExternalProcessorClient, i int, attemptHeaders *extprocv3.ProcessingRequest) error {
	body := fmt.Appendf(nil, `{"model":"gpt-4o","messages":[{"role":"user","content":"request %d"}]}`, i)

	gw, err := client.Process(metadata.AppendToOutgoingContext(ctx, plan.ProcessorHeader, plan.ProcessorGateway))
	if err != nil {
		return err
	}
	answers, err := play(gw, true, postHeaders("/v1/chat/completions", body, bearer), requestBody(body))
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	route, err := foldDuplex(answers[0], answers[1], body)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	if !proto.Equal(routeResponse("gpt-4o", "/v1/chat/completions", "authorization"), route) {
		return fmt.Errorf("gateway: unexpected route answer %v", route)
	}

	up, err := client.Process(metadata.AppendToOutgoingContext(ctx, plan.ProcessorHeader, plan.ProcessorUpstream))
	if err != nil {
		return err
	}
	answers, err = play(up, false, attemptHeaders, requestBody(body))
	if err != nil {
		return fmt.Errorf("upstream: %w", err)
	}
	want := fmt.Sprintf(`{"model":"gpt-4o-2024-08-06","messages":[{"role":"user","content":"request %d"}]}`, i)
	if got := string(answers[1].GetRequestBody().GetResponse().GetBodyMutation().GetBody()); got != want {
		return fmt.Errorf("upstream: body %s, want %s", got, want)
	}
	return nil
}

// play sends the phases, collects an answer for each and closes the
// stream. In turn (the upstream filter), each phase waits for its answer;
// all at once (the gateway's full-duplex mode), every phase is sent first.
func play(stream extprocv3.ExternalProcessor_ProcessClient, allAtOnce bool, reqs ...*extprocv3.ProcessingRequest) ([]*extprocv3.ProcessingResponse, error) {
	var out []*extprocv3.ProcessingResponse
	for i, req := range reqs {
		if err := stream.Send(req); err != nil {
			return nil, err
		}
		if allAtOnce && i < len(reqs)-1 {
			continue
		}
		for len(out) <= i {
			resp, err := stream.Recv()
			if err != nil {
				return nil, err
			}
			if resp.GetImmediateResponse() != nil {
				return nil, fmt.Errorf("immediate response %d: %s", resp.GetImmediateResponse().GetStatus().GetCode(), resp.GetImmediateResponse().GetBody())
			}
			out = append(out, resp)
		}
	}
	return out, endStream(stream)
}

// endStream closes the stream as Envoy does and checks the server ends it.
func endStream(stream extprocv3.ExternalProcessor_ProcessClient) error {
	if err := stream.CloseSend(); err != nil {
		return err
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("stream end: %v", err)
	}
	return nil
}
