package relay

import (
	"bytes"
	"strings"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// follower follows one client's stream, in its API's events, across the
// attempts that produce it.
type follower interface {
	// event takes one event's data from the current attempt; out is what
	// the client gets for it.
	event(data []byte) (out []byte, v verdict)
	// continuable says whether the answer, cut now, can be continued.
	continuable() bool
	// finished says whether the answer is whole, though its last event
	// may be missing.
	finished() bool
	// prefill is the assistant text a continuation starts from, without
	// trailing whitespace (Anthropic refuses it), which the continuation
	// is expected to repeat and the follower drops; the events read next
	// are the continuation's.
	prefill() string
	// sent is how many bytes of text the client has.
	sent() int
	// frame is an event's data as the client's stream carries it.
	frame(data []byte) []byte
	// end completes a finished answer whose attempt closed before its last
	// event.
	end() []byte
	// errorBody is an error in the client API's shape, the relay's own
	// answer; errorEvent the event that ends an answer that cannot be
	// completed.
	errorBody(message string) []byte
	errorEvent(message string) []byte
}

// verdict is what an event of an attempt's stream means for the answer.
type verdict int

const (
	forward verdict = iota // send it to the client (possibly rewritten)
	drop                   // a continuation's repeat of the answer's start: not sent
	done                   // the answer's last event
	failed                 // an error event: the attempt failed mid-way
)

// followerFor is the follower of the client API a path calls.
func followerFor(path string) follower {
	switch {
	case strings.HasSuffix(path, "/messages"):
		return &messagesAnswer{open: -1}
	case strings.HasSuffix(path, "/responses"):
		return &responsesAnswer{}
	}
	return &chatAnswer{}
}

// splitPrefill splits the text sent into the prefill and its trailing
// whitespace.
func splitPrefill(text string) (prefill, ws string) {
	trimmed := strings.TrimRight(text, " \t\r\n")
	return trimmed, text[len(trimmed):]
}

// namedFrame is an event as Anthropic's and OpenAI's Responses streams
// carry it: named by its data's type.
func namedFrame(data []byte) []byte {
	typ := "message"
	if fields, err := jsonscan.Fields(data); err == nil {
		if f, ok := jsonscan.Get(fields, "type"); ok {
			if s, ok := jsonscan.String(f.Value); ok {
				typ = s
			}
		}
	}
	out := append([]byte("event: "), typ...)
	out = append(out, "\ndata: "...)
	out = append(out, data...)
	return append(out, "\n\n"...)
}

// errorJSON is OpenAI's error object, as llmvoy's other errors.
func errorJSON(typ, message string) []byte {
	var b []byte
	b = append(b, `{"error":{"message":`...)
	b = jsonscan.AppendString(b, message)
	b = append(b, `,"type":`...)
	b = jsonscan.AppendString(b, typ)
	b = append(b, `,"param":null,"code":"502"}}`...)
	return b
}

// continuationBody is the client's request with the answer so far as the
// assistant's last message: a chat completion's or a Messages request's
// "messages", a Responses request's "input" (made a list when it is a
// string). The deployment's translator turns it into the provider's way of
// continuing one (see translate.Continuation).
func continuationBody(body []byte, prefill string) ([]byte, bool) {
	fields, err := jsonscan.Fields(body)
	if err != nil {
		return nil, false
	}
	key, item := "messages", []byte(`{"role":"assistant","content":`)
	f, ok := jsonscan.Get(fields, key)
	if !ok {
		key, item = "input", []byte(`{"type":"message","role":"assistant","content":`)
		if f, ok = jsonscan.Get(fields, key); !ok {
			return nil, false
		}
	}
	list := bytes.TrimSpace(f.Value)
	if key == "input" && len(list) > 0 && list[0] == '"' {
		// A string input is the user's one message.
		list = append(append([]byte(`[{"type":"message","role":"user","content":`), list...), "}]"...)
	}
	if len(list) < 2 || list[0] != '[' || list[len(list)-1] != ']' {
		return nil, false
	}
	inner := bytes.TrimSpace(list[1 : len(list)-1])
	out := append([]byte{'['}, inner...)
	if len(inner) > 0 {
		out = append(out, ',')
	}
	out = append(out, item...)
	out = jsonscan.AppendString(out, prefill)
	out = append(out, "}]"...)
	return jsonscan.Set(body, fields, key, out), true
}
