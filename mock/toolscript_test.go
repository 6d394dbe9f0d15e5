package mock

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFindToolCall(t *testing.T) {
	tests := []struct {
		name, text, tool, args, err string
	}{
		{"plain", `MOCK_TOOL_CALL Bash {"command": "echo hi"}`, "Bash", `{"command":"echo hi"}`, ""},
		{"inside text, later line", "please\nnow MOCK_TOOL_CALL get_weather   {\"city\":\"Oslo\"}  \r\nthanks", "get_weather", `{"city":"Oslo"}`, ""},
		{"no arguments", "MOCK_TOOL_CALL list_files", "list_files", `{}`, ""},
		{"tab separated", "MOCK_TOOL_CALL\texec_command\t{\"cmd\":\"ls\"}", "exec_command", `{"cmd":"ls"}`, ""},
		{"the first marker counts", "MOCK_TOOL_CALL a {}\nMOCK_TOOL_CALL b {}", "a", `{}`, ""},
		{"longer word is not the marker", "MOCK_TOOL_CALLS a {}", "", "", "no MOCK_TOOL_CALL marker"},
		{"no marker", "hello", "", "", "no MOCK_TOOL_CALL marker"},
		{"no name", "MOCK_TOOL_CALL   ", "", "", "a tool name must follow"},
		{"arguments not an object", `MOCK_TOOL_CALL f [1,2]`, "", "", "must be a JSON object"},
		{"arguments not JSON", `MOCK_TOOL_CALL f {"a":`, "", "", "must be a JSON object"},
		{"arguments on the next line", "MOCK_TOOL_CALL f {\n\"a\":1}", "", "", "must be a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := findToolCall(tt.text)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.tool, c.name)
			require.Equal(t, tt.args, string(c.args))
		})
	}
}

func TestScriptToolCall(t *testing.T) {
	// No tools offered: the marker is plain text.
	_, ok, problem := scriptToolCall([]string{"MOCK_TOOL_CALL f {}"}, nil)
	require.False(t, ok)
	require.Empty(t, problem)
	// Each text is searched on its own: a following text is not on the marker's line.
	c, ok, problem := scriptToolCall([]string{"MOCK_TOOL_CALL f {\"x\":1}", "<reminder/>"}, []string{"g", "f"})
	require.True(t, ok, problem)
	require.Equal(t, "f", c.name)
	_, ok, problem = scriptToolCall([]string{"MOCK_TOOL_CALL h {}"}, []string{"g", "f"})
	require.False(t, ok)
	require.Equal(t, `mock: MOCK_TOOL_CALL names tool "h", which is not among the request's tools (g, f)`, problem)
}

const chatToolsJSON = `"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]`

func chatToolBody(stream bool, lastMessages string) string {
	s := `{"model":"gpt-4o",` + chatToolsJSON + `,"messages":[{"role":"system","content":"Be brief."},` + lastMessages + `]`
	if stream {
		s += `,"stream":true,"stream_options":{"include_usage":true}`
	}
	return s + "}"
}

const chatMarker = `{"role":"user","content":"MOCK_TOOL_CALL get_weather {\"city\": \"Oslo\"}"}`

func TestChatScriptedToolCall(t *testing.T) {
	s := New(Options{})
	rec := serve(s, http.MethodPost, "/v1/chat/completions", chatToolBody(false, chatMarker))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var resp struct {
		Choices []struct {
			Message      map[string]json.RawMessage `json:"message"`
			FinishReason string                     `json:"finish_reason"`
		} `json:"choices"`
		Usage usage `json:"usage"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
	require.Equal(t, "tool_calls", resp.Choices[0].FinishReason)
	msg := resp.Choices[0].Message
	require.JSONEq(t, `null`, string(msg["content"]))
	var calls []toolCall
	require.NoError(t, json.Unmarshal(msg["tool_calls"], &calls))
	require.Len(t, calls, 1)
	require.True(t, strings.HasPrefix(calls[0].ID, "call_"), calls[0].ID)
	require.Equal(t, "function", calls[0].Type)
	require.Equal(t, functionCall{Name: "get_weather", Arguments: `{"city":"Oslo"}`}, calls[0].Function)
	require.Equal(t, EstimateTokens(`get_weather{"city":"Oslo"}`), resp.Usage.CompletionTokens)

	// A text answer still has no tool_calls key.
	rec = serve(s, http.MethodPost, "/v1/chat/completions", chatToolBody(false, `{"role":"user","content":"hi"}`))
	require.NotContains(t, rec.Body.String(), "tool_calls")
	require.Contains(t, rec.Body.String(), `"content":"Hello from mock mock! You said: hi"`)

	// Without tools the marker is text; with a tool it does not offer, a 400.
	rec = serve(s, http.MethodPost, "/v1/chat/completions", `{"model":"m","messages":[`+chatMarker+`]}`)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), "You said: MOCK_TOOL_CALL")
	rec = serve(s, http.MethodPost, "/v1/chat/completions", chatToolBody(false, `{"role":"user","content":"MOCK_TOOL_CALL Bash {}"}`))
	require.Equal(t, http.StatusBadRequest, rec.Code)
	e := decodeError(t, rec.Body.Bytes())
	require.Contains(t, e.Error.Message, `names tool "Bash", which is not among the request's tools (get_weather)`)
	rec = serve(s, http.MethodPost, "/v1/chat/completions", chatToolBody(false, `{"role":"user","content":"MOCK_TOOL_CALL get_weather nope"}`))
	require.Equal(t, http.StatusBadRequest, rec.Code)
	decodeError(t, rec.Body.Bytes())
}

func TestChatToolResultIsQuoted(t *testing.T) {
	s := New(Options{Name: "q"})
	result := "a long tool output that goes well past forty runes: sunny, 21C"
	history := chatMarker + `,{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},` +
		`{"role":"tool","tool_call_id":"call_1","content":[{"type":"text","text":"` + result + `"}]}`
	rec := serve(s, http.MethodPost, "/v1/chat/completions", chatToolBody(false, history))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"content":"Hello from mock q! You said: `+result+`"`)
	require.Contains(t, rec.Body.String(), `"finish_reason":"stop"`)
	require.Equal(t, Reply("q", "short"), ToolResultReply("q", "short"))
}

func TestChatStreamScriptedToolCall(t *testing.T) {
	_, ts := start(t, Options{Chunks: 3})
	resp := post(t, ts, "/v1/chat/completions", chatToolBody(true, chatMarker))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	events, err := readEvents(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "[DONE]", events[len(events)-1])
	events = events[:len(events)-1]
	// first chunk, 3 argument pieces, finish, usage
	require.Len(t, events, 6)

	type delta struct {
		Role      *string         `json:"role"`
		Content   json.RawMessage `json:"content"`
		ToolCalls []struct {
			Index    *int   `json:"index"`
			ID       string `json:"id"`
			Type     string `json:"type"`
			Function struct {
				Name      string  `json:"name"`
				Arguments *string `json:"arguments"`
			} `json:"function"`
		} `json:"tool_calls"`
	}
	type chunk struct {
		Choices []struct {
			Delta        delta   `json:"delta"`
			FinishReason *string `json:"finish_reason"`
		} `json:"choices"`
		Usage *usage `json:"usage"`
	}
	var chunks []chunk
	for _, ev := range events {
		var ch chunk
		require.NoError(t, json.Unmarshal([]byte(ev), &ch), ev)
		chunks = append(chunks, ch)
	}
	first := chunks[0].Choices[0].Delta
	require.Equal(t, "assistant", *first.Role)
	require.JSONEq(t, "null", string(first.Content))
	require.Len(t, first.ToolCalls, 1)
	require.Equal(t, 0, *first.ToolCalls[0].Index)
	require.True(t, strings.HasPrefix(first.ToolCalls[0].ID, "call_"))
	require.Equal(t, "function", first.ToolCalls[0].Type)
	require.Equal(t, "get_weather", first.ToolCalls[0].Function.Name)
	require.Equal(t, "", *first.ToolCalls[0].Function.Arguments)

	var args strings.Builder
	for _, ch := range chunks[1:4] {
		tc := ch.Choices[0].Delta.ToolCalls
		require.Len(t, tc, 1)
		require.Equal(t, 0, *tc[0].Index)
		require.Empty(t, tc[0].ID)
		args.WriteString(*tc[0].Function.Arguments)
	}
	require.Equal(t, `{"city":"Oslo"}`, args.String())
	require.Equal(t, "tool_calls", *chunks[4].Choices[0].FinishReason)
	require.Empty(t, chunks[5].Choices)
	require.Equal(t, EstimateTokens(`get_weather{"city":"Oslo"}`), chunks[5].Usage.CompletionTokens)
}

const anthropicToolsJSON = `"tools":[{"name":"Bash","input_schema":{"type":"object","properties":{"command":{"type":"string"}},"required":["command"]}},` +
	`{"name":"Read","input_schema":{"type":"object"}}]`

func anthropicScriptBody(stream bool, messages string) string {
	return `{"model":"claude","max_tokens":100,"stream":` + map[bool]string{true: "true", false: "false"}[stream] + `,` + anthropicToolsJSON + `,"messages":[` + messages + `]}`
}

// Claude Code's prompt turn: the prompt next to other text blocks.
const anthropicMarker = `{"role":"user","content":[{"type":"text","text":"<system-reminder>be good</system-reminder>"},` +
	`{"type":"text","text":"Run it.\nMOCK_TOOL_CALL Bash {\"command\":\"echo hi\"}"},{"type":"text","text":"more"}]}`

func TestAnthropicScriptedToolUse(t *testing.T) {
	s := New(Options{})
	rec := serve(s, http.MethodPost, "/v1/messages", anthropicScriptBody(false, anthropicMarker), anthropicHeaders...)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var msg struct {
		StopReason string `json:"stop_reason"`
		Content    []struct {
			Type  string          `json:"type"`
			ID    string          `json:"id"`
			Name  string          `json:"name"`
			Input json.RawMessage `json:"input"`
		} `json:"content"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &msg))
	require.Equal(t, "tool_use", msg.StopReason)
	require.Len(t, msg.Content, 1)
	require.Equal(t, "tool_use", msg.Content[0].Type)
	require.True(t, strings.HasPrefix(msg.Content[0].ID, "toolu_01"))
	require.Equal(t, "Bash", msg.Content[0].Name)
	require.JSONEq(t, `{"command":"echo hi"}`, string(msg.Content[0].Input))

	// A tool it does not offer: Anthropic's 400.
	rec = serve(s, http.MethodPost, "/v1/messages", anthropicScriptBody(false, `{"role":"user","content":"MOCK_TOOL_CALL Write {}"}`), anthropicHeaders...)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	e := decodeAnthropicError(t, rec.Body.Bytes())
	require.Equal(t, "invalid_request_error", e.Error.Type)
	require.Contains(t, e.Error.Message, `names tool "Write", which is not among the request's tools (Bash, Read)`)

	// The turn of tool results is quoted whole, even if the result echoes the marker.
	result := "hi\nMOCK_TOOL_CALL Bash {} and more than forty runes of output"
	history := anthropicMarker + `,{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"echo hi"}}]},` +
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":` + string(mustJSON(t, result)) + `,"is_error":false},{"type":"text","text":"<system-reminder/>"}]}`
	rec = serve(s, http.MethodPost, "/v1/messages", anthropicScriptBody(false, history), anthropicHeaders...)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var text struct {
		StopReason string `json:"stop_reason"`
		Content    []struct {
			Text string `json:"text"`
		} `json:"content"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &text))
	require.Equal(t, "end_turn", text.StopReason)
	require.Equal(t, ToolResultReply("mock", result), text.Content[0].Text)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestAnthropicStreamScriptedToolUse(t *testing.T) {
	_, ts := start(t, Options{Chunks: 4})
	resp := post(t, ts, "/v1/messages", anthropicScriptBody(true, anthropicMarker), anthropicHeaders...)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	evs := readAnthropicSSE(t, resp.Body)
	require.Equal(t, []string{"message_start", "content_block_start", "ping",
		"content_block_delta", "content_block_delta", "content_block_delta", "content_block_delta",
		"content_block_stop", "message_delta", "message_stop"}, anthropicEventNames(evs))
	block := evs[1].data["content_block"].(map[string]any)
	require.Equal(t, "tool_use", block["type"])
	require.Equal(t, "Bash", block["name"])
	require.Equal(t, map[string]any{}, block["input"])
	require.True(t, strings.HasPrefix(block["id"].(string), "toolu_01"))
	var input strings.Builder
	for _, e := range evs[3:7] {
		d := e.data["delta"].(map[string]any)
		require.Equal(t, "input_json_delta", d["type"])
		input.WriteString(d["partial_json"].(string))
	}
	require.Equal(t, `{"command":"echo hi"}`, input.String())
	require.Equal(t, "tool_use", evs[8].data["delta"].(map[string]any)["stop_reason"])
}

// Claude Code's first request: output_config, and a "system" message after
// the prompt turn, which is still the last turn.
func TestAnthropicScriptAfterSystemMessage(t *testing.T) {
	s := New(Options{})
	body := `{"model":"claude","max_tokens":32000,"stream":false,"output_config":{"effort":"high"},` + anthropicToolsJSON + `,"messages":[` +
		anthropicMarker + `,{"role":"system","content":[{"type":"text","text":"# Environment"}]}]}`
	rec := serve(s, http.MethodPost, "/v1/messages", body, anthropicHeaders...)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"stop_reason":"tool_use"`)
	require.Contains(t, rec.Body.String(), `"input":{"command":"echo hi"}`)

	// It does not break alternation, and cannot open the conversation.
	body = `{"model":"claude","max_tokens":9,"messages":[{"role":"user","content":"a"},{"role":"system","content":"s"},{"role":"user","content":"b"}]}`
	rec = serve(s, http.MethodPost, "/v1/messages", body, anthropicHeaders...)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Contains(t, rec.Body.String(), `multiple \"user\" roles in a row`)
	body = `{"model":"claude","max_tokens":9,"messages":[{"role":"system","content":"s"},{"role":"user","content":"b"}]}`
	rec = serve(s, http.MethodPost, "/v1/messages", body, anthropicHeaders...)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Contains(t, rec.Body.String(), `messages.0.role`)
}

// A system message after the user's (Claude Code's first turn, bridged to
// chat completions) does not hide the user's turn from the script.
func TestChatScriptAfterSystemMessage(t *testing.T) {
	s := New(Options{})
	rec := serve(s, http.MethodPost, "/v1/chat/completions", chatToolBody(false, chatMarker+`,{"role":"system","content":"# Environment"}`))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"finish_reason":"tool_calls"`)
	require.Contains(t, rec.Body.String(), `get_weather`)
}
