package mock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Anthropic's Messages API, next to the OpenAI API on the same mock:
//
//	POST /v1/messages   a message, or Anthropic's SSE stream with "stream": true
//
// It answers as api.anthropic.com does: x-api-key and anthropic-version are
// required, the body is checked as strictly as Anthropic checks it (unknown
// top-level keys, roles that do not alternate, a missing max_tokens are
// 400s), and errors have Anthropic's shape
// {"type":"error","error":{"type","message"},"request_id"}. The x-mock-*
// headers and Options apply as for chat completions, with Anthropic's error
// bodies (529 is overloaded_error). Two more headers, for Anthropic
// deployments only:
//
//	x-mock-context-window      a prompt of more tokens than this fails with
//	                           Anthropic's "prompt is too long" 400
//	x-mock-stream-error-after  a stream sends Anthropic's overloaded_error
//	                           event after N content deltas, then ends
//
// The reply is Reply(name, last user text). With tools and a tool_choice of
// "any" or "tool", the reply is a tool_use of that tool (or the first one),
// whose input has every required property of the schema (all of them when
// none is required) set from the last user text: strings to it, numbers to
// its length in runes, booleans to true, arrays and objects empty. Before
// both, a MOCK_TOOL_CALL line in the last user turn asks for a tool_use of a
// given tool and input, and after a forced tool_choice, the answer to a turn
// of tool_result blocks quotes them (toolscript.go).
func init() {
	providerRoutes = append(providerRoutes, providerRoute{
		match: func(method, path string) bool { return method == http.MethodPost && path == "/v1/messages" },
		serve: (*Server).anthropicMessages,
	})
}

const (
	hdrContextWindow     = "X-Mock-Context-Window"
	hdrStreamErrorAfter  = "X-Mock-Stream-Error-After"
	anthropicVersionHdr  = "Anthropic-Version"
	anthropicAPIKeyHdr   = "X-Api-Key"
	anthropicOverloaded  = 529
	anthropicMessageType = "message"
)

// anthropicError is Anthropic's error body.
type anthropicError struct {
	status  int
	typ     string
	message string
}

func newAnthropicError(status int, typ, message string) *anthropicError {
	return &anthropicError{status: status, typ: typ, message: message}
}

func (s *Server) writeAnthropicError(w http.ResponseWriter, e *anthropicError) {
	var body struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
		RequestID string `json:"request_id"`
	}
	body.Type, body.Error.Type, body.Error.Message = "error", e.typ, e.message
	body.RequestID = w.Header().Get("Request-Id")
	writeJSON(w, e.status, body)
}

// anthropicInjected holds Anthropic's bodies for the statuses tests inject;
// {model} is filled in per request.
var anthropicInjected = map[int]anthropicError{
	400:                 {typ: "invalid_request_error", message: "Invalid request (injected by llmvoy mock)."},
	401:                 {typ: "authentication_error", message: "invalid x-api-key"},
	403:                 {typ: "permission_error", message: "Your API key does not have permission to use the specified resource."},
	404:                 {typ: "not_found_error", message: "model: {model}"},
	413:                 {typ: "request_too_large", message: "Request exceeds the maximum allowed number of bytes."},
	429:                 {typ: "rate_limit_error", message: "Number of request tokens has exceeded your per-minute rate limit. Please try again later."},
	500:                 {typ: "api_error", message: "Internal server error"},
	anthropicOverloaded: {typ: "overloaded_error", message: "Overloaded"},
}

func newAnthropicInjected(status int, model string) *anthropicError {
	e, ok := anthropicInjected[status]
	if !ok {
		e = anthropicError{typ: "invalid_request_error", message: http.StatusText(status)}
		if status >= 500 {
			e.typ = "api_error"
		}
		if e.message == "" {
			e.message = "Error " + strconv.Itoa(status) + " (injected by llmvoy mock)."
		}
	}
	e.status = status
	e.message = strings.ReplaceAll(e.message, "{model}", model)
	return &e
}

// anthropicKeys are the top-level keys of a Messages request.
var anthropicKeys = map[string]bool{
	"model": true, "messages": true, "max_tokens": true, "system": true, "metadata": true,
	"stop_sequences": true, "stream": true, "temperature": true, "top_p": true, "top_k": true,
	"tools": true, "tool_choice": true, "thinking": true, "service_tier": true, "container": true,
	"mcp_servers": true, "context_management": true, "output_config": true,
}

type anthropicCall struct {
	model        string
	stream       bool
	inputTokens  int
	lastUser     string
	tool         *anthropicToolSpec // set: answer with a tool_use of it
	contextLimit int

	// For the tool-call script (toolscript.go):
	toolNames  []string // the tools offered
	lastTexts  []string // the last turn's text blocks, when it is the user's and holds no tool result
	toolResult *string  // the text of the last turn's tool results, when it holds any
	// prefill is the last turn's text when it is the assistant's: the
	// answer continues it.
	prefill *string
}

type anthropicToolSpec struct {
	Name        string          `json:"name"`
	InputSchema json.RawMessage `json:"input_schema"`
}

type anthropicBlockIn struct {
	Type      string          `json:"type"`
	Text      *string         `json:"text"`
	Content   json.RawMessage `json:"content"`
	ToolUseID string          `json:"tool_use_id"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Source    json.RawMessage `json:"source"`
	Input     json.RawMessage `json:"input"`
}

func invalidAnthropic(message string) *anthropicError {
	return newAnthropicError(http.StatusBadRequest, "invalid_request_error", message)
}

// parseAnthropic validates a Messages request with Anthropic's messages for
// the faults a translating gateway could make.
func parseAnthropic(body []byte) (anthropicCall, *anthropicError) {
	var c anthropicCall
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return c, invalidAnthropic("There was an issue with your request body: the body is not a JSON object.")
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !anthropicKeys[k] {
			return c, invalidAnthropic(k + ": Extra inputs are not permitted")
		}
	}
	if err := json.Unmarshal(fields["model"], &c.model); err != nil || c.model == "" {
		return c, invalidAnthropic("model: Field required")
	}
	var maxTokens int
	if isNull(fields["max_tokens"]) {
		return c, invalidAnthropic("max_tokens: Field required")
	}
	if err := json.Unmarshal(fields["max_tokens"], &maxTokens); err != nil || maxTokens < 1 {
		return c, invalidAnthropic("max_tokens: Input should be a valid integer greater than or equal to 1")
	}
	if !isNull(fields["stream"]) {
		if err := json.Unmarshal(fields["stream"], &c.stream); err != nil {
			return c, invalidAnthropic("stream: Input should be a valid boolean")
		}
	}

	runes := 0
	if sys := fields["system"]; !isNull(sys) {
		text, ok := anthropicSystemText(sys)
		if !ok {
			return c, invalidAnthropic("system: Input should be a valid string or a list of text blocks")
		}
		runes += utf8.RuneCountInString(text)
	}

	if isNull(fields["messages"]) {
		return c, invalidAnthropic("messages: Field required")
	}
	var msgs []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(fields["messages"], &msgs); err != nil {
		return c, invalidAnthropic("messages: Input should be a valid list")
	}
	if len(msgs) == 0 {
		return c, invalidAnthropic("messages: at least one message is required")
	}
	// A "system" message between turns (Claude Code sends one after the first
	// user turn) is an instruction, not a turn: it does not break alternation.
	prevRole, lastTurn := "", -1
	for i, m := range msgs {
		where := "messages." + strconv.Itoa(i)
		if m.Role != "user" && m.Role != "assistant" && (m.Role != "system" || i == 0) {
			return c, invalidAnthropic(where + ".role: Input should be 'user' or 'assistant'")
		}
		if m.Role != "system" {
			if prevRole == m.Role {
				return c, invalidAnthropic(`messages: roles must alternate between "user" and "assistant", but found multiple "` + m.Role + `" roles in a row`)
			}
			prevRole, lastTurn = m.Role, i
		}
		text, e := anthropicContentText(where, m.Content)
		if e != nil {
			return c, e
		}
		runes += utf8.RuneCountInString(text)
		if m.Role == "user" {
			c.lastUser = text
		}
	}
	c.inputTokens = tokensForRunes(runes)
	if last := msgs[lastTurn]; last.Role == "user" {
		c.lastTexts, c.toolResult = anthropicLastTurn(last.Content)
	} else if last.Role == "assistant" {
		text, _ := anthropicContentText("", last.Content)
		if strings.TrimRight(text, " \t\r\n") != text {
			return c, invalidAnthropic("messages: final assistant content cannot end with trailing whitespace")
		}
		c.prefill = &text
	}

	if tools := fields["tools"]; !isNull(tools) {
		var specs []anthropicToolSpec
		if err := json.Unmarshal(tools, &specs); err != nil {
			return c, invalidAnthropic("tools: Input should be a valid list")
		}
		for i, t := range specs {
			if t.Name == "" || isNull(t.InputSchema) {
				return c, invalidAnthropic("tools." + strconv.Itoa(i) + ": name and input_schema are required")
			}
			c.toolNames = append(c.toolNames, t.Name)
		}
		if choice := fields["tool_choice"]; !isNull(choice) {
			var tc struct {
				Type string `json:"type"`
				Name string `json:"name"`
			}
			if err := json.Unmarshal(choice, &tc); err != nil {
				return c, invalidAnthropic("tool_choice: Input should be an object")
			}
			switch tc.Type {
			case "auto", "none":
			case "any":
				if len(specs) > 0 {
					c.tool = &specs[0]
				}
			case "tool":
				for i := range specs {
					if specs[i].Name == tc.Name {
						c.tool = &specs[i]
					}
				}
				if c.tool == nil {
					return c, invalidAnthropic("tool_choice: tool " + strconv.Quote(tc.Name) + " not found in tools")
				}
			default:
				return c, invalidAnthropic("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
			}
		}
	} else if !isNull(fields["tool_choice"]) {
		return c, invalidAnthropic("tool_choice: may only be specified while providing tools")
	}
	return c, nil
}

func anthropicSystemText(raw json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var blocks []anthropicBlockIn
	if json.Unmarshal(raw, &blocks) != nil {
		return "", false
	}
	var texts []string
	for _, b := range blocks {
		if b.Type != "text" || b.Text == nil {
			return "", false
		}
		texts = append(texts, *b.Text)
	}
	return strings.Join(texts, " "), true
}

// anthropicContentText checks a message's content and returns its text:
// text blocks, and the text of tool results.
func anthropicContentText(where string, raw json.RawMessage) (string, *anthropicError) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var blocks []anthropicBlockIn
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return "", invalidAnthropic(where + ".content: Input should be a valid string or list")
	}
	if len(blocks) == 0 {
		return "", invalidAnthropic(where + ": all messages must have non-empty content except for the optional final assistant message")
	}
	var texts []string
	for j, b := range blocks {
		bwhere := where + ".content." + strconv.Itoa(j)
		switch b.Type {
		case "text":
			if b.Text == nil || *b.Text == "" {
				return "", invalidAnthropic(bwhere + ": text content blocks must be non-empty")
			}
			texts = append(texts, *b.Text)
		case "image", "document":
			if isNull(b.Source) {
				return "", invalidAnthropic(bwhere + ".source: Field required")
			}
		case "tool_use":
			if b.ID == "" || b.Name == "" || len(bytes.TrimSpace(b.Input)) == 0 || bytes.TrimSpace(b.Input)[0] != '{' {
				return "", invalidAnthropic(bwhere + ": tool_use blocks need an id, a name and an input object")
			}
		case "tool_result":
			if b.ToolUseID == "" {
				return "", invalidAnthropic(bwhere + ".tool_use_id: Field required")
			}
			if t, e := anthropicToolResultText(bwhere, b.Content); e != nil {
				return "", e
			} else if t != "" {
				texts = append(texts, t)
			}
		case "thinking", "redacted_thinking":
		default:
			return "", invalidAnthropic(bwhere + ".type: unknown content block type " + strconv.Quote(b.Type))
		}
	}
	return strings.Join(texts, " "), nil
}

// anthropicLastTurn splits a (valid) user turn's content for the tool-call
// script: its text blocks, or, when it holds tool_result blocks, their text.
func anthropicLastTurn(raw json.RawMessage) (texts []string, toolResult *string) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}, nil
	}
	var blocks []anthropicBlockIn
	_ = json.Unmarshal(raw, &blocks)
	var results []string
	hasResult := false
	for _, b := range blocks {
		switch b.Type {
		case "text":
			texts = append(texts, *b.Text)
		case "tool_result":
			hasResult = true
			if t, _ := anthropicToolResultText("", b.Content); t != "" {
				results = append(results, t)
			}
		}
	}
	if hasResult {
		result := strings.Join(results, " ")
		return nil, &result
	}
	return texts, nil
}

func anthropicToolResultText(where string, raw json.RawMessage) (string, *anthropicError) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var blocks []anthropicBlockIn
	if json.Unmarshal(raw, &blocks) != nil {
		return "", invalidAnthropic(where + ".content: Input should be a valid string or list")
	}
	var texts []string
	for _, b := range blocks {
		if b.Type == "text" && b.Text != nil {
			texts = append(texts, *b.Text)
		}
	}
	return strings.Join(texts, " "), nil
}

func (s *Server) anthropicMessages(w http.ResponseWriter, r *http.Request, body []byte, opts *Options) {
	w.Header()["Request-Id"] = []string{s.newID("req_011", 21)}
	if len(r.Header[anthropicAPIKeyHdr]) == 0 || r.Header.Get(anthropicAPIKeyHdr) == "" {
		s.writeAnthropicError(w, newAnthropicError(http.StatusUnauthorized, "authentication_error", "x-api-key header is required"))
		return
	}
	if r.Header.Get(anthropicVersionHdr) == "" {
		s.writeAnthropicError(w, invalidAnthropic("anthropic-version: header is required"))
		return
	}
	s.answerAnthropic(w, r, body, opts)
}

// answerAnthropic answers an authenticated Messages request.
func (s *Server) answerAnthropic(w http.ResponseWriter, r *http.Request, body []byte, opts *Options) {
	call, e := parseAnthropic(body)
	if e != nil {
		s.writeAnthropicError(w, e)
		return
	}
	a, bad := s.resolve(opts, r.Header)
	if bad != nil {
		s.writeAnthropicError(w, invalidAnthropic(bad.Message))
		return
	}
	if v, ok := header(r.Header, hdrContextWindow); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.writeAnthropicError(w, invalidAnthropic("Invalid x-mock-context-window header: expected a positive number of tokens."))
			return
		}
		call.contextLimit = n
	}
	streamErrorAfter := -1
	if v, ok := header(r.Header, hdrStreamErrorAfter); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.writeAnthropicError(w, invalidAnthropic("Invalid x-mock-stream-error-after header: expected a non-negative number of deltas."))
			return
		}
		streamErrorAfter = n
	}

	if a.failStatus != 0 {
		if wait(r, a.latency) {
			setRetryAfter(w.Header(), a.retryAfter)
			s.writeAnthropicError(w, newAnthropicInjected(a.failStatus, call.model))
		}
		return
	}
	if call.contextLimit > 0 && call.inputTokens > call.contextLimit {
		if wait(r, a.latency) {
			s.writeAnthropicError(w, invalidAnthropic(fmt.Sprintf("prompt is too long: %d tokens > %d maximum", call.inputTokens, call.contextLimit)))
		}
		return
	}

	script, isCall, problem := scriptToolCall(call.lastTexts, call.toolNames)
	if problem != "" {
		s.writeAnthropicError(w, invalidAnthropic(problem))
		return
	}
	reply := anthropicReply{text: Reply(opts.Name, call.lastUser)}
	switch {
	case isCall:
		reply = anthropicReply{toolID: s.newID("toolu_01", 22), toolName: script.name, input: script.args}
	case call.tool != nil:
		reply = anthropicReply{toolID: s.newID("toolu_01", 22), toolName: call.tool.Name, input: anthropicToolInput(call.tool.InputSchema, call.lastUser)}
	case call.toolResult != nil:
		reply = anthropicReply{text: ToolResultReply(opts.Name, *call.toolResult)}
	case call.prefill != nil:
		// A prefill: the answer is the rest of the reply after it.
		reply.text = strings.TrimPrefix(reply.text, *call.prefill)
	}
	id := s.newID("msg_01", 22)
	if call.stream {
		s.streamAnthropic(w, r, call, a, reply, id, streamErrorAfter)
		return
	}
	if !wait(r, a.latency) {
		return
	}
	if a.failStreamAfter >= 0 {
		panic(http.ErrAbortHandler) // reset before any response byte
	}
	writeJSON(w, http.StatusOK, anthropicMessage{
		ID:         id,
		Type:       anthropicMessageType,
		Role:       "assistant",
		Model:      call.model,
		Content:    []any{reply.block(true)},
		StopReason: reply.stopReason(),
		Usage:      newAnthropicUsage(call.inputTokens, reply.outputTokens()),
	})
}

// anthropicReply is the mock's answer: text, or one tool call.
type anthropicReply struct {
	text     string
	toolID   string
	toolName string
	input    []byte // JSON object
}

func (r anthropicReply) stopReason() *string {
	s := "end_turn"
	if r.toolID != "" {
		s = "tool_use"
	}
	return &s
}

func (r anthropicReply) outputTokens() int {
	if r.toolID != "" {
		return EstimateTokens(string(r.input))
	}
	return EstimateTokens(r.text)
}

// block is the reply's content block, whole, or as content_block_start
// opens it (empty text, empty input).
func (r anthropicReply) block(whole bool) any {
	if r.toolID != "" {
		input := json.RawMessage(`{}`)
		if whole {
			input = r.input
		}
		return map[string]any{"type": "tool_use", "id": r.toolID, "name": r.toolName, "input": input}
	}
	text := ""
	if whole {
		text = r.text
	}
	return map[string]any{"type": "text", "text": text}
}

type anthropicMessage struct {
	ID           string         `json:"id"`
	Type         string         `json:"type"`
	Role         string         `json:"role"`
	Model        string         `json:"model"`
	Content      []any          `json:"content"`
	StopReason   *string        `json:"stop_reason"`
	StopSequence *string        `json:"stop_sequence"`
	Usage        anthropicUsage `json:"usage"`
}

type anthropicUsage struct {
	InputTokens              int    `json:"input_tokens"`
	CacheCreationInputTokens int    `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int    `json:"cache_read_input_tokens"`
	OutputTokens             int    `json:"output_tokens"`
	ServiceTier              string `json:"service_tier"`
}

func newAnthropicUsage(in, out int) anthropicUsage {
	return anthropicUsage{InputTokens: in, OutputTokens: out, ServiceTier: "standard"}
}

// anthropicToolInput builds a tool call's input from the tool's schema.
func anthropicToolInput(schema json.RawMessage, text string) []byte {
	var s struct {
		Properties map[string]struct {
			Type json.RawMessage `json:"type"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	_ = json.Unmarshal(schema, &s)
	names := s.Required
	if len(names) == 0 {
		for name := range s.Properties {
			names = append(names, name)
		}
		sort.Strings(names)
	}
	input := make(map[string]any, len(names))
	for _, name := range names {
		var typ string
		_ = json.Unmarshal(s.Properties[name].Type, &typ)
		switch typ {
		case "number", "integer":
			input[name] = utf8.RuneCountInString(text)
		case "boolean":
			input[name] = true
		case "array":
			input[name] = []any{}
		case "object":
			input[name] = map[string]any{}
		default:
			input[name] = text
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(input) // plain values: cannot fail
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
}

// streamAnthropic writes the reply as Anthropic's event stream:
// message_start, content_block_start, ping, a.chunks deltas (text_delta or
// input_json_delta), content_block_stop, message_delta, message_stop. Every
// event is flushed on its own.
func (s *Server) streamAnthropic(w http.ResponseWriter, r *http.Request, call anthropicCall, a attempt, reply anthropicReply, id string, errorAfter int) {
	if !wait(r, a.latency) {
		return
	}
	h := w.Header()
	h["Content-Type"] = []string{"text/event-stream; charset=utf-8"}
	h["Cache-Control"] = []string{"no-cache"}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(event string, data any) bool {
		b, err := json.Marshal(data)
		if err != nil {
			return false
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		return flush(rc)
	}

	start := anthropicMessage{ID: id, Type: anthropicMessageType, Role: "assistant", Model: call.model, Content: []any{},
		Usage: newAnthropicUsage(call.inputTokens, 1)}
	if !send("message_start", map[string]any{"type": "message_start", "message": start}) ||
		!send("content_block_start", map[string]any{"type": "content_block_start", "index": 0, "content_block": reply.block(false)}) ||
		!send("ping", map[string]string{"type": "ping"}) {
		return
	}
	var parts []string
	if reply.toolID != "" {
		parts = splitRunes(string(reply.input), a.chunks)
	} else {
		parts = splitRunes(reply.text, a.chunks)
	}
	for i, part := range parts {
		if i == a.failStreamAfter {
			panic(http.ErrAbortHandler) // the upstream resets mid-stream
		}
		if i == errorAfter {
			send("error", map[string]any{"type": "error", "error": map[string]string{"type": "overloaded_error", "message": "Overloaded"}})
			return
		}
		if i > 0 && !wait(r, a.chunkDelay) {
			return
		}
		if part == "" {
			continue // fewer runes than chunks
		}
		delta := map[string]string{"type": "text_delta", "text": part}
		if reply.toolID != "" {
			delta = map[string]string{"type": "input_json_delta", "partial_json": part}
		}
		if !send("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0, "delta": delta}) {
			return
		}
	}
	if a.failStreamAfter >= 0 {
		panic(http.ErrAbortHandler)
	}
	if errorAfter >= len(parts) {
		send("error", map[string]any{"type": "error", "error": map[string]string{"type": "overloaded_error", "message": "Overloaded"}})
		return
	}
	_ = send("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0}) &&
		send("message_delta", map[string]any{"type": "message_delta",
			"delta": map[string]any{"stop_reason": *reply.stopReason(), "stop_sequence": nil},
			"usage": map[string]int{"output_tokens": reply.outputTokens()}}) &&
		send("message_stop", map[string]string{"type": "message_stop"})
}
