package translate

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// anthropicResponse translates one attempt's answer from an Anthropic
// deployment: a message, an error, or an SSE stream.
type anthropicResponse struct {
	// includeUsage is the client's stream_options.include_usage.
	includeUsage bool
	// jsonMode: a call of jsonModeTool is the answer's content.
	jsonMode bool
	// created is the "created" of every object sent to the client.
	created int64

	stream anthropicStream
}

var _ ResponseTranslator = (*anthropicResponse)(nil)

// anthropicOverloaded is the status Anthropic answers when it is
// overloaded. It is not a registered status; LiteLLM raises
// litellm.InternalServerError for it (status 500), and llmvoy also answers
// 500 (see anthropicErrorKind).
const anthropicOverloaded = 529

func (r *anthropicResponse) Headers(status int, contentType string) (bool, []Header) {
	if status >= 200 && status < 300 && strings.HasPrefix(strings.TrimSpace(strings.ToLower(contentType)), "text/event-stream") {
		return true, []Header{{Key: "content-type", Value: "text/event-stream; charset=utf-8"}}
	}
	set := []Header{{Key: "content-type", Value: "application/json"}}
	if status == anthropicOverloaded {
		set = append(set, Header{Key: ":status", Value: strconv.Itoa(http.StatusInternalServerError)})
	}
	return false, set
}

// Messages API shapes read from responses.
type (
	anthropicMessageBody struct {
		ID         string            `json:"id"`
		Type       string            `json:"type"`
		Model      string            `json:"model"`
		Content    []json.RawMessage `json:"content"`
		StopReason *string           `json:"stop_reason"`
		Usage      anthropicUsage    `json:"usage"`
	}
	anthropicBlock struct {
		Type     string          `json:"type"`
		Text     string          `json:"text"`
		ID       string          `json:"id"`
		Name     string          `json:"name"`
		Input    json.RawMessage `json:"input"`
		Thinking *string         `json:"thinking"`
	}
	// anthropicUsage holds token counts; pointers tell a count that is
	// absent (message_delta carries only what changed) from a zero.
	anthropicUsage struct {
		InputTokens              *int64 `json:"input_tokens"`
		OutputTokens             *int64 `json:"output_tokens"`
		CacheCreationInputTokens *int64 `json:"cache_creation_input_tokens"`
		CacheReadInputTokens     *int64 `json:"cache_read_input_tokens"`
	}
	anthropicErrorBody struct {
		Type  string `json:"type"`
		Error *struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
)

func (r *anthropicResponse) Body(status int, body []byte) ([]byte, error) {
	if status < 200 || status >= 300 {
		return anthropicError(status, body), nil
	}
	var msg anthropicMessageBody
	if err := json.Unmarshal(body, &msg); err != nil {
		return nil, fmt.Errorf("anthropic message: %v", err)
	}
	if msg.Type == "error" {
		return anthropicError(status, body), nil
	}
	if msg.Type != "message" {
		return nil, fmt.Errorf("anthropic message: unexpected type %q", msg.Type)
	}
	out := openAICompletion{
		ID:      msg.ID,
		Object:  "chat.completion",
		Created: r.created,
		Model:   msg.Model,
		Usage:   msg.Usage.openAI(),
	}
	var a answer
	for _, raw := range msg.Content {
		var b anthropicBlock
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, fmt.Errorf("anthropic message content: %v", err)
		}
		switch b.Type {
		case "text":
			a.text.WriteString(b.Text)
		case "tool_use":
			a.toolCall(b.ID, b.Name, b.Input)
		case "thinking", "redacted_thinking":
			// Kept whole (signature included) so the client can send
			// them back in the next turn, as LiteLLM's thinking_blocks.
			a.thinkingBlocks = append(a.thinkingBlocks, raw)
			if b.Thinking != nil {
				a.reason(*b.Thinking)
			}
		}
	}
	m, jsonContent := a.message(r.jsonMode)
	stopReason := msg.StopReason
	if jsonContent {
		stop := "end_turn"
		stopReason = &stop
	}
	var finish *string
	if stopReason != nil {
		f := anthropicFinishReason(*stopReason)
		finish = &f
	}
	out.Choices = []openAIChoice{{Index: 0, Message: m, FinishReason: finish}}
	return jsonscan.Marshal(out)
}

func (r *anthropicResponse) Chunk(data []byte, end bool) ([]byte, error) {
	return r.stream.chunk(r, data, end)
}

// anthropicFinishReason maps a stop_reason as LiteLLM's map_finish_reason
// does. model_context_window_exceeded, which LiteLLM does not list, is a
// truncation like max_tokens; anything unknown (pause_turn, new reasons)
// is "stop", LiteLLM's default.
func anthropicFinishReason(stop string) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "refusal":
		return "content_filter"
	}
	return "stop"
}

// openAI converts token counts to OpenAI's usage. Anthropic's input_tokens
// excludes the tokens written to and read from the prompt cache; OpenAI's
// prompt_tokens includes cached tokens, so both are added back, as LiteLLM
// does, and cached_tokens is the cache reads.
func (u anthropicUsage) openAI() openAIUsage {
	v := func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	}
	var o openAIUsage
	o.CacheCreationInputTokens = v(u.CacheCreationInputTokens)
	o.CacheReadInputTokens = v(u.CacheReadInputTokens)
	o.PromptTokens = v(u.InputTokens) + o.CacheCreationInputTokens + o.CacheReadInputTokens
	o.CompletionTokens = v(u.OutputTokens)
	o.TotalTokens = o.PromptTokens + o.CompletionTokens
	o.PromptTokensDetails.CachedTokens = o.CacheReadInputTokens
	return o
}

// merge applies the counts present in a later report (message_delta's are
// cumulative) over the earlier ones.
func (u *anthropicUsage) merge(later *anthropicUsage) {
	if later == nil {
		return
	}
	for _, p := range []struct{ dst, src **int64 }{
		{&u.InputTokens, &later.InputTokens},
		{&u.OutputTokens, &later.OutputTokens},
		{&u.CacheCreationInputTokens, &later.CacheCreationInputTokens},
		{&u.CacheReadInputTokens, &later.CacheReadInputTokens},
	} {
		if *p.src != nil {
			*p.dst = *p.src
		}
	}
}

// anthropicErrorKind is how an Anthropic error type reads to an OpenAI
// client: OpenAI's error type, and a code for errors OpenAI has one for
// (empty: the HTTP status, as llmvoy's own errors do).
func anthropicErrorKind(typ, message string) (openAIType, code string) {
	if anthropicContextExceeded(message) {
		// OpenAI's code for an over-long prompt: context-window
		// fallbacks key on it.
		return "invalid_request_error", "context_length_exceeded"
	}
	switch typ {
	case "invalid_request_error":
		return "invalid_request_error", ""
	case "authentication_error":
		return "authentication_error", "invalid_api_key"
	case "permission_error":
		return "permission_error", ""
	case "not_found_error":
		return "not_found_error", ""
	case "request_too_large":
		return "invalid_request_error", "request_too_large"
	case "rate_limit_error":
		return "rate_limit_error", "rate_limit_exceeded"
	case "api_error":
		return "server_error", ""
	case "overloaded_error":
		// LiteLLM turns it into litellm.InternalServerError (HTTP 500;
		// Headers rewrites the 529). OpenAI's own code for an
		// overloaded engine keeps the cause visible.
		return "server_error", "server_is_overloaded"
	case "":
		return "server_error", ""
	}
	return typ, ""
}

// anthropicContextExceeded recognises Anthropic's prompt-too-long errors
// with the substrings LiteLLM's exception mapping looks for.
func anthropicContextExceeded(message string) bool {
	m := strings.ToLower(message)
	return strings.Contains(m, "prompt is too long") ||
		strings.Contains(m, "prompt: length") ||
		strings.Contains(m, "exceed context limit")
}

// anthropicError translates an error answer to OpenAI's error body. The
// provider's message is kept; a body that is not Anthropic's error shape
// (a proxy's HTML page) is quoted in it.
func anthropicError(status int, body []byte) []byte {
	var e anthropicErrorBody
	typ, message := "", ""
	if json.Unmarshal(body, &e) == nil && e.Error != nil {
		typ, message = e.Error.Type, e.Error.Message
	} else {
		snippet := strings.TrimSpace(string(body))
		if len(snippet) > 200 {
			snippet = snippet[:200] + "..."
		}
		message = fmt.Sprintf("Anthropic answered HTTP %d", status)
		if snippet != "" {
			message += ": " + snippet
		}
		typ = anthropicTypeForStatus(status)
	}
	if status == anthropicOverloaded {
		status = http.StatusInternalServerError
	}
	return anthropicOpenAIError(status, typ, message)
}

// anthropicTypeForStatus is Anthropic's error type for an HTTP status, for
// error bodies that do not say.
func anthropicTypeForStatus(status int) string {
	switch status {
	case 401:
		return "authentication_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case anthropicOverloaded:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

// anthropicOpenAIError is OpenAI's {"error":{...}} for an Anthropic error;
// status fills in the code when OpenAI has none for it (0: none).
func anthropicOpenAIError(status int, typ, message string) []byte {
	openAIType, code := anthropicErrorKind(typ, message)
	if code == "" && status != 0 {
		code = strconv.Itoa(status)
	}
	var e struct {
		Error struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    *string `json:"code"`
		} `json:"error"`
	}
	e.Error.Message, e.Error.Type = message, openAIType
	if code != "" {
		e.Error.Code = &code
	}
	b, _ := jsonscan.Marshal(e) // strings only: cannot fail
	return b
}
