package messagesapi

import (
	"encoding/json"
	"fmt"
	"strings"
)

// overloaded is Anthropic's status for an overloaded API; not a
// registered HTTP status.
const overloaded = 529

// ErrorType is Anthropic's error type for an HTTP status, per Anthropic's
// errors reference: other 4xx are invalid_request_error, other 5xx
// api_error.
func ErrorType(status int) string {
	switch status {
	case 400:
		return "invalid_request_error"
	case 401:
		return "authentication_error"
	case 402:
		return "billing_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 504:
		return "timeout_error"
	case overloaded:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

// anthropicError is Anthropic's error body.
type anthropicError struct {
	Type  string `json:"type"` // "error"
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

func errorBody(typ, message string) []byte {
	var e anthropicError
	e.Type, e.Error.Type, e.Error.Message = "error", typ, message
	return mustJSON(e)
}

// ErrorBody is Anthropic's error body for a status and message.
func ErrorBody(status int, message string) []byte {
	return errorBody(ErrorType(status), message)
}

// openAIError is OpenAI's {"error":{...}}; code may be a string or a number.
type openAIError struct {
	Error *struct {
		Message string          `json:"message"`
		Type    string          `json:"type"`
		Code    json.RawMessage `json:"code"`
	} `json:"error"`
}

// FromOpenAIError converts an OpenAI-shaped error body (a deployment's, or
// llmvoy's own) to Anthropic's, keeping the message. A body in no known
// shape (a proxy's HTML page) is quoted in the message.
func FromOpenAIError(status int, body []byte) []byte {
	typ, message := openAIErrorKind(status, body)
	return errorBody(typ, message)
}

// openAIErrorKind reads an OpenAI error body: Anthropic's type for it and
// its message. The status decides the type when it is an error status;
// inside a stream (status 0) OpenAI's type and code do.
func openAIErrorKind(status int, body []byte) (typ, message string) {
	var a anthropicError
	if json.Unmarshal(body, &a) == nil && a.Type == "error" && a.Error.Type != "" && a.Error.Message != "" {
		return a.Error.Type, a.Error.Message // already Anthropic's
	}
	var e openAIError
	if json.Unmarshal(body, &e) != nil || e.Error == nil {
		snippet := strings.TrimSpace(string(body))
		if len(snippet) > 200 {
			snippet = snippet[:200] + "..."
		}
		message = fmt.Sprintf("the deployment answered HTTP %d", status)
		if snippet != "" {
			message += ": " + snippet
		}
		if status < 400 {
			return "api_error", message
		}
		return ErrorType(status), message
	}
	code := string(e.Error.Code)
	if s, ok := strings.CutPrefix(code, `"`); ok {
		code = strings.TrimSuffix(s, `"`)
	}
	message = e.Error.Message
	if message == "" {
		message = "the deployment answered an error without a message"
	}
	if code == "context_length_exceeded" && !strings.Contains(strings.ToLower(message), "prompt is too long") {
		// Claude Code compacts its conversation when it reads these
		// words, Anthropic's for an over-long prompt.
		message = "prompt is too long: " + message
	}
	if status >= 400 {
		return ErrorType(status), message
	}
	return openAITypeKind(e.Error.Type, code), message
}

// openAITypeKind maps OpenAI's error type and code to Anthropic's type.
func openAITypeKind(typ, code string) string {
	switch {
	case typ == "rate_limit_error" || code == "rate_limit_exceeded" || code == "429":
		return "rate_limit_error"
	case typ == "authentication_error" || code == "invalid_api_key" || code == "401":
		return "authentication_error"
	case typ == "permission_error" || code == "403":
		return "permission_error"
	case typ == "not_found_error" || code == "model_not_found" || code == "404":
		return "not_found_error"
	case code == "server_is_overloaded" || code == "529":
		return "overloaded_error"
	case typ == "invalid_request_error" || code == "context_length_exceeded" || code == "400":
		return "invalid_request_error"
	}
	return "api_error"
}
