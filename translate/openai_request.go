package translate

import (
	"encoding/json"
)

// The OpenAI chat completion request as clients send it, one schema for
// every translator that rewrites it; a provider's quirks stay in its file.

// The parts of an OpenAI chat completion request the translation reads.
type (
	openAIChatMessage struct {
		Role           string               `json:"role"`
		Content        json.RawMessage      `json:"content"`
		ToolCalls      []openAIChatToolCall `json:"tool_calls"`
		ToolCallID     string               `json:"tool_call_id"`
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
