package responsesapi

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/llmvoy/llmvoy/translate"
)

// FuzzToChat checks the request translation on any body: it never panics,
// refuses only with ErrBadRequest, and what it sends is a JSON object.
func FuzzToChat(f *testing.F) {
	f.Add([]byte(codexRequest))
	f.Add([]byte(`{"model":"m","input":"hi"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		chat, _, err := ToChat(body)
		if err != nil {
			if !errors.Is(err, translate.ErrBadRequest) {
				t.Fatalf("error %v does not wrap ErrBadRequest", err)
			}
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(chat, &m); err != nil {
			t.Fatalf("output is not a JSON object: %v\n%s", err, chat)
		}
	})
}

// FuzzResponseStream checks the stream translation on any stream, split
// at any point: it never panics or errors, every event is JSON, and the
// stream ends with one terminal event.
func FuzzResponseStream(f *testing.F) {
	f.Add([]byte(codexStream), uint16(7))
	f.Add([]byte(errorStream), uint16(1))
	f.Fuzz(func(t *testing.T, in []byte, split uint16) {
		r := NewResponse(codexReq(t))
		cut := int(split) % (len(in) + 1)
		a, err := r.Chunk(in[:cut], false)
		if err != nil {
			t.Fatal(err)
		}
		b, err := r.Chunk(in[cut:], true)
		if err != nil {
			t.Fatal(err)
		}
		out := string(append(a, b...))
		terminal := 0
		for _, block := range strings.Split(strings.TrimSuffix(out, "\n\n"), "\n\n") {
			_, data, ok := strings.Cut(block, "\ndata: ")
			if !ok || !json.Valid([]byte(data)) {
				t.Fatalf("malformed event %q", block)
			}
			switch {
			case strings.HasPrefix(block, "event: response.completed\n"),
				strings.HasPrefix(block, "event: response.incomplete\n"),
				strings.HasPrefix(block, "event: response.failed\n"):
				terminal++
			}
		}
		if terminal != 1 || !strings.HasPrefix(out[strings.LastIndex(out, "event: "):], "event: response.") {
			t.Fatalf("want one terminal event at the end, got %d:\n%s", terminal, out)
		}
	})
}
