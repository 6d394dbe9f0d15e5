package mock

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const anthropicBody = `{"model":"claude-sonnet-4-5","max_tokens":100,"system":"Be brief.","messages":[{"role":"user","content":[{"type":"text","text":"hello anthropic"}]}]}`

var anthropicHeaders = []string{"x-api-key", "sk-ant-test", "anthropic-version", "2023-06-01", "content-type", "application/json"}

type anthropicErrorWire struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
	RequestID string `json:"request_id"`
}

// decodeAnthropicError checks that body is exactly Anthropic's error shape.
func decodeAnthropicError(t *testing.T, body []byte) anthropicErrorWire {
	t.Helper()
	var keys map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &keys), string(body))
	require.Len(t, keys, 3, string(body))
	var e anthropicErrorWire
	require.NoError(t, json.Unmarshal(body, &e))
	require.Equal(t, "error", e.Type)
	require.NotEmpty(t, e.Error.Type)
	require.NotEmpty(t, e.Error.Message)
	require.True(t, strings.HasPrefix(e.RequestID, "req_011"), e.RequestID)
	return e
}

func TestAnthropicMessage(t *testing.T) {
	s := New(Options{Name: "claude-a"})
	rec := serve(s, http.MethodPost, "/v1/messages", anthropicBody, anthropicHeaders...)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	require.Equal(t, "claude-a", rec.Header().Get("X-Mock-Name"))
	require.True(t, strings.HasPrefix(rec.Header().Get("Request-Id"), "req_011"))

	var msg struct {
		ID           string  `json:"id"`
		Type         string  `json:"type"`
		Role         string  `json:"role"`
		Model        string  `json:"model"`
		StopReason   string  `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
		Content      []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
		Usage map[string]any `json:"usage"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &msg))
	require.True(t, strings.HasPrefix(msg.ID, "msg_01"), msg.ID)
	require.Equal(t, "message", msg.Type)
	require.Equal(t, "assistant", msg.Role)
	require.Equal(t, "claude-sonnet-4-5", msg.Model)
	require.Equal(t, "end_turn", msg.StopReason)
	require.Nil(t, msg.StopSequence)
	require.Len(t, msg.Content, 1)
	require.Equal(t, "text", msg.Content[0].Type)
	require.Equal(t, Reply("claude-a", "hello anthropic"), msg.Content[0].Text)
	// "Be brief." and "hello anthropic": 24 runes.
	require.EqualValues(t, EstimateTokens("Be brief.hello anthropic"), msg.Usage["input_tokens"])
	require.EqualValues(t, EstimateTokens(msg.Content[0].Text), msg.Usage["output_tokens"])
	require.EqualValues(t, 0, msg.Usage["cache_read_input_tokens"])
	require.EqualValues(t, 0, msg.Usage["cache_creation_input_tokens"])

	reqs := s.Requests()
	require.Len(t, reqs, 1)
	require.Equal(t, "/v1/messages", reqs[0].Path)
	require.Equal(t, "sk-ant-test", reqs[0].Header.Get("X-Api-Key"))
	require.JSONEq(t, anthropicBody, string(reqs[0].Body))
}

func TestAnthropicRequiresKeyAndVersion(t *testing.T) {
	s := New(Options{})
	rec := serve(s, http.MethodPost, "/v1/messages", anthropicBody, "anthropic-version", "2023-06-01")
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	e := decodeAnthropicError(t, rec.Body.Bytes())
	require.Equal(t, "authentication_error", e.Error.Type)
	require.Equal(t, "x-api-key header is required", e.Error.Message)

	// An OpenAI-style bearer token is not Anthropic's credential.
	rec = serve(s, http.MethodPost, "/v1/messages", anthropicBody, "authorization", "Bearer sk-x", "anthropic-version", "2023-06-01")
	require.Equal(t, http.StatusUnauthorized, rec.Code)

	rec = serve(s, http.MethodPost, "/v1/messages", anthropicBody, "x-api-key", "k")
	require.Equal(t, http.StatusBadRequest, rec.Code)
	e = decodeAnthropicError(t, rec.Body.Bytes())
	require.Equal(t, "invalid_request_error", e.Error.Type)
	require.Contains(t, e.Error.Message, "anthropic-version")

	// Other methods are not the Messages API.
	rec = serve(s, http.MethodGet, "/v1/messages", "", anthropicHeaders...)
	require.Equal(t, http.StatusNotFound, rec.Code)
}

func TestAnthropicValidation(t *testing.T) {
	tests := []struct{ name, body, msg string }{
		{"not JSON", `{"model":`, "not a JSON object"},
		{"OpenAI key leaked", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true}}`, "stream_options: Extra inputs are not permitted"},
		{"no model", `{"max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`, "model: Field required"},
		{"no max_tokens", `{"model":"c","messages":[{"role":"user","content":"hi"}]}`, "max_tokens: Field required"},
		{"max_tokens zero", `{"model":"c","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}`, "max_tokens"},
		{"no messages", `{"model":"c","max_tokens":5}`, "messages: Field required"},
		{"empty messages", `{"model":"c","max_tokens":5,"messages":[]}`, "at least one message"},
		{"system role", `{"model":"c","max_tokens":5,"messages":[{"role":"system","content":"x"}]}`, "role"},
		{"roles in a row", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}`, `multiple "user" roles in a row`},
		{"empty text", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":""}]}]}`, "must be non-empty"},
		{"empty content", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":[]}]}`, "non-empty content"},
		{"OpenAI image part", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`, "unknown content block type"},
		{"tool_result without id", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","content":"x"}]}]}`, "tool_use_id"},
		{"tool_use input not an object", `{"model":"c","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":"{}"}]}]}`, "input object"},
		{"system not text", `{"model":"c","max_tokens":5,"system":[{"type":"image"}],"messages":[{"role":"user","content":"hi"}]}`, "system"},
		{"tool_choice without tools", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tool_choice":{"type":"any"}}`, "only be specified while providing tools"},
		{"OpenAI tool shape", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}]}`, "input_schema"},
		{"unknown tool_choice", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"required"}}`, "tool_choice.type"},
		{"tool_choice names a missing tool", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"g"}}`, `"g" not found`},
	}
	s := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(s, http.MethodPost, "/v1/messages", tt.body, anthropicHeaders...)
			require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
			e := decodeAnthropicError(t, rec.Body.Bytes())
			require.Equal(t, "invalid_request_error", e.Error.Type)
			require.Contains(t, e.Error.Message, tt.msg)
		})
	}
}

const anthropicToolBody = `{"model":"claude","max_tokens":100,"messages":[{"role":"user","content":"Weather in Paris?"}],` +
	`"tools":[{"name":"get_weather","input_schema":{"type":"object","properties":{"location":{"type":"string"},"days":{"type":"integer"},"unit":{"type":"string"}},"required":["location","days"]}}],` +
	`"tool_choice":{"type":"any"}}`

func TestAnthropicToolUse(t *testing.T) {
	s := New(Options{})
	rec := serve(s, http.MethodPost, "/v1/messages", anthropicToolBody, anthropicHeaders...)
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
	require.Equal(t, "get_weather", msg.Content[0].Name)
	require.JSONEq(t, `{"location":"Weather in Paris?","days":17}`, string(msg.Content[0].Input))

	// tool_choice auto answers in text; a named tool is used.
	rec = serve(s, http.MethodPost, "/v1/messages", strings.Replace(anthropicToolBody, `{"type":"any"}`, `{"type":"auto"}`, 1), anthropicHeaders...)
	require.Contains(t, rec.Body.String(), `"stop_reason":"end_turn"`)
	rec = serve(s, http.MethodPost, "/v1/messages", strings.Replace(anthropicToolBody, `{"type":"any"}`, `{"type":"tool","name":"get_weather"}`, 1), anthropicHeaders...)
	require.Contains(t, rec.Body.String(), `"stop_reason":"tool_use"`)

	// The answer to a tool result reads it.
	body := `{"model":"c","max_tokens":9,"messages":[{"role":"user","content":"hi"},` +
		`{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{}}]},` +
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"sunny"}]}]}]}`
	rec = serve(s, http.MethodPost, "/v1/messages", body, anthropicHeaders...)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), "You said: sunny")
}

func TestAnthropicInjectedErrors(t *testing.T) {
	tests := []struct {
		status int
		typ    string
	}{
		{400, "invalid_request_error"},
		{401, "authentication_error"},
		{403, "permission_error"},
		{404, "not_found_error"},
		{413, "request_too_large"},
		{429, "rate_limit_error"},
		{500, "api_error"},
		{503, "api_error"},
		{529, "overloaded_error"},
		{418, "invalid_request_error"},
	}
	s := New(Options{RetryAfter: 1500 * time.Millisecond})
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			rec := serve(s, http.MethodPost, "/v1/messages", anthropicBody, append(anthropicHeaders, "x-mock-status", strconv.Itoa(tt.status))...)
			require.Equal(t, tt.status, rec.Code)
			e := decodeAnthropicError(t, rec.Body.Bytes())
			require.Equal(t, tt.typ, e.Error.Type)
			require.Equal(t, "2", rec.Header().Get("Retry-After"))
		})
	}
	rec := serve(s, http.MethodPost, "/v1/messages", anthropicBody, append(anthropicHeaders, "x-mock-status", "404")...)
	require.Contains(t, rec.Body.String(), "model: claude-sonnet-4-5")

	// A malformed knob is the test's bug, in Anthropic's shape too.
	rec = serve(s, http.MethodPost, "/v1/messages", anthropicBody, append(anthropicHeaders, "x-mock-status", "abc")...)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	decodeAnthropicError(t, rec.Body.Bytes())
}

func TestAnthropicContextWindow(t *testing.T) {
	s := New(Options{})
	rec := serve(s, http.MethodPost, "/v1/messages", anthropicBody, append(anthropicHeaders, "x-mock-context-window", "3")...)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	e := decodeAnthropicError(t, rec.Body.Bytes())
	require.Equal(t, "prompt is too long: 6 tokens > 3 maximum", e.Error.Message)

	rec = serve(s, http.MethodPost, "/v1/messages", anthropicBody, append(anthropicHeaders, "x-mock-context-window", "6")...)
	require.Equal(t, http.StatusOK, rec.Code)
}

type anthropicSSE struct {
	event string
	data  map[string]any
}

// readAnthropicSSE reads a whole Anthropic stream, checking its framing:
// an event line, a data line of the same type, a blank line.
func readAnthropicSSE(t *testing.T, r io.Reader) []anthropicSSE {
	t.Helper()
	var out []anthropicSSE
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		event, ok := strings.CutPrefix(sc.Text(), "event: ")
		require.True(t, ok, "want an event line, got %q", sc.Text())
		require.True(t, sc.Scan())
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		require.True(t, ok, "want a data line, got %q", sc.Text())
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(data), &m))
		require.Equal(t, event, m["type"])
		require.True(t, sc.Scan())
		require.Empty(t, sc.Text())
		out = append(out, anthropicSSE{event, m})
	}
	require.NoError(t, sc.Err())
	return out
}

func anthropicEventNames(evs []anthropicSSE) []string {
	var names []string
	for _, e := range evs {
		names = append(names, e.event)
	}
	return names
}

func TestAnthropicStream(t *testing.T) {
	_, ts := start(t, Options{Name: "claude-s", Chunks: 3})
	body := strings.Replace(anthropicBody, `"max_tokens":100`, `"max_tokens":100,"stream":true`, 1)
	resp := post(t, ts, "/v1/messages", body, anthropicHeaders...)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream; charset=utf-8", resp.Header.Get("Content-Type"))
	evs := readAnthropicSSE(t, resp.Body)
	require.Equal(t, []string{"message_start", "content_block_start", "ping",
		"content_block_delta", "content_block_delta", "content_block_delta",
		"content_block_stop", "message_delta", "message_stop"}, anthropicEventNames(evs))

	msg := evs[0].data["message"].(map[string]any)
	require.Equal(t, "claude-sonnet-4-5", msg["model"])
	require.Equal(t, []any{}, msg["content"])
	require.Nil(t, msg["stop_reason"])
	require.EqualValues(t, 6, msg["usage"].(map[string]any)["input_tokens"])
	require.Equal(t, map[string]any{"type": "text", "text": ""}, evs[1].data["content_block"])

	var text strings.Builder
	for _, e := range evs[3:6] {
		d := e.data["delta"].(map[string]any)
		require.Equal(t, "text_delta", d["type"])
		text.WriteString(d["text"].(string))
	}
	want := Reply("claude-s", "hello anthropic")
	require.Equal(t, want, text.String())
	delta := evs[7].data
	require.Equal(t, "end_turn", delta["delta"].(map[string]any)["stop_reason"])
	require.EqualValues(t, EstimateTokens(want), delta["usage"].(map[string]any)["output_tokens"])
}

func TestAnthropicStreamToolUse(t *testing.T) {
	_, ts := start(t, Options{Chunks: 4})
	body := strings.Replace(anthropicToolBody, `"max_tokens":100`, `"max_tokens":100,"stream":true`, 1)
	evs := readAnthropicSSE(t, post(t, ts, "/v1/messages", body, anthropicHeaders...).Body)
	block := evs[1].data["content_block"].(map[string]any)
	require.Equal(t, "tool_use", block["type"])
	require.Equal(t, "get_weather", block["name"])
	require.Equal(t, map[string]any{}, block["input"])
	var args strings.Builder
	for _, e := range evs {
		if e.event == "content_block_delta" {
			d := e.data["delta"].(map[string]any)
			require.Equal(t, "input_json_delta", d["type"])
			args.WriteString(d["partial_json"].(string))
		}
	}
	require.JSONEq(t, `{"location":"Weather in Paris?","days":17}`, args.String())
	require.Equal(t, "tool_use", evs[len(evs)-2].data["delta"].(map[string]any)["stop_reason"])
}

func TestAnthropicStreamErrorEvent(t *testing.T) {
	_, ts := start(t, Options{Chunks: 4})
	body := strings.Replace(anthropicBody, `"max_tokens":100`, `"max_tokens":100,"stream":true`, 1)
	evs := readAnthropicSSE(t, post(t, ts, "/v1/messages", body, append(anthropicHeaders, "x-mock-stream-error-after", "2")...).Body)
	require.Equal(t, []string{"message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta", "error"}, anthropicEventNames(evs))
	require.Equal(t, map[string]any{"type": "overloaded_error", "message": "Overloaded"}, evs[5].data["error"])
}

func TestAnthropicStreamAbort(t *testing.T) {
	_, ts := start(t, Options{Chunks: 4})
	body := strings.Replace(anthropicBody, `"max_tokens":100`, `"max_tokens":100,"stream":true`, 1)
	resp := post(t, ts, "/v1/messages", body, append(anthropicHeaders, "x-mock-fail-stream-after", "1")...)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.Error(t, err, "the connection must be cut")
	require.Contains(t, string(b), "content_block_delta")
	require.NotContains(t, string(b), "message_stop")
}

func TestAnthropicStreamPace(t *testing.T) {
	_, ts := start(t, Options{Chunks: 3, Latency: 50 * time.Millisecond, ChunkDelay: 100 * time.Millisecond})
	body := strings.Replace(anthropicBody, `"max_tokens":100`, `"max_tokens":100,"stream":true`, 1)
	begin := time.Now()
	resp := post(t, ts, "/v1/messages", body, anthropicHeaders...)
	first := time.Since(begin)
	evs := readAnthropicSSE(t, resp.Body)
	total := time.Since(begin)
	require.Len(t, evs, 9)
	require.GreaterOrEqual(t, first, 50*time.Millisecond)
	require.GreaterOrEqual(t, total, 250*time.Millisecond)
}

func TestAnthropicCountTokens(t *testing.T) {
	s := New(Options{})
	short := serve(s, http.MethodPost, "/v1/messages/count_tokens", `{"model":"claude","messages":[{"role":"user","content":"hi"}]}`, anthropicHeaders...)
	require.Equal(t, http.StatusOK, short.Code, short.Body.String())
	long := serve(s, http.MethodPost, "/v1/messages/count_tokens", `{"model":"claude","system":"be brief","messages":[{"role":"user","content":"count all of these words, please"}]}`, anthropicHeaders...)
	var a, b struct {
		InputTokens int `json:"input_tokens"`
	}
	require.NoError(t, json.Unmarshal(short.Body.Bytes(), &a))
	require.NoError(t, json.Unmarshal(long.Body.Bytes(), &b))
	require.Positive(t, a.InputTokens)
	require.Greater(t, b.InputTokens, a.InputTokens)

	rec := serve(s, http.MethodPost, "/v1/messages/count_tokens", `{"model":"claude","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`, anthropicHeaders...)
	require.Equal(t, http.StatusBadRequest, rec.Code, "a count takes no max_tokens")
	rec = serve(s, http.MethodPost, "/v1/messages/count_tokens", `{"model":"claude","messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, http.StatusUnauthorized, rec.Code)
}
