package extproc

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/internal/eventstream"
)

func TestPassThroughQuery(t *testing.T) {
	azure := &config.Deployment{API: config.APIAzure, APIVersion: "2024-10-21"}
	gemini := &config.Deployment{API: config.APIGemini}
	require.Equal(t, "alt=sse", passThroughQuery(gemini, "alt=sse&key=sk-caller"))
	require.Equal(t, "alt=sse", passThroughQuery(gemini, "alt=sse"))
	require.Equal(t, "api-version=2024-10-21", passThroughQuery(azure, ""))
	require.Equal(t, "api-version=2025-01-01", passThroughQuery(azure, "api-version=2025-01-01"), "the client's version wins")
}

func TestPathModel(t *testing.T) {
	for rest, want := range map[string]string{
		"/v1beta/models/gemini-2.5-pro:streamGenerateContent":    "gemini-2.5-pro",
		"/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke": "anthropic.claude-3-haiku-20240307-v1:0",
		"/openai/deployments/gpt-4o-eu/chat/completions":         "gpt-4o-eu",
		"/v1/messages": "",
	} {
		require.Equal(t, want, pathModel(rest), rest)
	}
}

func TestPassedThrough(t *testing.T) {
	for name, want := range map[string]bool{
		"anthropic-version": true, "anthropic-beta": true, "content-type": true, "x-goog-user-project": true,
		":path": true, "x-forwarded-proto": true,
		"authorization": false, "x-api-key": false, "x-goog-api-key": false, "api-key": false, "cookie": false,
		"x-my-key": false, "x-llmvoy-route": false, "x-envoy-retry-on": false, "x-forwarded-for": false, "x-litellm-api-key": false,
	} {
		require.Equal(t, want, passedThrough(name, "x-my-key"), name)
	}
}

// Each provider's usage, as a pass-through answer carries it.
func TestPassThroughUsage(t *testing.T) {
	count := func(stream bool, pieces ...string) (int, int) {
		c := &usageCounter{stream: stream}
		for _, p := range pieces {
			c.write([]byte(p))
		}
		return c.split()
	}
	p, c := count(false, string(lastElement([]byte(`[{"candidates":[]},{"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":3,"thoughtsTokenCount":2}}]`))))
	require.Equal(t, [2]int{7, 5}, [2]int{p, c}, "Gemini's JSON array: the last chunk's, thoughts included")
	p, c = count(true, "data: {\"usageMetadata\":{\"promptTokenCount\":7,\"candidatesTokenCount\":1}}\n\n",
		"data: {\"usageMetadata\":{\"promptTokenCount\":7,\"candidatesTokenCount\":4}}\n\n")
	require.Equal(t, [2]int{7, 4}, [2]int{p, c}, "Gemini's SSE: the counts grow")
	p, c = count(false, `{"output":{},"usage":{"inputTokens":12,"outputTokens":9,"totalTokens":21}}`)
	require.Equal(t, [2]int{12, 9}, [2]int{p, c}, "Bedrock Converse")
	require.Equal(t, []byte(`{"a":1}`), lastElement([]byte(`{"a":1}`)))
}

func TestGoogleErrorStatus(t *testing.T) {
	require.JSONEq(t, `{"error":{"code":429,"message":"slow down","status":"RESOURCE_EXHAUSTED"}}`, string(googleError(429, "slow down")))
	require.JSONEq(t, `{"error":{"code":502,"message":"x","status":"INTERNAL"}}`, string(googleError(502, "x")))
}

// A Bedrock event stream's usage, in whatever pieces it arrives.
func TestPassThroughEventStreamUsage(t *testing.T) {
	var stream []byte
	for _, payload := range []string{
		`{"contentBlockIndex":0,"delta":{"text":"hi"},"p":"abc"}`,
		`{"usage":{"inputTokens":11,"outputTokens":4,"totalTokens":15},"metrics":{"latencyMs":3}}`,
	} {
		var err error
		stream, err = eventstream.Append(stream, eventstream.Message{
			Headers: []eventstream.Header{eventstream.String(":event-type", "x"), eventstream.String(":message-type", "event")},
			Payload: []byte(payload)})
		require.NoError(t, err)
	}
	p := &passThrough{u: upstream{usage: &usageCounter{}}, events: &eventstream.Decoder{}}
	for i := 0; i < len(stream); i += 7 {
		p.readEvents(stream[i:min(i+7, len(stream))])
	}
	prompt, completion := p.u.usage.split()
	require.Equal(t, [2]int{11, 4}, [2]int{prompt, completion})

	// InvokeModel's stream: the model's own events, base64 in "bytes".
	chunk, err := eventstream.Append(nil, eventstream.Message{Payload: []byte(`{"bytes":"eyJ0eXBlIjoibWVzc2FnZV9kZWx0YSIsInVzYWdlIjp7Im91dHB1dF90b2tlbnMiOjl9fQ=="}`)})
	require.NoError(t, err)
	p = &passThrough{u: upstream{usage: &usageCounter{}}, events: &eventstream.Decoder{}}
	p.readEvents(chunk)
	_, completion = p.u.usage.split()
	require.Equal(t, 9, completion)
}
