package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/internal/jsonscan"
	"github.com/llmvoy/llmvoy/internal/sse"
)

// Gemini response shapes (GenerateContentResponse, and the error body every
// Google API sends). Unknown fields (safetyRatings, citationMetadata,
// groundingMetadata, ...) are ignored.
type gmResponse struct {
	Candidates     []gmCandidate     `json:"candidates"`
	PromptFeedback *gmPromptFeedback `json:"promptFeedback"`
	UsageMetadata  *gmUsage          `json:"usageMetadata"`
	ResponseID     string            `json:"responseId"`
	// Error is set on an error sent as an event inside a stream.
	Error *gmError `json:"error"`
}

type gmCandidate struct {
	Content      *gmContent `json:"content"`
	FinishReason string     `json:"finishReason"`
	// Index is omitted for candidate 0 (proto3 JSON leaves out zeros).
	Index int `json:"index"`
}

type gmPromptFeedback struct {
	BlockReason        string `json:"blockReason"`
	BlockReasonMessage string `json:"blockReasonMessage"`
}

type gmUsage struct {
	PromptTokenCount        int64 `json:"promptTokenCount"`
	CandidatesTokenCount    int64 `json:"candidatesTokenCount"`
	TotalTokenCount         int64 `json:"totalTokenCount"`
	CachedContentTokenCount int64 `json:"cachedContentTokenCount"`
	ThoughtsTokenCount      int64 `json:"thoughtsTokenCount"`
}

type gmError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
}

// OpenAI response shapes.
type gemOACompletion struct {
	ID      string        `json:"id"`
	Object  string        `json:"object"`
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Choices []gemOAChoice `json:"choices"`
	Usage   *gemOAUsage   `json:"usage,omitempty"`
}

type gemOAChoice struct {
	Index        int              `json:"index"`
	Message      gemOARespMessage `json:"message"`
	Logprobs     *struct{}        `json:"logprobs"`
	FinishReason string           `json:"finish_reason"`
}

type gemOARespMessage struct {
	Role             string              `json:"role"`
	Content          *string             `json:"content"`
	ReasoningContent *string             `json:"reasoning_content,omitempty"`
	ToolCalls        []gemOARespToolCall `json:"tool_calls,omitempty"`
	FunctionCall     *gemOAFunctionCall  `json:"function_call,omitempty"`
}

type gemOARespToolCall struct {
	Index    *int              `json:"index,omitempty"`
	ID       string            `json:"id"`
	Type     string            `json:"type"`
	Function gemOAFunctionCall `json:"function"`
}

type gemOAUsage struct {
	PromptTokens            int64                         `json:"prompt_tokens"`
	CompletionTokens        int64                         `json:"completion_tokens"`
	TotalTokens             int64                         `json:"total_tokens"`
	PromptTokensDetails     *gemOAPromptTokensDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *gemOACompletionTokensDetails `json:"completion_tokens_details,omitempty"`
}

type gemOAPromptTokensDetails struct {
	CachedTokens int64 `json:"cached_tokens"`
}

type gemOACompletionTokensDetails struct {
	ReasoningTokens int64 `json:"reasoning_tokens"`
}

type gemOADelta struct {
	Role             string              `json:"role,omitempty"`
	Content          *string             `json:"content,omitempty"`
	ReasoningContent *string             `json:"reasoning_content,omitempty"`
	ToolCalls        []gemOARespToolCall `json:"tool_calls,omitempty"`
}

// openAI converts usage the way LiteLLM's _calculate_usage does: thinking
// tokens count as completion tokens (and as reasoning tokens) unless the
// candidate count already includes them, and cached prompt tokens are
// reported as prompt_tokens_details.cached_tokens.
func (u *gmUsage) openAI() *gemOAUsage {
	completion := u.CandidatesTokenCount
	if u.PromptTokenCount+u.CandidatesTokenCount != u.TotalTokenCount {
		completion += u.ThoughtsTokenCount
	}
	total := u.TotalTokenCount
	if total == 0 {
		total = u.PromptTokenCount + completion
	}
	return &gemOAUsage{
		PromptTokens:            u.PromptTokenCount,
		CompletionTokens:        completion,
		TotalTokens:             total,
		PromptTokensDetails:     &gemOAPromptTokensDetails{CachedTokens: u.CachedContentTokenCount},
		CompletionTokensDetails: &gemOACompletionTokensDetails{ReasoningTokens: u.ThoughtsTokenCount},
	}
}

// geminiFlagged are the finish reasons after which LiteLLM drops the
// candidate's content: the output itself was blocked.
var geminiFlagged = map[string]bool{
	"SAFETY": true, "RECITATION": true, "BLOCKLIST": true,
	"PROHIBITED_CONTENT": true, "SPII": true, "IMAGE_SAFETY": true,
}

// geminiFinishReason maps a finish reason as LiteLLM's
// get_finish_reason_mapping does; tool calls win, as in _check_finish_reason.
func geminiFinishReason(reason string, toolCalls bool) string {
	if geminiFlagged[reason] {
		return "content_filter"
	}
	if toolCalls {
		return "tool_calls"
	}
	switch reason {
	case "MAX_TOKENS":
		return "length"
	case "LANGUAGE", "OTHER":
		return "content_filter"
	}
	// STOP, FINISH_REASON_UNSPECIFIED, MALFORMED_FUNCTION_CALL and reasons
	// newer than this code: OpenAI has nothing closer than "stop".
	return "stop"
}

// geminiChatResponse translates one attempt's answer to a chat completion:
// an error body, a whole response (generateContent), or an SSE stream
// (streamGenerateContent?alt=sse) that it relays chunk by chunk, or folds
// into one chat.completion when the client did not ask to stream.
type geminiChatResponse struct {
	model        string
	stream       bool // the client asked for SSE
	includeUsage bool
	// legacy is set when the client declared functions, not tools: calls
	// then come back as function_call, as LiteLLM does.
	legacy       bool
	upstreamPath string

	bodyStatus int

	sse      sse.Reader
	w        chunkWriter
	started  map[int]bool
	finished map[int]bool
	tools    map[int]int // tool calls sent, per candidate
	usage    *gmUsage
	done     bool
}

var _ ResponseTranslator = (*geminiChatResponse)(nil)

func newGeminiChatResponse(d *config.Deployment, stream, includeUsage, legacy bool) *geminiChatResponse {
	return &geminiChatResponse{model: d.UpstreamModel, stream: stream, includeUsage: includeUsage, legacy: legacy}
}

// UpstreamPath is the path this attempt is best sent to, when an upstream
// processor can still set it after the body (the request head had to be
// chosen before the body said whether the client streams): :generateContent
// for a client that does not stream, "" to keep the head's.
func (t *geminiChatResponse) UpstreamPath() string { return t.upstreamPath }

// BodyStatus is the status to answer with once Body has run, when it
// differs from the provider's (0: unchanged). Gemini answers a prompt it
// blocked with a 200 and no candidates; clients and content_policy_fallbacks
// expect OpenAI's 400 content_policy_violation.
func (t *geminiChatResponse) BodyStatus() int { return t.bodyStatus }

func (t *geminiChatResponse) Headers(status int, _ string) (bool, []Header) {
	if t.stream && status >= 200 && status < 300 {
		return true, []Header{{Key: "content-type", Value: "text/event-stream; charset=utf-8"}}
	}
	return false, []Header{{Key: "content-type", Value: "application/json"}}
}

func (t *geminiChatResponse) Body(status int, body []byte) ([]byte, error) {
	if status < 200 || status > 299 {
		out, _ := geminiError(status, body)
		return out, nil
	}
	events, err := geminiEvents(body)
	if err != nil {
		return nil, err
	}
	return t.fold(events)
}

// geminiEvents reads a whole body: one response (generateContent), a JSON
// array of them (streamGenerateContent without alt=sse) or SSE events.
func geminiEvents(body []byte) ([]gmResponse, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	switch {
	case len(trimmed) == 0:
		return nil, errors.New("empty response")
	case trimmed[0] == '{':
		var r gmResponse
		if err := json.Unmarshal(trimmed, &r); err != nil {
			return nil, fmt.Errorf("decode response: %v", err)
		}
		return []gmResponse{r}, nil
	case trimmed[0] == '[':
		var rs []gmResponse
		if err := json.Unmarshal(trimmed, &rs); err != nil {
			return nil, fmt.Errorf("decode response: %v", err)
		}
		return rs, nil
	}
	var p sse.Reader
	datas, err := dropDone(p.Feed(body, true))
	if err != nil {
		return nil, err
	}
	rs := make([]gmResponse, 0, len(datas))
	for _, d := range datas {
		var r gmResponse
		if err := json.Unmarshal(d, &r); err != nil {
			return nil, fmt.Errorf("decode event: %v", err)
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// geminiCandidateAcc collects one candidate across events.
type geminiCandidateAcc struct {
	text, reasoning strings.Builder
	hasText         bool
	hasReasoning    bool
	calls           []gemOARespToolCall
	finish          string
}

// fold turns a whole answer into one chat.completion.
func (t *geminiChatResponse) fold(events []gmResponse) ([]byte, error) {
	if len(events) == 0 {
		return nil, errors.New("no response in the body")
	}
	id := ""
	var usage *gmUsage
	accs := map[int]*geminiCandidateAcc{}
	var order []int
	for _, r := range events {
		if r.Error != nil {
			status := r.Error.Code
			if status < 400 || status > 599 {
				status = http.StatusBadGateway
			}
			t.bodyStatus = status
			raw, _ := json.Marshal(map[string]*gmError{"error": r.Error})
			out, _ := geminiError(status, raw)
			return out, nil
		}
		if geminiBlocked(r) {
			t.bodyStatus = http.StatusBadRequest
			return geminiBlockedError(r.PromptFeedback), nil
		}
		if id == "" {
			id = r.ResponseID
		}
		if r.UsageMetadata != nil {
			usage = r.UsageMetadata
		}
		for i, c := range r.Candidates {
			idx := geminiCandidateIndex(c, i)
			acc := accs[idx]
			if acc == nil {
				acc = &geminiCandidateAcc{}
				accs[idx] = acc
				order = append(order, idx)
			}
			if acc.finish != "" {
				continue // as when streaming: nothing after a candidate's end
			}
			if c.Content != nil {
				for _, p := range c.Content.Parts {
					switch {
					case p.FunctionCall != nil:
						acc.calls = append(acc.calls, geminiToolCall(p))
					case p.Thought:
						acc.reasoning.WriteString(p.Text)
						acc.hasReasoning = acc.hasReasoning || p.Text != ""
					default:
						acc.text.WriteString(p.Text)
						acc.hasText = acc.hasText || p.Text != ""
					}
				}
			}
			if c.FinishReason != "" {
				acc.finish = c.FinishReason
			}
		}
	}
	if id == "" {
		id = geminiCompletionID()
	}
	resp := gemOACompletion{ID: id, Object: "chat.completion", Created: time.Now().Unix(), Model: t.model, Choices: []gemOAChoice{}}
	for _, idx := range order {
		acc := accs[idx]
		msg := gemOARespMessage{Role: "assistant"}
		finish := geminiFinishReason(acc.finish, len(acc.calls) > 0)
		if !geminiFlagged[acc.finish] {
			if acc.hasText {
				s := acc.text.String()
				msg.Content = &s
			}
			if acc.hasReasoning {
				s := acc.reasoning.String()
				msg.ReasoningContent = &s
			}
			if len(acc.calls) > 0 && t.legacy {
				msg.FunctionCall = &acc.calls[0].Function
				finish = "function_call"
			} else {
				msg.ToolCalls = acc.calls
			}
		}
		resp.Choices = append(resp.Choices, gemOAChoice{Index: idx, Message: msg, FinishReason: finish})
	}
	if usage != nil {
		resp.Usage = usage.openAI()
	} else {
		resp.Usage = &gemOAUsage{}
	}
	return jsonscan.Marshal(resp)
}

func geminiBlocked(r gmResponse) bool {
	return r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "" && len(r.Candidates) == 0
}

func geminiCandidateIndex(c gmCandidate, position int) int {
	if c.Index != 0 {
		return c.Index
	}
	return position
}

// geminiToolCall turns a functionCall part into a tool call with a fresh id
// (LiteLLM's "call_" + 28 hex digits), carrying the part's thought
// signature after the separator.
func geminiToolCall(p gmPart) gemOARespToolCall {
	args := "{}"
	if len(p.FunctionCall.Args) > 0 && !jsonscan.IsNull(p.FunctionCall.Args) {
		var buf bytes.Buffer
		if json.Compact(&buf, p.FunctionCall.Args) == nil {
			args = buf.String()
		}
	}
	id := geminiToolCallID()
	if p.ThoughtSignature != "" {
		id += geminiThoughtSeparator + p.ThoughtSignature
	}
	return gemOARespToolCall{ID: id, Type: "function", Function: gemOAFunctionCall{Name: p.FunctionCall.Name, Arguments: args}}
}

func geminiToolCallID() string {
	return fmt.Sprintf("call_%016x%012x", rand.Uint64(), rand.Uint64()>>16)
}

func geminiCompletionID() string {
	return fmt.Sprintf("chatcmpl-%016x%016x", rand.Uint64(), rand.Uint64())
}

// Chunk relays a streamGenerateContent SSE stream as OpenAI chunks: the
// first chunk of a candidate carries the role, each Gemini event becomes
// a delta, a finish reason becomes a finish chunk, then (when the client
// asked with stream_options.include_usage) a usage chunk with no choices,
// then [DONE]. Gemini events may be split anywhere: partial lines wait for
// the next piece.
// dropDone is a stream's events but "[DONE]", which a proxy in front
// of Gemini may add and which Gemini itself never sends.
func dropDone(events [][]byte, err error) ([][]byte, error) {
	out := events[:0]
	for _, ev := range events {
		if string(ev) != "[DONE]" {
			out = append(out, ev)
		}
	}
	return out, err
}

func (t *geminiChatResponse) Chunk(data []byte, end bool) ([]byte, error) {
	if t.done {
		return nil, nil
	}
	datas, err := dropDone(t.sse.Feed(data, end))
	var out []byte
	for _, d := range datas {
		if out, err = t.event(out, d); err != nil || t.done {
			t.done = true
			return out, err
		}
	}
	if err != nil {
		t.done = true
		return out, err
	}
	if !end {
		return out, nil
	}
	t.done = true
	if len(t.finished) == 0 || len(t.finished) < len(t.started) {
		return out, errors.New("the stream ended before a finish reason")
	}
	if t.includeUsage {
		u := &gemOAUsage{}
		if t.usage != nil {
			u = t.usage.openAI()
		}
		b, _ := jsonscan.Marshal(u)
		out = t.w.usage(out, b)
	}
	return append(out, chunkDone...), nil
}

func (t *geminiChatResponse) event(out, data []byte) ([]byte, error) {
	var r gmResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return out, fmt.Errorf("decode event: %v", err)
	}
	if r.Error != nil {
		status := r.Error.Code
		if status < 400 || status > 599 {
			status = http.StatusBadGateway
		}
		raw, _ := json.Marshal(map[string]*gmError{"error": r.Error})
		body, _ := geminiError(status, raw)
		t.done = true
		return appendEvent(out, body), nil
	}
	if geminiBlocked(r) {
		t.done = true
		return appendEvent(out, geminiBlockedError(r.PromptFeedback)), nil
	}
	if !t.w.started() {
		t.w.id = r.ResponseID
		if t.w.id == "" {
			t.w.id = geminiCompletionID()
		}
		t.w.created, t.w.model = time.Now().Unix(), t.model
		// Each candidate sends its own role chunk, with its first delta.
		t.w.open()
		t.started, t.finished, t.tools = map[int]bool{}, map[int]bool{}, map[int]int{}
	}
	if r.UsageMetadata != nil {
		t.usage = r.UsageMetadata
	}
	for i, c := range r.Candidates {
		idx := geminiCandidateIndex(c, i)
		if t.finished[idx] {
			continue
		}
		var delta gemOADelta
		if !t.started[idx] {
			t.started[idx] = true
			delta.Role = "assistant"
		}
		if c.Content != nil {
			var text, reasoning strings.Builder
			for _, p := range c.Content.Parts {
				switch {
				case p.FunctionCall != nil:
					tc := geminiToolCall(p)
					n := t.tools[idx]
					tc.Index = &n
					t.tools[idx] = n + 1
					delta.ToolCalls = append(delta.ToolCalls, tc)
				case p.Thought:
					reasoning.WriteString(p.Text)
				default:
					text.WriteString(p.Text)
				}
			}
			if text.Len() > 0 {
				s := text.String()
				delta.Content = &s
			}
			if reasoning.Len() > 0 {
				s := reasoning.String()
				delta.ReasoningContent = &s
			}
		}
		if delta.Role != "" && delta.Content == nil && delta.ToolCalls == nil {
			empty := ""
			delta.Content = &empty
		}
		if delta.Role != "" || delta.Content != nil || delta.ReasoningContent != nil || delta.ToolCalls != nil {
			b, _ := jsonscan.Marshal(delta)
			out = t.w.choice(out, idx, b, "")
		}
		if c.FinishReason != "" {
			t.finished[idx] = true
			finish := geminiFinishReason(c.FinishReason, t.tools[idx] > 0)
			out = t.w.choice(out, idx, []byte(`{}`), finish)
		}
	}
	return out, nil
}
