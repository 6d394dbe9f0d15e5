package messagesapi

import (
	"encoding/json"
	"strconv"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// Writers of Anthropic's stream events. The frequent ones (deltas) are
// written by hand: a stream sends hundreds of them.

func itoa(i int) string { return strconv.Itoa(i) }

// appendEvent appends one SSE event with its event: line, as Anthropic
// names every event.
func appendEvent(out []byte, name string, data []byte) []byte {
	out = append(out, "event: "...)
	out = append(out, name...)
	out = append(out, "\ndata: "...)
	out = append(out, data...)
	return append(out, "\n\n"...)
}

func appendMessageStart(out []byte, id, model string, usage messagesUsage) []byte {
	m := message{ID: id, Type: "message", Role: "assistant", Model: model, Content: []json.RawMessage{}, Usage: usage}
	data := mustJSON(struct {
		Type    string  `json:"type"`
		Message message `json:"message"`
	}{"message_start", m})
	out = appendEvent(out, "message_start", data)
	return appendEvent(out, "ping", []byte(`{"type":"ping"}`))
}

// appendBlockStart opens block index; contentBlock is its raw JSON.
func appendBlockStart(out []byte, index int, contentBlock []byte) []byte {
	d := append([]byte(`{"type":"content_block_start","index":`), itoa(index)...)
	d = append(d, `,"content_block":`...)
	d = append(d, contentBlock...)
	return appendEvent(out, "content_block_start", append(d, '}'))
}

var (
	startText     = []byte(`{"type":"text","text":""}`)
	startThinking = []byte(`{"type":"thinking","thinking":"","signature":""}`)
)

func startToolUse(id, name string) []byte {
	b := append([]byte(`{"type":"tool_use","id":`), jsonscan.QuoteString(id)...)
	b = append(b, `,"name":`...)
	b = append(b, jsonscan.QuoteString(name)...)
	return append(b, `,"input":{}}`...)
}

// appendDelta appends a content_block_delta of type typ whose one field
// key holds value.
func appendDelta(out []byte, index int, typ, key, value string) []byte {
	d := append([]byte(`{"type":"content_block_delta","index":`), itoa(index)...)
	d = append(d, `,"delta":{"type":"`...)
	d = append(d, typ...)
	d = append(d, `","`...)
	d = append(d, key...)
	d = append(d, `":`...)
	d = jsonscan.AppendString(d, value)
	return appendEvent(out, "content_block_delta", append(d, "}}"...))
}

func appendBlockStop(out []byte, index int) []byte {
	d := append([]byte(`{"type":"content_block_stop","index":`), itoa(index)...)
	return appendEvent(out, "content_block_stop", append(d, '}'))
}

// appendMessageEnd appends message_delta (stop reason, final usage) and
// message_stop. Without a usage report only output_tokens, which the
// event requires, goes (as 0).
func appendMessageEnd(out []byte, stop string, usage *messagesUsage) []byte {
	var u any = struct {
		OutputTokens int64 `json:"output_tokens"`
	}{}
	if usage != nil {
		u = usage
	}
	data := mustJSON(struct {
		Type  string `json:"type"`
		Delta struct {
			StopReason   string  `json:"stop_reason"`
			StopSequence *string `json:"stop_sequence"`
		} `json:"delta"`
		Usage any `json:"usage"`
	}{Type: "message_delta", Delta: struct {
		StopReason   string  `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
	}{StopReason: stop}, Usage: u})
	out = appendEvent(out, "message_delta", data)
	return appendEvent(out, "message_stop", []byte(`{"type":"message_stop"}`))
}

// messageEvents writes a whole message as the events of a stream, for a
// client that asked for one from a deployment that answered whole.
func messageEvents(m message) []byte {
	start := m.Usage
	start.OutputTokens = 0
	out := appendMessageStart(nil, m.ID, m.Model, start)
	for i, raw := range m.Content {
		var b struct {
			Type     string          `json:"type"`
			Text     string          `json:"text"`
			Thinking string          `json:"thinking"`
			ID       string          `json:"id"`
			Name     string          `json:"name"`
			Input    json.RawMessage `json:"input"`
		}
		_ = json.Unmarshal(raw, &b) // written by answerBlocks
		switch b.Type {
		case "thinking":
			out = appendBlockStart(out, i, startThinking)
			out = appendDelta(out, i, "thinking_delta", "thinking", b.Thinking)
		case "text":
			out = appendBlockStart(out, i, startText)
			out = appendDelta(out, i, "text_delta", "text", b.Text)
		case "tool_use":
			out = appendBlockStart(out, i, startToolUse(b.ID, b.Name))
			out = appendDelta(out, i, "input_json_delta", "partial_json", string(b.Input))
		}
		out = appendBlockStop(out, i)
	}
	stop := "end_turn"
	if m.StopReason != nil {
		stop = *m.StopReason
	}
	return appendMessageEnd(out, stop, &m.Usage)
}
