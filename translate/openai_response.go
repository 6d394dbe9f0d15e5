package translate

import (
	"encoding/json"
)

// The OpenAI chat completion answer as translators write it to clients.

// OpenAI shapes written to clients.
type (
	openAICompletion struct {
		ID      string         `json:"id"`
		Object  string         `json:"object"`
		Created int64          `json:"created"`
		Model   string         `json:"model"`
		Choices []openAIChoice `json:"choices"`
		Usage   openAIUsage    `json:"usage"`
	}
	openAIChoice struct {
		Index        int           `json:"index"`
		Message      openAIMessage `json:"message"`
		Logprobs     *struct{}     `json:"logprobs"`
		FinishReason *string       `json:"finish_reason"`
	}
	openAIMessage struct {
		Role             string            `json:"role"`
		Content          *string           `json:"content"`
		ToolCalls        []openAIToolCall  `json:"tool_calls,omitempty"`
		ReasoningContent *string           `json:"reasoning_content,omitempty"`
		ThinkingBlocks   []json.RawMessage `json:"thinking_blocks,omitempty"`
	}
	openAIToolCall struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	}
	openAIUsage struct {
		PromptTokens        int64 `json:"prompt_tokens"`
		CompletionTokens    int64 `json:"completion_tokens"`
		TotalTokens         int64 `json:"total_tokens"`
		PromptTokensDetails struct {
			CachedTokens int64 `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
		// LiteLLM reports Anthropic's cache counts beside OpenAI's.
		CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
		CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
	}
)
