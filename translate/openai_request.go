package translate

import (
	"encoding/json"
	"fmt"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// The OpenAI chat completion request as clients send it, one reader and one
// schema for every translator that rewrites it (Anthropic, Bedrock, Gemini
// and Vertex AI); what a provider makes of a value stays in its file.

// openAIRequest is a chat completion request read member by member: a
// translator decodes only the members it maps, and each as LiteLLM reads
// it, so one malformed member it drops does not refuse the request.
type openAIRequest struct {
	fields []jsonscan.Field
}

// readOpenAIRequest reads body's top-level members, without decoding them.
func readOpenAIRequest(body []byte) (openAIRequest, error) {
	fields, err := jsonscan.Fields(body)
	return openAIRequest{fields: fields}, err
}

// get is a member's value as the client wrote it; nil when it is absent or
// null (OpenAI's SDKs send null for an unset parameter).
func (r openAIRequest) get(key string) []byte {
	if f, ok := jsonscan.Get(r.fields, key); ok && !jsonscan.IsNull(f.Value) {
		return f.Value
	}
	return nil
}

// messages decodes the conversation, which every chat completion needs.
func (r openAIRequest) messages() ([]openAIChatMessage, error) {
	raw := r.get("messages")
	if raw == nil {
		return nil, fmt.Errorf("messages: required")
	}
	var msgs []openAIChatMessage
	if err := json.Unmarshal(raw, &msgs); err != nil {
		return nil, fmt.Errorf("messages: %v", jsonscan.DecodeError(err))
	}
	return msgs, nil
}

// number is a sampling parameter as the client wrote it (nil when absent):
// the provider checks its range, which is not OpenAI's (Anthropic's
// temperature stops at 1, OpenAI's at 2).
func (r openAIRequest) number(key string) (json.RawMessage, error) {
	v := r.get(key)
	if v != nil && v[0] != '-' && (v[0] < '0' || v[0] > '9') {
		return nil, fmt.Errorf("%s: want a number, got %s", key, jsonscan.Kind(v))
	}
	return v, nil
}

// stream reads stream, and for a stream whether stream_options asks for a
// last chunk with the usage.
func (r openAIRequest) stream() (stream, includeUsage bool, err error) {
	if v := r.get("stream"); v != nil {
		b, ok := jsonscan.Bool(v)
		if !ok {
			return false, false, fmt.Errorf("stream: want a boolean, got %s", jsonscan.Kind(v))
		}
		stream = b
	}
	if v := r.get("stream_options"); v != nil && stream {
		var so struct {
			IncludeUsage *bool `json:"include_usage"`
		}
		if err := json.Unmarshal(v, &so); err != nil {
			return false, false, fmt.Errorf("stream_options: %v", jsonscan.DecodeError(err))
		}
		includeUsage = so.IncludeUsage != nil && *so.IncludeUsage
	}
	return stream, includeUsage, nil
}

// maxTokens is max_completion_tokens, which replaced max_tokens in OpenAI's
// API and wins when a client sends both, else max_tokens; key names the
// member it came from, for errors.
func (r openAIRequest) maxTokens() (key string, v json.RawMessage) {
	if v = r.get("max_completion_tokens"); v != nil {
		return "max_completion_tokens", v
	}
	return "max_tokens", r.get("max_tokens")
}

// readTools decodes tools; each translator checks the tools it takes.
func readTools(v []byte) ([]openAIChatTool, error) {
	var tools []openAIChatTool
	if err := json.Unmarshal(v, &tools); err != nil {
		return nil, fmt.Errorf("tools: want a list of tools, got %s", jsonscan.Kind(v))
	}
	return tools, nil
}

// checkFunction refuses tools[i] unless it is a named function, the only
// tool provider's deployments take.
func (t openAIChatTool) checkFunction(i int, provider string) error {
	if t.Type != "function" || t.Function == nil {
		return fmt.Errorf("tools[%d]: only function tools are supported for %s deployments, got type %q", i, provider, t.Type)
	}
	if t.Function.Name == "" {
		return fmt.Errorf("tools[%d].function.name: required", i)
	}
	return nil
}

// readToolChoice reads tool_choice (nil when absent): mode is auto, none or
// required, or "function" for a function the client forces, which function
// names; "" when absent.
func readToolChoice(v []byte) (mode, function string, err error) {
	switch {
	case v == nil:
		return "", "", nil
	case v[0] == '"':
		s, _ := jsonscan.String(v)
		switch s {
		case "auto", "none", "required":
			return s, "", nil
		}
		return "", "", fmt.Errorf("tool_choice: want auto, none, required or a function, got %q", s)
	}
	var named struct {
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(v, &named); err != nil || named.Function.Name == "" {
		return "", "", fmt.Errorf("tool_choice: want auto, none, required or {\"type\":\"function\",\"function\":{\"name\":...}}")
	}
	return "function", named.Function.Name, nil
}

// contentParts decodes a message's content that is not a string: a list of
// content parts.
func contentParts(where string, content json.RawMessage) ([]openAIContentPart, error) {
	var parts []openAIContentPart
	if err := json.Unmarshal(content, &parts); err != nil {
		return nil, fmt.Errorf("%s.content: want a string or a list of content parts, got %s", where, jsonscan.Kind(content))
	}
	return parts, nil
}

// The messages, tools and content parts of a request, as the translators
// decode them. Members one provider reads and another does not (name,
// function_call) stay raw, so a value one provider would refuse does not
// refuse the request at another.
type (
	openAIChatMessage struct {
		Role           string               `json:"role"`
		Content        json.RawMessage      `json:"content"`
		ToolCalls      []openAIChatToolCall `json:"tool_calls"`
		ToolCallID     string               `json:"tool_call_id"`
		Name           json.RawMessage      `json:"name"`
		CacheControl   json.RawMessage      `json:"cache_control"`
		ThinkingBlocks []json.RawMessage    `json:"thinking_blocks"`
		FunctionCall   json.RawMessage      `json:"function_call"`
	}
	openAIChatToolCall struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function struct {
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		} `json:"function"`
	}
	openAIContentPart struct {
		Type         string          `json:"type"`
		Text         *string         `json:"text"`
		Refusal      *string         `json:"refusal"`
		ImageURL     json.RawMessage `json:"image_url"`
		File         json.RawMessage `json:"file"`
		CacheControl json.RawMessage `json:"cache_control"`
	}
	openAIChatTool struct {
		Type     string `json:"type"`
		Function *struct {
			Name         string          `json:"name"`
			Description  *string         `json:"description"`
			Parameters   json.RawMessage `json:"parameters"`
			CacheControl json.RawMessage `json:"cache_control"`
		} `json:"function"`
		CacheControl json.RawMessage `json:"cache_control"`
	}
)
