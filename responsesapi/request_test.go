package responsesapi

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/translate"
)

// codexRequest is a request as Codex sends it on a later turn: the system
// prompt as developer messages, ids on every item, function tools, a
// namespace tool and web_search, reasoning and the OpenAI-only members, and
// the history of a function call with its output.
const codexRequest = `{
  "model": "gpt-5-codex",
  "instructions": null,
  "input": [
    {"type": "message", "id": "msg_dev", "role": "developer", "content": [{"type": "input_text", "text": "You are Codex."}]},
    {"type": "message", "id": "msg_env", "role": "user", "content": [{"type": "input_text", "text": "<environment_context>cwd=/w</environment_context>"}]},
    {"type": "message", "id": "msg_u1", "role": "user", "content": [{"type": "input_text", "text": "List the files."}]},
    {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Run ls."}], "encrypted_content": "gAAAA..."},
    {"type": "message", "id": "msg_a1", "role": "assistant", "content": [{"type": "output_text", "text": "Listing.", "annotations": []}]},
    {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"},
    {"type": "function_call", "id": "fc_2", "call_id": "call_2", "name": "read", "namespace": "mcp__fs__", "arguments": "{\"path\":\"a\"}"},
    {"type": "function_call_output", "id": "fco_1", "call_id": "call_1", "output": "a\nb\n"},
    {"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "contents"}]},
    {"role": "user", "content": "Thanks."}
  ],
  "tools": [
    {"type": "function", "name": "exec_command", "description": "Run a command", "strict": false,
     "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}},
    {"type": "namespace", "name": "mcp__fs__", "description": "Files", "tools": [
      {"type": "function", "name": "read", "description": "Read a file", "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}},
      {"type": "custom", "name": "patch", "description": "freeform"}
    ]},
    {"type": "web_search"}
  ],
  "tool_choice": "auto",
  "parallel_tool_calls": true,
  "reasoning": {"effort": "medium", "summary": "auto"},
  "store": false,
  "stream": true,
  "include": ["reasoning.encrypted_content"],
  "prompt_cache_key": "0199-abc",
  "client_metadata": {"x": "y"},
  "text": {"verbosity": "medium"}
}`

const codexChat = `{
  "model": "gpt-5-codex",
  "messages": [
    {"role": "system", "content": "You are Codex."},
    {"role": "user", "content": "<environment_context>cwd=/w</environment_context>"},
    {"role": "user", "content": "List the files."},
    {"role": "assistant", "content": "Listing.", "tool_calls": [
      {"id": "call_1", "type": "function", "function": {"name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"}},
      {"id": "call_2", "type": "function", "function": {"name": "mcp__fs__read", "arguments": "{\"path\":\"a\"}"}}
    ]},
    {"role": "tool", "tool_call_id": "call_1", "content": "a\nb\n"},
    {"role": "tool", "tool_call_id": "call_2", "content": "contents"},
    {"role": "user", "content": "Thanks."}
  ],
  "tools": [
    {"type": "function", "function": {"name": "exec_command", "description": "Run a command", "strict": false,
     "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}}},
    {"type": "function", "function": {"name": "mcp__fs__read", "description": "Read a file",
     "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}
  ],
  "tool_choice": "auto",
  "parallel_tool_calls": true,
  "stream": true,
  "stream_options": {"include_usage": true}
}`

func TestToChat(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"codex", codexRequest, codexChat},
		{"string input and parameters", `{"model":"m","input":"hi","instructions":"Be brief.","temperature":0.2,"top_p":0.9,
			"max_output_tokens":100,"safety_identifier":"u1","metadata":{"a":"b"},"service_tier":"auto","truncation":"auto","background":false}`,
			`{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}],
			"temperature":0.2,"top_p":0.9,"max_tokens":100,"user":"u1"}`},
		{"user beats safety_identifier; parts", `{"model":"m","user":"u0","safety_identifier":"u1","input":[{"role":"user","content":[
			{"type":"input_text","text":"What is this?"},
			{"type":"input_image","image_url":"data:image/png;base64,AAAA","detail":"low"},
			{"type":"input_file","filename":"a.pdf","file_data":"data:application/pdf;base64,JVBE"}]}]}`,
			`{"model":"m","user":"u0","messages":[{"role":"user","content":[
			{"type":"text","text":"What is this?"},
			{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"low"}},
			{"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,JVBE"}}]}]}`},
		{"json_schema", `{"model":"m","input":"x","text":{"format":{"type":"json_schema","name":"s","schema":{"type":"object"},"strict":true}}}`,
			`{"model":"m","messages":[{"role":"user","content":"x"}],
			"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object"},"strict":true}}}`},
		{"json_object", `{"model":"m","input":"x","text":{"format":{"type":"json_object"}}}`,
			`{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}}`},
		{"text format", `{"model":"m","input":"x","text":{"format":{"type":"text"}}}`,
			`{"model":"m","messages":[{"role":"user","content":"x"}]}`},
		{"only built-in tools: no tool_choice", `{"model":"m","input":"x","tools":[{"type":"web_search_preview"}],"tool_choice":{"type":"web_search_preview"},"parallel_tool_calls":false}`,
			`{"model":"m","messages":[{"role":"user","content":"x"}]}`},
		{"tool_choice function", `{"model":"m","input":"x","tools":[{"type":"function","name":"f"}],"tool_choice":{"type":"function","name":"f"}}`,
			`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],
			"tool_choice":{"type":"function","function":{"name":"f"}}}`},
		{"tool_choice names a dropped tool", `{"model":"m","input":"x","tools":[{"type":"function","name":"f"},{"type":"mcp","server_label":"s"}],"tool_choice":{"type":"function","name":"g"}}`,
			`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"auto"}`},
		{"tool_choice required", `{"model":"m","input":"x","tools":[{"type":"function","name":"f"}],"tool_choice":"required"}`,
			`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required"}`},
		{"function call without a message before it; image output", `{"model":"m","input":[
			{"type":"function_call","call_id":"c","name":"shot","arguments":"{}"},
			{"type":"function_call_output","call_id":"c","output":[{"type":"input_text","text":"done"},{"type":"input_image","image_url":"https://x/i.png"}]},
			{"type":"message","role":"system","content":"sys"}]}`,
			`{"model":"m","messages":[
			{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"shot","arguments":"{}"}}]},
			{"role":"tool","tool_call_id":"c","content":"done"},
			{"role":"user","content":[{"type":"text","text":"The images the tool calls above returned:"},{"type":"image_url","image_url":{"url":"https://x/i.png"}}]},
			{"role":"system","content":"sys"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := ToChat([]byte(tc.in))
			require.NoError(t, err)
			require.JSONEq(t, tc.want, string(got))
		})
	}
}

func TestToChatRequest(t *testing.T) {
	_, req, err := ToChat([]byte(codexRequest))
	require.NoError(t, err)
	require.Equal(t, "gpt-5-codex", req.Model)
	require.True(t, req.Stream)
	require.JSONEq(t, `false`, string(req.Store))
	require.JSONEq(t, `{"effort":"medium","summary":"auto"}`, string(req.Reasoning))
	require.Equal(t, map[string]toolName{"mcp__fs__read": {namespace: "mcp__fs__", name: "read"}}, req.namespaced)
}

func TestToChatErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"not JSON", `nope`, "bad request: the body must be a JSON object"},
		{"list", `[]`, "bad request: the body must be a JSON object"},
		{"no model", `{"input":"x"}`, "bad request: model: required"},
		{"no input", `{"model":"m"}`, "bad request: input: required"},
		{"empty input", `{"model":"m","input":""}`, "bad request: input: empty"},
		{"empty list", `{"model":"m","input":[]}`, "bad request: input: no message to send"},
		{"only reasoning", `{"model":"m","input":[{"type":"reasoning","summary":[]}]}`, "bad request: input: no message to send"},
		{"input number", `{"model":"m","input":3}`, "bad request: input: want a string or a list of items, got a number"},
		{"model type", `{"model":3,"input":"x"}`, "bad request: model: want a string, got a number"},
		{"temperature string", `{"model":"m","input":"x","temperature":"hot"}`, "bad request: temperature: want a number, got a string"},
		{"stream string", `{"model":"m","input":"x","stream":"yes"}`, "bad request: stream: want a boolean, got a string"},
		{"file id", `{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_id":"file-1"}]}]}`,
			"bad request: input[0].content[0].file_id: file ids are not supported by this gateway (no file store); send file_data (base64) and filename"},
		{"image file id", `{"model":"m","input":[{"role":"user","content":[{"type":"input_image","file_id":"file-1"}]}]}`,
			"bad request: input[0].content[0].file_id: file ids are not supported by this gateway (no file store); send image_url with a URL or a data URL"},
		{"item_reference", `{"model":"m","input":[{"type":"item_reference","id":"msg_1"}]}`,
			"bad request: input[0]: item_reference needs a response store, which this gateway does not keep: send the item itself"},
		{"unknown item", `{"model":"m","input":[{"type":"computer_call_output","call_id":"c"}]}`,
			`bad request: input[0].type: unsupported input item type "computer_call_output"`},
		{"bad role", `{"model":"m","input":[{"role":"tool","content":"x"}]}`,
			`bad request: input[0].role: want user, assistant, system or developer, got "tool"`},
		{"no call_id", `{"model":"m","input":[{"type":"function_call_output","output":"x"}]}`, "bad request: input[0].call_id: required"},
		{"arguments object", `{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":{}}]}`,
			"bad request: input[0].arguments: want a string, got an object"},
		{"unknown tool", `{"model":"m","input":"x","tools":[{"type":"teleport"}]}`, `bad request: tools[0].type: unknown tool type "teleport"`},
		{"nameless function", `{"model":"m","input":"x","tools":[{"type":"function"}]}`, "bad request: tools[0].name: required"},
		{"bad tool_choice", `{"model":"m","input":"x","tool_choice":"always"}`,
			`bad request: tool_choice: want auto, none, required or an object, got "always"`},
		{"bad format", `{"model":"m","input":"x","text":{"format":{"type":"yaml"}}}`,
			`bad request: text.format.type: want text, json_object or json_schema, got "yaml"`},
		{"image in system", `{"model":"m","input":[{"role":"developer","content":[{"type":"input_image","image_url":"https://x"}]}]}`,
			"bad request: input[0].content: only text is supported in system messages"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chat, _, err := ToChat([]byte(tc.in))
			require.ErrorIs(t, err, translate.ErrBadRequest)
			require.EqualError(t, err, tc.want)
			require.Nil(t, chat)
		})
	}
}

func TestToChatNeedsStore(t *testing.T) {
	_, req, err := ToChat([]byte(`{"model":"m","input":"more","previous_response_id":"resp_1"}`))
	require.ErrorIs(t, err, ErrNeedsStore)
	require.ErrorIs(t, err, translate.ErrBadRequest)
	require.True(t, errors.Is(err, translate.ErrBadRequest))
	require.Equal(t, "bad request: previous_response_id needs a response store", err.Error())
	require.Equal(t, "resp_1", req.PreviousResponseID)
}
