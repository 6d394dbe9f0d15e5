package responsesapi

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
)

// The Responses API objects the translation writes, with the members the
// official SDKs require.
type (
	responseObject struct {
		ID                 string             `json:"id"`
		Object             string             `json:"object"`
		CreatedAt          int64              `json:"created_at"`
		Status             string             `json:"status"`
		Error              *responseError     `json:"error"`
		IncompleteDetails  *incompleteDetails `json:"incomplete_details"`
		Instructions       json.RawMessage    `json:"instructions"`
		MaxOutputTokens    json.RawMessage    `json:"max_output_tokens"`
		Model              string             `json:"model"`
		Output             []any              `json:"output"`
		ParallelToolCalls  json.RawMessage    `json:"parallel_tool_calls"`
		PreviousResponseID *string            `json:"previous_response_id"`
		Reasoning          json.RawMessage    `json:"reasoning"`
		Store              json.RawMessage    `json:"store"`
		Temperature        json.RawMessage    `json:"temperature"`
		Text               json.RawMessage    `json:"text"`
		ToolChoice         json.RawMessage    `json:"tool_choice"`
		Tools              json.RawMessage    `json:"tools"`
		TopP               json.RawMessage    `json:"top_p"`
		Truncation         string             `json:"truncation"`
		Usage              *responseUsage     `json:"usage"`
		User               *string            `json:"user"`
		Metadata           json.RawMessage    `json:"metadata"`
	}
	responseError struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	incompleteDetails struct {
		Reason string `json:"reason"`
	}
	responseUsage struct {
		InputTokens        int64 `json:"input_tokens"`
		InputTokensDetails struct {
			CachedTokens int64 `json:"cached_tokens"`
		} `json:"input_tokens_details"`
		OutputTokens        int64 `json:"output_tokens"`
		OutputTokensDetails struct {
			ReasoningTokens int64 `json:"reasoning_tokens"`
		} `json:"output_tokens_details"`
		TotalTokens int64 `json:"total_tokens"`
	}

	messageItem struct {
		ID      string       `json:"id"`
		Type    string       `json:"type"`
		Status  string       `json:"status"`
		Role    string       `json:"role"`
		Content []outputText `json:"content"`
	}
	outputText struct {
		Type        string `json:"type"`
		Text        string `json:"text"`
		Annotations []any  `json:"annotations"`
	}
	functionCallItem struct {
		ID        string `json:"id"`
		Type      string `json:"type"`
		Status    string `json:"status"`
		CallID    string `json:"call_id"`
		Name      string `json:"name"`
		Namespace string `json:"namespace,omitempty"`
		Arguments string `json:"arguments"`
	}
	reasoningItem struct {
		ID      string        `json:"id"`
		Type    string        `json:"type"`
		Summary []summaryText `json:"summary"`
	}
	summaryText struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
)

// The request's defaults, echoed as OpenAI echoes them when the client
// left a parameter out.
var (
	defaultOne        = json.RawMessage(`1`)
	defaultTrue       = json.RawMessage(`true`)
	defaultToolChoice = json.RawMessage(`"auto"`)
	defaultTools      = json.RawMessage(`[]`)
	defaultText       = json.RawMessage(`{"format":{"type":"text"}}`)
	defaultReasoning  = json.RawMessage(`{"effort":null,"summary":null}`)
	defaultMetadata   = json.RawMessage(`{}`)
)

func orDefault(v, def json.RawMessage) json.RawMessage {
	if v == nil {
		return def
	}
	return v
}

// newResponseObject is the response with the request echoed, no output
// yet.
func newResponseObject(req *Request, id string, createdAt int64, status string) *responseObject {
	r := &responseObject{
		ID:                id,
		Object:            "response",
		CreatedAt:         createdAt,
		Status:            status,
		Instructions:      req.Instructions,
		MaxOutputTokens:   req.MaxOutputTokens,
		Model:             req.Model,
		Output:            []any{},
		ParallelToolCalls: orDefault(req.ParallelToolCalls, defaultTrue),
		Reasoning:         orDefault(req.Reasoning, defaultReasoning),
		Store:             orDefault(req.Store, defaultTrue),
		Temperature:       orDefault(req.Temperature, defaultOne),
		Text:              orDefault(req.Text, defaultText),
		ToolChoice:        orDefault(req.ToolChoice, defaultToolChoice),
		Tools:             orDefault(req.Tools, defaultTools),
		TopP:              orDefault(req.TopP, defaultOne),
		Truncation:        "disabled",
		Metadata:          orDefault(req.Metadata, defaultMetadata),
	}
	if req.User != "" {
		u := req.User
		r.User = &u
	}
	return r
}

// finish sets the status a chat finish_reason means.
func (r *responseObject) finish(reason string) {
	r.Status = "completed"
	switch reason {
	case "length":
		r.Status, r.IncompleteDetails = "incomplete", &incompleteDetails{Reason: "max_output_tokens"}
	case "content_filter":
		r.Status, r.IncompleteDetails = "incomplete", &incompleteDetails{Reason: "content_filter"}
	}
}

// chatUsage is a chat completion's usage.
type chatUsage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	TotalTokens         int64 `json:"total_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails *struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

func (u *chatUsage) responses() *responseUsage {
	if u == nil {
		return nil
	}
	r := &responseUsage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
	if r.TotalTokens == 0 {
		r.TotalTokens = r.InputTokens + r.OutputTokens
	}
	if u.PromptTokensDetails != nil {
		r.InputTokensDetails.CachedTokens = u.PromptTokensDetails.CachedTokens
	}
	if u.CompletionTokensDetails != nil {
		r.OutputTokensDetails.ReasoningTokens = u.CompletionTokensDetails.ReasoningTokens
	}
	return r
}

// failCode is the ResponseError code for a provider's error code: the SDKs
// know a fixed set; anything else is a server_error.
func failCode(code string) string {
	switch code {
	case "server_error", "rate_limit_exceeded", "invalid_prompt":
		return code
	}
	return "server_error"
}

// randomIDs makes OpenAI-looking ids: a prefix and 48 random hex digits.
func randomIDs(prefix string) string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// stringOf decodes a reasoning member that is a string ("" otherwise:
// some servers send an object there).
func stringOf(v json.RawMessage) string {
	var s string
	if v = raw(v); v != nil && v[0] == '"' {
		_ = json.Unmarshal(v, &s)
	}
	return s
}
