package relay

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func chunkJSON(id, content string, finish *string) []byte {
	delta := map[string]any{}
	if content != "" {
		delta["content"] = content
	}
	b, _ := json.Marshal(map[string]any{"id": id, "object": "chat.completion.chunk",
		"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}})
	return b
}

func TestAnswerSplicesAContinuation(t *testing.T) {
	var a chatAnswer
	role := []byte(`{"id":"first","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`)
	for _, ev := range [][]byte{role, chunkJSON("first", "Once upon ", nil), chunkJSON("first", "a ", nil)} {
		out, v := a.event(ev)
		require.Equal(t, forward, v)
		require.Equal(t, ev, out, "the first attempt's events go on as they are")
	}
	require.True(t, a.continuable())
	require.Equal(t, "Once upon a", a.prefill(), "sent without its trailing whitespace")

	// The continuation: its role chunk is dropped, its first content loses
	// the whitespace the client already has, every chunk gets the first id.
	_, v := a.event([]byte(`{"id":"second","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`))
	require.Equal(t, drop, v)
	out, v := a.event(chunkJSON("second", " time", nil))
	require.Equal(t, forward, v)
	var c chunk
	require.NoError(t, json.Unmarshal(out, &c))
	require.Equal(t, "first", c.ID)
	require.Equal(t, "time", *c.Choices[0].Delta.Content)
	// Later chunks keep their whitespace.
	out, _ = a.event(chunkJSON("second", " there", nil))
	require.NoError(t, json.Unmarshal(out, &c))
	require.Equal(t, " there", *c.Choices[0].Delta.Content)
	stop := "stop"
	_, v = a.event(chunkJSON("second", "", &stop))
	require.Equal(t, forward, v)
	require.False(t, a.continuable(), "finished")
	_, v = a.event([]byte("[DONE]"))
	require.Equal(t, done, v)
	require.Equal(t, "Once upon a time there", a.text.String())
}

func TestAnswerThatCannotBeContinued(t *testing.T) {
	var tool chatAnswer
	tool.event([]byte(`{"id":"x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"f","arguments":""}}]},"finish_reason":null}]}`))
	require.False(t, tool.continuable(), "a tool call in flight")

	var several chatAnswer
	several.event([]byte(`{"id":"x","choices":[{"index":1,"delta":{"content":"b"},"finish_reason":null}]}`))
	require.False(t, several.continuable(), "n > 1")

	var cut chatAnswer
	_, v := cut.event([]byte(`{"error":{"message":"overloaded","type":"overloaded_error"}}`))
	require.Equal(t, failed, v)
	require.True(t, cut.continuable(), "a provider's error event is a cut like any other")
}

func TestContinuationBody(t *testing.T) {
	body := []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}`)
	out, ok := continuationBody(body, `say "a"`)
	require.True(t, ok)
	require.JSONEq(t, `{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"say \"a\""}],"stream":true}`, string(out))
	_, ok = continuationBody([]byte(`{"model":"m"}`), "x")
	require.False(t, ok)
}
