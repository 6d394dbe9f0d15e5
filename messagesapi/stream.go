package messagesapi

import (
	"bytes"
	"encoding/json"
)

// stream turns OpenAI's chat.completion.chunk events into Anthropic's
// event sequence as they arrive: message_start, then content blocks one at
// a time (content_block_start, deltas, content_block_stop, with increasing
// indexes), then message_delta and message_stop. Pieces may end anywhere:
// the unfinished line is kept for the next piece.
//
// Anthropic's blocks do not interleave, but a chat stream may interleave
// the arguments of parallel tool calls by index. The first call streams as
// it comes; a call that starts while another is open waits, its arguments
// buffered, until the open one's arguments are a whole JSON object (they
// can grow no further), and at the end every waiting call goes out whole.
// Text or reasoning ends the open block. Arguments that arrive for a call
// already stopped cannot be sent and are dropped: no server interleaves a
// call's arguments with text, or sends more after its object is whole.
type stream struct {
	pending []byte // bytes after the last complete line
	scanned int    // bytes of pending known to hold no newline
	data    []byte // data lines of the event being read
	hasData bool

	started bool // message_start went out
	done    bool // message_stop or an error went out: nothing more is sent
	id      string

	open   *openBlock
	blocks int // blocks started: the next index

	tools    map[int]*toolCall // by OpenAI's index
	order    []*toolCall       // every call, in the order they began
	finish   string
	finished bool // a finish_reason came; its blocks are all stopped
}

type openBlock struct {
	index int
	kind  string    // text, thinking, tool_use
	tool  *toolCall // for tool_use
}

// toolCall is one tool call of the chat stream.
type toolCall struct {
	id, name string
	args     []byte
	state    int // waiting, live, stopped
}

const (
	waiting = iota
	live
	stopped
)

// chatChunk is the part of a chat.completion.chunk the stream reads.
type chatChunk struct {
	ID      string `json:"id"`
	Choices []struct {
		Delta struct {
			Content          *string         `json:"content"`
			Refusal          *string         `json:"refusal"`
			ReasoningContent string          `json:"reasoning_content"`
			Reasoning        json.RawMessage `json:"reasoning"`
			ToolCalls        []struct {
				Index    int    `json:"index"`
				ID       string `json:"id"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *chatUsage       `json:"usage"`
	Error *json.RawMessage `json:"error"`
}

// Chunk translates the next piece of the deployment's stream. Whatever
// the stream holds, what goes out is Anthropic's: a stream cut before its
// finish, a malformed event or an OpenAI error event ends with an error
// event (and no message_stop), so Chunk returns no error.
func (r *Response) Chunk(data []byte, end bool) ([]byte, error) {
	s := &r.stream
	if s.done {
		return nil, nil
	}
	s.pending = append(s.pending, data...)
	var out []byte
	start := 0
	for !s.done {
		nl := bytes.IndexByte(s.pending[start+s.scanned:], '\n')
		if nl < 0 {
			break
		}
		lineEnd := start + s.scanned + nl
		out = r.line(out, bytes.TrimSuffix(s.pending[start:lineEnd], []byte{'\r'}))
		start, s.scanned = lineEnd+1, 0
	}
	if s.done {
		s.pending, s.data = nil, nil
		return out, nil
	}
	rest := copy(s.pending, s.pending[start:])
	s.pending = s.pending[:rest]
	s.scanned = rest
	if end {
		if len(s.pending) > 0 {
			out = r.line(out, bytes.TrimSuffix(s.pending, []byte{'\r'}))
		}
		// The stream's end also ends its last event, if that event
		// arrived whole; a half event means the stream was cut.
		if !s.done && s.hasData && (json.Valid(s.data) || isDone(s.data)) {
			out = r.line(out, nil)
		}
		if !s.done {
			if s.finished {
				// Some servers end without [DONE].
				out = r.end(out)
			} else {
				out = r.fail(out, "api_error", "the deployment's stream ended before the answer was complete")
			}
		}
		s.pending, s.data = nil, nil
	}
	return out, nil
}

func isDone(data []byte) bool { return string(bytes.TrimSpace(data)) == "[DONE]" }

// line reads one SSE line; an empty line dispatches the event read so far.
func (r *Response) line(out, line []byte) []byte {
	s := &r.stream
	if len(line) == 0 {
		if !s.hasData {
			return out
		}
		ev := s.data
		s.data, s.hasData = s.data[:0], false
		return r.event(out, ev)
	}
	if line[0] == ':' {
		return out // a comment (keep-alive)
	}
	field, value, found := bytes.Cut(line, []byte{':'})
	if found {
		value = bytes.TrimPrefix(value, []byte{' '})
	}
	if string(field) == "data" {
		if s.hasData {
			s.data = append(s.data, '\n')
		}
		s.data = append(s.data, value...)
		s.hasData = true
	}
	return out
}

// event translates one chat event.
func (r *Response) event(out, data []byte) []byte {
	s := &r.stream
	if isDone(data) {
		return r.end(out)
	}
	var c chatChunk
	if err := json.Unmarshal(data, &c); err != nil {
		return r.fail(out, "api_error", "malformed event from the deployment: "+err.Error())
	}
	if c.Error != nil {
		typ, message := openAIErrorKind(0, data)
		return r.fail(out, typ, message)
	}
	if c.Usage != nil {
		// Asked for with include_usage: a last chunk, after the one
		// with finish_reason; some servers repeat it on every chunk.
		r.usage, r.hasUsage = c.Usage.read(), true
	}
	if !s.started {
		s.started = true
		s.id = c.ID
		start := messagesUsage{}
		if r.hasUsage {
			start = r.usage.messages()
			start.OutputTokens = 0
		}
		out = appendMessageStart(out, messageID(c.ID), r.req.Model, start)
	}
	if len(c.Choices) == 0 {
		return out
	}
	ch := c.Choices[0] // Messages has no n: one choice
	d := ch.Delta
	if t := reasoning(d.ReasoningContent, d.Reasoning); t != "" {
		out = r.blockDelta(out, "thinking", t)
	}
	if d.Content != nil && *d.Content != "" {
		out = r.blockDelta(out, "text", *d.Content)
	}
	if d.Refusal != nil && *d.Refusal != "" {
		out = r.blockDelta(out, "text", *d.Refusal)
	}
	for _, tc := range d.ToolCalls {
		out = r.toolDelta(out, tc.Index, tc.ID, tc.Function.Name, tc.Function.Arguments)
	}
	out = r.promote(out)
	if ch.FinishReason != nil && *ch.FinishReason != "" {
		s.finish = *ch.FinishReason
		// The blocks are done; message_delta waits for the usage chunk
		// that comes after this one.
		out = r.flush(out)
		s.finished = true
	}
	return out
}

// blockDelta appends text or thinking, in a block of that kind.
func (r *Response) blockDelta(out []byte, kind, text string) []byte {
	s := &r.stream
	if s.open == nil || s.open.kind != kind {
		out = r.closeOpen(out)
		s.open = &openBlock{index: s.blocks, kind: kind}
		s.blocks++
		if kind == "thinking" {
			out = appendBlockStart(out, s.open.index, startThinking)
		} else {
			out = appendBlockStart(out, s.open.index, startText)
		}
	}
	if kind == "thinking" {
		return appendDelta(out, s.open.index, "thinking_delta", "thinking", text)
	}
	return appendDelta(out, s.open.index, "text_delta", "text", text)
}

// toolDelta takes a piece of tool call index: its id and name (first
// piece) or a piece of its arguments.
func (r *Response) toolDelta(out []byte, index int, id, name, args string) []byte {
	s := &r.stream
	t := s.tools[index]
	if t == nil || (id != "" && t.id != "" && id != t.id) {
		// A new call; servers that number every call 0 tell them
		// apart by id.
		t = &toolCall{id: id}
		if s.tools == nil {
			s.tools = make(map[int]*toolCall)
		}
		s.tools[index] = t
		s.order = append(s.order, t)
	}
	if t.id == "" {
		t.id = id
	}
	if t.name == "" {
		t.name = name
	}
	if args == "" {
		return out
	}
	switch t.state {
	case waiting:
		t.args = append(t.args, args...)
	case live:
		t.args = append(t.args, args...)
		out = appendDelta(out, s.open.index, "input_json_delta", "partial_json", args)
	}
	return out
}

// promote starts waiting calls, in order, while none is open or the open
// one is complete.
func (r *Response) promote(out []byte) []byte {
	s := &r.stream
	for _, t := range s.order {
		if t.state != waiting {
			continue
		}
		if t.name == "" {
			return out
		}
		if o := s.open; o != nil && o.kind == "tool_use" && !wholeObject(o.tool.args) {
			return out
		}
		out = r.closeOpen(out)
		out = r.startTool(out, t, string(t.args))
	}
	return out
}

// startTool opens t's block and sends the arguments it has.
func (r *Response) startTool(out []byte, t *toolCall, args string) []byte {
	s := &r.stream
	if t.id == "" {
		t.id = toolUseID(s.id, s.blocks)
	}
	s.open = &openBlock{index: s.blocks, kind: "tool_use", tool: t}
	s.blocks++
	t.state = live
	out = appendBlockStart(out, s.open.index, startToolUse(t.id, t.name))
	if args != "" {
		out = appendDelta(out, s.open.index, "input_json_delta", "partial_json", args)
	}
	return out
}

// wholeObject reports whether a call's arguments are a complete JSON
// object, which no further piece can extend.
func wholeObject(args []byte) bool {
	a := bytes.TrimSpace(args)
	return len(a) > 0 && a[0] == '{' && a[len(a)-1] == '}' && json.Valid(a)
}

func (r *Response) closeOpen(out []byte) []byte {
	s := &r.stream
	if s.open == nil {
		return out
	}
	out = appendBlockStop(out, s.open.index)
	if s.open.tool != nil {
		s.open.tool.state = stopped
	}
	s.open = nil
	return out
}

// flush stops the open block and sends every waiting call whole, its
// arguments read as a whole body's are (see toolInput).
func (r *Response) flush(out []byte) []byte {
	out = r.closeOpen(out)
	for _, t := range r.stream.order {
		if t.state != waiting {
			continue
		}
		args := ""
		if len(bytes.TrimSpace(t.args)) > 0 {
			args = string(toolInput(string(t.args)))
		}
		out = r.startTool(out, t, args)
		out = r.closeOpen(out)
	}
	return out
}

// end finishes a stream that ended well: message_delta and message_stop.
func (r *Response) end(out []byte) []byte {
	s := &r.stream
	if !s.started {
		s.started = true
		out = appendMessageStart(out, messageID(""), r.req.Model, messagesUsage{})
	}
	out = r.flush(out)
	var u *messagesUsage
	if r.hasUsage {
		m := r.usage.messages()
		u = &m
	}
	out = appendMessageEnd(out, stopReason(s.finish, len(s.order) > 0), u)
	s.done = true
	return out
}

// fail ends the stream with an error event: the client has its 200, and
// must not take a cut answer for a whole one.
func (r *Response) fail(out []byte, typ, message string) []byte {
	r.stream.done = true
	return appendEvent(out, "error", errorBody(typ, message))
}
