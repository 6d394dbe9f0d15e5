package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzGeminiRequest checks the chat request translation on any body: it
// never panics, refuses with ErrBadRequest (and nothing else) what it
// cannot translate, never modifies the client's body, and what it sends
// is a JSON object whose contents are user and model turns of non-empty
// parts.
func FuzzGeminiRequest(f *testing.F) {
	files, _ := filepath.Glob("testdata/gemini/requests/*.openai.json")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	for _, seed := range []string{
		`{"messages":[{"role":"user","content":"hi"}]}`,
		`{"messages":[{"role":"tool","tool_call_id":"x","content":"r"}]}`,
		`{"messages":[{"role":"user","content":[{"type":"image_url","image_url":"data:,"}]}]}`,
		`{"messages":[{"role":"assistant","tool_calls":[{"id":"a__thought__","function":{"name":"f","arguments":" "}}]}]}`,
		`{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"$defs":{"A":{"$ref":"#/$defs/A"}},"$ref":"#/$defs/A"}}}]}`,
		`{"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"schema":{"type":["null"]}}}}`,
		`{"messages":[]}`, `[]`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	// $refs that multiply: refused by the schema budgets, not expanded.
	f.Add(toolsRequest(schemaBomb(20, 4)))
	f.Add(toolsRequest(schemaBomb(6, 3), schemaBomb(7, 2)))
	d := geminiDeployment(f, "https://generativelanguage.googleapis.com", "k", "gemini-2.5-flash")
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		out, resp, err := gemini{}.RequestBody(d, ChatCompletions, body)
		if !bytes.Equal(orig, body) {
			t.Fatal("the client's body was modified")
		}
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v does not wrap ErrBadRequest", err)
			}
			if out != nil || resp != nil {
				t.Fatal("a body or a response translator returned with an error")
			}
			return
		}
		if resp == nil {
			t.Fatal("no response translator")
		}
		var req struct {
			Contents []struct {
				Role  string            `json:"role"`
				Parts []json.RawMessage `json:"parts"`
			} `json:"contents"`
		}
		if err := json.Unmarshal(out, &req); err != nil {
			t.Fatalf("sent invalid JSON %q: %v", out, err)
		}
		if req.Contents == nil {
			t.Fatalf("no contents in %s", out)
		}
		for _, c := range req.Contents {
			if c.Role != "user" && c.Role != "model" {
				t.Fatalf("role %q in %s", c.Role, out)
			}
			if len(c.Parts) == 0 {
				t.Fatalf("a turn without parts in %s", out)
			}
			for _, p := range c.Parts {
				if string(p) == "{}" {
					t.Fatalf("an empty part in %s", out)
				}
			}
		}
	})
}

// FuzzGeminiStream checks the stream translation on any provider bytes,
// split anywhere: it never panics, a split never changes what the client
// gets, every event it writes is "data: " and JSON (or [DONE]), and [DONE]
// comes last and never after an error. Folding the same bytes into one
// response never panics either.
func FuzzGeminiStream(f *testing.F) {
	files, _ := filepath.Glob("testdata/gemini/streams/*.gemini.sse")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b, uint16(len(b)/2))
		}
	}
	for _, seed := range []string{
		"data: {}\n\n", "data:[DONE]\n\n", "data: {\"candidates\":[{\"index\":-1,\"finishReason\":\"STOP\"}]}\n\n",
		"data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\",\"args\":null}}]},\"finishReason\":\"X\"}]}",
		"\r\n\r\n", "data: {\"error\":{\"code\":99}}\r\n\r\n", "data: \"str\"\n\n",
	} {
		f.Add([]byte(seed), uint16(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		cut := int(split) % (len(data) + 1)
		whole, wholeErr := fuzzGeminiStream(t, [][]byte{data, nil})
		parts, partsErr := fuzzGeminiStream(t, [][]byte{data[:cut], data[cut:], nil})
		if (wholeErr == nil) != (partsErr == nil) {
			t.Fatalf("split at %d changed the outcome: %v vs %v", cut, wholeErr, partsErr)
		}
		if !bytes.Equal(geminiNormalize(whole), geminiNormalize(parts)) {
			t.Fatalf("split at %d changed the output:\n%s\nvs\n%s", cut, whole, parts)
		}
		events := strings.Split(string(whole), "\n\n")
		if events[len(events)-1] != "" {
			t.Fatalf("output does not end with a blank line: %q", whole)
		}
		events = events[:len(events)-1]
		for i, ev := range events {
			payload, ok := strings.CutPrefix(ev, "data: ")
			if !ok || strings.Contains(payload, "\n") {
				t.Fatalf("malformed event %q", ev)
			}
			if payload == "[DONE]" {
				if i != len(events)-1 || wholeErr != nil {
					t.Fatalf("[DONE] not last, or after an error: %q", whole)
				}
				continue
			}
			if !json.Valid([]byte(payload)) {
				t.Fatalf("event %q is not JSON", payload)
			}
		}

		r := geminiChat(t, geminiPlainBody)
		r.Headers(200, "text/event-stream")
		if out, err := r.Body(200, data); err == nil && !json.Valid(out) {
			t.Fatalf("folded to invalid JSON %q", out)
		}
	})
}

func fuzzGeminiStream(t *testing.T, pieces [][]byte) ([]byte, error) {
	r := geminiChat(t, geminiStreamBody)
	r.Headers(200, "text/event-stream")
	var out []byte
	var first error
	for i, p := range pieces {
		o, err := r.Chunk(p, i == len(pieces)-1)
		out = append(out, o...)
		if err != nil && first == nil {
			first = err
		}
	}
	return out, first
}
