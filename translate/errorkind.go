package translate

import (
	"encoding/json"
	"strings"

	"github.com/llmvoy/llmvoy/config"
)

// ErrorKind recognises the errors that have their own fallback chains in an
// OpenAI-shaped error body (every translator produces that shape): a prompt
// too long for the model's context window (config.FallbackContextWindow), or
// content the provider refused (config.FallbackContentPolicy). "" for any
// other body. The message patterns are the ones LiteLLM's exception mapping
// matches, since OpenAI-compatible servers (vLLM, Ollama, ...) often send no
// code.
func ErrorKind(body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
			Code    any    `json:"code"`
			Type    string `json:"type"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	code, _ := e.Error.Code.(string)
	msg := strings.ToLower(e.Error.Message)
	switch {
	case code == "context_length_exceeded", containsAny(msg, contextWindowPhrases):
		return config.FallbackContextWindow
	case code == "content_policy_violation", code == "content_filter", containsAny(msg, contentPolicyPhrases):
		return config.FallbackContentPolicy
	}
	return ""
}

var contextWindowPhrases = []string{
	"maximum context length",
	"context length exceeded",
	"context_length_exceeded",
	"context window",
	"prompt is too long",
	"input is too long",
	"too many tokens",
	"exceeds the maximum number of tokens",
	"reduce the length of the messages",
}

var contentPolicyPhrases = []string{
	"content_policy_violation",
	"content management policy",
	"safety system",
	"content policy",
}
