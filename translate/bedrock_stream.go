package translate

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/llmvoy/llmvoy/internal/eventstream"
	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// bedrockStream turns ConverseStream's event stream (messageStart,
// contentBlockStart/Delta/Stop, messageStop, metadata, exceptions) into
// OpenAI chat.completion.chunk events as they arrive. Messages may be cut
// anywhere between ext_proc body chunks; the decoder keeps the part of a
// message that has not arrived whole.
type bedrockStream struct {
	dec eventstream.Decoder

	stopped bool // messageStop came: the finish chunk went out
	done    bool // [DONE] or an error went out: nothing more is sent
	w       chunkWriter

	blocks      map[int]*bedrockStreamBlock // by contentBlockIndex
	tools       int                         // tool calls so far: the next OpenAI index
	jsonContent bool                        // response_format's tool call went out as content
}

type bedrockStreamBlock struct {
	kind    string // "tool", or "json": response_format's tool
	tool    int    // OpenAI tool call index
	gotArgs bool   // some input delta carried arguments
}

// bedrockEvent is the payload of any ConverseStream event; fields are set
// by event type. Bedrock pads payloads with a "p" member, which is
// ignored like any member llmvoy does not read.
type bedrockEvent struct {
	ContentBlockIndex int `json:"contentBlockIndex"`
	Start             *struct {
		ToolUse *struct {
			ToolUseID string `json:"toolUseId"`
			Name      string `json:"name"`
		} `json:"toolUse"`
	} `json:"start"`
	Delta *struct {
		Text    *string `json:"text"`
		ToolUse *struct {
			Input string `json:"input"`
		} `json:"toolUse"`
		ReasoningContent *struct {
			Text            *string `json:"text"`
			Signature       *string `json:"signature"`
			RedactedContent *string `json:"redactedContent"`
		} `json:"reasoningContent"`
	} `json:"delta"`
	StopReason *string       `json:"stopReason"`
	Usage      *bedrockUsage `json:"usage"`
}

// errBedrockStreamCut is returned when the provider's stream ends before
// messageStop: the client must not take a cut answer for a whole one.
var errBedrockStreamCut = errors.New("the provider's stream ended before messageStop")

func (s *bedrockStream) chunk(r *bedrockResponse, data []byte, end bool) ([]byte, error) {
	if s.done {
		return nil, nil
	}
	if !s.w.started() {
		// Converse's stream names neither: they are the request's.
		s.w.id, s.w.model, s.w.created = r.id, r.model, r.created
	}
	s.dec.Write(data)
	var out []byte
	for !s.done {
		msg, ok, err := s.dec.Next()
		if err != nil {
			s.done = true
			return out, err
		}
		if !ok {
			break
		}
		if out, err = s.message(r, out, msg); err != nil {
			s.done = true
			return out, err
		}
	}
	if end && !s.done {
		s.done = true
		switch {
		case s.dec.Buffered() > 0:
			return out, fmt.Errorf("%w (%d bytes of an unfinished event)", errBedrockStreamCut, s.dec.Buffered())
		case !s.stopped:
			return out, errBedrockStreamCut
		}
		// messageStop came but no metadata (usage): the answer is whole.
		out = append(out, chunkDone...)
	}
	return out, nil
}

// message translates one event stream message.
func (s *bedrockStream) message(r *bedrockResponse, out []byte, msg eventstream.Message) ([]byte, error) {
	switch kind, _ := msg.Header(":message-type"); kind {
	case "event":
	case "exception":
		// The client already has a 200: the error travels as an event,
		// which the OpenAI SDKs raise as an APIError.
		typ, _ := msg.Header(":exception-type")
		e, _ := bedrockError(0, typ, msg.Payload)
		s.done = true
		return append(append(append(out, "data: "...), e...), "\n\n"...), nil
	case "error":
		code, _ := msg.Header(":error-code")
		text, _ := msg.Header(":error-message")
		body, _ := jsonscan.Marshal(map[string]string{"message": text})
		e, _ := bedrockError(0, code, body)
		s.done = true
		return append(append(append(out, "data: "...), e...), "\n\n"...), nil
	default:
		return out, fmt.Errorf("event stream message of type %q", kind)
	}
	typ, _ := msg.Header(":event-type")
	var ev bedrockEvent
	if err := json.Unmarshal(msg.Payload, &ev); err != nil {
		return out, fmt.Errorf("malformed %s event from the provider: %v", typ, err)
	}
	switch typ {
	case "messageStart":
		out = s.w.start(out)
	case "contentBlockStart":
		out = s.w.start(out)
		if ev.Start == nil || ev.Start.ToolUse == nil {
			return out, nil
		}
		b := &bedrockStreamBlock{kind: "tool"}
		if s.blocks == nil {
			s.blocks = make(map[int]*bedrockStreamBlock)
		}
		s.blocks[ev.ContentBlockIndex] = b
		if r.jsonMode && ev.Start.ToolUse.Name == jsonModeTool {
			// response_format's JSON streams as content.
			b.kind = "json"
			s.jsonContent = true
			return out, nil
		}
		b.tool = s.tools
		s.tools++
		out = s.w.delta(out, chunkToolCall(b.tool, ev.Start.ToolUse.ToolUseID, ev.Start.ToolUse.Name), "")
	case "contentBlockDelta":
		out = s.w.start(out)
		if ev.Delta == nil {
			return out, nil
		}
		switch d := ev.Delta; {
		case d.Text != nil:
			if *d.Text != "" {
				out = s.w.delta(out, chunkDeltaJSON("content", *d.Text), "")
			}
		case d.ToolUse != nil:
			b := s.blocks[ev.ContentBlockIndex]
			if b == nil || d.ToolUse.Input == "" {
				return out, nil
			}
			b.gotArgs = true
			if b.kind == "json" {
				out = s.w.delta(out, chunkDeltaJSON("content", d.ToolUse.Input), "")
			} else {
				out = s.w.delta(out, chunkArgsDelta(b.tool, d.ToolUse.Input), "")
			}
		case d.ReasoningContent != nil:
			rc := d.ReasoningContent
			switch {
			case rc.Text != nil && *rc.Text != "":
				out = s.w.delta(out, chunkDeltaJSON("reasoning_content", *rc.Text), "")
			case rc.Signature != nil:
				// The signature the client sends back with the thinking
				// block, in LiteLLM's thinking_blocks.
				out = s.w.delta(out, chunkSignatureDelta(*rc.Signature), "")
			case rc.RedactedContent != nil:
				tb := append([]byte(`{"thinking_blocks":[{"type":"redacted_thinking","data":`), jsonscan.QuoteString(*rc.RedactedContent)...)
				out = s.w.delta(out, append(tb, `}]}`...), "")
			}
		}
	case "contentBlockStop":
		// A tool called without arguments streams no input; OpenAI
		// clients parse the arguments, so they get {}.
		if b := s.blocks[ev.ContentBlockIndex]; b != nil && !b.gotArgs {
			if b.kind == "json" {
				out = s.w.delta(out, chunkDeltaJSON("content", "{}"), "")
			} else {
				out = s.w.delta(out, chunkArgsDelta(b.tool, "{}"), "")
			}
			b.gotArgs = true
		}
	case "messageStop":
		out = s.w.start(out)
		stop := ""
		if ev.StopReason != nil {
			stop = *ev.StopReason
		}
		// The tool call that carried response_format's JSON is no tool
		// call for the client.
		if s.jsonContent && s.tools == 0 && stop == "tool_use" {
			stop = "end_turn"
		}
		out = s.w.delta(out, []byte(`{}`), bedrockFinishReason(stop))
		s.stopped = true
	case "metadata":
		// The last event: usage, then the end of the stream.
		if !s.stopped {
			return out, errors.New("the provider's stream sent its metadata before messageStop")
		}
		if r.includeUsage {
			var u bedrockUsage
			if ev.Usage != nil {
				u = *ev.Usage
			}
			b, _ := jsonscan.Marshal(u.openAI())
			out = s.w.usage(out, b)
		}
		out = append(out, chunkDone...)
		s.done = true
	}
	// Event types added after this was written carry nothing for the
	// client.
	return out, nil
}
