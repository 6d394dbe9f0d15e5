package responsesapi

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/translate"
)

// testResponse is NewResponse with ids and time fixed.
func testResponse(t testing.TB, req Request) *response {
	r := NewResponse(req).(*response)
	n := 0
	r.newID = func(prefix string) string { n++; return fmt.Sprintf("%s%d", prefix, n) }
	r.createdAt = 1700000000
	return r
}

func codexReq(t testing.TB) Request {
	_, req, err := ToChat([]byte(codexRequest))
	require.NoError(t, err)
	return req
}

// echoCodex is what a response to codexRequest echoes.
const echoCodex = `"instructions":null,"max_output_tokens":null,"model":"gpt-5-codex","parallel_tool_calls":true,
"previous_response_id":null,"reasoning":{"effort":"medium","summary":"auto"},"store":false,"temperature":1,
"text":{"verbosity":"medium"},"tool_choice":"auto","tools":[
 {"type":"function","name":"exec_command","description":"Run a command","strict":false,
  "parameters":{"type":"object","properties":{"cmd":{"type":"string"}},"required":["cmd"]}},
 {"type":"namespace","name":"mcp__fs__","description":"Files","tools":[
  {"type":"function","name":"read","description":"Read a file","parameters":{"type":"object","properties":{"path":{"type":"string"}}}},
  {"type":"custom","name":"patch","description":"freeform"}]},
 {"type":"web_search"}],
"top_p":1,"truncation":"disabled","user":null,"metadata":{}`

func TestBody(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"text, reasoning and tool calls", `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"up",
			"choices":[{"index":0,"message":{"role":"assistant","content":"Running.","reasoning_content":"Think.",
			"tool_calls":[{"id":"call_a","type":"function","function":{"name":"exec_command","arguments":"{\"cmd\":\"ls\"}"}},
			{"id":"call_b","type":"function","function":{"name":"mcp__fs__read","arguments":"{}"}}]},"finish_reason":"tool_calls"}],
			"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":4},
			"completion_tokens_details":{"reasoning_tokens":2}}}`,
			`{"id":"resp_1","object":"response","created_at":1700000000,"status":"completed","error":null,"incomplete_details":null,` + echoCodex + `,
			"output":[
			 {"id":"rs_2","type":"reasoning","summary":[{"type":"summary_text","text":"Think."}]},
			 {"id":"msg_3","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Running.","annotations":[]}]},
			 {"id":"fc_4","type":"function_call","status":"completed","call_id":"call_a","name":"exec_command","arguments":"{\"cmd\":\"ls\"}"},
			 {"id":"fc_5","type":"function_call","status":"completed","call_id":"call_b","name":"read","namespace":"mcp__fs__","arguments":"{}"}],
			"usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":4},"output_tokens":5,"output_tokens_details":{"reasoning_tokens":2},"total_tokens":15}}`},
		{"length", `{"choices":[{"index":0,"message":{"role":"assistant","content":"Trunc"},"finish_reason":"length"}],
			"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`,
			`{"id":"resp_1","object":"response","created_at":1700000000,"status":"incomplete","error":null,
			"incomplete_details":{"reason":"max_output_tokens"},` + echoCodex + `,
			"output":[{"id":"msg_2","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Trunc","annotations":[]}]}],
			"usage":{"input_tokens":1,"input_tokens_details":{"cached_tokens":0},"output_tokens":2,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":3}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testResponse(t, codexReq(t))
			stream, set := r.Headers(200, "application/json")
			require.False(t, stream)
			require.Equal(t, []translate.Header{{Key: "content-type", Value: "application/json"}}, set)
			got, err := r.Body(200, []byte(tc.in))
			require.NoError(t, err)
			require.JSONEq(t, tc.want, string(got))
		})
	}
}

func TestBodyDefaults(t *testing.T) {
	_, req, err := ToChat([]byte(`{"model":"m","input":"hi","instructions":"Be brief.","user":"u"}`))
	require.NoError(t, err)
	got, err := testResponse(t, req).Body(200, []byte(`{"choices":[{"message":{"content":"Hello"},"finish_reason":"stop"}]}`))
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"resp_1","object":"response","created_at":1700000000,"status":"completed","error":null,"incomplete_details":null,
		"instructions":"Be brief.","max_output_tokens":null,"model":"m","parallel_tool_calls":true,"previous_response_id":null,
		"reasoning":{"effort":null,"summary":null},"store":true,"temperature":1,"text":{"format":{"type":"text"}},"tool_choice":"auto",
		"tools":[],"top_p":1,"truncation":"disabled","user":"u","metadata":{},
		"output":[{"id":"msg_2","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hello","annotations":[]}]}],
		"usage":null}`, string(got))
}

func TestBodyErrorPassesThrough(t *testing.T) {
	r := testResponse(t, codexReq(t))
	stream, set := r.Headers(429, "application/json; charset=utf-8")
	require.False(t, stream)
	require.Equal(t, []translate.Header{{Key: "content-type", Value: "application/json; charset=utf-8"}}, set)
	// Even an error with an event-stream content type is a whole body.
	stream, _ = r.Headers(500, "text/event-stream")
	require.False(t, stream)
	body := `{"error":{"message":"Rate limit","type":"rate_limit_error","code":"rate_limit_exceeded"}}`
	got, err := r.Body(429, []byte(body))
	require.NoError(t, err)
	require.Equal(t, body, string(got))
}

func TestBodyMalformed(t *testing.T) {
	for _, in := range []string{`nope`, `{"choices":[]}`, `{"choices":"x"}`} {
		_, err := testResponse(t, Request{Model: "m"}).Body(200, []byte(in))
		require.ErrorIs(t, err, errMalformed, in)
	}
}
