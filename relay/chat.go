package relay

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// chatAnswer follows one client's chat completion stream across the
// attempts that produce it: what the client has been sent, whether it can
// still be continued, and how a continuation's events join it.
type chatAnswer struct {
	// id is the first attempt's completion id, which every event the
	// client gets carries.
	id string
	// text is the assistant content the client has been sent.
	text strings.Builder
	// toolCall: a tool call was started, whose arguments a continuation
	// cannot finish; several: the answer has more than one choice.
	toolCall, several bool
	// whole: a choice's finish_reason was sent.
	whole bool
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

// event takes one event's data from the current attempt and says what to
// do with it; out is what the client gets for it.
func (a *chatAnswer) event(data []byte) (out []byte, v verdict) {
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
			a.whole = true
		}
	}
	if a.continuing {
		if !a.started && !hasContent && len(c.Choices) > 0 && !a.whole {
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

// continuable: one choice of text only, not finished.
func (a *chatAnswer) continuable() bool { return !a.toolCall && !a.several && !a.whole }

func (a *chatAnswer) finished() bool { return a.whole }

func (a *chatAnswer) sent() int { return a.text.Len() }

func (a *chatAnswer) prefill() string {
	p, ws := splitPrefill(a.text.String())
	a.skipWS, a.continuing, a.started = ws, true, false
	return p
}

func (a *chatAnswer) frame(data []byte) []byte {
	return append(append([]byte("data: "), data...), "\n\n"...)
}

// end is the end of an answer whose attempt closed after its last chunk
// but before [DONE].
func (a *chatAnswer) end() []byte { return a.frame([]byte("[DONE]")) }

func (a *chatAnswer) errorBody(message string) []byte { return errorJSON("bad_gateway", message) }

func (a *chatAnswer) errorEvent(message string) []byte { return a.frame(a.errorBody(message)) }

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
