package messagesapi

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"math"
	"strings"

	"github.com/llmvoy/llmvoy/translate"
)

// Response turns the OpenAI chat answer of one attempt (a whole JSON body,
// or the SSE stream "data: {...}\n\n ... data: [DONE]") into a Messages
// answer or event stream. Errors (status >= 400, OpenAI's {"error":{...}})
// become Anthropic's {"type":"error","error":{...}}. It is used by one
// goroutine, in order: Headers, then Body once or Chunk until end.
type Response struct {
	req Request

	// bodyStatus is the status a whole body turned out to need (an error
	// answered with 200, a body that is not chat's): 0 keeps the status.
	bodyStatus int
	// asEvents: the client asked for a stream but the deployment answered
	// a whole body, which Body writes as the events of a stream.
	asEvents bool

	usage    Usage
	hasUsage bool

	stream stream
}

var (
	_ translate.ResponseTranslator = (*Response)(nil)
	_ translate.StatusOverrider    = (*Response)(nil)
)

// NewResponse returns the translator of one attempt's answer to req.
func NewResponse(req Request) *Response { return &Response{req: req} }

// Usage is the tokens an answer used, counted as OpenAI counts them:
// PromptTokens includes the cached ones.
type Usage struct {
	PromptTokens        int64
	CompletionTokens    int64
	CacheReadTokens     int64
	CacheCreationTokens int64
}

// Usage reports the answer's usage once Body or the stream's usage chunk
// delivered it: the translated answer carries Anthropic's counts, which an
// OpenAI usage reader cannot read.
func (r *Response) Usage() (Usage, bool) { return r.usage, r.hasUsage }

// Headers reports a stream only for a 2xx text/event-stream answer and
// sets the client's content type.
func (r *Response) Headers(status int, contentType string) (bool, []translate.Header) {
	ok := status >= 200 && status < 300
	if ok && strings.HasPrefix(strings.TrimSpace(strings.ToLower(contentType)), "text/event-stream") {
		return true, []translate.Header{{Key: "content-type", Value: "text/event-stream; charset=utf-8"}}
	}
	if ok && r.req.Stream {
		// A server that ignored "stream": the client still gets the
		// stream it asked for, written from the whole answer.
		r.asEvents = true
		return false, []translate.Header{{Key: "content-type", Value: "text/event-stream; charset=utf-8"}}
	}
	return false, []translate.Header{{Key: "content-type", Value: "application/json"}}
}

// BodyStatus is the status the client must see for the body Body
// translated, when it differs from the deployment's: 502 for a 2xx body
// that is not a chat completion, the error's status for an error answered
// with 200.
func (r *Response) BodyStatus() int { return r.bodyStatus }

// chatCompletion is the part of a chat completion Body reads.
type chatCompletion struct {
	ID      string `json:"id"`
	Choices []struct {
		Message      chatAnswer `json:"message"`
		FinishReason *string    `json:"finish_reason"`
	} `json:"choices"`
	Usage *chatUsage       `json:"usage"`
	Error *json.RawMessage `json:"error"`
}

// chatAnswer is an assistant message. Servers that reason name the
// reasoning reasoning_content (DeepSeek, vLLM, LiteLLM) or reasoning
// (OpenRouter, newer vLLM).
type chatAnswer struct {
	Content          json.RawMessage `json:"content"`
	Refusal          string          `json:"refusal"`
	ReasoningContent string          `json:"reasoning_content"`
	Reasoning        json.RawMessage `json:"reasoning"`
	ToolCalls        []struct {
		ID       string `json:"id"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
}

// chatUsage is chat's usage. Counts are read as numbers of any form (some
// servers write 12.0) and the cache counts wherever a server puts them.
type chatUsage struct {
	PromptTokens             float64 `json:"prompt_tokens"`
	CompletionTokens         float64 `json:"completion_tokens"`
	CacheReadInputTokens     float64 `json:"cache_read_input_tokens"`
	CacheCreationInputTokens float64 `json:"cache_creation_input_tokens"`
	PromptTokensDetails      *struct {
		CachedTokens        float64 `json:"cached_tokens"`
		CacheCreationTokens float64 `json:"cache_creation_tokens"`
		CacheWriteTokens    float64 `json:"cache_write_tokens"`
	} `json:"prompt_tokens_details"`
}

// count is a token count; a nonsense one (negative, NaN, past 2^31) is 0
// rather than a spend that could never have happened.
func count(f float64) int64 {
	if !(f > 0) || f > math.MaxInt32 {
		return 0
	}
	return int64(f)
}

// read takes chat's usage, the cache counts as LiteLLM's Anthropic adapter
// finds them: the explicit fields first, then prompt_tokens_details.
func (u *chatUsage) read() Usage {
	out := Usage{
		PromptTokens:        count(u.PromptTokens),
		CompletionTokens:    count(u.CompletionTokens),
		CacheReadTokens:     count(u.CacheReadInputTokens),
		CacheCreationTokens: count(u.CacheCreationInputTokens),
	}
	if d := u.PromptTokensDetails; d != nil {
		if out.CacheReadTokens == 0 {
			out.CacheReadTokens = count(d.CachedTokens)
		}
		if out.CacheCreationTokens == 0 {
			out.CacheCreationTokens = max(count(d.CacheCreationTokens), count(d.CacheWriteTokens))
		}
	}
	return out
}

// messagesUsage is Anthropic's usage: input_tokens excludes the tokens
// read from and written to the cache.
type messagesUsage struct {
	InputTokens              int64 `json:"input_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
}

func (u Usage) messages() messagesUsage {
	return messagesUsage{
		InputTokens:              max(u.PromptTokens-u.CacheReadTokens-u.CacheCreationTokens, 0),
		CacheCreationInputTokens: u.CacheCreationTokens,
		CacheReadInputTokens:     u.CacheReadTokens,
		OutputTokens:             u.CompletionTokens,
	}
}

// message is a Messages answer.
type message struct {
	ID           string            `json:"id"`
	Type         string            `json:"type"`
	Role         string            `json:"role"`
	Model        string            `json:"model"`
	Content      []json.RawMessage `json:"content"`
	StopReason   *string           `json:"stop_reason"`
	StopSequence *string           `json:"stop_sequence"`
	Usage        messagesUsage     `json:"usage"`
}

// Body translates a whole answer, success or error. Its result is always
// Anthropic's shape (a body that is not chat's becomes an api_error with
// BodyStatus 502), so it returns no error.
func (r *Response) Body(status int, body []byte) ([]byte, error) {
	if status >= 400 {
		return r.errorOut(FromOpenAIError(status, body)), nil
	}
	var c chatCompletion
	if json.Unmarshal(body, &c) != nil {
		r.bodyStatus = 502
		return r.errorOut(FromOpenAIError(502, body)), nil
	}
	if c.Error != nil && len(c.Choices) == 0 {
		typ, message := openAIErrorKind(0, body)
		r.bodyStatus = statusOf(typ)
		return r.errorOut(errorBody(typ, message)), nil
	}
	msg := message{ID: messageID(c.ID), Type: "message", Role: "assistant", Model: r.req.Model, Content: []json.RawMessage{}}
	finish := ""
	if len(c.Choices) > 0 {
		ch := c.Choices[0]
		msg.Content = answerBlocks(ch.Message, c.ID)
		if ch.FinishReason != nil {
			finish = *ch.FinishReason
		}
		if ch.Message.Refusal != "" && finish == "stop" {
			finish = "content_filter"
		}
	}
	stop := stopReason(finish, hasToolUse(msg.Content))
	msg.StopReason = &stop
	if c.Usage != nil {
		r.usage, r.hasUsage = c.Usage.read(), true
	}
	msg.Usage = r.usage.messages()
	if r.asEvents {
		return messageEvents(msg), nil
	}
	return mustJSON(msg), nil
}

// errorOut is an error body, as an error event when the client awaits a
// stream.
func (r *Response) errorOut(body []byte) []byte {
	if r.asEvents {
		return appendEvent(nil, "error", body)
	}
	return body
}

// statusOf is the HTTP status of an Anthropic error type, for an error a
// deployment answered with 200.
func statusOf(typ string) int {
	for _, s := range []int{400, 401, 402, 403, 404, 413, 429, 504, overloaded} {
		if ErrorType(s) == typ {
			return s
		}
	}
	return 500
}

// answerBlocks is an assistant message as content blocks: thinking, text,
// then one tool_use per call.
func answerBlocks(m chatAnswer, chatID string) []json.RawMessage {
	blocks := []json.RawMessage{}
	if r := reasoning(m.ReasoningContent, m.Reasoning); r != "" {
		blocks = append(blocks, mustJSON(thinkingBlock{Type: "thinking", Thinking: r}))
	}
	text := contentText(m.Content)
	if text == "" {
		text = m.Refusal
	}
	if text != "" {
		blocks = append(blocks, mustJSON(textBlock{Type: "text", Text: text}))
	}
	for i, tc := range m.ToolCalls {
		id := tc.ID
		if id == "" {
			id = toolUseID(chatID, i)
		}
		blocks = append(blocks, mustJSON(toolUseBlock{Type: "tool_use", ID: id, Name: tc.Function.Name, Input: toolInput(tc.Function.Arguments)}))
	}
	return blocks
}

type (
	thinkingBlock struct {
		Type      string `json:"type"`
		Thinking  string `json:"thinking"`
		Signature string `json:"signature"`
	}
	textBlock struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	toolUseBlock struct {
		Type  string          `json:"type"`
		ID    string          `json:"id"`
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
	}
)

// reasoning is the answer's reasoning from either field; reasoning may
// also be an object (OpenRouter's details), which carries no text here.
func reasoning(content string, alt json.RawMessage) string {
	if content != "" {
		return content
	}
	var s string
	if firstByte(alt) == '"' && json.Unmarshal(alt, &s) == nil {
		return s
	}
	return ""
}

// contentText is a message's content: a string, or the text of its parts.
func contentText(raw json.RawMessage) string {
	switch firstByte(raw) {
	case '"':
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	case '[':
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		_ = json.Unmarshal(raw, &parts)
		var b strings.Builder
		for _, p := range parts {
			if p.Type == "text" {
				b.WriteString(p.Text)
			}
		}
		return b.String()
	}
	return ""
}

// toolInput is a call's arguments as a tool_use input, which must be an
// object. Empty arguments are {}; arguments that are a JSON string holding
// an object (double-encoded) are that object; anything else is kept as
// {"arguments": "<the raw string>"}, so the client's tool reports the bad
// call to the model instead of running with no input.
func toolInput(args string) json.RawMessage {
	trimmed := bytes.TrimSpace([]byte(args))
	if len(trimmed) == 0 {
		return json.RawMessage(`{}`)
	}
	if trimmed[0] == '{' && json.Valid(trimmed) {
		var buf bytes.Buffer
		if json.Compact(&buf, trimmed) == nil {
			return buf.Bytes()
		}
	}
	var inner string
	if trimmed[0] == '"' && json.Unmarshal(trimmed, &inner) == nil {
		if in := bytes.TrimSpace([]byte(inner)); len(in) > 0 && in[0] == '{' && json.Valid(in) {
			return toolInput(inner)
		}
	}
	return mustJSON(map[string]string{"arguments": args})
}

func hasToolUse(blocks []json.RawMessage) bool {
	for _, b := range blocks {
		if bytes.HasPrefix(b, []byte(`{"type":"tool_use"`)) {
			return true
		}
	}
	return false
}

// stopReason maps finish_reason to Anthropic's stop_reason. An answer
// that called tools stopped to use them, whatever its server said (some
// say "stop", some nothing): Claude Code runs tools on tool_use.
func stopReason(finish string, calledTools bool) string {
	switch finish {
	case "length":
		return "max_tokens"
	case "tool_calls", "function_call":
		return "tool_use"
	case "content_filter":
		return "refusal"
	}
	if calledTools {
		return "tool_use"
	}
	return "end_turn"
}

// messageID is a message id from the chat completion's, or a random one.
func messageID(chatID string) string {
	if chatID != "" {
		return "msg_" + strings.TrimPrefix(chatID, "msg_")
	}
	return "msg_" + randomHex()
}

// toolUseID names a tool call that came without an id (some servers send
// none), the same way in a body and a stream.
func toolUseID(chatID string, i int) string {
	if chatID == "" {
		return "toolu_" + randomHex()
	}
	return "toolu_" + strings.TrimPrefix(chatID, "chatcmpl-") + "_" + itoa(i)
}

func randomHex() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
