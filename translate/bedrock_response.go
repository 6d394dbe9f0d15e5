package translate

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// bedrockResponse is one attempt on a Bedrock deployment: the signed
// request's path and headers, and the translation of its answer (a
// Converse response, an error, or a ConverseStream event stream).
type bedrockResponse struct {
	includeUsage bool
	jsonMode     bool
	id           string // the "id" of every object sent to the client
	model        string // the "model" of every object sent to the client
	created      int64

	path    string   // /converse or /converse-stream
	headers []Header // the signature, set in the body phase

	status int // a status the body says the client must see instead; 0: keep
	stream bedrockStream
}

var (
	_ ResponseTranslator = (*bedrockResponse)(nil)
	_ PathOverrider      = (*bedrockResponse)(nil)
	_ HeaderOverrider    = (*bedrockResponse)(nil)
	_ StatusOverrider    = (*bedrockResponse)(nil)
)

// bedrockEventStreamType is the content type of a ConverseStream answer.
const bedrockEventStreamType = "application/vnd.amazon.eventstream"

func (r *bedrockResponse) UpstreamPath() string      { return r.path }
func (r *bedrockResponse) UpstreamHeaders() []Header { return r.headers }
func (r *bedrockResponse) BodyStatus() int           { return r.status }

func (r *bedrockResponse) Headers(status int, contentType string) (bool, []Header) {
	if status >= 200 && status < 300 && strings.HasPrefix(strings.TrimSpace(strings.ToLower(contentType)), bedrockEventStreamType) {
		return true, []Header{{Key: "content-type", Value: "text/event-stream; charset=utf-8"}}
	}
	set := []Header{{Key: "content-type", Value: "application/json"}}
	if status == http.StatusFailedDependency {
		// ModelErrorException: the model failed, which is a server error
		// for retries, cooldowns and the client alike.
		set = append(set, Header{Key: ":status", Value: strconv.Itoa(http.StatusInternalServerError)})
	}
	return false, set
}

// Converse shapes read from responses.
type (
	bedrockConverseOutput struct {
		Output *struct {
			Message *struct {
				Role    string            `json:"role"`
				Content []json.RawMessage `json:"content"`
			} `json:"message"`
		} `json:"output"`
		StopReason string        `json:"stopReason"`
		Usage      *bedrockUsage `json:"usage"`
	}
	bedrockBlock struct {
		Text    *string `json:"text"`
		ToolUse *struct {
			ToolUseID string          `json:"toolUseId"`
			Name      string          `json:"name"`
			Input     json.RawMessage `json:"input"`
		} `json:"toolUse"`
		ReasoningContent *struct {
			ReasoningText *struct {
				Text      string `json:"text"`
				Signature string `json:"signature"`
			} `json:"reasoningText"`
			RedactedContent string `json:"redactedContent"`
		} `json:"reasoningContent"`
	}
	bedrockUsage struct {
		InputTokens           int64 `json:"inputTokens"`
		OutputTokens          int64 `json:"outputTokens"`
		TotalTokens           int64 `json:"totalTokens"`
		CacheReadInputTokens  int64 `json:"cacheReadInputTokens"`
		CacheWriteInputTokens int64 `json:"cacheWriteInputTokens"`
	}
)

func (r *bedrockResponse) Body(status int, body []byte) ([]byte, error) {
	if status < 200 || status >= 300 {
		out, st := bedrockError(status, "", body)
		if st != status {
			r.status = st
		}
		return out, nil
	}
	var resp bedrockConverseOutput
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("bedrock converse response: %v", err)
	}
	if resp.Output == nil || resp.Output.Message == nil {
		return nil, fmt.Errorf("bedrock converse response: no output.message")
	}
	var a answer
	for _, raw := range resp.Output.Message.Content {
		var b bedrockBlock
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, fmt.Errorf("bedrock converse response content: %v", err)
		}
		switch {
		case b.Text != nil:
			a.text.WriteString(*b.Text)
		case b.ToolUse != nil:
			a.toolCall(b.ToolUse.ToolUseID, b.ToolUse.Name, b.ToolUse.Input)
		case b.ReasoningContent != nil:
			// As LiteLLM: reasoning_content, and thinking_blocks the
			// client can send back, signature included.
			if rt := b.ReasoningContent.ReasoningText; rt != nil {
				a.reason(rt.Text)
				tb, _ := jsonscan.Marshal(map[string]string{"type": "thinking", "thinking": rt.Text, "signature": rt.Signature})
				a.thinkingBlocks = append(a.thinkingBlocks, tb)
			} else if rc := b.ReasoningContent.RedactedContent; rc != "" {
				tb, _ := jsonscan.Marshal(map[string]string{"type": "redacted_thinking", "data": rc})
				a.thinkingBlocks = append(a.thinkingBlocks, tb)
			}
		}
	}
	m, jsonContent := a.message(r.jsonMode)
	stop := resp.StopReason
	if jsonContent {
		stop = "end_turn"
	}
	finish := bedrockFinishReason(stop)
	out := openAICompletion{
		ID:      r.id,
		Object:  "chat.completion",
		Created: r.created,
		Model:   r.model,
		Choices: []openAIChoice{{Index: 0, Message: m, FinishReason: &finish}},
	}
	if resp.Usage != nil {
		out.Usage = resp.Usage.openAI()
	}
	return jsonscan.Marshal(out)
}

func (r *bedrockResponse) Chunk(data []byte, end bool) ([]byte, error) {
	return r.stream.chunk(r, data, end)
}

// bedrockFinishReason maps a Converse stopReason as LiteLLM's
// map_finish_reason does: a guardrail or content filter is
// content_filter, a truncation is length, anything else is stop.
func bedrockFinishReason(stop string) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "guardrail_intervened", "content_filtered":
		return "content_filter"
	}
	return "stop"
}

// openAI converts Bedrock's token counts: inputTokens leaves out the
// prompt cache's reads and writes, which OpenAI's prompt_tokens counts, so
// they are added back, as LiteLLM does.
func (u bedrockUsage) openAI() openAIUsage {
	var o openAIUsage
	o.CacheCreationInputTokens = u.CacheWriteInputTokens
	o.CacheReadInputTokens = u.CacheReadInputTokens
	o.PromptTokens = u.InputTokens + u.CacheReadInputTokens + u.CacheWriteInputTokens
	o.CompletionTokens = u.OutputTokens
	o.TotalTokens = o.PromptTokens + o.CompletionTokens
	o.PromptTokensDetails.CachedTokens = u.CacheReadInputTokens
	return o
}

// bedrockError translates an error answer into OpenAI's error body and
// returns the status the client must see. status is 0 for an exception in
// the event stream, which typ then names. AWS names the exception of an
// HTTP error in the x-amzn-errortype header, which translators do not see;
// the body's __type, when there is one, and else the status and message
// tell them apart.
func bedrockError(status int, typ string, body []byte) ([]byte, int) {
	var e struct {
		Message  string `json:"message"`
		Message2 string `json:"Message"`
		Type     string `json:"__type"`
	}
	message := ""
	if json.Unmarshal(body, &e) == nil {
		message = e.Message
		if message == "" {
			message = e.Message2
		}
		if typ == "" {
			typ = e.Type
		}
	}
	name := bedrockExceptionName(typ)
	if message == "" {
		snippet := strings.TrimSpace(string(body))
		if len(snippet) > 200 {
			snippet = snippet[:200] + "..."
		}
		if status == 0 {
			message = "Bedrock's stream failed with " + name
		} else {
			message = fmt.Sprintf("Bedrock answered HTTP %d", status)
		}
		if snippet != "" {
			message += ": " + snippet
		}
	}
	if name == "" {
		name = bedrockTypeFor(status, message)
	}
	k, known := bedrockKinds[name]
	if !known {
		// An exception llmvoy does not know: the status stands.
		k = bedrockKind{status: status, openAIType: "invalid_request_error"}
		if status >= 500 || status == 0 {
			k.openAIType = "server_error"
		}
	}
	if name == "ValidationException" && bedrockContextExceeded(message) {
		k.code = "context_length_exceeded"
	}
	code := k.code
	if code == "" && k.status != 0 {
		code = strconv.Itoa(k.status)
	}
	var out struct {
		Error struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    *string `json:"code"`
		} `json:"error"`
	}
	out.Error.Message, out.Error.Type = message, k.openAIType
	if code != "" {
		out.Error.Code = &code
	}
	b, _ := jsonscan.Marshal(out) // strings only: cannot fail
	if status == 0 || k.status == 0 {
		return b, status
	}
	return b, k.status
}

// bedrockExceptionName is an exception's name as the API reference writes
// it: AWS's error type header and __type may carry a namespace
// ("com.amazon.coral.service#ThrottlingException") or a URL after a colon,
// and the event stream names them in lowerCamelCase
// ("throttlingException").
func bedrockExceptionName(typ string) string {
	typ = strings.TrimSpace(typ)
	if i := strings.LastIndexByte(typ, '#'); i >= 0 {
		typ = typ[i+1:]
	}
	if i := strings.IndexByte(typ, ':'); i >= 0 {
		typ = typ[:i]
	}
	if typ != "" && typ[0] >= 'a' && typ[0] <= 'z' {
		typ = strings.ToUpper(typ[:1]) + typ[1:]
	}
	return typ
}

// bedrockKind is how an exception reads to an OpenAI client.
type bedrockKind struct {
	status     int
	openAIType string
	code       string // "" = the status
}

// bedrockKinds maps Bedrock's exceptions (API reference, "Errors" of
// Converse and ConverseStream, and the common errors of every AWS API) to
// OpenAI's status, type and code. Credential failures are 401s (the
// OpenAI SDKs raise AuthenticationError), a missing permission a 403; a
// model that is not ready is a 503, something to retry elsewhere, not a
// rate limit.
var bedrockKinds = map[string]bedrockKind{
	"ValidationException":                 {400, "invalid_request_error", ""},
	"SerializationException":              {400, "invalid_request_error", ""},
	"ServiceQuotaExceededException":       {400, "invalid_request_error", "quota_exceeded"},
	"IncompleteSignatureException":        {401, "authentication_error", "invalid_api_key"},
	"UnrecognizedClientException":         {401, "authentication_error", "invalid_api_key"},
	"InvalidSignatureException":           {401, "authentication_error", "invalid_api_key"},
	"MissingAuthenticationTokenException": {401, "authentication_error", "invalid_api_key"},
	"ExpiredTokenException":               {401, "authentication_error", "invalid_api_key"},
	"InvalidClientTokenId":                {401, "authentication_error", "invalid_api_key"},
	"AccessDeniedException":               {403, "permission_error", ""},
	"ResourceNotFoundException":           {404, "not_found_error", "model_not_found"},
	"ModelTimeoutException":               {408, "timeout_error", ""},
	"ThrottlingException":                 {429, "rate_limit_error", "rate_limit_exceeded"},
	"TooManyRequestsException":            {429, "rate_limit_error", "rate_limit_exceeded"},
	"ModelErrorException":                 {500, "server_error", ""},
	"ModelStreamErrorException":           {500, "server_error", ""},
	"InternalServerException":             {500, "server_error", ""},
	"InternalFailure":                     {500, "server_error", ""},
	"ModelNotReadyException":              {503, "service_unavailable", "model_not_ready"},
	"ServiceUnavailableException":         {503, "service_unavailable", "service_unavailable"},
}

// bedrockTypeFor guesses the exception from the status and message, for
// bodies that do not name it (Bedrock's are {"message": "..."}).
func bedrockTypeFor(status int, message string) string {
	m := strings.ToLower(message)
	switch status {
	case 400:
		return "ValidationException"
	case 403:
		switch {
		case strings.Contains(m, "security token included in the request is invalid"):
			return "UnrecognizedClientException"
		case strings.Contains(m, "security token included in the request is expired"):
			return "ExpiredTokenException"
		case strings.Contains(m, "signature"):
			return "InvalidSignatureException"
		case strings.Contains(m, "missing authentication token"):
			return "MissingAuthenticationTokenException"
		}
		return "AccessDeniedException"
	case 404:
		return "ResourceNotFoundException"
	case 408:
		return "ModelTimeoutException"
	case 424:
		return "ModelErrorException"
	case 429:
		if strings.Contains(m, "not ready") {
			return "ModelNotReadyException"
		}
		return "ThrottlingException"
	case 500:
		return "InternalServerException"
	case 503:
		return "ServiceUnavailableException"
	}
	return ""
}

// bedrockContextExceeded recognises Bedrock's prompt-too-long validation
// errors (its own, and the ones of the models behind it), so
// context_window_fallbacks can key on context_length_exceeded.
func bedrockContextExceeded(message string) bool {
	m := strings.ToLower(message)
	for _, s := range []string{
		"input is too long",
		"prompt is too long",
		"too many input tokens",
		"exceeds the context window",
		"exceed context limit",
		"maximum context length",
		"context length",
	} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}
