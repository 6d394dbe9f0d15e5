package translate

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// geminiError translates a Google error body ({"error": {"code", "message",
// "status"}}, or a list of them) to OpenAI's shape for the same status. The
// provider's message is kept; a context window overflow gets the code
// context_length_exceeded, which context_window_fallbacks key on.
func geminiError(status int, body []byte) ([]byte, string) {
	var ge gmError
	var one struct {
		Error *gmError `json:"error"`
	}
	var many []struct {
		Error *gmError `json:"error"`
	}
	switch {
	case json.Unmarshal(body, &one) == nil && one.Error != nil:
		ge = *one.Error
	case json.Unmarshal(body, &many) == nil && len(many) > 0 && many[0].Error != nil:
		ge = *many[0].Error
	default:
		ge.Message = strings.TrimSpace(string(body))
		if len(ge.Message) > 1024 {
			ge.Message = ge.Message[:1024]
		}
	}
	if ge.Message == "" {
		ge.Message = fmt.Sprintf("Gemini returned HTTP %d %s", status, http.StatusText(status))
	}
	code := strconv.Itoa(status)
	if geminiContextWindowError(ge.Message) {
		code = "context_length_exceeded"
	}
	return geminiOpenAIError(ge.Message, geminiErrorType(status), code), code
}

// geminiContextWindowError recognises Gemini's answer to a prompt over the
// model's input limit: 400 INVALID_ARGUMENT "The input token count (N)
// exceeds the maximum number of tokens allowed (M)."
func geminiContextWindowError(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "exceeds the maximum number of tokens") ||
		(strings.Contains(m, "input token count") && strings.Contains(m, "exceeds"))
}

func geminiBlockedError(f *gmPromptFeedback) []byte {
	msg := "The prompt was blocked by Gemini's safety filters (blockReason " + f.BlockReason + ")."
	if f.BlockReasonMessage != "" {
		msg += " " + f.BlockReasonMessage
	}
	return geminiOpenAIError(msg, "invalid_request_error", "content_policy_violation")
}

func geminiErrorType(status int) string {
	switch {
	case status == 401:
		return "authentication_error"
	case status == 403:
		return "permission_error"
	case status == 404:
		return "not_found_error"
	case status == 429:
		return "rate_limit_error"
	case status >= 500:
		return "api_error"
	}
	return "invalid_request_error"
}

func geminiOpenAIError(message, typ, code string) []byte {
	type inner struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    string  `json:"code"`
	}
	b, _ := jsonscan.Marshal(struct {
		Error inner `json:"error"`
	}{inner{Message: message, Type: typ, Code: code}})
	return b
}
