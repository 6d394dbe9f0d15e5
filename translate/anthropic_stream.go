package translate

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// anthropicStream turns Anthropic's SSE events (message_start,
// content_block_start/delta/stop, message_delta, message_stop, ping, error)
// into OpenAI chat.completion.chunk events, as they arrive: pieces may end
// anywhere, even inside a UTF-8 character, so the unfinished line is kept
// for the next piece.
type anthropicStream struct {
	pending []byte // bytes after the last complete line
	scanned int    // bytes of pending known to hold no newline
	data    []byte // data lines of the event being read
	hasData bool

	done bool        // [DONE] or an error went out: nothing more is sent
	w    chunkWriter // id and model from message_start

	blocks      map[int]*anthropicStreamBlock // by Anthropic content index
	tools       int                           // tool calls so far: the next OpenAI index
	jsonContent bool                          // response_format's tool call went out as content
	stopReason  string
	usage       anthropicUsage
}

type anthropicStreamBlock struct {
	kind    string // text, tool_use, thinking, ..., or json: the response_format tool
	tool    int    // OpenAI tool call index, for tool_use
	gotArgs bool   // some input_json_delta carried arguments
}

// anthropicEvent is any Messages API stream event; fields are set by type.
type anthropicEvent struct {
	Type         string                `json:"type"`
	Message      *anthropicMessageBody `json:"message"`
	Index        int                   `json:"index"`
	ContentBlock *struct {
		Type     string `json:"type"`
		ID       string `json:"id"`
		Name     string `json:"name"`
		Text     string `json:"text"`
		Thinking string `json:"thinking"`
	} `json:"content_block"`
	Delta *struct {
		Type        string  `json:"type"`
		Text        string  `json:"text"`
		PartialJSON string  `json:"partial_json"`
		Thinking    string  `json:"thinking"`
		Signature   string  `json:"signature"`
		StopReason  *string `json:"stop_reason"`
	} `json:"delta"`
	Usage *anthropicUsage `json:"usage"`
	Error *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

// errAnthropicStreamCut is returned when the provider's stream ends without
// message_stop: the client must not take a cut answer for a whole one.
var errAnthropicStreamCut = errors.New("the provider's stream ended before message_stop")

func (s *anthropicStream) chunk(r *anthropicResponse, data []byte, end bool) ([]byte, error) {
	if s.done {
		return nil, nil
	}
	// created is the response's (the request's time), the same in a
	// folded answer and a stream.
	s.w.created = r.created
	s.pending = append(s.pending, data...)
	var out []byte
	var err error
	start := 0
	for !s.done && err == nil {
		nl := bytes.IndexByte(s.pending[start+s.scanned:], '\n')
		if nl < 0 {
			break
		}
		lineEnd := start + s.scanned + nl
		out, err = s.line(r, out, bytes.TrimSuffix(s.pending[start:lineEnd], []byte{'\r'}))
		start, s.scanned = lineEnd+1, 0
	}
	if s.done || err != nil {
		s.done = true
		s.pending, s.data = nil, nil
		return out, err
	}
	// Keep the unfinished line at the front of the buffer.
	rest := copy(s.pending, s.pending[start:])
	s.pending = s.pending[:rest]
	s.scanned = rest
	if end {
		if len(s.pending) > 0 {
			out, err = s.line(r, out, bytes.TrimSuffix(s.pending, []byte{'\r'}))
		}
		if err == nil && !s.done && s.hasData {
			// The stream's end also ends its last event, if that event
			// arrived whole; a half event means the stream was cut.
			if json.Valid(s.data) {
				out, err = s.line(r, out, nil)
			}
		}
		if err == nil && !s.done {
			err = errAnthropicStreamCut
		}
		s.done = true
		s.pending, s.data = nil, nil
	}
	return out, err
}

// line reads one SSE line (without its end of line); an empty line
// dispatches the event read so far.
func (s *anthropicStream) line(r *anthropicResponse, out, line []byte) ([]byte, error) {
	if len(line) == 0 {
		if !s.hasData {
			return out, nil
		}
		event := s.data
		s.data, s.hasData = s.data[:0], false
		return s.event(r, out, event)
	}
	if line[0] == ':' {
		return out, nil // a comment
	}
	field, value, found := bytes.Cut(line, []byte{':'})
	if found {
		value = bytes.TrimPrefix(value, []byte{' '})
	}
	// The event name repeats the type inside the data: only data matters.
	if string(field) == "data" {
		if s.hasData {
			s.data = append(s.data, '\n')
		}
		s.data = append(s.data, value...)
		s.hasData = true
	}
	return out, nil
}

func (s *anthropicStream) event(r *anthropicResponse, out, data []byte) ([]byte, error) {
	var ev anthropicEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return out, errors.New("malformed event from the provider: " + err.Error())
	}
	switch ev.Type {
	case "message_start":
		if ev.Message != nil {
			s.w.id, s.w.model = ev.Message.ID, ev.Message.Model
			s.usage.merge(&ev.Message.Usage)
		}
		out = s.w.start(out)
	case "content_block_start":
		out = s.w.start(out)
		if ev.ContentBlock == nil {
			return out, nil
		}
		b := &anthropicStreamBlock{kind: ev.ContentBlock.Type}
		if s.blocks == nil {
			s.blocks = make(map[int]*anthropicStreamBlock)
		}
		s.blocks[ev.Index] = b
		switch b.kind {
		case "text":
			if ev.ContentBlock.Text != "" {
				out = s.w.delta(out, chunkDeltaJSON("content", ev.ContentBlock.Text), "")
			}
		case "thinking":
			if ev.ContentBlock.Thinking != "" {
				out = s.w.delta(out, chunkDeltaJSON("reasoning_content", ev.ContentBlock.Thinking), "")
			}
		case "tool_use":
			if r.jsonMode && ev.ContentBlock.Name == jsonModeTool {
				// response_format's JSON streams as content.
				b.kind = "json"
				s.jsonContent = true
				return out, nil
			}
			b.tool = s.tools
			s.tools++
			out = s.w.delta(out, chunkToolCall(b.tool, ev.ContentBlock.ID, ev.ContentBlock.Name), "")
		}
	case "content_block_delta":
		out = s.w.start(out)
		if ev.Delta == nil {
			return out, nil
		}
		b := s.blocks[ev.Index]
		switch ev.Delta.Type {
		case "text_delta":
			if ev.Delta.Text != "" {
				out = s.w.delta(out, chunkDeltaJSON("content", ev.Delta.Text), "")
			}
		case "thinking_delta":
			if ev.Delta.Thinking != "" {
				out = s.w.delta(out, chunkDeltaJSON("reasoning_content", ev.Delta.Thinking), "")
			}
		case "signature_delta":
			// The signature the client must send back with the thinking
			// block, in LiteLLM's thinking_blocks.
			out = s.w.delta(out, chunkSignatureDelta(ev.Delta.Signature), "")
		case "input_json_delta":
			if b == nil || ev.Delta.PartialJSON == "" {
				return out, nil
			}
			if b.kind == "json" {
				b.gotArgs = true
				out = s.w.delta(out, chunkDeltaJSON("content", ev.Delta.PartialJSON), "")
				return out, nil
			}
			if b.kind != "tool_use" {
				return out, nil
			}
			b.gotArgs = true
			out = s.w.delta(out, chunkArgsDelta(b.tool, ev.Delta.PartialJSON), "")
		}
	case "content_block_stop":
		// A tool called without arguments streams no input_json_delta;
		// OpenAI clients parse the arguments, so they get {}, as from
		// LiteLLM.
		if b := s.blocks[ev.Index]; b != nil && !b.gotArgs {
			switch b.kind {
			case "tool_use":
				out = s.w.delta(out, chunkArgsDelta(b.tool, "{}"), "")
			case "json":
				out = s.w.delta(out, chunkDeltaJSON("content", "{}"), "")
			}
			b.gotArgs = true
		}
	case "message_delta":
		if ev.Delta != nil && ev.Delta.StopReason != nil {
			s.stopReason = *ev.Delta.StopReason
		}
		s.usage.merge(ev.Usage)
	case "message_stop":
		out = s.w.start(out)
		finish := "stop"
		// The tool call that carried response_format's JSON is no tool
		// call for the client.
		if s.stopReason != "" && !(s.jsonContent && s.tools == 0 && s.stopReason == "tool_use") {
			finish = anthropicFinishReason(s.stopReason)
		}
		out = s.w.delta(out, []byte(`{}`), finish)
		if r.includeUsage {
			u, _ := jsonscan.Marshal(s.usage.openAI())
			out = s.w.usage(out, u)
		}
		out = append(out, chunkDone...)
		s.done = true
	case "error":
		typ, message := "", "the provider's stream failed"
		if ev.Error != nil {
			typ, message = ev.Error.Type, ev.Error.Message
		}
		// The client already has a 200: the error travels as an event,
		// which the OpenAI SDKs raise as an APIError.
		out = appendEvent(out, anthropicOpenAIError(0, typ, message))
		s.done = true
	}
	// ping, and event types added after this was written, carry nothing
	// for the client.
	return out, nil
}
