package relay

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// answer follows one client's chat completion stream across the attempts
// that produce it: what the client has been sent, whether it can still be
// continued, and how a continuation's events join it.
type answer struct {
	// id is the first attempt's completion id, which every event the
	// client gets carries.
	id string
	// text is the assistant content the client has been sent.
	text strings.Builder
	// toolCall: a tool call was started, whose arguments a continuation
	// cannot finish; several: the answer has more than one choice.
	toolCall, several bool
	// finished: a choice's finish_reason was sent; the answer is whole.
	finished bool
	// continuing is set while a continuation's events are read: its role
	// chunk is dropped and skipWS is removed from its first content.
	continuing bool
	skipWS     string
	started    bool
}

type chunk struct {
	ID      string `json:"id"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content   *string         `json:"content"`
			ToolCalls json.RawMessage `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Error json.RawMessage `json:"error"`
}

// verdict is what an event of an attempt's stream means for the answer.
type verdict int

const (
	forward verdict = iota // send it to the client (possibly rewritten)
	drop                   // a continuation's role chunk: not sent
	done                   // [DONE]: the answer is complete
	failed                 // an error event: the attempt failed mid-way
)

// event takes one event's data from the current attempt and says what to
// do with it; out is what the client gets for it.
func (a *answer) event(data []byte) (out []byte, v verdict) {
	if bytes.Equal(bytes.TrimSpace(data), []byte("[DONE]")) {
		return data, done
	}
	var c chunk
	if err := json.Unmarshal(data, &c); err != nil {
		// Not a chunk llmvoy can follow: passed on, and the answer can
		// no longer be continued exactly.
		a.several = true
		return data, forward
	}
	if len(c.Error) > 0 && !jsonscan.IsNull(c.Error) {
		return data, failed
	}
	if a.id == "" {
		a.id = c.ID
	}
	content := ""
	hasContent := false
	for _, ch := range c.Choices {
		if ch.Index != 0 {
			a.several = true
		}
		if len(ch.Delta.ToolCalls) > 0 && !jsonscan.IsNull(ch.Delta.ToolCalls) {
			a.toolCall = true
		}
		if ch.Delta.Content != nil && *ch.Delta.Content != "" {
			content += *ch.Delta.Content
			hasContent = true
		}
		if ch.FinishReason != nil {
			a.finished = true
		}
	}
	if a.continuing {
		if !a.started && !hasContent && len(c.Choices) > 0 && !a.finished {
			// The continuation's role chunk: the client has had one.
			return nil, drop
		}
		if hasContent && !a.started && a.skipWS != "" {
			// The prefill was sent without its trailing whitespace
			// (Anthropic refuses it); the continuation repeats it.
			if trimmed, ok := strings.CutPrefix(content, a.skipWS); ok {
				data = replaceContent(data, content, trimmed)
				content = trimmed
			}
		}
		if hasContent {
			a.started = true
		}
		if c.ID != "" && c.ID != a.id {
			data = replaceID(data, a.id)
		}
	}
	a.text.WriteString(content)
	return data, forward
}

// continuable says whether the answer, cut now, can be continued: one
// choice of text only, not finished.
func (a *answer) continuable() bool { return !a.toolCall && !a.several && !a.finished }

// prefill is the assistant text a continuation starts from, without
// trailing whitespace, which the continuation is expected to repeat.
func (a *answer) prefill() string {
	t := a.text.String()
	trimmed := strings.TrimRight(t, " \t\r\n")
	a.skipWS = t[len(trimmed):]
	a.continuing, a.started = true, false
	return trimmed
}

// replaceID gives a continuation's chunk the first attempt's id, so the
// client reads one completion.
func replaceID(data []byte, id string) []byte {
	fields, err := jsonscan.Fields(data)
	if err != nil {
		return data
	}
	return jsonscan.Set(data, fields, "id", jsonscan.QuoteString(id))
}

// replaceContent swaps a chunk's content for its trimmed version (one
// choice, which a continued answer has).
func replaceContent(data []byte, content, trimmed string) []byte {
	var c map[string]any
	if err := json.Unmarshal(data, &c); err != nil {
		return data
	}
	choices, _ := c["choices"].([]any)
	if len(choices) != 1 {
		return data
	}
	choice, _ := choices[0].(map[string]any)
	delta, _ := choice["delta"].(map[string]any)
	if delta == nil || delta["content"] != content {
		return data
	}
	delta["content"] = trimmed
	out, err := jsonscan.Marshal(c)
	if err != nil {
		return data
	}
	return out
}

// continuationBody is the client's request with the answer so far as the
// assistant's last message: the deployment's translator turns it into the
// provider's way of continuing one (see translate.Continuation).
func continuationBody(body []byte, prefill string) ([]byte, bool) {
	fields, err := jsonscan.Fields(body)
	if err != nil {
		return nil, false
	}
	f, ok := jsonscan.Get(fields, "messages")
	if !ok {
		return nil, false
	}
	msgs := bytes.TrimSpace(f.Value)
	if len(msgs) < 2 || msgs[0] != '[' || msgs[len(msgs)-1] != ']' {
		return nil, false
	}
	inner := bytes.TrimSpace(msgs[1 : len(msgs)-1])
	out := append([]byte{'['}, inner...)
	if len(inner) > 0 {
		out = append(out, ',')
	}
	out = append(out, `{"role":"assistant","content":`...)
	out = jsonscan.AppendString(out, prefill)
	out = append(out, "}]"...)
	return jsonscan.Set(body, fields, "messages", out), true
}
