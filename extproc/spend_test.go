package extproc_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/metadata"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/counters"
	"github.com/llmvoy/llmvoy/extproc"
	llmkeys "github.com/llmvoy/llmvoy/keys"
	"github.com/llmvoy/llmvoy/plan"
	"github.com/llmvoy/llmvoy/router"
)

// usageConfig has a priced deployment whose tokens are counted (a tpm limit
// under usage-based routing): its answers are read for usage.
const usageConfig = `
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_base: http://h:1/v1
      api_key: os.environ/OPENAI_API_KEY
      tpm: 100000
      input_cost_per_token: 0.001
      output_cost_per_token: 0.002
    model_info:
      id: dep-t
router_settings:
  routing_strategy: usage-based-routing-v2
general_settings:
  master_key: os.environ/MASTER_KEY
`

// startServerWith is startServer with setup applied to the server before
// it serves, as llmvoy run sets keys and metrics.
func startServerWith(t *testing.T, cfg *config.Config, setup func(*extproc.Server)) *harness {
	t.Helper()
	return newHarness(t, cfg, router.NewCooldowns(cfg), setup)
}

// withKey is a server with virtual keys in a SQLite store holding one key,
// whose token it returns with the store's request path view.
func withKey(t *testing.T, yaml string) (*harness, *llmkeys.Keys, string) {
	t.Helper()
	ctx := context.Background()
	store, err := llmkeys.Open(ctx, "", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	now := time.UnixMilli(time.Now().UnixMilli()).UTC()
	token := llmkeys.Hash("sk-app-spend")
	require.NoError(t, store.Insert(ctx, &llmkeys.Key{Token: token, KeyName: "sk-...pend", CreatedAt: now, UpdatedAt: now}))
	k := llmkeys.New(store, llmkeys.Options{KeepLogs: true})
	h := startServerWith(t, parseConfig(t, yaml, testEnv), func(s *extproc.Server) { s.SetKeys(k, counters.NewLocal()) })
	return h, k, token
}

// streamHeaders is the response headers phase of an answer.
func streamHeaders(status int, contentType string) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{
		ResponseHeaders: &extprocv3.HttpHeaders{Headers: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
			{Key: ":status", RawValue: []byte("200")},
			{Key: "content-type", RawValue: []byte(contentType)},
		}}},
	}}
}

// responseChunk is a STREAMED response body phase: one piece of the answer.
func responseChunk(piece string, end bool) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{
		ResponseBody: &extprocv3.HttpBody{Body: []byte(piece), EndOfStream: end},
	}}
}

const (
	contentChunk = `data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hello there, this is forty characters..."}}]}` + "\n\n"
	usageChunk   = `data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":20,"total_tokens":30}}` + "\n\n"
	doneChunk    = "data: [DONE]\n\n"
)

// startStream plays an attempt of a streaming chat request made with the
// virtual key token up to the answer's headers, and returns the body the
// deployment was sent (the client's when unchanged).
func startStream(t *testing.T, server *extproc.Server, stream extprocv3.ExternalProcessor_ProcessClient, token, body string) string {
	t.Helper()
	id := fmt.Sprintf("req-%s-%d", t.Name(), streams.Add(1))
	server.Routed(id, "/v1/chat/completions", token, "")
	resp := exchange(t, stream, attempt(t, "dep-t", "/v1/chat/completions", []byte(body), header{"x-request-id", id}))
	require.NotNil(t, resp.GetRequestHeaders(), "got %v", resp)
	resp = exchange(t, stream, requestBody([]byte(body)))
	require.NotNil(t, resp.GetRequestBody(), "got %v", resp)
	sent := body
	if b := resp.GetRequestBody().GetResponse().GetBodyMutation().GetBody(); b != nil {
		sent = string(b)
	}
	resp = exchange(t, stream, streamHeaders(200, "text/event-stream"))
	require.Equal(t, filterv3.ProcessingMode_STREAMED, resp.GetModeOverride().GetResponseBodyMode(), "chunks pass as they come")
	return sent
}

// streams numbers the test streams' request ids.
var streams atomic.Int64

// passed is what of a streamed piece goes on to the client.
func passed(t *testing.T, resp *extprocv3.ProcessingResponse, piece string) string {
	t.Helper()
	rb := resp.GetResponseBody()
	require.NotNil(t, rb, "got %v", resp)
	switch m := rb.GetResponse().GetBodyMutation().GetMutation().(type) {
	case nil:
		return piece
	case *extprocv3.BodyMutation_Body:
		return string(m.Body)
	case *extprocv3.BodyMutation_ClearBody:
		return ""
	}
	t.Fatalf("unexpected mutation %v", rb)
	return ""
}

func spendOf(t *testing.T, k *llmkeys.Keys, token string) float64 {
	t.Helper()
	key, err := k.Lookup(context.Background(), token)
	require.NoError(t, err)
	return key.Spend
}

// A priced stream the client did not ask usage for is asked for it (so its
// spend is the provider's count, not an estimate), and the usage chunk that
// llmvoy asked for does not reach the client.
func TestUpstreamAsksPricedStreamsForUsage(t *testing.T) {
	h, k, token := withKey(t, usageConfig)
	stream := h.open(t, plan.ProcessorUpstream)
	sent := startStream(t, h.server, stream, token, `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}`)
	require.JSONEq(t, `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`, sent)

	var client strings.Builder
	// The usage chunk arrives split across two pieces, with [DONE] after it.
	pieces := []string{contentChunk, usageChunk[:40], usageChunk[40:] + doneChunk}
	for i, p := range pieces {
		client.WriteString(passed(t, exchange(t, stream, responseChunk(p, i == len(pieces)-1)), p))
	}
	require.Equal(t, contentChunk+doneChunk, client.String())
	finish(t, stream)
	// 10 prompt and 20 completion tokens: the provider's count.
	require.InDelta(t, 10*0.001+20*0.002, spendOf(t, k, token), 1e-9)
}

// A client that asked for usage gets the stream as the provider sent it.
func TestUpstreamKeepsUsageTheClientAskedFor(t *testing.T) {
	h, k, token := withKey(t, usageConfig)
	stream := h.open(t, plan.ProcessorUpstream)
	body := `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`
	require.Equal(t, body, startStream(t, h.server, stream, token, body))
	for i, p := range []string{contentChunk, usageChunk, doneChunk} {
		resp := exchange(t, stream, responseChunk(p, i == 2))
		require.Nil(t, resp.GetResponseBody().GetResponse().GetBodyMutation(), "piece %d passes untouched", i)
	}
	finish(t, stream)
	require.InDelta(t, 10*0.001+20*0.002, spendOf(t, k, token), 1e-9)
}

// A client that leaves mid-stream is charged for what was produced: Envoy
// cancels the ext_proc stream, and the prompt estimate plus the streamed
// text are charged, once.
func TestUpstreamChargesAnAbandonedStream(t *testing.T) {
	h, k, token := withKey(t, usageConfig)
	ctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(context.Background(), plan.ProcessorHeader, plan.ProcessorUpstream))
	defer cancel()
	stream, err := h.client.Process(ctx)
	require.NoError(t, err)
	prompt := strings.Repeat("a", 400) // 100 tokens, estimated
	startStream(t, h.server, stream, token, `{"model":"gpt-4o","messages":[{"role":"user","content":"`+prompt+`"}],"stream":true}`)
	exchange(t, stream, responseChunk(contentChunk, false))
	exchange(t, stream, responseChunk(contentChunk, false))
	require.Zero(t, spendOf(t, k, token), "nothing charged before the end")
	cancel()
	select {
	case <-h.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("Process did not return after the stream was cancelled")
	}
	// 80 characters streamed: 20 tokens.
	require.InDelta(t, 100*0.001+20*0.002, spendOf(t, k, token), 1e-9)

	// The stream seen to its end is charged once, not again when it closes.
	stream = h.open(t, plan.ProcessorUpstream)
	startStream(t, h.server, stream, token, `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}`)
	exchange(t, stream, responseChunk(contentChunk+usageChunk+doneChunk, true))
	finish(t, stream)
	require.InDelta(t, 100*0.001+20*0.002+10*0.001+20*0.002, spendOf(t, k, token), 1e-9)
	require.NoError(t, k.Flush(context.Background()))
	logs, err := k.Store().SpendLogs(context.Background(), llmkeys.SpendFilter{APIKey: token})
	require.NoError(t, err)
	require.Len(t, logs, 2)
}

// An answer that failed, or that never began, costs nothing.
func TestUpstreamDoesNotChargeAnAnswerThatNeverBegan(t *testing.T) {
	h, k, token := withKey(t, usageConfig)
	stream := h.open(t, plan.ProcessorUpstream)
	body := []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}`)
	h.server.Routed("req-never-began", "/v1/chat/completions", token, "")
	exchange(t, stream, attempt(t, "dep-t", "/v1/chat/completions", body, header{"x-request-id", "req-never-began"}))
	exchange(t, stream, requestBody(body))
	finish(t, stream) // the upstream reset before it answered
	select {
	case <-h.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("Process did not return")
	}
	require.Zero(t, spendOf(t, k, token))
}
