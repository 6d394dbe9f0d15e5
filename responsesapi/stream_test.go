package responsesapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/translate"
)

// codexStream is a chat stream with reasoning, text, two tool calls
// interleaved by index (one of them namespaced), and the usage chunk after
// the finish_reason, as stream_options.include_usage sends it.
const codexStream = `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}

data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"reasoning_content":"Think"},"finish_reason":null}]}

data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"content":"Héllo"},"finish_reason":null}]}

data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"content":" 👋"},"finish_reason":null}]}

data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"exec_command","arguments":""}}]},"finish_reason":null}]}

data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"mcp__fs__read","arguments":"{\"pa"}}]},"finish_reason":null}]}

data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"cmd\":"}}]},"finish_reason":null}]}

data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"th\":\"a\"}"}}]},"finish_reason":null}]}

data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"ls\"}"}}]},"finish_reason":null}]}

data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}

data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"up","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}

data: [DONE]

`

// sseEvent is one Responses event as a client reads it.
type sseEvent struct {
	name string
	data map[string]any
}

// readEvents parses a Responses event stream, checking each event's name
// is its type and the sequence numbers count up from 0.
func readEvents(t testing.TB, out []byte) []sseEvent {
	t.Helper()
	var evs []sseEvent
	for _, block := range strings.Split(strings.TrimSuffix(string(out), "\n\n"), "\n\n") {
		name, data, ok := strings.Cut(block, "\ndata: ")
		require.True(t, ok, "event %q", block)
		name = strings.TrimPrefix(name, "event: ")
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(data), &m), data)
		require.Equal(t, name, m["type"])
		require.EqualValues(t, len(evs), m["sequence_number"])
		evs = append(evs, sseEvent{name, m})
	}
	return evs
}

func names(evs []sseEvent) []string {
	var n []string
	for _, e := range evs {
		n = append(n, e.name)
	}
	return n
}

func runStream(t testing.TB, req Request, in string) []byte {
	r := testResponse(t, req)
	stream, set := r.Headers(200, "text/event-stream; charset=utf-8")
	require.True(t, stream)
	require.Equal(t, []translate.Header{{Key: "content-type", Value: "text/event-stream"}}, set)
	out, err := r.Chunk([]byte(in), true)
	require.NoError(t, err)
	return out
}

func TestStreamCodex(t *testing.T) {
	out := runStream(t, codexReq(t), codexStream)
	evs := readEvents(t, out)
	require.Equal(t, []string{
		"response.created", "response.in_progress",
		"response.output_item.added", "response.reasoning_summary_part.added", "response.reasoning_summary_text.delta",
		"response.reasoning_summary_text.done", "response.reasoning_summary_part.done", "response.output_item.done",
		"response.output_item.added", "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
		"response.output_text.done", "response.content_part.done", "response.output_item.done",
		"response.output_item.added", "response.output_item.added", "response.function_call_arguments.delta",
		"response.function_call_arguments.delta", "response.function_call_arguments.delta", "response.function_call_arguments.delta",
		"response.function_call_arguments.done", "response.output_item.done",
		"response.function_call_arguments.done", "response.output_item.done",
		"response.completed",
	}, names(evs))
	require.Equal(t, "in_progress", evs[0].data["response"].(map[string]any)["status"])
	require.Empty(t, evs[1].data["response"].(map[string]any)["output"])
	deltas := evs[10].data
	require.Equal(t, map[string]any{"type": "response.output_text.delta", "sequence_number": 10.0, "item_id": "msg_3",
		"output_index": 1.0, "content_index": 0.0, "delta": "Héllo", "logprobs": []any{}}, deltas)
	require.Equal(t, map[string]any{"type": "response.function_call_arguments.done", "sequence_number": 21.0, "item_id": "fc_4",
		"output_index": 2.0, "name": "exec_command", "arguments": `{"cmd":"ls"}`}, evs[21].data)
	require.Equal(t, map[string]any{"id": "fc_5", "type": "function_call", "status": "completed", "call_id": "call_b",
		"name": "read", "namespace": "mcp__fs__", "arguments": `{"path":"a"}`}, evs[24].data["item"])

	done, err := json.Marshal(evs[len(evs)-1].data["response"])
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"resp_1","object":"response","created_at":1700000000,"status":"completed","error":null,"incomplete_details":null,`+echoCodex+`,
		"output":[
		 {"id":"rs_2","type":"reasoning","summary":[{"type":"summary_text","text":"Think"}]},
		 {"id":"msg_3","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Héllo 👋","annotations":[]}]},
		 {"id":"fc_4","type":"function_call","status":"completed","call_id":"call_a","name":"exec_command","arguments":"{\"cmd\":\"ls\"}"},
		 {"id":"fc_5","type":"function_call","status":"completed","call_id":"call_b","name":"read","namespace":"mcp__fs__","arguments":"{\"path\":\"a\"}"}],
		"usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":0},"output_tokens":5,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":15}}`,
		string(done))
}

// TestStreamByteByByte feeds streams one byte at a time: the output is the
// same as fed whole.
func TestStreamByteByByte(t *testing.T) {
	for _, in := range []string{codexStream, strings.ReplaceAll(codexStream, "\n", "\r\n"), lengthStream, errorStream, cutStream} {
		whole := runStream(t, codexReq(t), in)
		r := testResponse(t, codexReq(t))
		var got []byte
		for i := range len(in) {
			out, err := r.Chunk([]byte{in[i]}, i == len(in)-1)
			require.NoError(t, err)
			got = append(got, out...)
		}
		require.Equal(t, string(whole), string(got))
	}
}

const lengthStream = `data: {"choices":[{"index":0,"delta":{"content":"Trunc"},"finish_reason":null}]}

data: {"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}

data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}

data: [DONE]

`

const errorStream = `data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}

data: {"error":{"message":"upstream overloaded","type":"server_error","code":null}}

`

const cutStream = `data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","function":{"name":"f","arguments":"{"}}]},"finish_reason":null}]}

`

func TestStreamEnds(t *testing.T) {
	for _, tc := range []struct {
		name, in, last, status string
		wantErr                map[string]any
	}{
		{"length", lengthStream, "response.incomplete", "incomplete", nil},
		{"error event", errorStream, "response.failed", "failed", map[string]any{"code": "server_error", "message": "upstream overloaded"}},
		{"cut", cutStream, "response.failed", "failed",
			map[string]any{"code": "server_error", "message": "the provider's stream ended before the answer was finished"}},
		{"done before finish", "data: [DONE]\n\n", "response.failed", "failed",
			map[string]any{"code": "server_error", "message": "the provider's stream ended before the answer was finished"}},
		{"empty", "", "response.failed", "failed",
			map[string]any{"code": "server_error", "message": "the provider's stream ended before the answer was finished"}},
		{"finish without DONE", "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}",
			"response.completed", "completed", nil},
		{"malformed", "data: {nope\n\n", "response.failed", "failed", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs := readEvents(t, runStream(t, codexReq(t), tc.in))
			last := evs[len(evs)-1]
			require.Equal(t, tc.last, last.name)
			resp := last.data["response"].(map[string]any)
			require.Equal(t, tc.status, resp["status"])
			if tc.wantErr != nil {
				require.Equal(t, tc.wantErr, resp["error"])
			}
			if tc.status == "incomplete" {
				require.Equal(t, map[string]any{"reason": "max_output_tokens"}, resp["incomplete_details"])
				require.EqualValues(t, 3, resp["usage"].(map[string]any)["total_tokens"])
			}
		})
	}
}

// TestStreamAfterEnd sends nothing once the response ended.
func TestStreamAfterEnd(t *testing.T) {
	r := testResponse(t, codexReq(t))
	_, _ = r.Chunk([]byte(errorStream), false)
	out, err := r.Chunk([]byte(codexStream), true)
	require.NoError(t, err)
	require.Empty(t, out)
}

// TestStreamSameIndexNewID treats a new id on index 0 as a new call, as
// servers that number every call 0 send them.
func TestStreamSameIndexNewID(t *testing.T) {
	in := `data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{}"}}]}}]}

data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"b","function":{"name":"g","arguments":"{}"}}]}}]}

data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}

data: [DONE]

`
	evs := readEvents(t, runStream(t, Request{Model: "m"}, in))
	out := evs[len(evs)-1].data["response"].(map[string]any)["output"].([]any)
	require.Len(t, out, 2)
	require.Equal(t, "b", out[1].(map[string]any)["call_id"])
	require.Equal(t, "g", out[1].(map[string]any)["name"])
}
