package responsesapi

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
	"github.com/llmvoy/llmvoy/internal/sse"
)

// stream turns a chat completion stream (chat.completion.chunk events,
// then [DONE]) into the Responses API event stream, as it arrives. Output
// items open as their first delta arrives; text and reasoning close when
// something else starts, tool calls (which OpenAI may interleave by index)
// at the finish_reason. The response completes at [DONE] or at the end of
// the stream, not at the finish_reason: the usage chunk comes after it.
type stream struct {
	r   *response
	sse sse.Reader
	seq int

	started bool
	done    bool // a terminal event went out: nothing more is sent
	obj     *responseObject

	items     []*streamItem
	text      *streamItem // the open message, if any
	reasoning *streamItem // the open reasoning item, if any
	tools     map[int]*streamItem

	finished bool
	finish   string
	usage    *chatUsage
}

// streamItem is one output item being streamed.
type streamItem struct {
	kind   string // message, function_call or reasoning
	id     string
	index  int
	open   bool
	buf    strings.Builder // text, summary or arguments
	callID string
	name   string
}

// chatChunk is one chat.completion.chunk, or an error event.
type chatChunk struct {
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content          *string         `json:"content"`
			Refusal          *string         `json:"refusal"`
			ReasoningContent json.RawMessage `json:"reasoning_content"`
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
	Usage *chatUsage     `json:"usage"`
	Error *providerError `json:"error"`
}

type providerError struct {
	Message string          `json:"message"`
	Code    json.RawMessage `json:"code"`
}

func (s *stream) chunk(data []byte, end bool) []byte {
	if s.done {
		return nil
	}
	var out []byte
	if !s.started {
		s.started = true
		s.obj = newResponseObject(&s.r.req, s.r.newID("resp_"), s.r.createdAt, "in_progress")
		out = s.event(out, "response.created", field{"response", s.objectJSON()})
		out = s.event(out, "response.in_progress", field{"response", s.objectJSON()})
	}
	events, err := s.sse.Feed(data, end)
	for _, ev := range events {
		if out = s.data(out, ev); s.done {
			return out
		}
	}
	switch {
	case err != nil:
		return s.fail(out, "server_error", err.Error())
	case end && s.finished:
		return s.complete(out)
	case end:
		return s.fail(out, "server_error", "the provider's stream ended before the answer was finished")
	}
	return out
}

// data handles one event's data.
func (s *stream) data(out, data []byte) []byte {
	if string(bytes.TrimSpace(data)) == "[DONE]" {
		if !s.finished {
			return s.fail(out, "server_error", "the provider's stream ended before the answer was finished")
		}
		return s.complete(out)
	}
	var c chatChunk
	if err := json.Unmarshal(data, &c); err != nil {
		return s.fail(out, "server_error", "malformed event from the provider: "+err.Error())
	}
	if c.Error != nil {
		msg := c.Error.Message
		if msg == "" {
			msg = "the provider's stream failed"
		}
		return s.fail(out, failCode(stringOf(c.Error.Code)), msg)
	}
	if c.Usage != nil {
		s.usage = c.Usage
	}
	for _, ch := range c.Choices {
		if ch.Index != 0 {
			continue // n > 1: the Responses API has one output
		}
		d := ch.Delta
		reasoning := stringOf(d.ReasoningContent)
		if reasoning == "" {
			reasoning = stringOf(d.Reasoning)
		}
		if reasoning != "" {
			out = s.reasoningDelta(out, reasoning)
		}
		if d.Content != nil && *d.Content != "" {
			out = s.textDelta(out, *d.Content)
		}
		if d.Refusal != nil && *d.Refusal != "" {
			out = s.textDelta(out, *d.Refusal)
		}
		for _, tc := range d.ToolCalls {
			out = s.toolDelta(out, tc.Index, tc.ID, tc.Function.Name, tc.Function.Arguments)
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			s.finished, s.finish = true, *ch.FinishReason
			for _, it := range s.items {
				out = s.close(out, it)
			}
		}
	}
	return out
}

func (s *stream) add(kind, prefix string) *streamItem {
	it := &streamItem{kind: kind, id: s.r.newID(prefix), index: len(s.items), open: true}
	s.items = append(s.items, it)
	return it
}

func (s *stream) textDelta(out []byte, text string) []byte {
	out = s.close(out, s.reasoning)
	if s.text == nil {
		s.text = s.add("message", "msg_")
		out = s.event(out, "response.output_item.added", s.outputIndex(s.text), field{"item", s.itemJSON(s.text)})
		out = s.event(out, "response.content_part.added", s.itemRef(s.text), field{"content_index", []byte("0")},
			field{"part", mustJSON(outputText{Type: "output_text", Annotations: []any{}})})
	}
	s.text.buf.WriteString(text)
	return s.event(out, "response.output_text.delta", s.itemRef(s.text), field{"content_index", []byte("0")},
		field{"delta", quote(text)}, field{"logprobs", []byte("[]")})
}

func (s *stream) reasoningDelta(out []byte, text string) []byte {
	out = s.close(out, s.text)
	if s.reasoning == nil {
		s.reasoning = s.add("reasoning", "rs_")
		out = s.event(out, "response.output_item.added", s.outputIndex(s.reasoning), field{"item", s.itemJSON(s.reasoning)})
		out = s.event(out, "response.reasoning_summary_part.added", s.itemRef(s.reasoning), field{"summary_index", []byte("0")},
			field{"part", mustJSON(summaryText{Type: "summary_text"})})
	}
	s.reasoning.buf.WriteString(text)
	return s.event(out, "response.reasoning_summary_text.delta", s.itemRef(s.reasoning), field{"summary_index", []byte("0")},
		field{"delta", quote(text)})
}

func (s *stream) toolDelta(out []byte, index int, id, name, args string) []byte {
	it := s.tools[index]
	// Some servers number every call 0; a new id is a new call.
	if it == nil || (id != "" && it.callID != "" && id != it.callID) {
		out = s.close(out, s.text)
		out = s.close(out, s.reasoning)
		if s.tools == nil {
			s.tools = make(map[int]*streamItem)
		}
		it = s.add("function_call", "fc_")
		it.callID, it.name = id, name
		if it.callID == "" {
			it.callID = s.r.newID("call_")
		}
		s.tools[index] = it
		out = s.event(out, "response.output_item.added", s.outputIndex(it), field{"item", s.itemJSON(it)})
	} else if it.name == "" {
		it.name = name
	}
	if args == "" || !it.open {
		return out
	}
	it.buf.WriteString(args)
	return s.event(out, "response.function_call_arguments.delta", s.itemRef(it), field{"delta", quote(args)})
}

// close ends an open item with its done events.
func (s *stream) close(out []byte, it *streamItem) []byte {
	if it == nil || !it.open {
		return out
	}
	it.open = false
	switch it.kind {
	case "message":
		s.text = nil
		text := it.buf.String()
		out = s.event(out, "response.output_text.done", s.itemRef(it), field{"content_index", []byte("0")},
			field{"text", quote(text)}, field{"logprobs", []byte("[]")})
		out = s.event(out, "response.content_part.done", s.itemRef(it), field{"content_index", []byte("0")},
			field{"part", mustJSON(outputText{Type: "output_text", Text: text, Annotations: []any{}})})
	case "reasoning":
		s.reasoning = nil
		text := it.buf.String()
		out = s.event(out, "response.reasoning_summary_text.done", s.itemRef(it), field{"summary_index", []byte("0")},
			field{"text", quote(text)})
		out = s.event(out, "response.reasoning_summary_part.done", s.itemRef(it), field{"summary_index", []byte("0")},
			field{"part", mustJSON(summaryText{Type: "summary_text", Text: text})})
	case "function_call":
		fc := s.final(it).(functionCallItem)
		out = s.event(out, "response.function_call_arguments.done", s.itemRef(it),
			field{"name", quote(fc.Name)}, field{"arguments", quote(fc.Arguments)})
	}
	return s.event(out, "response.output_item.done", s.outputIndex(it), field{"item", s.itemJSON(it)})
}

// final is an item as it stands: in progress while open.
func (s *stream) final(it *streamItem) any {
	status := "completed"
	if it.open {
		status = "in_progress"
	}
	switch it.kind {
	case "message":
		m := s.r.message(it.id, it.buf.String())
		m.Status = status
		if it.open {
			m.Content = []outputText{}
		}
		return m
	case "reasoning":
		r := reasoningItem{ID: it.id, Type: "reasoning", Summary: []summaryText{}}
		if !it.open {
			r.Summary = append(r.Summary, summaryText{Type: "summary_text", Text: it.buf.String()})
		}
		return r
	}
	return s.r.functionCall(it.id, it.callID, it.name, it.buf.String(), status)
}

// complete ends the stream with the whole response.
func (s *stream) complete(out []byte) []byte {
	for _, it := range s.items {
		out = s.close(out, it)
	}
	s.obj.finish(s.finish)
	s.obj.Usage = s.usage.responses()
	s.obj.Output = s.output()
	typ := "response.completed"
	if s.obj.Status == "incomplete" {
		typ = "response.incomplete"
	}
	out = s.event(out, typ, field{"response", s.objectJSON()})
	s.done = true
	return out
}

// fail ends the stream with response.failed: never a silently cut stream.
func (s *stream) fail(out []byte, code, message string) []byte {
	s.obj.Status = "failed"
	s.obj.Error = &responseError{Code: code, Message: message}
	s.obj.Usage = s.usage.responses()
	s.obj.Output = s.output()
	out = s.event(out, "response.failed", field{"response", s.objectJSON()})
	s.done = true
	return out
}

func (s *stream) output() []any {
	o := make([]any, 0, len(s.items))
	for _, it := range s.items {
		o = append(o, s.final(it))
	}
	return o
}

// field is one member of an event: its key and raw JSON value.
type field struct {
	key   string
	value []byte
}

// event appends one SSE event: its type named twice, as OpenAI sends it,
// and a sequence number that counts the stream's events.
func (s *stream) event(out []byte, typ string, fields ...field) []byte {
	out = append(out, "event: "...)
	out = append(out, typ...)
	out = append(out, "\ndata: {\"type\":"...)
	out = append(out, quote(typ)...)
	out = append(out, `,"sequence_number":`...)
	out = strconv.AppendInt(out, int64(s.seq), 10)
	s.seq++
	for _, f := range fields {
		out = append(out, ',', '"')
		out = append(out, f.key...)
		out = append(out, '"', ':')
		out = append(out, f.value...)
	}
	return append(out, "}\n\n"...)
}

func (s *stream) outputIndex(it *streamItem) field {
	return field{"output_index", strconv.AppendInt(nil, int64(it.index), 10)}
}

// itemRef is item_id and output_index, as item events carry them.
func (s *stream) itemRef(it *streamItem) field {
	v := append(quote(it.id), `,"output_index":`...)
	return field{"item_id", strconv.AppendInt(v, int64(it.index), 10)}
}

func (s *stream) itemJSON(it *streamItem) []byte { return mustJSON(s.final(it)) }

func (s *stream) objectJSON() []byte { return mustJSON(s.obj) }

// mustJSON encodes the package's own types, which always encode.
func mustJSON(v any) []byte {
	b, err := jsonscan.Marshal(v)
	if err != nil {
		return []byte("null")
	}
	return b
}

func quote(s string) []byte { return jsonscan.QuoteString(s) }
