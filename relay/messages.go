package relay

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// messagesAnswer follows an Anthropic Messages stream (Claude Code's,
// the Anthropic SDKs'). A continuation's message_start is dropped; when the
// cut came inside a text block, the continuation's first text block is
// that block (its start dropped, its deltas and stop given the block's
// index); its other blocks are numbered on from the client's.
type messagesAnswer struct {
	text strings.Builder
	// next is the client's next block index; open the index of its text
	// block still open, or -1.
	next, open int
	// other: a block that is not text (tool_use, thinking) began; a
	// continuation cannot finish or repeat it.
	other bool
	whole bool

	continuing bool
	// first is set while the continuation's first text block maps onto
	// the client's open block; shift numbers its other blocks.
	first, started bool
	shift          int
	skipWS         string
}

type messagesEvent struct {
	Type         string `json:"type"`
	Index        *int   `json:"index"`
	ContentBlock *struct {
		Type string `json:"type"`
	} `json:"content_block"`
	Delta *struct {
		Type       string  `json:"type"`
		Text       *string `json:"text"`
		StopReason *string `json:"stop_reason"`
	} `json:"delta"`
}

func (a *messagesAnswer) event(data []byte) ([]byte, verdict) {
	var e messagesEvent
	if err := json.Unmarshal(data, &e); err != nil {
		a.other = true
		return data, forward
	}
	switch e.Type {
	case "error":
		return data, failed
	case "message_stop":
		return data, done
	case "message_start":
		if a.continuing {
			return nil, drop
		}
	case "message_delta":
		if e.Delta != nil && e.Delta.StopReason != nil {
			a.whole = true
		}
	case "content_block_start", "content_block_delta", "content_block_stop":
		if e.Index == nil {
			break
		}
		return a.block(data, e)
	}
	return data, forward
}

// block takes a content block event: its index as the client numbers it,
// and the text it adds.
func (a *messagesAnswer) block(data []byte, e messagesEvent) ([]byte, verdict) {
	i := *e.Index
	if a.continuing {
		if e.Type == "content_block_start" && !a.started {
			a.started = true
			isText := e.ContentBlock != nil && e.ContentBlock.Type == "text"
			if isText && a.open >= 0 {
				// The client's open block goes on.
				a.first, a.shift = true, a.open-i
				return nil, drop
			}
			a.shift = a.next - i
		}
		i += a.shift
		if a.shift != 0 {
			data = setIndex(data, i)
		}
	}
	switch e.Type {
	case "content_block_start":
		a.next = i + 1
		if e.ContentBlock != nil && e.ContentBlock.Type == "text" {
			a.open = i
		} else {
			a.other = true
		}
	case "content_block_delta":
		if e.Delta != nil && e.Delta.Type == "text_delta" && e.Delta.Text != nil {
			text := *e.Delta.Text
			if a.first && a.skipWS != "" {
				if trimmed, ok := strings.CutPrefix(text, a.skipWS); ok {
					data = setDeltaText(data, trimmed)
					text = trimmed
				}
				a.skipWS = ""
			}
			a.text.WriteString(text)
		}
	case "content_block_stop":
		if i == a.open {
			a.open = -1
		}
		a.first = false
	}
	return data, forward
}

func (a *messagesAnswer) continuable() bool { return !a.other && !a.whole }

func (a *messagesAnswer) finished() bool { return a.whole }

func (a *messagesAnswer) sent() int { return a.text.Len() }

func (a *messagesAnswer) prefill() string {
	p, ws := splitPrefill(a.text.String())
	a.skipWS, a.continuing, a.started, a.first = ws, true, false, false
	return p
}

func (a *messagesAnswer) frame(data []byte) []byte { return namedFrame(data) }

func (a *messagesAnswer) end() []byte { return a.frame([]byte(`{"type":"message_stop"}`)) }

// errorBody is Anthropic's error object.
func (a *messagesAnswer) errorBody(message string) []byte {
	b := []byte(`{"type":"error","error":{"type":"api_error","message":`)
	b = jsonscan.AppendString(b, message)
	return append(b, "}}"...)
}

func (a *messagesAnswer) errorEvent(message string) []byte { return a.frame(a.errorBody(message)) }

func setIndex(data []byte, i int) []byte {
	fields, err := jsonscan.Fields(data)
	if err != nil {
		return data
	}
	return jsonscan.Set(data, fields, "index", []byte(strconv.Itoa(i)))
}

func setDeltaText(data []byte, text string) []byte {
	var e map[string]any
	if err := json.Unmarshal(data, &e); err != nil {
		return data
	}
	d, _ := e["delta"].(map[string]any)
	if d == nil {
		return data
	}
	d["text"] = text
	out, err := jsonscan.Marshal(e)
	if err != nil {
		return data
	}
	return out
}
