package relay

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// responsesAnswer follows an OpenAI Responses stream (Codex's, the Agents
// SDK's). An answer of one message item can be continued: the
// continuation's events are given the first response's ids, the client's
// item and indexes and sequence numbers that go on from the client's; its
// own response.created, in_progress and the added events of its message
// are dropped; and its done events, which carry the whole text, carry the
// whole answer's. Anything else (a function call, reasoning, a second
// item) makes the answer one that cannot be continued: a cut one ends with
// the Responses API's error event, numbered on, and a clean end.
type responsesAnswer struct {
	seq int64
	// responseID and itemID are the first response's and its message's;
	// outputIndex the message's place.
	responseID, itemID string
	outputIndex        int
	text               strings.Builder
	items              int
	other, whole       bool

	continuing bool
	started    bool
	skipWS     string
}

type responsesEvent struct {
	Type     string `json:"type"`
	Seq      *int64 `json:"sequence_number"`
	Response *struct {
		ID string `json:"id"`
	} `json:"response"`
	Item *struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	} `json:"item"`
	OutputIndex int     `json:"output_index"`
	Delta       *string `json:"delta"`
}

func (a *responsesAnswer) event(data []byte) ([]byte, verdict) {
	var e responsesEvent
	if err := json.Unmarshal(data, &e); err != nil {
		a.other = true
		return data, forward
	}
	if !a.continuing {
		return a.first(data, e)
	}
	return a.continuation(data, e)
}

// first follows the first attempt's events, passed on as they are.
func (a *responsesAnswer) first(data []byte, e responsesEvent) ([]byte, verdict) {
	if e.Seq != nil {
		a.seq = *e.Seq
	}
	switch e.Type {
	case "response.completed", "response.incomplete", "response.failed":
		return data, done
	case "error":
		return data, failed
	case "response.created":
		if e.Response != nil {
			a.responseID = e.Response.ID
		}
	case "response.output_item.added":
		a.items++
		if e.Item == nil || e.Item.Type != "message" || a.items > 1 {
			a.other = true
		} else {
			a.itemID, a.outputIndex = e.Item.ID, e.OutputIndex
		}
	case "response.output_text.delta":
		if e.Delta != nil {
			a.text.WriteString(*e.Delta)
		}
	case "response.output_item.done":
		// The message is whole; a cut after it loses nothing but the end.
		a.whole = true
	}
	return data, forward
}

// continuation rewrites a continuation's event into the client's answer.
func (a *responsesAnswer) continuation(data []byte, e responsesEvent) ([]byte, verdict) {
	switch e.Type {
	case "error":
		return data, failed
	case "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added":
		if e.Type == "response.output_item.added" && (e.Item == nil || e.Item.Type != "message") {
			a.other = true
		}
		return nil, drop
	}
	var ev map[string]any
	if err := json.Unmarshal(data, &ev); err != nil {
		return nil, drop
	}
	if _, ok := ev["item_id"]; ok {
		ev["item_id"], ev["output_index"] = a.itemID, a.outputIndex
	}
	whole := a.text.String() // before this event: done events carry the text so far plus theirs
	switch e.Type {
	case "response.output_text.delta":
		delta, _ := ev["delta"].(string)
		if !a.started && a.skipWS != "" {
			delta = strings.TrimPrefix(delta, a.skipWS)
		}
		a.started = true
		ev["delta"] = delta
		a.text.WriteString(delta)
	case "response.output_text.done":
		ev["text"] = whole
	case "response.content_part.done":
		setText(ev["part"], whole)
	case "response.output_item.done":
		a.fixItem(ev["item"], whole)
		a.whole = true
	case "response.completed", "response.incomplete", "response.failed":
		if r, ok := ev["response"].(map[string]any); ok {
			r["id"] = a.responseID
			if out, ok := r["output"].([]any); ok {
				for _, it := range out {
					a.fixItem(it, whole)
				}
			}
		}
	default:
		if strings.HasPrefix(e.Type, "response.reasoning") || strings.HasPrefix(e.Type, "response.function_call") {
			a.other = true
			return nil, drop
		}
	}
	a.seq++
	ev["sequence_number"] = a.seq
	out, err := jsonscan.Marshal(ev)
	if err != nil {
		return nil, drop
	}
	switch e.Type {
	case "response.completed", "response.incomplete", "response.failed":
		return out, done
	}
	return out, forward
}

// fixItem gives a continuation's message item the client's id and the
// whole text.
func (a *responsesAnswer) fixItem(item any, text string) {
	it, ok := item.(map[string]any)
	if !ok || it["type"] != "message" {
		return
	}
	it["id"] = a.itemID
	if content, ok := it["content"].([]any); ok && len(content) > 0 {
		setText(content[0], text)
	}
}

func setText(part any, text string) {
	if p, ok := part.(map[string]any); ok {
		p["text"] = text
	}
}

func (a *responsesAnswer) continuable() bool {
	return !a.other && !a.whole && a.itemID != "" && a.responseID != ""
}

func (a *responsesAnswer) finished() bool { return false }
func (a *responsesAnswer) sent() int      { return a.text.Len() }
func (a *responsesAnswer) end() []byte    { return nil }

func (a *responsesAnswer) prefill() string {
	p, ws := splitPrefill(a.text.String())
	a.skipWS, a.continuing, a.started = ws, true, false
	return p
}

func (a *responsesAnswer) frame(data []byte) []byte { return namedFrame(data) }

func (a *responsesAnswer) errorBody(message string) []byte { return errorJSON("bad_gateway", message) }

// errorEvent is the Responses API's error event.
func (a *responsesAnswer) errorEvent(message string) []byte {
	b := []byte(`{"type":"error","code":"stream_cut","message":`)
	b = jsonscan.AppendString(b, message)
	b = append(b, `,"param":null,"sequence_number":`...)
	b = strconv.AppendInt(b, a.seq+1, 10)
	return a.frame(append(b, '}'))
}
