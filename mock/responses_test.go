package mock

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const responsesToolsJSON = `"tools":[{"type":"function","name":"exec_command","parameters":{"type":"object","properties":{"cmd":{"type":"string"}}}},{"type":"web_search"}]`

type responseWire struct {
	ID        string            `json:"id"`
	Object    string            `json:"object"`
	Status    string            `json:"status"`
	Model     string            `json:"model"`
	Store     bool              `json:"store"`
	Tools     []json.RawMessage `json:"tools"`
	Output    []outputItemWire  `json:"output"`
	Usage     *responsesUsage   `json:"usage"`
	CreatedAt int64             `json:"created_at"`
}

type outputItemWire struct {
	ID      string  `json:"id"`
	Type    string  `json:"type"`
	Status  string  `json:"status"`
	Role    string  `json:"role"`
	CallID  string  `json:"call_id"`
	Name    string  `json:"name"`
	Args    *string `json:"arguments"`
	Content []struct {
		Type        string `json:"type"`
		Text        string `json:"text"`
		Annotations []any  `json:"annotations"`
	} `json:"content"`
}

func decodeResponse(t *testing.T, body []byte) responseWire {
	t.Helper()
	var r responseWire
	require.NoError(t, json.Unmarshal(body, &r), string(body))
	return r
}

func TestResponsesText(t *testing.T) {
	s := New(Options{Name: "r"})
	rec := serve(s, http.MethodPost, "/v1/responses", `{"model":"gpt-5","instructions":"Be brief.","input":"hello responses"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.True(t, strings.HasPrefix(rec.Header().Get("X-Request-Id"), "req_"))
	r := decodeResponse(t, rec.Body.Bytes())
	require.True(t, strings.HasPrefix(r.ID, "resp_"), r.ID)
	require.Equal(t, "response", r.Object)
	require.Equal(t, "completed", r.Status)
	require.Equal(t, "gpt-5", r.Model)
	require.True(t, r.Store)
	require.NotZero(t, r.CreatedAt)
	require.Len(t, r.Output, 1)
	it := r.Output[0]
	require.Equal(t, "message", it.Type)
	require.Equal(t, "assistant", it.Role)
	require.Equal(t, "completed", it.Status)
	require.True(t, strings.HasPrefix(it.ID, "msg_"))
	require.Nil(t, it.Args)
	require.Len(t, it.Content, 1)
	require.Equal(t, "output_text", it.Content[0].Type)
	require.Equal(t, Reply("r", "hello responses"), it.Content[0].Text)
	require.NotNil(t, it.Content[0].Annotations)
	in := EstimateTokens("Be brief." + "hello responses")
	out := EstimateTokens(Reply("r", "hello responses"))
	require.Equal(t, in, r.Usage.InputTokens)
	require.Equal(t, out, r.Usage.OutputTokens)
	require.Equal(t, in+out, r.Usage.TotalTokens)

	// Input items: the last user message is answered; developer messages count.
	rec = serve(s, http.MethodPost, "/v1/responses", `{"model":"gpt-5","store":false,"input":[`+
		`{"type":"message","role":"developer","content":[{"type":"input_text","text":"rules"}]},`+
		`{"role":"user","content":[{"type":"input_text","text":"first"},{"type":"input_image","image_url":"x"}]}]}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	r = decodeResponse(t, rec.Body.Bytes())
	require.False(t, r.Store)
	require.Equal(t, Reply("r", "first"), r.Output[0].Content[0].Text)
}

func TestResponsesBadRequests(t *testing.T) {
	tests := []struct {
		name, body string
		status     int
		msg        string
	}{
		{"not JSON", `{`, 400, "could not parse the JSON body"},
		{"no model", `{"input":"x"}`, 400, "you must provide a model parameter"},
		{"no input", `{"model":"m"}`, 400, "Missing required parameter: 'input'."},
		{"empty input", `{"model":"m","input":[]}`, 400, "empty array"},
		{"input not items", `{"model":"m","input":5}`, 400, "Invalid type for 'input'"},
		{"message without role", `{"model":"m","input":[{"type":"message","content":"x"}]}`, 400, "'input[0].role'"},
		{"previous response", `{"model":"m","input":"x","previous_response_id":"resp_1"}`, 404, "Previous response with id 'resp_1' not found."},
		{"tool not offered", `{"model":"m",` + responsesToolsJSON + `,"input":"MOCK_TOOL_CALL shell {}"}`, 400, `names tool "shell", which is not among the request's tools (exec_command)`},
	}
	s := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(s, http.MethodPost, "/v1/responses", tt.body)
			require.Equal(t, tt.status, rec.Code, rec.Body.String())
			e := decodeError(t, rec.Body.Bytes())
			require.Contains(t, e.Error.Message, tt.msg)
		})
	}
}

func TestResponsesInjectedFailure(t *testing.T) {
	s := New(Options{RetryAfter: time.Second})
	rec := serve(s, http.MethodPost, "/v1/responses", `{"model":"gpt-5","input":"x"}`, "x-mock-status", "429")
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	require.Equal(t, "1", rec.Header().Get("Retry-After"))
	e := decodeError(t, rec.Body.Bytes())
	require.Equal(t, "rate_limit_exceeded", deref(e.Error.Code))
}

func TestResponsesScriptedFunctionCall(t *testing.T) {
	s := New(Options{})
	rec := serve(s, http.MethodPost, "/v1/responses", `{"model":"gpt-5",`+responsesToolsJSON+`,"input":[`+
		`{"type":"message","role":"user","content":[{"type":"input_text","text":"<environment_context/>"}]},`+
		`{"type":"message","role":"user","content":[{"type":"input_text","text":"MOCK_TOOL_CALL exec_command {\"cmd\": \"echo hi\"}"}]}]}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	r := decodeResponse(t, rec.Body.Bytes())
	require.Len(t, r.Tools, 2) // echoed as sent
	require.Len(t, r.Output, 1)
	it := r.Output[0]
	require.Equal(t, "function_call", it.Type)
	require.Equal(t, "completed", it.Status)
	require.True(t, strings.HasPrefix(it.ID, "fc_"), it.ID)
	require.True(t, strings.HasPrefix(it.CallID, "call_"), it.CallID)
	require.Equal(t, "exec_command", it.Name)
	require.Equal(t, `{"cmd":"echo hi"}`, *it.Args)
	require.Nil(t, it.Content)
	require.Equal(t, EstimateTokens(`exec_command{"cmd":"echo hi"}`), r.Usage.OutputTokens)

	// The next turn resends the history with the output: it is quoted whole.
	output := "Process exited with code 0\nOutput:\nhi\n"
	rec = serve(s, http.MethodPost, "/v1/responses", `{"model":"gpt-5",`+responsesToolsJSON+`,"input":[`+
		`{"type":"message","role":"user","content":"MOCK_TOOL_CALL exec_command {\"cmd\": \"echo hi\"}"},`+
		`{"type":"function_call","call_id":"`+it.CallID+`","name":"exec_command","arguments":"{\"cmd\":\"echo hi\"}"},`+
		`{"type":"function_call_output","call_id":"`+it.CallID+`","output":`+string(mustJSON(t, output))+`}]}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	r = decodeResponse(t, rec.Body.Bytes())
	require.Equal(t, "message", r.Output[0].Type)
	require.Equal(t, ToolResultReply("mock", output), r.Output[0].Content[0].Text)
}

func TestResponsesStreamText(t *testing.T) {
	_, ts := start(t, Options{Name: "rs", Chunks: 3})
	resp := post(t, ts, "/v1/responses", `{"model":"gpt-5","stream":true,"input":"stream me"}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream; charset=utf-8", resp.Header.Get("Content-Type"))
	evs := readAnthropicSSE(t, resp.Body) // same framing: event, data, blank line
	require.Equal(t, []string{"response.created", "response.in_progress", "response.output_item.added",
		"response.content_part.added", "response.output_text.delta", "response.output_text.delta", "response.output_text.delta",
		"response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"}, anthropicEventNames(evs))
	for i, e := range evs {
		require.EqualValues(t, i, e.data["sequence_number"], e.event)
	}
	created := evs[0].data["response"].(map[string]any)
	require.Equal(t, "in_progress", created["status"])
	require.Equal(t, []any{}, created["output"])
	require.Nil(t, created["usage"])

	added := evs[2].data["item"].(map[string]any)
	itemID := added["id"].(string)
	require.Equal(t, "in_progress", added["status"])
	require.Equal(t, []any{}, added["content"])
	want := Reply("rs", "stream me")
	var text strings.Builder
	for _, e := range evs[3:9] {
		require.Equal(t, itemID, e.data["item_id"], e.event)
		require.EqualValues(t, 0, e.data["output_index"], e.event)
	}
	for _, e := range evs[4:7] {
		text.WriteString(e.data["delta"].(string))
	}
	require.Equal(t, want, text.String())
	require.Equal(t, want, evs[7].data["text"])
	require.Equal(t, want, evs[8].data["part"].(map[string]any)["text"])
	done := evs[9].data["item"].(map[string]any)
	require.Equal(t, "completed", done["status"])
	completed := evs[10].data["response"].(map[string]any)
	require.Equal(t, "completed", completed["status"])
	require.Equal(t, created["id"], completed["id"])
	require.Equal(t, []any{done}, completed["output"])
	require.EqualValues(t, EstimateTokens(want), completed["usage"].(map[string]any)["output_tokens"])
}

func TestResponsesStreamFunctionCall(t *testing.T) {
	_, ts := start(t, Options{Chunks: 4})
	resp := post(t, ts, "/v1/responses", `{"model":"gpt-5","stream":true,`+responsesToolsJSON+`,"input":"MOCK_TOOL_CALL exec_command {\"cmd\":\"ls -la\"}"}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	evs := readAnthropicSSE(t, resp.Body)
	require.Equal(t, []string{"response.created", "response.in_progress", "response.output_item.added",
		"response.function_call_arguments.delta", "response.function_call_arguments.delta",
		"response.function_call_arguments.delta", "response.function_call_arguments.delta",
		"response.function_call_arguments.done", "response.output_item.done", "response.completed"}, anthropicEventNames(evs))
	added := evs[2].data["item"].(map[string]any)
	require.Equal(t, "function_call", added["type"])
	require.Equal(t, "exec_command", added["name"])
	require.Equal(t, "", added["arguments"])
	require.True(t, strings.HasPrefix(added["call_id"].(string), "call_"))
	var args strings.Builder
	for _, e := range evs[3:7] {
		require.Equal(t, added["id"], e.data["item_id"])
		args.WriteString(e.data["delta"].(string))
	}
	require.Equal(t, `{"cmd":"ls -la"}`, args.String())
	require.Equal(t, `{"cmd":"ls -la"}`, evs[7].data["arguments"])
	done := evs[8].data["item"].(map[string]any)
	require.Equal(t, `{"cmd":"ls -la"}`, done["arguments"])
	require.Equal(t, added["call_id"], done["call_id"])
	require.Equal(t, "completed", done["status"])
	require.Equal(t, []any{done}, evs[9].data["response"].(map[string]any)["output"])
}

func TestResponsesStreamAbort(t *testing.T) {
	_, ts := start(t, Options{Chunks: 4})
	resp := post(t, ts, "/v1/responses", `{"model":"gpt-5","stream":true,"input":"abort me"}`, "x-mock-fail-stream-after", "2")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	events, err := readEvents(resp.Body)
	require.Error(t, err)
	require.NotContains(t, strings.Join(events, "\n"), "response.completed")
}
