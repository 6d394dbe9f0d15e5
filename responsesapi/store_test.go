package responsesapi

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
	"github.com/llmvoy/llmvoy/translate"
)

const storedResponse = `{"id":"resp_1","object":"response","status":"completed","output":[` +
	`{"id":"rs_1","type":"reasoning","summary":[]},` +
	`{"id":"msg_1","type":"message","role":"assistant","status":"completed","content":[{"type":"output_text","text":"Paris.","annotations":[]}]},` +
	`{"id":"fc_1","type":"function_call","call_id":"call_1","name":"weather","arguments":"{\"city\":\"Paris\"}","status":"completed"}]}`

// The conversation a response ends: the request's input, then the
// response's output, without ids or reasoning.
func TestConversation(t *testing.T) {
	conv, err := Conversation([]byte(`{"model":"m","instructions":"be brief","input":"capital of France?"}`), []byte(storedResponse))
	require.NoError(t, err)
	require.JSONEq(t, `[
		{"type":"message","role":"user","content":"capital of France?"},
		{"type":"message","role":"assistant","status":"completed","content":[{"type":"output_text","text":"Paris.","annotations":[]}]},
		{"type":"function_call","call_id":"call_1","name":"weather","arguments":"{\"city\":\"Paris\"}","status":"completed"}]`, string(conv))

	conv, err = Conversation([]byte(`{"input":[{"id":"msg_0","role":"user","content":"hi"}]}`), []byte(`{"id":"r","object":"response","status":"completed","output":[]}`))
	require.NoError(t, err)
	require.JSONEq(t, `[{"role":"user","content":"hi"}]`, string(conv))

	_, err = Conversation([]byte(`{"input":7}`), []byte(storedResponse))
	require.True(t, errors.Is(err, translate.ErrBadRequest), err)
}

// A request that continues a response becomes whole: the conversation,
// then its own input; no previous_response_id.
func TestContinue(t *testing.T) {
	conv := json.RawMessage(`[{"type":"message","role":"user","content":"first"},{"type":"message","role":"assistant","content":[{"type":"output_text","text":"one"}]}]`)
	out, err := Continue([]byte(`{"model":"m","previous_response_id":"resp_1","input":"second","store":true}`), conv)
	require.NoError(t, err)
	require.JSONEq(t, `{"model":"m","store":true,"input":[
		{"type":"message","role":"user","content":"first"},
		{"type":"message","role":"assistant","content":[{"type":"output_text","text":"one"}]},
		{"type":"message","role":"user","content":"second"}]}`, string(out))
	require.Empty(t, PreviousResponseID(mustFields(t, out)))
	_, _, err = ToChat(out)
	require.NoError(t, err, "a continued request is one any deployment takes")

	out, err = Continue([]byte(`{"model":"m","previous_response_id":"resp_1","input":[{"type":"function_call_output","call_id":"call_1","output":"sunny"}]}`), conv)
	require.NoError(t, err)
	var req struct{ Input []map[string]any }
	require.NoError(t, json.Unmarshal(out, &req))
	require.Len(t, req.Input, 3)
	require.Equal(t, "function_call_output", req.Input[2]["type"])
}

func mustFields(t *testing.T, body []byte) []jsonscan.Field {
	t.Helper()
	fields, err := jsonscan.Fields(body)
	require.NoError(t, err)
	return fields
}

func TestPreviousResponseIDAndStores(t *testing.T) {
	f := func(body string) []jsonscan.Field { return mustFields(t, []byte(body)) }
	require.Equal(t, "resp_9", PreviousResponseID(f(`{"previous_response_id":"resp_9"}`)))
	require.Empty(t, PreviousResponseID(f(`{"input":"x"}`)))
	require.True(t, Stores(f(`{"input":"x"}`)), "store defaults to true")
	require.True(t, Stores(f(`{"store":null}`)))
	require.True(t, Stores(f(`{"store":true}`)))
	require.False(t, Stores(f(`{"store":false}`)))
}

// The tap keeps the response object of a completed answer, streamed or
// whole, and nothing of a failed or cut one.
func TestTap(t *testing.T) {
	whole := NewTap(false)
	whole.Write([]byte(storedResponse[:40]), false)
	whole.Write([]byte(storedResponse[40:]), true)
	require.JSONEq(t, storedResponse, string(whole.Final()))

	stream := "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"in_progress\"}}\n\n" +
		"event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":9,\"response\":" + storedResponse + "}\n\n"
	s := NewTap(true)
	for i := 0; i < len(stream); i += 7 {
		s.Write([]byte(stream[i:min(i+7, len(stream))]), i+7 >= len(stream))
	}
	require.JSONEq(t, storedResponse, string(s.Final()))

	failed := NewTap(true)
	failed.Write([]byte("data: {\"type\":\"response.failed\",\"response\":{\"id\":\"r\",\"object\":\"response\",\"status\":\"failed\"}}\n\n"), true)
	require.Nil(t, failed.Final())
	cut := NewTap(false)
	cut.Write([]byte(storedResponse[:50]), true)
	require.Nil(t, cut.Final())
}
