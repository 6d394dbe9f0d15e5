package mock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// Reply is the assistant text the mock named name answers to a conversation
// whose last user message is prompt. Tests can compute the expected content.
func Reply(name, prompt string) string {
	return "Hello from mock " + name + "! You said: " + firstRunes(prompt, 40)
}

// EstimateTokens is the mock's token count for text: about four characters a
// token, at least one. Usage in responses is computed with it: prompt_tokens
// over the text of all messages together, completion_tokens over the reply.
func EstimateTokens(text string) int { return tokensForRunes(utf8.RuneCountInString(text)) }

func tokensForRunes(n int) int { return max(1, (n+3)/4) }

func firstRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// couldNotParse is OpenAI's answer to a body that is not a JSON object.
var couldNotParse = invalidRequest("We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)", "", "")

var missingModel = invalidRequest("you must provide a model parameter", "", "")

func invalidType(param, want string, got []byte) *apiError {
	return invalidRequest("Invalid type for '"+param+"': expected "+want+", but got "+jsonKind(got)+" instead.", param, "invalid_type")
}

func missingParam(param string) *apiError {
	return invalidRequest("Missing required parameter: '"+param+"'.", param, "missing_required_parameter")
}

func emptyArray(param string) *apiError {
	return invalidRequest("Invalid '"+param+"': empty array. Expected an array with minimum length 1, but got an empty array instead.", param, "empty_array")
}

// parseModel reads the model parameter as OpenAI validates it.
func parseModel(raw json.RawMessage) (string, *apiError) {
	if isNull(raw) {
		return "", missingModel
	}
	var model string
	if err := json.Unmarshal(raw, &model); err != nil {
		return "", invalidType("model", "a string", raw)
	}
	if model == "" {
		return "", missingModel
	}
	return model, nil
}

type chatRequest struct {
	Model         json.RawMessage `json:"model"`
	Messages      json.RawMessage `json:"messages"`
	Stream        json.RawMessage `json:"stream"`
	StreamOptions json.RawMessage `json:"stream_options"`
	Tools         json.RawMessage `json:"tools"`
	// vLLM's: continue the last (assistant) message.
	ContinueFinalMessage bool `json:"continue_final_message"`
}

type chatMessage struct {
	Role    *string         `json:"role"`
	Content json.RawMessage `json:"content"`
	// Mistral's and DeepSeek's: an assistant message the answer continues.
	Prefix bool `json:"prefix"`
}

type contentPart struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// chatCall is a validated chat completion request, reduced to what the mock uses.
type chatCall struct {
	model        string
	stream       bool
	includeUsage bool
	obfuscate    bool
	promptTokens int
	lastUser     string

	// For the tool-call script (toolscript.go):
	tools      []string // the function tools offered
	lastTexts  []string // the last message's texts, when it is the user's
	toolResult *string  // the last message's text, when it is a tool result
	// prefill is the last (assistant) message the answer continues
	// (prefix: true, continue_final_message).
	prefill *string
}

// parseChat validates body enough to catch a gateway that sends something
// OpenAI would refuse, with OpenAI's messages for the same faults.
func parseChat(body []byte) (chatCall, *apiError) {
	var c chatCall
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return c, couldNotParse
	}
	var e *apiError
	if c.model, e = parseModel(req.Model); e != nil {
		return c, e
	}
	if isNull(req.Messages) {
		return c, missingParam("messages")
	}
	var msgs []chatMessage
	if err := json.Unmarshal(req.Messages, &msgs); err != nil {
		return c, diagnoseMessages(req.Messages)
	}
	if len(msgs) == 0 {
		return c, emptyArray("messages")
	}
	runes := 0
	for i, m := range msgs {
		if m.Role == nil {
			return c, missingParam("messages[" + strconv.Itoa(i) + "].role")
		}
		text := textOf(m.Content)
		runes += utf8.RuneCountInString(text)
		if *m.Role == "user" {
			c.lastUser = text
		}
	}
	c.promptTokens = tokensForRunes(runes)
	// The last turn is the last message but system ones: a system message
	// may follow the user's (Claude Code's first turn, bridged, ends so).
	lastTurn := len(msgs) - 1
	for lastTurn > 0 && (*msgs[lastTurn].Role == "system" || *msgs[lastTurn].Role == "developer") {
		lastTurn--
	}
	switch last := msgs[lastTurn]; *last.Role {
	case "user":
		c.lastTexts = textsOf(last.Content)
	case "tool":
		text := textOf(last.Content)
		c.toolResult = &text
	case "assistant":
		if last.Prefix || req.ContinueFinalMessage {
			text := textOf(last.Content)
			c.prefill = &text
		}
	}
	if !isNull(req.Tools) {
		var tools []struct {
			Type     string `json:"type"`
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		if err := json.Unmarshal(req.Tools, &tools); err != nil {
			return c, invalidType("tools", "an array of objects", req.Tools)
		}
		for _, t := range tools {
			if t.Type == "function" && t.Function.Name != "" {
				c.tools = append(c.tools, t.Function.Name)
			}
		}
	}

	if !isNull(req.Stream) {
		if err := json.Unmarshal(req.Stream, &c.stream); err != nil {
			return c, invalidType("stream", "a boolean", req.Stream)
		}
	}
	c.obfuscate = c.stream
	if !isNull(req.StreamOptions) {
		if !c.stream {
			return c, invalidRequest("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options", "")
		}
		var so struct {
			IncludeUsage       *bool `json:"include_usage"`
			IncludeObfuscation *bool `json:"include_obfuscation"`
		}
		if err := json.Unmarshal(req.StreamOptions, &so); err != nil {
			return c, invalidType("stream_options", "an object", req.StreamOptions)
		}
		c.includeUsage = so.IncludeUsage != nil && *so.IncludeUsage
		c.obfuscate = so.IncludeObfuscation == nil || *so.IncludeObfuscation
	}
	return c, nil
}

// diagnoseMessages finds which part of a messages value failed to decode; it
// runs only for bad requests.
func diagnoseMessages(raw json.RawMessage) *apiError {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return invalidType("messages", "an array of objects", raw)
	}
	for i, item := range items {
		param := "messages[" + strconv.Itoa(i) + "]"
		if t := bytes.TrimSpace(item); len(t) == 0 || t[0] != '{' {
			return invalidType(param, "an object", item)
		}
		var m struct {
			Role json.RawMessage `json:"role"`
		}
		if err := json.Unmarshal(item, &m); err == nil && !isNull(m.Role) {
			return invalidType(param+".role", "a string", m.Role)
		}
	}
	return invalidType("messages", "an array of objects", raw)
}

// textOf returns the text of a message content: a string, or the text parts of
// an array of content parts joined by spaces. Other shapes count as no text.
func textOf(raw json.RawMessage) string { return strings.Join(textsOf(raw), " ") }

// textsOf returns the texts of a message content, one per text part.
func textsOf(raw json.RawMessage) []string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil
	}
	switch raw[0] {
	case '"':
		var s string
		_ = json.Unmarshal(raw, &s)
		return []string{s}
	case '[':
		var parts []contentPart
		if json.Unmarshal(raw, &parts) != nil {
			return nil
		}
		var texts []string
		for _, p := range parts {
			if p.Type == "text" {
				texts = append(texts, p.Text)
			}
		}
		return texts
	}
	return nil
}

type usage struct {
	PromptTokens            int                     `json:"prompt_tokens"`
	CompletionTokens        int                     `json:"completion_tokens"`
	TotalTokens             int                     `json:"total_tokens"`
	PromptTokensDetails     promptTokensDetails     `json:"prompt_tokens_details"`
	CompletionTokensDetails completionTokensDetails `json:"completion_tokens_details"`
}

type promptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
	AudioTokens  int `json:"audio_tokens"`
}

type completionTokensDetails struct {
	ReasoningTokens          int `json:"reasoning_tokens"`
	AudioTokens              int `json:"audio_tokens"`
	AcceptedPredictionTokens int `json:"accepted_prediction_tokens"`
	RejectedPredictionTokens int `json:"rejected_prediction_tokens"`
}

func newUsage(prompt, completion int) usage {
	return usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
}

type chatCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	Choices           []chatChoice `json:"choices"`
	Usage             usage        `json:"usage"`
	ServiceTier       string       `json:"service_tier"`
	SystemFingerprint string       `json:"system_fingerprint"`
}

type chatChoice struct {
	Index        int              `json:"index"`
	Message      assistantMessage `json:"message"`
	Logprobs     *struct{}        `json:"logprobs"`
	FinishReason string           `json:"finish_reason"`
}

type assistantMessage struct {
	Role        string     `json:"role"`
	Content     *string    `json:"content"`
	Refusal     *string    `json:"refusal"`
	Annotations []struct{} `json:"annotations"`
	ToolCalls   []toolCall `json:"tool_calls,omitempty"`
}

type toolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function functionCall `json:"function"`
}

type functionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request, body []byte, opts *Options) {
	call, e := parseChat(body)
	if e == nil {
		var a attempt
		if a, e = s.resolve(opts, r.Header); e == nil {
			s.answerChat(w, r, call, a, opts)
			return
		}
	}
	writeError(w, e)
}

func (s *Server) answerChat(w http.ResponseWriter, r *http.Request, call chatCall, a attempt, opts *Options) {
	w.Header()["X-Request-Id"] = []string{s.newID("req_", 24)}
	if a.failStatus != 0 {
		if wait(r, a.latency) {
			setRetryAfter(w.Header(), a.retryAfter)
			writeError(w, newInjectedError(a.failStatus, call.model, a.retryAfter))
		}
		return
	}
	limit := opts.ContextWindow
	if v, ok := header(r.Header, hdrContextWindow); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, invalidRequest("Invalid x-mock-context-window header: expected a positive number of tokens.", "", ""))
			return
		}
		limit = n
	}
	if limit > 0 {
		// OpenAI's answer to a prompt past the model's context window.
		if call.promptTokens > limit {
			if wait(r, a.latency) {
				writeError(w, invalidRequest(fmt.Sprintf("This model's maximum context length is %d tokens. However, your messages resulted in %d tokens. Please reduce the length of the messages.", limit, call.promptTokens), "messages", "context_length_exceeded"))
			}
			return
		}
	}
	script, isCall, problem := scriptToolCall(call.lastTexts, call.tools)
	if problem != "" {
		writeError(w, invalidRequest(problem, "messages", ""))
		return
	}
	var tc *toolCall
	content := Reply(opts.Name, call.lastUser)
	switch {
	case isCall:
		tc = &toolCall{ID: s.newID("call_", 24), Type: "function", Function: functionCall{Name: script.name, Arguments: string(script.args)}}
		content = ""
	case call.toolResult != nil:
		content = ToolResultReply(opts.Name, *call.toolResult)
	case call.prefill != nil:
		// Continue the answer as a model would: the reply after the text
		// it was given (deterministic, so a test can compare).
		content = strings.TrimPrefix(content, *call.prefill)
	}
	if call.stream {
		s.streamChat(w, r, call, a, opts, content, tc)
		return
	}
	if !wait(r, a.latency) {
		return
	}
	if a.failStreamAfter >= 0 {
		panic(http.ErrAbortHandler) // reset before any response byte
	}
	choice := chatChoice{
		Message:      assistantMessage{Role: "assistant", Content: &content, Annotations: []struct{}{}},
		FinishReason: "stop",
	}
	completion := EstimateTokens(content)
	if tc != nil {
		choice.Message.Content, choice.Message.ToolCalls = nil, []toolCall{*tc}
		choice.FinishReason = "tool_calls"
		completion = EstimateTokens(tc.Function.Name + tc.Function.Arguments)
	}
	resp := chatCompletion{
		ID:                s.newID("chatcmpl-", 29),
		Object:            "chat.completion",
		Created:           time.Now().Unix(),
		Model:             call.model,
		Choices:           []chatChoice{choice},
		Usage:             newUsage(call.promptTokens, completion),
		ServiceTier:       "default",
		SystemFingerprint: "mock:" + opts.Name,
	}
	writeJSON(w, http.StatusOK, resp)
}

// streamChat writes the reply as OpenAI's chat.completion.chunk SSE stream:
// a role chunk, a.chunks content chunks, a finish chunk, a usage chunk if
// asked for, then [DONE]. Every event is flushed on its own. A tool call (tc
// set) goes as OpenAI streams one: the role chunk carries the call's index,
// id, type, name and empty arguments, the content chunks carry pieces of the
// arguments, and the finish reason is tool_calls.
func (s *Server) streamChat(w http.ResponseWriter, r *http.Request, call chatCall, a attempt, opts *Options, content string, tc *toolCall) {
	if !wait(r, a.latency) {
		return
	}
	h := w.Header()
	h["Content-Type"] = []string{"text/event-stream; charset=utf-8"}
	h["Cache-Control"] = []string{"no-cache"}
	w.WriteHeader(http.StatusOK)

	st := sseWriter{w: w, rc: http.NewResponseController(w), call: &call}
	st.prefix = append(st.prefix, `data: {"id":`...)
	st.prefix = jsonscan.AppendString(st.prefix, s.newID("chatcmpl-", 29))
	st.prefix = append(st.prefix, `,"object":"chat.completion.chunk","created":`...)
	st.prefix = strconv.AppendInt(st.prefix, time.Now().Unix(), 10)
	st.prefix = append(st.prefix, `,"model":`...)
	st.prefix = jsonscan.AppendString(st.prefix, call.model)
	st.prefix = append(st.prefix, `,"service_tier":"default","system_fingerprint":`...)
	st.prefix = jsonscan.AppendString(st.prefix, "mock:"+opts.Name)
	st.prefix = append(st.prefix, `,"choices":`...)

	role, finish, completion := `{"role":"assistant","content":"","refusal":null}`, `"stop"`, EstimateTokens(content)
	if tc != nil {
		b := append([]byte(`{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":`), jsonscan.AppendString(nil, tc.ID)...)
		b = append(b, `,"type":"function","function":{"name":`...)
		b = jsonscan.AppendString(b, tc.Function.Name)
		role = string(append(b, `,"arguments":""}}],"refusal":null}`...))
		finish, content = `"tool_calls"`, tc.Function.Arguments
		completion = EstimateTokens(tc.Function.Name + tc.Function.Arguments)
	}
	if !st.choice(role, "null") {
		return
	}
	parts := splitRunes(content, a.chunks)
	for i, part := range parts {
		if i == a.failStreamAfter {
			panic(http.ErrAbortHandler) // the upstream resets mid-stream
		}
		if i > 0 && !wait(r, a.chunkDelay) {
			return
		}
		ok := true
		switch {
		case tc == nil:
			ok = st.content(part)
		case part != "": // fewer runes than chunks: no empty argument pieces
			ok = st.arguments(part)
		}
		if !ok {
			return
		}
	}
	if a.failStreamAfter >= 0 {
		panic(http.ErrAbortHandler)
	}
	if !st.choice(`{}`, finish) {
		return
	}
	if call.includeUsage {
		u, _ := json.Marshal(newUsage(call.promptTokens, completion))
		st.buf = append(append(st.buf[:0], st.prefix...), `[],"usage":`...)
		st.buf = append(st.buf, u...)
		if !st.end() {
			return
		}
	}
	if _, err := io.WriteString(w, "data: [DONE]\n\n"); err == nil {
		flush(st.rc)
	}
}

type sseWriter struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	call   *chatCall
	prefix []byte // `data: {"id":...,"choices":`, the same for every chunk
	buf    []byte
	n      int // events written, varies the obfuscation padding
}

// choice writes a chunk with one choice whose delta is the raw JSON delta.
func (st *sseWriter) choice(delta, finish string) bool {
	st.buf = append(st.startChoice(), delta...)
	return st.endChoice(finish)
}

// content writes a chunk with one choice whose delta carries text.
func (st *sseWriter) content(text string) bool {
	b := append(st.startChoice(), `{"content":`...)
	st.buf = append(jsonscan.AppendString(b, text), '}')
	return st.endChoice("null")
}

// arguments writes a chunk with one choice whose delta carries a piece of
// the arguments of tool call 0.
func (st *sseWriter) arguments(piece string) bool {
	b := append(st.startChoice(), `{"tool_calls":[{"index":0,"function":{"arguments":`...)
	st.buf = append(jsonscan.AppendString(b, piece), "}}]}"...)
	return st.endChoice("null")
}

func (st *sseWriter) startChoice() []byte {
	b := append(st.buf[:0], st.prefix...)
	return append(b, `[{"index":0,"delta":`...)
}

func (st *sseWriter) endChoice(finish string) bool {
	b := append(st.buf, `,"logprobs":null,"finish_reason":`...)
	b = append(b, finish...)
	b = append(b, "}]"...)
	if st.call.includeUsage {
		b = append(b, `,"usage":null`...)
	}
	st.buf = b
	return st.end()
}

// end closes the chunk object in st.buf, adds obfuscation, writes and flushes.
func (st *sseWriter) end() bool {
	b := st.buf
	if st.call.obfuscate {
		st.n++
		b = append(b, `,"obfuscation":"`...)
		b = appendID(b, uint64(st.n), 1+(st.n*7)%12)
		b = append(b, '"')
	}
	b = append(b, "}\n\n"...)
	st.buf = b
	if _, err := st.w.Write(b); err != nil {
		return false
	}
	return flush(st.rc)
}

// flush pushes buffered bytes to the client. A writer that cannot flush is not
// a reason to stop; a failed flush (client gone) is.
func flush(rc *http.ResponseController) bool {
	err := rc.Flush()
	return err == nil || errors.Is(err, http.ErrNotSupported)
}

// splitRunes cuts s into n pieces of nearly equal rune count, never inside a
// rune. With fewer runes than pieces, the last pieces are empty.
func splitRunes(s string, n int) []string {
	starts := make([]int, 0, len(s)+1)
	for i := range s {
		starts = append(starts, i)
	}
	runes := len(starts)
	starts = append(starts, len(s))
	parts := make([]string, n)
	for i := range parts {
		lo, hi := i*runes/n, (i+1)*runes/n
		if runes < n { // one rune per piece, then empty pieces
			lo, hi = min(i, runes), min(i+1, runes)
		}
		parts[i] = s[starts[lo]:starts[hi]]
	}
	return parts
}
