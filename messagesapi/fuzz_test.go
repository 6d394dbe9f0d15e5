package messagesapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/llmvoy/llmvoy/translate"
)

// FuzzToChat checks the request translation on any body: it never panics
// or touches the client's body, refuses only with ErrBadRequest, and what
// it writes is a JSON object with messages and no field only Anthropic
// reads. Seeds: testdata/fuzz/FuzzToChat and the Claude Code fixture.
func FuzzToChat(f *testing.F) {
	if b, err := os.ReadFile("testdata/claude_code_request.json"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		chat, req, err := ToChat(body)
		if !bytes.Equal(orig, body) {
			t.Fatalf("the client's body was modified")
		}
		if err != nil {
			if !errors.Is(err, translate.ErrBadRequest) {
				t.Fatalf("error %v does not wrap ErrBadRequest", err)
			}
			if chat != nil {
				t.Fatalf("output with an error")
			}
			return
		}
		var out struct {
			Model    string            `json:"model"`
			Messages []json.RawMessage `json:"messages"`
		}
		if !json.Valid(chat) || json.Unmarshal(chat, &out) != nil {
			t.Fatalf("invalid chat body %q from %q", chat, body)
		}
		if out.Model != req.Model || len(out.Messages) == 0 && !bytes.Contains(body, []byte(`thinking`)) && !bytes.Contains(body, []byte(`"system"`)) && !bytes.Contains(body, []byte(`_tool`)) && !bytes.Contains(body, []byte(`"content":[]`)) {
			// Only turns of nothing a chat server reads vanish.
			t.Logf("no messages from %q", body)
		}
		requireNoAnthropicFields(t, chat)
	})
}

// FuzzResponseStream feeds any stream, whole and in pieces of every size
// the input's first byte picks: never a panic, the same events either
// way, and always a well-formed event sequence, ended by message_stop or
// an error event. Seeds: testdata/fuzz/FuzzResponseStream and the golden
// streams.
func FuzzResponseStream(f *testing.F) {
	for _, name := range []string{"chat_stream_tools", "chat_stream_reasoning"} {
		if b, err := os.ReadFile("testdata/" + name + ".sse"); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		size := 1
		if len(in) > 0 {
			size = int(in[0])%13 + 1
		}
		whole := feed(t, Request{Model: "m", Stream: true}, in, 0)
		pieces := feed(t, Request{Model: "m", Stream: true}, in, size)
		w := randomIDs.ReplaceAll(whole, []byte("msg_R"))
		p := randomIDs.ReplaceAll(pieces, []byte("msg_R"))
		if !bytes.Equal(w, p) {
			t.Fatalf("whole and in pieces of %d differ:\n%s\n---\n%s", size, w, p)
		}
		requireWellFormedOpts(t, whole, false, false)
		if !bytes.HasSuffix(whole, []byte("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")) &&
			!bytes.Contains(whole, []byte("event: error\n")) {
			t.Fatalf("the stream ends neither with message_stop nor an error:\n%s", whole)
		}
		// A whole body never panics either.
		r := NewResponse(Request{Model: "m"})
		r.Headers(200, "application/json")
		if out, err := r.Body(200, in); err != nil || !json.Valid(out) {
			t.Fatalf("Body: %v, %q", err, out)
		}
	})
}
