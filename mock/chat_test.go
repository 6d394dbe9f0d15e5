package mock

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

type chatCompletionWire struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Role        string            `json:"role"`
			Content     string            `json:"content"`
			Refusal     *string           `json:"refusal"`
			Annotations []json.RawMessage `json:"annotations"`
		} `json:"message"`
		Logprobs     json.RawMessage `json:"logprobs"`
		FinishReason string          `json:"finish_reason"`
	} `json:"choices"`
	Usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	} `json:"usage"`
	ServiceTier       string `json:"service_tier"`
	SystemFingerprint string `json:"system_fingerprint"`
}

func TestChatCompletionShape(t *testing.T) {
	s := New(Options{Name: "alpha"})
	rec := serve(s, http.MethodPost, "/v1/chat/completions", chatBody)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	require.Equal(t, "alpha", rec.Header().Get("x-mock-name"))
	require.True(t, strings.HasPrefix(rec.Header().Get("x-request-id"), "req_"))
	require.Equal(t, rec.Body.Len(), mustAtoi(t, rec.Header().Get("Content-Length")))

	var got chatCompletionWire
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	require.True(t, strings.HasPrefix(got.ID, "chatcmpl-"), got.ID)
	require.Len(t, got.ID, len("chatcmpl-")+29)
	require.Equal(t, "chat.completion", got.Object)
	require.NotZero(t, got.Created)
	require.Equal(t, "gpt-4o", got.Model)
	require.Len(t, got.Choices, 1)
	c := got.Choices[0]
	require.Equal(t, 0, c.Index)
	require.Equal(t, "assistant", c.Message.Role)
	require.Equal(t, "Hello from mock alpha! You said: What is the capital of France?", c.Message.Content)
	require.Nil(t, c.Message.Refusal)
	require.NotNil(t, c.Message.Annotations, "annotations is [] as OpenAI sends it, not null")
	require.JSONEq(t, "null", string(c.Logprobs))
	require.Equal(t, "stop", c.FinishReason)
	require.Equal(t, EstimateTokens("Be brief."+"What is the capital of France?"), got.Usage.PromptTokens)
	require.Equal(t, EstimateTokens(c.Message.Content), got.Usage.CompletionTokens)
	require.Equal(t, got.Usage.PromptTokens+got.Usage.CompletionTokens, got.Usage.TotalTokens)
	require.Equal(t, "default", got.ServiceTier)
	require.Equal(t, "mock:alpha", got.SystemFingerprint)

	// Two responses never share an id.
	rec2 := serve(s, http.MethodPost, "/v1/chat/completions", chatBody)
	var got2 chatCompletionWire
	require.NoError(t, json.Unmarshal(rec2.Body.Bytes(), &got2))
	require.NotEqual(t, got.ID, got2.ID)
}

func TestChatCompletionContent(t *testing.T) {
	tests := []struct {
		name, messages, want string
	}{
		{
			name:     "last user message wins",
			messages: `[{"role":"user","content":"first"},{"role":"assistant","content":"ok"},{"role":"user","content":"second"}]`,
			want:     "Hello from mock mock! You said: second",
		},
		{
			name:     "content parts, images ignored",
			messages: `[{"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},{"type":"text","text":"here"}]}]`,
			want:     "Hello from mock mock! You said: look here",
		},
		{
			name:     "truncated to 40 runes, not bytes",
			messages: `[{"role":"user","content":"ééééééééééééééééééééééééééééééééééééééééééééééé"}]`,
			want:     "Hello from mock mock! You said: " + strings.Repeat("é", 40),
		},
		{
			name:     "no user message",
			messages: `[{"role":"system","content":"sys"},{"role":"assistant","content":null,"tool_calls":[]}]`,
			want:     "Hello from mock mock! You said: ",
		},
		{
			name:     "html and quotes pass through",
			messages: `[{"role":"user","content":"<b>\"x\" & y</b>"}]`,
			want:     `Hello from mock mock! You said: <b>"x" & y</b>`,
		},
	}
	s := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(s, http.MethodPost, "/v1/chat/completions", `{"model":"m","messages":`+tt.messages+`}`)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			var got chatCompletionWire
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
			require.Equal(t, tt.want, got.Choices[0].Message.Content)
			require.NotContains(t, rec.Body.String(), `\u003c`, "no HTML escaping")
		})
	}
}

func TestChatCompletionBadRequests(t *testing.T) {
	tests := []struct {
		name, body, message, param, code string
	}{
		{"not json", `{"model":`, "We could not parse the JSON body of your request.", "<null>", "<null>"},
		{"empty body", ``, "We could not parse the JSON body of your request.", "<null>", "<null>"},
		{"not an object", `[1,2]`, "We could not parse the JSON body of your request.", "<null>", "<null>"},
		{"no model", `{"messages":[{"role":"user","content":"hi"}]}`, "you must provide a model parameter", "<null>", "<null>"},
		{"empty model", `{"model":"","messages":[{"role":"user","content":"hi"}]}`, "you must provide a model parameter", "<null>", "<null>"},
		{"model not a string", `{"model":7,"messages":[{"role":"user","content":"hi"}]}`, "Invalid type for 'model': expected a string, but got an integer instead.", "model", "invalid_type"},
		{"no messages", `{"model":"m"}`, "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"},
		{"empty messages", `{"model":"m","messages":[]}`, "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", "messages", "empty_array"},
		{"messages not an array", `{"model":"m","messages":"hi"}`, "Invalid type for 'messages': expected an array of objects, but got a string instead.", "messages", "invalid_type"},
		{"message not an object", `{"model":"m","messages":[7]}`, "Invalid type for 'messages[0]': expected an object, but got an integer instead.", "messages[0]", "invalid_type"},
		{"message without role", `{"model":"m","messages":[{"role":"user","content":"a"},{"content":"b"}]}`, "Missing required parameter: 'messages[1].role'.", "messages[1].role", "missing_required_parameter"},
		{"role not a string", `{"model":"m","messages":[{"role":1,"content":"b"}]}`, "Invalid type for 'messages[0].role': expected a string, but got an integer instead.", "messages[0].role", "invalid_type"},
		{"stream not a boolean", `{"model":"m","messages":[{"role":"user","content":"a"}],"stream":"yes"}`, "Invalid type for 'stream': expected a boolean, but got a string instead.", "stream", "invalid_type"},
		{"stream_options without stream", `{"model":"m","messages":[{"role":"user","content":"a"}],"stream_options":{"include_usage":true}}`, "The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options", "<null>"},
	}
	s := New(Options{Latency: 0})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(s, http.MethodPost, "/v1/chat/completions", tt.body)
			require.Equal(t, http.StatusBadRequest, rec.Code)
			require.Equal(t, "mock", rec.Header().Get("x-mock-name"))
			e := decodeError(t, rec.Body.Bytes())
			require.True(t, strings.HasPrefix(e.Error.Message, tt.message), e.Error.Message)
			require.Equal(t, "invalid_request_error", e.Error.Type)
			require.Equal(t, tt.param, deref(e.Error.Param))
			require.Equal(t, tt.code, deref(e.Error.Code))
		})
	}
}

func TestStreamOptionsNullIsAllowedWithoutStream(t *testing.T) {
	rec := serve(New(Options{}), http.MethodPost, "/v1/chat/completions",
		`{"model":"m","messages":[{"role":"user","content":"a"}],"stream":false,"stream_options":null}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
}

func TestReplyAndEstimateTokens(t *testing.T) {
	require.Equal(t, "Hello from mock x! You said: hi", Reply("x", "hi"))
	require.Equal(t, 1, EstimateTokens(""))
	require.Equal(t, 1, EstimateTokens("abcd"))
	require.Equal(t, 2, EstimateTokens("abcde"))
	require.Equal(t, 2, EstimateTokens("日本語の文"), "counts runes, not bytes")
}

func TestSplitRunes(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want []string
	}{
		{"abcdefghij", 5, []string{"ab", "cd", "ef", "gh", "ij"}},
		{"abcdefg", 3, []string{"ab", "cd", "efg"}},
		{"abc", 1, []string{"abc"}},
		{"ab", 4, []string{"a", "b", "", ""}},
		{"日本語", 2, []string{"日", "本語"}},
	}
	for _, tt := range tests {
		got := splitRunes(tt.s, tt.n)
		require.Equal(t, tt.want, got, "%q into %d", tt.s, tt.n)
		require.Equal(t, tt.s, strings.Join(got, ""))
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uo\te`, "ctl\x00\x01\n\r\t", "<&>", "日本\u2028\u2029", "bad\xffutf8", "é"} {
		got := jsonscan.AppendString(nil, s)
		var back string
		require.NoError(t, json.Unmarshal(got, &back), "%q -> %s", s, got)
		want, _ := json.Marshal(s) // encoding/json agrees up to HTML escaping
		var wantBack string
		require.NoError(t, json.Unmarshal(want, &wantBack))
		require.Equal(t, wantBack, back)
	}
	require.Equal(t, `"<&>"`, string(jsonscan.AppendString(nil, "<&>")))
}

func TestContextWindowKnob(t *testing.T) {
	s := New(Options{Name: "alpha"})
	body := `{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("word ", 40) + `"}]}`
	rec := serve(s, http.MethodPost, "/v1/chat/completions", body, "x-mock-context-window", "8")
	require.Equal(t, http.StatusBadRequest, rec.Code)
	e := decodeError(t, rec.Body.Bytes())
	require.Equal(t, "context_length_exceeded", *e.Error.Code)
	require.Contains(t, e.Error.Message, "maximum context length is 8 tokens")
	rec = serve(s, http.MethodPost, "/v1/chat/completions", body, "x-mock-context-window", "1000")
	require.Equal(t, http.StatusOK, rec.Code)
	rec = serve(s, http.MethodPost, "/v1/chat/completions", body, "x-mock-context-window", "x")
	require.Equal(t, http.StatusBadRequest, rec.Code)
}
