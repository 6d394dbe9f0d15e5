package translate

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// anthropicRequest is a Messages API request, in the order fields are sent.
type anthropicRequest struct {
	// AnthropicVersion is Vertex AI's, in the body; Anthropic's own API
	// takes a header.
	AnthropicVersion string             `json:"anthropic_version,omitempty"`
	Model            string             `json:"model,omitempty"` // Vertex AI's path names the model instead
	System           json.RawMessage    `json:"system,omitempty"`
	Messages         []messagesTurn     `json:"messages"`
	MaxTokens        json.RawMessage    `json:"max_tokens"`
	StopSequences    []string           `json:"stop_sequences,omitempty"`
	Temperature      json.RawMessage    `json:"temperature,omitempty"`
	TopP             json.RawMessage    `json:"top_p,omitempty"`
	TopK             json.RawMessage    `json:"top_k,omitempty"`
	Stream           bool               `json:"stream,omitempty"`
	Metadata         *anthropicMetadata `json:"metadata,omitempty"`
	Thinking         json.RawMessage    `json:"thinking,omitempty"`
	Tools            []anthropicTool    `json:"tools,omitempty"`
	ToolChoice       json.RawMessage    `json:"tool_choice,omitempty"`
}

type anthropicMetadata struct {
	UserID string `json:"user_id"`
}

type anthropicTool struct {
	Name         string          `json:"name"`
	Description  *string         `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// Content blocks llmvoy writes (text blocks: messagesTextBlock).
type (
	anthropicSourceBlock struct {
		Type         string          `json:"type"` // "image" or "document"
		Source       anthropicSource `json:"source"`
		CacheControl json.RawMessage `json:"cache_control,omitempty"`
	}
	anthropicSource struct {
		Type      string `json:"type"` // "base64" or "url"
		MediaType string `json:"media_type,omitempty"`
		Data      string `json:"data,omitempty"`
		URL       string `json:"url,omitempty"`
	}
	anthropicToolUseBlock struct {
		Type  string          `json:"type"` // "tool_use"
		ID    string          `json:"id"`
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
	}
	anthropicToolResultBlock struct {
		Type         string          `json:"type"` // "tool_result"
		ToolUseID    string          `json:"tool_use_id"`
		Content      json.RawMessage `json:"content"`
		CacheControl json.RawMessage `json:"cache_control,omitempty"`
	}
)

// anthropicTranslated is a translated request and the request facts the
// response translation needs.
type anthropicTranslated struct {
	out          anthropicRequest
	includeUsage bool
	// jsonMode: response_format asked for JSON, which comes back as a call
	// of the jsonModeTool tool and goes to the client as content.
	jsonMode bool
}

func anthropicTranslateRequest(in openAIRequest, model string) (anthropicTranslated, error) {
	var t anthropicTranslated
	out := &t.out
	out.Model = model
	get := in.get

	msgs, err := in.messages()
	if err != nil {
		return t, err
	}
	system, messages, err := anthropicMessages(msgs)
	if err != nil {
		return t, err
	}
	out.System, out.Messages = system, messages

	// Sampling parameters go as the client wrote them; Anthropic checks
	// their ranges (its temperature stops at 1, OpenAI's at 2).
	for _, p := range []struct {
		key string
		dst *json.RawMessage
	}{{"temperature", &out.Temperature}, {"top_p", &out.TopP}, {"top_k", &out.TopK}} {
		if *p.dst, err = in.number(p.key); err != nil {
			return t, err
		}
	}

	if v := get("stop"); v != nil {
		if out.StopSequences, err = anthropicStop(v); err != nil {
			return t, err
		}
	}

	if out.Stream, t.includeUsage, err = in.stream(); err != nil {
		return t, err
	}

	// LiteLLM sends user as metadata.user_id unless it looks like an email
	// or a phone number, which Anthropic refuses.
	if v := get("user"); v != nil {
		if user, ok := jsonscan.String(v); ok && user != "" && !anthropicEmail.MatchString(user) && !anthropicPhone.MatchString(user) {
			out.Metadata = &anthropicMetadata{UserID: user}
		}
	}

	th := readThinking(in)
	budget := th.budget
	if th.raw != nil {
		out.Thinking = th.raw
	} else if th.effort >= 0 {
		out.Thinking = json.RawMessage(`{"type":"enabled","budget_tokens":` + strconv.Itoa(th.effort) + `}`)
		budget = th.effort
	}

	_, out.MaxTokens = in.maxTokens()
	switch {
	case out.MaxTokens != nil:
	case budget >= 0:
		// Anthropic wants max_tokens above the thinking budget; LiteLLM
		// adds its default to the budget.
		out.MaxTokens = json.RawMessage(strconv.Itoa(budget + messagesDefaultMaxTokens))
	default:
		out.MaxTokens = json.RawMessage(strconv.Itoa(messagesDefaultMaxTokens))
	}

	if v := get("tools"); v != nil {
		if out.Tools, err = anthropicTools(v); err != nil {
			return t, err
		}
	}
	// Anthropic refuses tool_choice without tools.
	if len(out.Tools) > 0 {
		if out.ToolChoice, err = anthropicToolChoice(get("tool_choice"), get("parallel_tool_calls")); err != nil {
			return t, err
		}
	}
	if v := get("response_format"); v != nil {
		schema, ok, err := responseFormatSchema(v)
		if err != nil {
			return t, err
		}
		if ok {
			t.jsonMode = true
			out.Tools = append(out.Tools, anthropicTool{Name: jsonModeTool, InputSchema: schema})
			// LiteLLM forces the tool unless extended thinking is on,
			// which Anthropic allows only with tool_choice auto.
			if budget < 0 {
				out.ToolChoice = json.RawMessage(`{"type":"tool","name":"` + jsonModeTool + `"}`)
			}
		}
	}
	return t, nil
}

// LiteLLM's _valid_user_id patterns.
var (
	anthropicEmail = regexp.MustCompile(`^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$`)
	anthropicPhone = regexp.MustCompile(`^\+?[\d\s\(\)-]{7,}$`)
)

// anthropicStop reads stop (a string or a list of strings). Whitespace-only
// sequences, which Anthropic refuses, are dropped, as LiteLLM does.
func anthropicStop(v []byte) ([]string, error) {
	var list []string
	if v[0] == '"' {
		s, _ := jsonscan.String(v)
		list = []string{s}
	} else if err := json.Unmarshal(v, &list); err != nil {
		return nil, fmt.Errorf("stop: want a string or a list of strings, got %s", jsonscan.Kind(v))
	}
	out := list[:0]
	for _, s := range list {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// anthropicMessages splits OpenAI messages into Anthropic's top-level system
// prompt and alternating user and assistant turns.
func anthropicMessages(msgs []openAIChatMessage) (json.RawMessage, []messagesTurn, error) {
	var system []messagesTextBlock
	turns, err := messagesRoles{
		provider: "Anthropic",
		system: func(parts []messagesTextBlock, m openAIChatMessage) {
			if len(m.CacheControl) > 0 && len(parts) > 0 {
				parts[len(parts)-1].CacheControl = m.CacheControl
			}
			system = append(system, parts...)
		},
		user: func(where string, m openAIChatMessage) ([]json.RawMessage, error) {
			blocks, err := anthropicUserContent(where, m.Content)
			anthropicCacheLast(blocks, m.CacheControl)
			return blocks, err
		},
		assistant:  anthropicAssistantContent,
		toolResult: anthropicToolResult,
	}.turns(msgs)
	if err != nil {
		return nil, nil, err
	}
	sys, err := anthropicSystem(system)
	return sys, turns, err
}

// anthropicSystem is the top-level system prompt: the system messages' text
// joined by blank lines, or, when some part asks for prompt caching, one
// text block per part so the cache breakpoints stay where the client put
// them.
func anthropicSystem(parts []messagesTextBlock) (json.RawMessage, error) {
	if len(parts) == 0 {
		return nil, nil
	}
	cached := false
	for _, p := range parts {
		cached = cached || len(p.CacheControl) > 0
	}
	if cached {
		return jsonscan.Marshal(parts)
	}
	texts := make([]string, len(parts))
	for i, p := range parts {
		texts[i] = p.Text
	}
	return jsonscan.QuoteString(strings.Join(texts, "\n\n")), nil
}

func anthropicMarshalBlocks(blocks []messagesTextBlock) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, 0, len(blocks))
	for _, b := range blocks {
		raw, err := jsonscan.Marshal(b)
		if err != nil {
			return nil, err
		}
		out = append(out, raw)
	}
	return out, nil
}
