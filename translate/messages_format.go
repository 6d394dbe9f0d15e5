package translate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// Logic of Anthropic's Messages format that Anthropic's API and Bedrock's
// Converse API (for Anthropic's and other models) read the same way: LiteLLM
// maps both from one set of rules, so llmvoy keeps one copy of them here.

// messagesDefaultMaxTokens is max_tokens when the client sets neither
// max_tokens nor max_completion_tokens. Anthropic requires the field; LiteLLM
// fills in DEFAULT_ANTHROPIC_CHAT_MAX_TOKENS, 4096, and so does llmvoy.
const messagesDefaultMaxTokens = 4096

// jsonModeTool is the tool LiteLLM adds for response_format
// (RESPONSE_FORMAT_TOOL_NAME): Anthropic has no JSON mode, but a forced
// tool call's input is JSON that follows the tool's schema.
const jsonModeTool = "json_tool_call"

// thinking is what a request asks of the extended thinking of Anthropic's
// models: LiteLLM's thinking parameter as written, or else reasoning_effort.
type thinking struct {
	raw     json.RawMessage // thinking as the client wrote it; nil when absent
	enabled bool            // raw says {"type":"enabled"}
	// budget is raw's budget_tokens, -1 when it is not enabled or its
	// budget cannot be read.
	budget int
	// effort is reasoning_effort's budget when thinking is absent, -1 when
	// neither asks.
	effort int
}

func readThinking(in openAIRequest) thinking {
	th := thinking{budget: -1, effort: -1}
	if v := in.get("thinking"); v != nil {
		th.raw = v
		var t struct {
			Type         string          `json:"type"`
			BudgetTokens json.RawMessage `json:"budget_tokens"`
		}
		if json.Unmarshal(v, &t) == nil && t.Type == "enabled" {
			th.enabled = true
			// A budget past any context window is Anthropic's to refuse;
			// it must not overflow the max_tokens computed from it.
			if n, err := strconv.Atoi(string(t.BudgetTokens)); err == nil && n >= 0 && n < 1<<30 {
				th.budget = n
			}
		}
	} else if v := in.get("reasoning_effort"); v != nil {
		effort, _ := jsonscan.String(v)
		if n, ok := thinkingBudgets[effort]; ok {
			th.effort = n
		}
	}
	return th
}

// Thinking budgets for reasoning_effort: LiteLLM's
// DEFAULT_REASONING_EFFORT_{LOW,MEDIUM,HIGH}_THINKING_BUDGET.
var thinkingBudgets = map[string]int{"low": 1024, "medium": 2048, "high": 4096}

// responseFormatSchema reads response_format: json_schema gives its
// schema, json_object any object (LiteLLM's schema for it), text nothing.
func responseFormatSchema(v []byte) (json.RawMessage, bool, error) {
	var rf struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	}
	if err := json.Unmarshal(v, &rf); err != nil {
		return nil, false, fmt.Errorf("response_format: want an object with a type, got %s", jsonscan.Kind(v))
	}
	switch rf.Type {
	case "text":
		return nil, false, nil
	case "json_object":
		return json.RawMessage(`{"type":"object","additionalProperties":true,"properties":{}}`), true, nil
	case "json_schema":
		if rf.JSONSchema == nil || jsonscan.IsNull(rf.JSONSchema.Schema) {
			return json.RawMessage(`{"type":"object","additionalProperties":true,"properties":{}}`), true, nil
		}
		if bytes.TrimSpace(rf.JSONSchema.Schema)[0] != '{' {
			return nil, false, fmt.Errorf("response_format.json_schema.schema: want an object")
		}
		return rf.JSONSchema.Schema, true, nil
	}
	return nil, false, fmt.Errorf("response_format.type: want text, json_object or json_schema, got %q", rf.Type)
}

// textParts reads content that may only hold text: a string or a
// list of text parts. Empty text is dropped: Anthropic refuses empty text
// blocks.
func textParts(where string, content json.RawMessage) ([]messagesTextBlock, error) {
	if jsonscan.IsNull(content) {
		return nil, nil
	}
	if content[0] == '"' {
		s, _ := jsonscan.String(content)
		if s == "" {
			return nil, nil
		}
		return []messagesTextBlock{{Type: "text", Text: s}}, nil
	}
	parts, err := contentParts(where, content)
	if err != nil {
		return nil, err
	}
	var out []messagesTextBlock
	for j, p := range parts {
		if p.Type != "text" || p.Text == nil {
			return nil, fmt.Errorf("%s.content[%d]: want a text part, got type %q", where, j, p.Type)
		}
		if *p.Text != "" {
			out = append(out, messagesTextBlock{Type: "text", Text: *p.Text, CacheControl: p.CacheControl})
		}
	}
	return out, nil
}

// parseDataURL splits data:MEDIA;base64,DATA.
func parseDataURL(u string) (mediaType, data string, err error) {
	head, data, ok := strings.Cut(strings.TrimPrefix(u, "data:"), ",")
	mediaType, isBase64 := strings.CutSuffix(head, ";base64")
	if !ok || !isBase64 || mediaType == "" {
		return "", "", fmt.Errorf("want a base64 data: URL (data:<media type>;base64,<data>)")
	}
	return mediaType, data, nil
}

// toolArgumentsObject turns OpenAI's arguments (a string of JSON) into a
// tool_use input, which must be an object. Empty arguments are {}.
func toolArgumentsObject(args json.RawMessage) (json.RawMessage, error) {
	if jsonscan.IsNull(args) {
		return json.RawMessage(`{}`), nil
	}
	raw := []byte(args)
	if args[0] == '"' {
		s, _ := jsonscan.String(args)
		if strings.TrimSpace(s) == "" {
			return json.RawMessage(`{}`), nil
		}
		raw = []byte(s)
	}
	raw = bytes.TrimSpace(raw)
	if !json.Valid(raw) || raw[0] != '{' {
		return nil, fmt.Errorf("want a JSON object")
	}
	return raw, nil
}

// toolArguments is a tool_use input as OpenAI's arguments string.
func toolArguments(input json.RawMessage) string {
	if jsonscan.IsNull(input) {
		return "{}"
	}
	var buf bytes.Buffer
	if json.Compact(&buf, input) != nil {
		return string(input)
	}
	return buf.String()
}

// messagesTextBlock is a text block as Anthropic's Messages API takes it;
// Bedrock reads its text and cache_control into Converse's blocks.
type messagesTextBlock struct {
	Type         string          `json:"type"` // "text"
	Text         string          `json:"text"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// messagesTurn is one turn of a conversation, the same in Anthropic's
// Messages API and Bedrock's Converse API: a role and its content blocks.
type messagesTurn struct {
	Role    string            `json:"role"`
	Content []json.RawMessage `json:"content"`
}

// messagesRoles is what a translator writes for each role of an OpenAI
// message; turns walks a conversation with it.
type messagesRoles struct {
	provider   string // named in errors
	system     func(parts []messagesTextBlock, m openAIChatMessage)
	user       func(where string, m openAIChatMessage) ([]json.RawMessage, error)
	assistant  func(where string, m openAIChatMessage) ([]json.RawMessage, error)
	toolResult func(where string, m openAIChatMessage) (json.RawMessage, error)
}

// turns splits a conversation as both APIs take it: system and developer
// messages apart (their text goes to r.system), user messages and tool
// results as user turns, assistant messages as assistant turns.
// function messages (deprecated) are refused.
func (r messagesRoles) turns(msgs []openAIChatMessage) ([]messagesTurn, error) {
	out := make([]messagesTurn, 0, len(msgs))
	for i, m := range msgs {
		where := "messages[" + strconv.Itoa(i) + "]"
		var role string
		var blocks []json.RawMessage
		var err error
		switch m.Role {
		case "system", "developer":
			var parts []messagesTextBlock
			if parts, err = textParts(where, m.Content); err == nil {
				r.system(parts, m)
			}
		case "user":
			role = "user"
			blocks, err = r.user(where, m)
		case "assistant":
			role = "assistant"
			blocks, err = r.assistant(where, m)
		case "tool":
			var block json.RawMessage
			role = "user"
			if block, err = r.toolResult(where, m); err == nil {
				blocks = []json.RawMessage{block}
			}
		case "function":
			err = fmt.Errorf("%s: role \"function\" is deprecated and not supported for %s deployments; use tool messages", where, r.provider)
		default:
			err = fmt.Errorf("%s.role: unknown role %q", where, m.Role)
		}
		if err != nil {
			return nil, err
		}
		out = appendTurn(out, role, blocks)
	}
	return out, nil
}

// appendTurn adds a message's blocks to the conversation. Both APIs refuse
// empty turns (an empty message, an assistant's "" between tool calls, says
// nothing anyway) and want user and assistant to alternate: consecutive
// messages of one role (several tool results, a tool result and the user's
// next question) become one turn.
func appendTurn(turns []messagesTurn, role string, blocks []json.RawMessage) []messagesTurn {
	if len(blocks) == 0 {
		return turns
	}
	if n := len(turns); n > 0 && turns[n-1].Role == role {
		turns[n-1].Content = append(turns[n-1].Content, blocks...)
		return turns
	}
	return append(turns, messagesTurn{Role: role, Content: blocks})
}

// assistantText reads an assistant message's content as text blocks: a
// string, or text and refusal parts (a refusal goes back to the model as
// text). Empty text is dropped: both APIs refuse empty text blocks.
func assistantText(where string, content json.RawMessage) ([]messagesTextBlock, error) {
	if jsonscan.IsNull(content) {
		return nil, nil
	}
	if content[0] == '"' {
		if s, _ := jsonscan.String(content); s != "" {
			return []messagesTextBlock{{Type: "text", Text: s}}, nil
		}
		return nil, nil
	}
	parts, err := contentParts(where, content)
	if err != nil {
		return nil, err
	}
	var out []messagesTextBlock
	for j, p := range parts {
		text := ""
		switch {
		case p.Type == "text" && p.Text != nil:
			text = *p.Text
		case p.Type == "refusal" && p.Refusal != nil:
			text = *p.Refusal
		default:
			return nil, fmt.Errorf("%s.content[%d]: want a text or refusal part, got type %q", where, j, p.Type)
		}
		if text != "" {
			out = append(out, messagesTextBlock{Type: "text", Text: text, CacheControl: p.CacheControl})
		}
	}
	return out, nil
}

// answer gathers the blocks of a Messages-format answer (Anthropic's
// content, Converse's output message), in the order they come, into
// OpenAI's assistant message.
type answer struct {
	text           strings.Builder
	reasoning      strings.Builder
	hasReasoning   bool
	toolCalls      []openAIToolCall
	thinkingBlocks []json.RawMessage
}

// toolCall adds a tool_use block.
func (a *answer) toolCall(id, name string, input json.RawMessage) {
	tc := openAIToolCall{ID: id, Type: "function"}
	tc.Function.Name = name
	tc.Function.Arguments = toolArguments(input)
	a.toolCalls = append(a.toolCalls, tc)
}

// reason adds thinking text.
func (a *answer) reason(text string) {
	a.reasoning.WriteString(text)
	a.hasReasoning = true
}

// message is the assistant message. As LiteLLM: no text at all is a null
// content (a tool-only answer); with jsonMode, a lone call of jsonModeTool
// is the JSON response_format asked for, returned as content
// (jsonContent), and the answer ended its turn rather than called a tool.
func (a *answer) message(jsonMode bool) (m openAIMessage, jsonContent bool) {
	m = openAIMessage{Role: "assistant", ToolCalls: a.toolCalls, ThinkingBlocks: a.thinkingBlocks}
	if a.text.Len() > 0 {
		s := a.text.String()
		m.Content = &s
	}
	if jsonMode && len(m.ToolCalls) == 1 && m.ToolCalls[0].Function.Name == jsonModeTool {
		s := m.ToolCalls[0].Function.Arguments
		m.Content, m.ToolCalls, jsonContent = &s, nil, true
	}
	if a.hasReasoning {
		s := a.reasoning.String()
		m.ReasoningContent = &s
	}
	return m, jsonContent
}
