package messagesapi

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/translate"
)

func TestHeaders(t *testing.T) {
	tests := []struct {
		name        string
		req         Request
		status      int
		contentType string
		wantStream  bool
		wantType    string
	}{
		{"stream", Request{Stream: true}, 200, "text/event-stream; charset=utf-8", true, "text/event-stream; charset=utf-8"},
		{"stream, odd case", Request{Stream: true}, 200, " Text/Event-Stream", true, "text/event-stream; charset=utf-8"},
		{"whole", Request{}, 200, "application/json", false, "application/json"},
		{"error to a stream request", Request{Stream: true}, 429, "application/json", false, "application/json"},
		{"event-stream error status is no stream", Request{Stream: true}, 500, "text/event-stream", false, "application/json"},
		{"whole answer to a stream request", Request{Stream: true}, 200, "application/json", false, "text/event-stream; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream, set := NewResponse(tt.req).Headers(tt.status, tt.contentType)
			require.Equal(t, tt.wantStream, stream)
			require.Equal(t, []translate.Header{{Key: "content-type", Value: tt.wantType}}, set)
		})
	}
}

func TestBody(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		want       string
		wantStatus int
		wantUsage  *Usage
	}{
		{
			name:      "text, from OpenAI's chat reference",
			status:    200,
			body:      `{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1741569952,"model":"gpt-4.1-2025-04-14","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I assist you today?","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default"}`,
			want:      `{"id":"msg_chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Hello! How can I assist you today?"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":19,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":10}}`,
			wantUsage: &Usage{PromptTokens: 19, CompletionTokens: 10},
		},
		{
			name:      "reasoning, no text, two tool calls, cached prompt",
			status:    200,
			body:      `{"id":"chatcmpl-1","object":"chat.completion","model":"deepseek-reasoner","choices":[{"index":0,"message":{"role":"assistant","content":"","reasoning_content":"Two files to read.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"Read","arguments":"{\"file_path\": \"/a\"}"}},{"id":"call_2","type":"function","function":{"name":"Read","arguments":"{\"file_path\":\"/b\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,"prompt_tokens_details":{"cached_tokens":1920}}}`,
			want:      `{"id":"msg_chatcmpl-1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"thinking","thinking":"Two files to read.","signature":""},{"type":"tool_use","id":"call_1","name":"Read","input":{"file_path":"/a"}},{"type":"tool_use","id":"call_2","name":"Read","input":{"file_path":"/b"}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":86,"cache_creation_input_tokens":0,"cache_read_input_tokens":1920,"output_tokens":300}}`,
			wantUsage: &Usage{PromptTokens: 2006, CompletionTokens: 300, CacheReadTokens: 1920},
		},
		{
			name:   "arguments: empty, double-encoded, not JSON; a call without an id; stop with tool calls",
			status: 200,
			body:   `{"id":"chatcmpl-2","choices":[{"message":{"role":"assistant","content":null,"tool_calls":[{"id":"c1","function":{"name":"now","arguments":""}},{"id":"c2","function":{"name":"f","arguments":"\"{\\\"a\\\":1}\""}},{"function":{"name":"g","arguments":"{\"a\":"}}]},"finish_reason":"stop"}]}`,
			want:   `{"id":"msg_chatcmpl-2","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"tool_use","id":"c1","name":"now","input":{}},{"type":"tool_use","id":"c2","name":"f","input":{"a":1}},{"type":"tool_use","id":"toolu_2_2","name":"g","input":{"arguments":"{\"a\":"}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}`,
		},
		{
			name:      "length, reasoning field, explicit cache fields",
			status:    200,
			body:      `{"id":"gen-1","choices":[{"message":{"role":"assistant","content":"cut","reasoning":"think"},"finish_reason":"length"}],"usage":{"prompt_tokens":100,"completion_tokens":5,"cache_read_input_tokens":30,"cache_creation_input_tokens":20}}`,
			want:      `{"id":"msg_gen-1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"thinking","thinking":"think","signature":""},{"type":"text","text":"cut"}],"stop_reason":"max_tokens","stop_sequence":null,"usage":{"input_tokens":50,"cache_creation_input_tokens":20,"cache_read_input_tokens":30,"output_tokens":5}}`,
			wantUsage: &Usage{PromptTokens: 100, CompletionTokens: 5, CacheReadTokens: 30, CacheCreationTokens: 20},
		},
		{
			name:   "content filter and a refusal",
			status: 200,
			body:   `{"id":"c","choices":[{"message":{"role":"assistant","content":null,"refusal":"I can't help with that."},"finish_reason":"stop"}]}`,
			want:   `{"id":"msg_c","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"I can't help with that."}],"stop_reason":"refusal","stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}`,
		},
		{
			name:   "unknown finish reason, content as parts",
			status: 200,
			body:   `{"id":"c","choices":[{"message":{"role":"assistant","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},"finish_reason":"eos"}]}`,
			want:   `{"id":"msg_c","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"ab"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}`,
		},
		{
			name:   "OpenAI's rate limit error",
			status: 429,
			body:   `{"error":{"message":"Rate limit reached for gpt-4.1 in organization org-x on tokens per min (TPM): Limit 30000, Used 30000, Requested 100.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}`,
			want:   `{"type":"error","error":{"type":"rate_limit_error","message":"Rate limit reached for gpt-4.1 in organization org-x on tokens per min (TPM): Limit 30000, Used 30000, Requested 100."}}`,
		},
		{
			name:   "context length: Anthropic's words in front",
			status: 400,
			body:   `{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`,
			want:   `{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens."}}`,
		},
		{
			name:   "a proxy's page",
			status: 502,
			body:   `<html>Bad Gateway</html>`,
			want:   `{"type":"error","error":{"type":"api_error","message":"the deployment answered HTTP 502: <html>Bad Gateway</html>"}}`,
		},
		{
			name:       "an error answered with 200",
			status:     200,
			body:       `{"error":{"message":"Invalid API key","type":"authentication_error","code":"invalid_api_key"}}`,
			want:       `{"type":"error","error":{"type":"authentication_error","message":"Invalid API key"}}`,
			wantStatus: 401,
		},
		{
			name:       "a 200 that is not JSON",
			status:     200,
			body:       `upstream connect error`,
			want:       `{"type":"error","error":{"type":"api_error","message":"the deployment answered HTTP 502: upstream connect error"}}`,
			wantStatus: 502,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewResponse(Request{Model: "claude-sonnet-4-5"})
			stream, _ := r.Headers(tt.status, "application/json")
			require.False(t, stream)
			got, err := r.Body(tt.status, []byte(tt.body))
			require.NoError(t, err)
			require.JSONEq(t, tt.want, string(got))
			require.Equal(t, tt.wantStatus, r.BodyStatus())
			u, ok := r.Usage()
			if tt.wantUsage == nil {
				require.False(t, ok && u != Usage{}, "usage %+v", u)
			} else {
				require.True(t, ok)
				require.Equal(t, *tt.wantUsage, u)
			}
		})
	}
}

// TestBodyAsEvents: a deployment that answers a stream request whole
// still gives the client the event stream it asked for.
func TestBodyAsEvents(t *testing.T) {
	r := NewResponse(Request{Model: "m", Stream: true})
	stream, _ := r.Headers(200, "application/json")
	require.False(t, stream)
	got, err := r.Body(200, []byte(`{"id":"c","choices":[{"message":{"role":"assistant","content":"hi","tool_calls":[{"id":"t","function":{"name":"f","arguments":"{\"x\":1}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}`))
	require.NoError(t, err)
	want := "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_c\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":3,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":0}}}\n\n" +
		"event: ping\ndata: {\"type\":\"ping\"}\n\n" +
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n" +
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{}}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"x\\\":1}\"}}\n\n" +
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n" +
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"input_tokens\":3,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":2}}\n\n" +
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	require.Equal(t, want, string(got))
	requireWellFormed(t, got, true)
}

func TestErrors(t *testing.T) {
	for status, want := range map[int]string{
		400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
		404: "not_found_error", 409: "invalid_request_error", 413: "request_too_large", 422: "invalid_request_error",
		429: "rate_limit_error", 500: "api_error", 502: "api_error", 503: "api_error", 504: "timeout_error",
		529: "overloaded_error",
	} {
		require.Equal(t, want, ErrorType(status), "status %d", status)
	}
	require.JSONEq(t, `{"type":"error","error":{"type":"not_found_error","message":"model \"x\" not found"}}`, string(ErrorBody(404, `model "x" not found`)))
	// llmvoy's own errors (extproc's apiError) keep their message.
	require.JSONEq(t, `{"type":"error","error":{"type":"authentication_error","message":"Authentication Error, Invalid proxy server token passed."}}`,
		string(FromOpenAIError(401, []byte(`{"error":{"message":"Authentication Error, Invalid proxy server token passed.","type":"auth_error","param":"None","code":"401"}}`))))
	require.JSONEq(t, `{"type":"error","error":{"type":"overloaded_error","message":"busy"}}`,
		string(FromOpenAIError(529, []byte(`{"error":{"message":"busy","code":529}}`))))
	// An answer already in Anthropic's shape is kept.
	require.JSONEq(t, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`,
		string(FromOpenAIError(500, []byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`))))
	require.JSONEq(t, `{"type":"error","error":{"type":"api_error","message":"the deployment answered HTTP 503"}}`, string(FromOpenAIError(503, nil)))
}
