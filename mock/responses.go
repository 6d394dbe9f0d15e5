package mock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// OpenAI's Responses API, next to chat completions on the same mock:
//
//	POST /v1/responses   a response object, or the Responses event stream with "stream": true
//
// The reply follows the chat mock's rules (toolscript.go): a text message
// Reply(name, last user text); a function_call item for a MOCK_TOOL_CALL line
// naming one of the request's function tools; ToolResultReply(name, output)
// when the last input item is a function_call_output. The stream is the
// documented sequence, every event with its sequence_number: response.created,
// response.in_progress, response.output_item.added, then for a message
// response.content_part.added, a.chunks response.output_text.delta,
// response.output_text.done, response.content_part.done, and for a function
// call a.chunks response.function_call_arguments.delta and
// response.function_call_arguments.done, then response.output_item.done and
// response.completed with usage. There is no [DONE].
//
// The mock keeps nothing, so previous_response_id is a 404 as for an unknown
// id; a request must carry model and input. Other keys are accepted as sent.
// The x-mock-* headers and Options apply as for chat completions.
func init() {
	providerRoutes = append(providerRoutes, providerRoute{
		match: func(method, path string) bool { return method == http.MethodPost && path == "/v1/responses" },
		serve: (*Server).responses,
	})
}

// responsesCall is a validated Responses request, reduced to what the mock uses.
type responsesCall struct {
	model       string
	stream      bool
	inputTokens int
	lastUser    string

	tools      []string // function tools offered
	lastTexts  []string // the last item's texts, when it is a user message
	toolResult *string  // the last item's output, when it is a function_call_output

	// echoed into the response object
	instructions json.RawMessage
	toolsRaw     json.RawMessage
	toolChoice   json.RawMessage
	store        bool
	parallel     bool
}

type responsesItem struct {
	Type      string          `json:"type"`
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"`
	Output    json.RawMessage `json:"output"`
	Arguments string          `json:"arguments"`
	Input     string          `json:"input"`
}

type responsesPart struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// responsesTexts returns the texts of a message content or a tool output: a
// string, or the text parts (input_text, output_text, text) of an array.
func responsesTexts(raw json.RawMessage) []string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}
	}
	var parts []responsesPart
	if json.Unmarshal(raw, &parts) != nil {
		return nil
	}
	var texts []string
	for _, p := range parts {
		switch p.Type {
		case "input_text", "output_text", "text":
			texts = append(texts, p.Text)
		}
	}
	return texts
}

func parseResponses(body []byte) (responsesCall, *apiError) {
	c := responsesCall{store: true, parallel: true}
	var req struct {
		Model              json.RawMessage `json:"model"`
		Input              json.RawMessage `json:"input"`
		Instructions       json.RawMessage `json:"instructions"`
		Stream             json.RawMessage `json:"stream"`
		Tools              json.RawMessage `json:"tools"`
		ToolChoice         json.RawMessage `json:"tool_choice"`
		Store              *bool           `json:"store"`
		ParallelToolCalls  *bool           `json:"parallel_tool_calls"`
		PreviousResponseID json.RawMessage `json:"previous_response_id"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return c, couldNotParse
	}
	var e *apiError
	if c.model, e = parseModel(req.Model); e != nil {
		return c, e
	}
	if !isNull(req.PreviousResponseID) {
		var id string
		_ = json.Unmarshal(req.PreviousResponseID, &id)
		return c, newAPIError(http.StatusNotFound, "invalid_request_error", "Previous response with id '"+id+"' not found.", "previous_response_id", "previous_response_not_found")
	}
	if !isNull(req.Stream) {
		if err := json.Unmarshal(req.Stream, &c.stream); err != nil {
			return c, invalidType("stream", "a boolean", req.Stream)
		}
	}
	if req.Store != nil {
		c.store = *req.Store
	}
	if req.ParallelToolCalls != nil {
		c.parallel = *req.ParallelToolCalls
	}
	c.instructions, c.toolsRaw, c.toolChoice = req.Instructions, req.Tools, req.ToolChoice

	runes := 0
	if !isNull(req.Instructions) {
		var s string
		if err := json.Unmarshal(req.Instructions, &s); err != nil {
			return c, invalidType("instructions", "a string", req.Instructions)
		}
		runes += utf8.RuneCountInString(s)
	}
	if isNull(req.Input) {
		return c, missingParam("input")
	}
	var items []responsesItem
	var text string
	if json.Unmarshal(req.Input, &text) == nil {
		items = []responsesItem{{Type: "message", Role: "user", Content: req.Input}}
	} else if err := json.Unmarshal(req.Input, &items); err != nil {
		return c, invalidType("input", "a string or an array of input items", req.Input)
	}
	if len(items) == 0 {
		return c, emptyArray("input")
	}
	for i, it := range items {
		if it.Type == "" && it.Role != "" {
			it.Type = "message"
		}
		var texts []string
		switch it.Type {
		case "message":
			if it.Role == "" {
				return c, missingParam("input[" + strconv.Itoa(i) + "].role")
			}
			texts = responsesTexts(it.Content)
			if it.Role == "user" {
				c.lastUser = strings.Join(texts, " ")
			}
		case "function_call_output", "custom_tool_call_output":
			texts = responsesTexts(it.Output)
		case "function_call":
			texts = []string{it.Arguments}
		case "custom_tool_call":
			texts = []string{it.Input}
		case "":
			return c, missingParam("input[" + strconv.Itoa(i) + "].type")
		}
		for _, t := range texts {
			runes += utf8.RuneCountInString(t)
		}
		items[i] = it
	}
	c.inputTokens = tokensForRunes(runes)
	switch last := items[len(items)-1]; {
	case last.Type == "message" && last.Role == "user":
		c.lastTexts = responsesTexts(last.Content)
	case last.Type == "function_call_output" || last.Type == "custom_tool_call_output":
		out := strings.Join(responsesTexts(last.Output), " ")
		c.toolResult = &out
	}

	if !isNull(req.Tools) {
		var tools []struct {
			Type string `json:"type"`
			Name string `json:"name"`
		}
		if err := json.Unmarshal(req.Tools, &tools); err != nil {
			return c, invalidType("tools", "an array of objects", req.Tools)
		}
		for _, t := range tools {
			if t.Type == "function" && t.Name != "" {
				c.tools = append(c.tools, t.Name)
			}
		}
	}
	return c, nil
}

func (s *Server) responses(w http.ResponseWriter, r *http.Request, body []byte, opts *Options) {
	w.Header()["X-Request-Id"] = []string{s.newID("req_", 24)}
	call, e := parseResponses(body)
	if e != nil {
		writeError(w, e)
		return
	}
	a, e := s.resolve(opts, r.Header)
	if e != nil {
		writeError(w, e)
		return
	}
	script, isCall, problem := scriptToolCall(call.lastTexts, call.tools)
	if problem != "" {
		writeError(w, invalidRequest(problem, "input", ""))
		return
	}
	if a.failStatus != 0 {
		if wait(r, a.latency) {
			setRetryAfter(w.Header(), a.retryAfter)
			writeError(w, newInjectedError(a.failStatus, call.model, a.retryAfter))
		}
		return
	}

	rs := responseState{call: &call, id: s.newID("resp_", 48), created: time.Now().Unix()}
	if isCall {
		rs.item = responsesOutputItem{ID: s.newID("fc_", 48), Type: "function_call", CallID: s.newID("call_", 24),
			Name: script.name, text: string(script.args)}
		rs.outputTokens = EstimateTokens(script.name + string(script.args))
	} else {
		text := Reply(opts.Name, call.lastUser)
		if call.toolResult != nil {
			text = ToolResultReply(opts.Name, *call.toolResult)
		}
		rs.item = responsesOutputItem{ID: s.newID("msg_", 48), Type: "message", Role: "assistant", text: text}
		rs.outputTokens = EstimateTokens(text)
	}
	if call.stream {
		s.streamResponses(w, r, a, &rs)
		return
	}
	if !wait(r, a.latency) {
		return
	}
	if a.failStreamAfter >= 0 {
		panic(http.ErrAbortHandler) // reset before any response byte
	}
	writeJSON(w, http.StatusOK, rs.response("completed", true))
}

// responseState builds the response object and its items as a stream unfolds.
type responseState struct {
	call         *responsesCall
	id           string
	created      int64
	item         responsesOutputItem
	outputTokens int
}

type responsesOutputItem struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Status string `json:"status"`
	// message
	Role    string               `json:"role,omitempty"`
	Content *[]responsesTextPart `json:"content,omitempty"`
	// function_call
	Arguments *string `json:"arguments,omitempty"`
	CallID    string  `json:"call_id,omitempty"`
	Name      string  `json:"name,omitempty"`

	text string // a message's text, or a function call's arguments
}

type responsesTextPart struct {
	Type        string     `json:"type"`
	Annotations []struct{} `json:"annotations"`
	Logprobs    []struct{} `json:"logprobs"`
	Text        string     `json:"text"`
}

func textPart(text string) responsesTextPart {
	return responsesTextPart{Type: "output_text", Annotations: []struct{}{}, Logprobs: []struct{}{}, Text: text}
}

// view is the item as it stands: whole and completed, or just opened.
func (rs *responseState) view(done bool) responsesOutputItem {
	it := rs.item
	it.Status = "in_progress"
	if done {
		it.Status = "completed"
	}
	if it.Type == "message" {
		parts := []responsesTextPart{}
		if done {
			parts = append(parts, textPart(it.text))
		}
		it.Content = &parts
	} else {
		args := ""
		if done {
			args = it.text
		}
		it.Arguments = &args
	}
	return it
}

type responsesUsage struct {
	InputTokens        int `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int `json:"total_tokens"`
}

func orNull(raw json.RawMessage) json.RawMessage {
	if isNull(raw) {
		return json.RawMessage("null")
	}
	return raw
}

// response is the response object with status; done adds the output and usage.
func (rs *responseState) response(status string, done bool) map[string]any {
	c := rs.call
	output := []responsesOutputItem{}
	var usage *responsesUsage
	if done {
		output = append(output, rs.view(true))
		usage = &responsesUsage{InputTokens: c.inputTokens, OutputTokens: rs.outputTokens, TotalTokens: c.inputTokens + rs.outputTokens}
	}
	tools := json.RawMessage("[]")
	if !isNull(c.toolsRaw) {
		tools = c.toolsRaw
	}
	toolChoice := json.RawMessage(`"auto"`)
	if !isNull(c.toolChoice) {
		toolChoice = c.toolChoice
	}
	return map[string]any{
		"id": rs.id, "object": "response", "created_at": rs.created, "status": status,
		"background": false, "error": nil, "incomplete_details": nil,
		"instructions": orNull(c.instructions), "max_output_tokens": nil, "model": c.model,
		"output": output, "parallel_tool_calls": c.parallel, "previous_response_id": nil,
		"reasoning": map[string]any{"effort": nil, "summary": nil}, "service_tier": "default",
		"store": c.store, "temperature": 1.0, "text": map[string]any{"format": map[string]string{"type": "text"}},
		"tool_choice": toolChoice, "tools": tools, "top_p": 1.0, "truncation": "disabled",
		"usage": usage, "user": nil, "metadata": map[string]any{},
	}
}

// streamResponses writes the Responses event stream; every event is flushed
// on its own.
func (s *Server) streamResponses(w http.ResponseWriter, r *http.Request, a attempt, rs *responseState) {
	if !wait(r, a.latency) {
		return
	}
	h := w.Header()
	h["Content-Type"] = []string{"text/event-stream; charset=utf-8"}
	h["Cache-Control"] = []string{"no-cache"}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	seq := 0
	send := func(typ string, fields map[string]any) bool {
		fields["type"], fields["sequence_number"] = typ, seq
		seq++
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(fields); err != nil {
			return false
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n", typ, buf.Bytes()); err != nil {
			return false
		}
		return flush(rc)
	}
	item := rs.item
	at := func(more map[string]any) map[string]any {
		more["item_id"], more["output_index"] = item.ID, 0
		return more
	}
	if !send("response.created", map[string]any{"response": rs.response("in_progress", false)}) ||
		!send("response.in_progress", map[string]any{"response": rs.response("in_progress", false)}) ||
		!send("response.output_item.added", map[string]any{"output_index": 0, "item": rs.view(false)}) {
		return
	}
	isText, whole := item.Type == "message", item.text
	if isText {
		if !send("response.content_part.added", at(map[string]any{"content_index": 0, "part": textPart("")})) {
			return
		}
	}
	for i, part := range splitRunes(whole, a.chunks) {
		if i == a.failStreamAfter {
			panic(http.ErrAbortHandler) // the upstream resets mid-stream
		}
		if i > 0 && !wait(r, a.chunkDelay) {
			return
		}
		if part == "" {
			continue // fewer runes than chunks
		}
		ok := false
		if isText {
			ok = send("response.output_text.delta", at(map[string]any{"content_index": 0, "delta": part, "logprobs": []struct{}{}}))
		} else {
			ok = send("response.function_call_arguments.delta", at(map[string]any{"delta": part}))
		}
		if !ok {
			return
		}
	}
	if a.failStreamAfter >= 0 {
		panic(http.ErrAbortHandler)
	}
	if isText {
		if !send("response.output_text.done", at(map[string]any{"content_index": 0, "text": whole, "logprobs": []struct{}{}})) ||
			!send("response.content_part.done", at(map[string]any{"content_index": 0, "part": textPart(whole)})) {
			return
		}
	} else if !send("response.function_call_arguments.done", at(map[string]any{"name": item.Name, "arguments": whole})) {
		return
	}
	_ = send("response.output_item.done", map[string]any{"output_index": 0, "item": rs.view(true)}) &&
		send("response.completed", map[string]any{"response": rs.response("completed", true)})
}
