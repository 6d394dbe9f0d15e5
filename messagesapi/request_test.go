package messagesapi

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/translate"
)

func TestToChat(t *testing.T) {
	tests := []struct {
		name, body, want string
		wantReq          Request
	}{
		{
			name:    "minimal, from the Messages reference",
			body:    `{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"Hello, world"}]}`,
			want:    `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"Hello, world"}],"max_tokens":1024}`,
			wantReq: Request{Model: "claude-sonnet-4-5"},
		},
		{
			name:    "sampling, stop sequences, stream, system string",
			body:    `{"model":"m","max_tokens":10,"system":"Be brief.","temperature":0.5,"top_p":0.9,"top_k":40,"stop_sequences":["END","\n\nHuman:"],"stream":true,"service_tier":"auto","messages":[{"role":"user","content":"hi"}]}`,
			want:    `{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}],"max_tokens":10,"temperature":0.5,"top_p":0.9,"stop":["END","\n\nHuman:"],"stream":true,"stream_options":{"include_usage":true}}`,
			wantReq: Request{Model: "m", Stream: true},
		},
		{
			name:    "multi-turn with prefilled assistant",
			body:    `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"Hello there."},{"role":"assistant","content":"Hi, I'm Claude. How can I help you?"},{"role":"user","content":"Can you explain LLMs in plain English?"},{"role":"assistant","content":[{"type":"text","text":"Sure"}]}]}`,
			want:    `{"model":"m","messages":[{"role":"user","content":"Hello there."},{"role":"assistant","content":"Hi, I'm Claude. How can I help you?"},{"role":"user","content":"Can you explain LLMs in plain English?"},{"role":"assistant","content":"Sure"}],"max_tokens":10}`,
			wantReq: Request{Model: "m"},
		},
		{
			name:    "images: base64 and url, with text as parts",
			body:    `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/4AAQ"}},{"type":"image","source":{"type":"url","url":"https://example.com/cat.png"}},{"type":"text","text":"Describe these."}]}]}`,
			want:    `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/4AAQ"}},{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}},{"type":"text","text":"Describe these."}]}],"max_tokens":10}`,
			wantReq: Request{Model: "m"},
		},
		{
			name:    "documents: PDF as a file part, plain text and content as text",
			body:    `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"document","title":"report.pdf","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0x"},"cache_control":{"type":"ephemeral"}},{"type":"document","source":{"type":"text","media_type":"text/plain","data":"The grass is green."}},{"type":"document","source":{"type":"content","content":[{"type":"text","text":"Sky is blue."}]}}]}]}`,
			want:    `{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"filename":"report.pdf","file_data":"data:application/pdf;base64,JVBERi0x"}},{"type":"text","text":"The grass is green."},{"type":"text","text":"Sky is blue."}]}],"max_tokens":10}`,
			wantReq: Request{Model: "m"},
		},
		{
			name:    "tool results first, their images next, then the user's text",
			body:    `{"model":"m","max_tokens":10,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"shot","input":{}},{"type":"tool_use","id":"t2","name":"get","input":{"q":"x"}}]},{"role":"user","content":[{"type":"text","text":"and then?"},{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"here"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}}]},{"type":"tool_result","tool_use_id":"t2"}]}]}`,
			want:    `{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"t1","type":"function","function":{"name":"shot","arguments":"{}"}},{"id":"t2","type":"function","function":{"name":"get","arguments":"{\"q\":\"x\"}"}}]},{"role":"tool","tool_call_id":"t1","content":"here"},{"role":"tool","tool_call_id":"t2","content":""},{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBO"}},{"type":"text","text":"and then?"}]}],"max_tokens":10}`,
			wantReq: Request{Model: "m"},
		},
		{
			name:    "an assistant turn of thinking alone is dropped",
			body:    `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"s"}]}]}`,
			want:    `{"model":"m","messages":[{"role":"user","content":"q"}],"max_tokens":10}`,
			wantReq: Request{Model: "m"},
		},
		{
			name:    "server tool blocks in history are dropped",
			body:    `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"x"}},{"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[]},{"type":"text","text":"found"}]}]}`,
			want:    `{"model":"m","messages":[{"role":"user","content":"q"},{"role":"assistant","content":"found"}],"max_tokens":10}`,
			wantReq: Request{Model: "m"},
		},
		{
			name:    "tool_choice any, parallel off",
			body:    `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"q"}],"tools":[{"name":"get_weather","description":"Get the weather","input_schema":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]},"input_examples":[{"location":"Paris"}],"strict":true}],"tool_choice":{"type":"any","disable_parallel_tool_use":true}}`,
			want:    `{"model":"m","messages":[{"role":"user","content":"q"}],"max_tokens":10,"tools":[{"type":"function","function":{"name":"get_weather","description":"Get the weather","parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}}],"tool_choice":"required","parallel_tool_calls":false}`,
			wantReq: Request{Model: "m"},
		},
		{
			name:    "tool_choice tool",
			body:    `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"q"}],"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"f"}}`,
			want:    `{"model":"m","messages":[{"role":"user","content":"q"}],"max_tokens":10,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":{"type":"function","function":{"name":"f"}}}`,
			wantReq: Request{Model: "m"},
		},
		{
			name:    "tool_choice none",
			body:    `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"q"}],"tools":[{"type":"custom","name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"none"}}`,
			want:    `{"model":"m","messages":[{"role":"user","content":"q"}],"max_tokens":10,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":"none"}`,
			wantReq: Request{Model: "m"},
		},
		{
			name:    "only server tools: no tools, no tool_choice, no parallel_tool_calls",
			body:    `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"q"}],"tools":[{"type":"web_search_20250305","name":"web_search"},{"type":"bash_20250124","name":"bash"},{"type":"text_editor_20250728","name":"str_replace_based_edit_tool"},{"type":"computer_20250124","name":"computer","display_width_px":1024,"display_height_px":768},{"type":"code_execution_20250825","name":"code_execution"}],"tool_choice":{"type":"auto","disable_parallel_tool_use":true}}`,
			want:    `{"model":"m","messages":[{"role":"user","content":"q"}],"max_tokens":10}`,
			wantReq: Request{Model: "m"},
		},
		{
			name:    "a long user_id is cut on a character boundary",
			body:    `{"model":"m","max_tokens":10,"metadata":{"user_id":"` + strings.Repeat("a", maxUserLen-1) + `é"},"messages":[{"role":"user","content":"q"}]}`,
			want:    `{"model":"m","messages":[{"role":"user","content":"q"}],"max_tokens":10,"user":"` + strings.Repeat("a", maxUserLen-1) + `"}`,
			wantReq: Request{Model: "m"},
		},
		{
			name:    "mid-conversation system blocks, empty system dropped",
			body:    `{"model":"m","max_tokens":10,"system":[],"messages":[{"role":"user","content":"q"},{"role":"system","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}`,
			want:    `{"model":"m","messages":[{"role":"user","content":"q"},{"role":"system","content":"a\n\nb"}],"max_tokens":10}`,
			wantReq: Request{Model: "m"},
		},
		{
			name:    "HTML characters reach the server unescaped",
			body:    `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"<b>&</b>"}]}`,
			want:    `{"model":"m","messages":[{"role":"user","content":"<b>&</b>"}],"max_tokens":10}`,
			wantReq: Request{Model: "m"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, req, err := ToChat([]byte(tt.body))
			require.NoError(t, err)
			require.JSONEq(t, tt.want, string(got))
			require.Equal(t, tt.wantReq, req)
			if strings.Contains(tt.want, "<b>") {
				require.Contains(t, string(got), "<b>&</b>")
			}
		})
	}
}

// TestToChatClaudeCode translates a request as Claude Code sends it:
// adaptive thinking, context_management, output_config, cache_control on
// system, message and tool blocks, tools with $schema, a defer_loading
// tool, a server tool, a system message mid-conversation, metadata.user_id
// as a JSON string and a tool_use/tool_result round trip.
func TestToChatClaudeCode(t *testing.T) {
	body, err := os.ReadFile("testdata/claude_code_request.json")
	require.NoError(t, err)
	want, err := os.ReadFile("testdata/claude_code_chat.json")
	require.NoError(t, err)
	got, req, err := ToChat(body)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(got))
	require.Equal(t, Request{Model: "claude-sonnet-4-5", Stream: true}, req)
	requireNoAnthropicFields(t, got)
}

// requireNoAnthropicFields checks that no field or block only Anthropic
// reads reached the chat body.
func requireNoAnthropicFields(t testing.TB, chat []byte) {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(chat, &v))
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if k == "parameters" {
					// A tool's own schema may name any property.
					if m, ok := e.(map[string]any); ok && m["$schema"] != nil {
						t.Fatalf("%s.parameters.$schema reached the chat body", path)
					}
					continue
				}
				switch k {
				case "cache_control", "thinking", "context_management", "output_config", "top_k", "service_tier",
					"container", "mcp_servers", "defer_loading", "input_examples", "input_schema", "metadata",
					"stop_sequences", "signature", "tool_use_id", "is_error":
					t.Fatalf("%s.%s reached the chat body", path, k)
				}
				if k == "type" {
					switch e {
					case "tool_use", "tool_result", "thinking", "redacted_thinking", "image", "document", "web_search_20250305":
						t.Fatalf("%s: block type %v reached the chat body", path, e)
					}
				}
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range v {
				walk(path+"."+itoa(i), e)
			}
		}
	}
	walk("", v)
}

func TestToChatErrors(t *testing.T) {
	tests := []struct{ name, body, wantMsg string }{
		{"not JSON", `{"model":`, "the request body must be a JSON object"},
		{"not an object", `[1]`, "the request body must be a JSON object"},
		{"no max_tokens", `{"model":"m","messages":[{"role":"user","content":"q"}]}`, "max_tokens: Field required"},
		{"max_tokens a string", `{"model":"m","max_tokens":"10","messages":[]}`, "max_tokens: Input should be a valid integer, got a string"},
		{"max_tokens zero", `{"model":"m","max_tokens":0,"messages":[]}`, "max_tokens: Input should be greater than or equal to 1"},
		{"no model", `{"max_tokens":1,"messages":[{"role":"user","content":"q"}]}`, "model: Field required"},
		{"model a number", `{"model":1,"max_tokens":1,"messages":[]}`, "model: Input should be a valid string, got a number"},
		{"no messages", `{"model":"m","max_tokens":1}`, "messages: Field required"},
		{"messages an object", `{"model":"m","max_tokens":1,"messages":{}}`, "messages: Input should be a valid list, got an object"},
		{"empty messages", `{"model":"m","max_tokens":1,"messages":[]}`, "messages: at least one message is required"},
		{"unknown role", `{"model":"m","max_tokens":1,"messages":[{"role":"tool","content":"x"}]}`, `messages.0.role: Input should be 'user' or 'assistant', got "tool"`},
		{"message not an object", `{"model":"m","max_tokens":1,"messages":["hi"]}`, "messages.0: Input should be a valid dictionary, got a string"},
		{"no content", `{"model":"m","max_tokens":1,"messages":[{"role":"user"}]}`, "messages.0.content: Field required"},
		{"content a number", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":5}]}`, "messages.0.content: Input should be a valid string or list of content blocks, got a number"},
		{"unknown user block", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"video"}]}]}`, `messages.0.content.0.type: block type "video" is not supported in user turns`},
		{"unknown assistant block", `{"model":"m","max_tokens":1,"messages":[{"role":"assistant","content":[{"type":"image","source":{}}]}]}`, `messages.0.content.0.type: block type "image" is not supported in assistant turns`},
		{"text block without text", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"text"}]}]}`, "messages.0.content.0.text: Field required"},
		{"text a number", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"text","text":1}]}]}`, "messages.0.content.0.text: Input should be a valid string, got a JSON number"},
		{"tool_result without id", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_result","content":"x"}]}]}`, "messages.0.content.0.tool_use_id: Field required"},
		{"tool_use in a user turn", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_use","id":"a","name":"f","input":{}}]}]}`, "messages.0.content.0: tool_use blocks belong in assistant turns"},
		{"tool_use without name", `{"model":"m","max_tokens":1,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","input":{}}]}]}`, "messages.0.content.0: a tool_use block needs an id and a name"},
		{"image by file id", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"file_1"}}]}]}`, `messages.0.content.0.source.type: image source "file" is not supported`},
		{"pdf by url", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"url","url":"https://x/a.pdf"}}]}]}`, `messages.0.content.0.source.type: document source "url" is not supported`},
		{"system a number", `{"model":"m","max_tokens":1,"system":1,"messages":[{"role":"user","content":"q"}]}`, "system: Input should be a valid string or list of text blocks, got a number"},
		{"system image block", `{"model":"m","max_tokens":1,"system":[{"type":"image"}],"messages":[{"role":"user","content":"q"}]}`, `system.0: want a text block, got type "image"`},
		{"tools an object", `{"model":"m","max_tokens":1,"tools":{},"messages":[{"role":"user","content":"q"}]}`, "tools: Input should be a valid list, got an object"},
		{"tool without schema", `{"model":"m","max_tokens":1,"tools":[{"name":"f"}],"messages":[{"role":"user","content":"q"}]}`, "tools.0.input_schema: Input should be a valid dictionary, got nothing"},
		{"tool without name", `{"model":"m","max_tokens":1,"tools":[{"input_schema":{}}],"messages":[{"role":"user","content":"q"}]}`, "tools.0.name: Field required"},
		{"bad tool_choice", `{"model":"m","max_tokens":1,"tool_choice":{"type":"sometimes"},"messages":[{"role":"user","content":"q"}]}`, `tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none', got "sometimes"`},
		{"tool_choice tool without name", `{"model":"m","max_tokens":1,"tool_choice":{"type":"tool"},"messages":[{"role":"user","content":"q"}]}`, "tool_choice.name: Field required"},
		{"stream a string", `{"model":"m","max_tokens":1,"stream":"yes","messages":[{"role":"user","content":"q"}]}`, "stream: Input should be a valid boolean, got a string"},
		{"temperature a string", `{"model":"m","max_tokens":1,"temperature":"hot","messages":[{"role":"user","content":"q"}]}`, "temperature: Input should be a valid number, got a string"},
		{"stop_sequences a string", `{"model":"m","max_tokens":1,"stop_sequences":"END","messages":[{"role":"user","content":"q"}]}`, "stop_sequences: Input should be a valid list of strings"},
		{"user_id a number", `{"model":"m","max_tokens":1,"metadata":{"user_id":7},"messages":[{"role":"user","content":"q"}]}`, "metadata.user_id: Input should be a valid string, got a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, req, err := ToChat([]byte(tt.body))
			require.Error(t, err)
			require.True(t, errors.Is(err, translate.ErrBadRequest), "%v does not wrap ErrBadRequest", err)
			require.Contains(t, err.Error(), tt.wantMsg)
			require.NotContains(t, err.Error(), "bad request")
			require.Nil(t, got)
			require.Equal(t, Request{}, req)
		})
	}
}
