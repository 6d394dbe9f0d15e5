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

// FuzzAnthropicRequest checks the request translation on any body: it never
// panics or touches the client's body, refuses only with ErrBadRequest, and
// what it sends is a JSON object with the deployment's model, a max_tokens,
// and user and assistant turns that alternate.
func FuzzAnthropicRequest(f *testing.F) {
	files, _ := filepath.Glob("testdata/anthropic/request/*.json")
	for _, file := range files {
		var fx struct {
			Request json.RawMessage `json:"request"`
		}
		if b, err := os.ReadFile(file); err == nil && json.Unmarshal(b, &fx) == nil {
			f.Add([]byte(fx.Request))
		}
	}
	for _, seed := range []string{
		`{}`,
		`{"messages":[]}`,
		`{"messages":[{"role":"assistant","content":"x"},{"role":"assistant","tool_calls":[{"id":"a","function":{"name":"f","arguments":"{}"}}]}]}`,
		`{"messages":[{"role":"tool","tool_call_id":"a","content":null},{"role":"user","content":[]}]}`,
		`{"messages":[{"role":"user","content":"hi"}],"stop":[],"tools":[{"type":"function","function":{"name":"f","parameters":null}}],"tool_choice":{"type":"function","function":{"name":"f"}},"parallel_tool_calls":false}`,
		`{"messages":[{"role":"user","content":"\u2028\ud800"}],"max_tokens":1e3,"thinking":{"type":"enabled","budget_tokens":"x"}}`,
		`{"messages":[{"role":"system","content":[{"type":"text","text":"a","cache_control":{}}]}],"messages":null}`,
		"{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}",
	} {
		f.Add([]byte(seed))
	}
	d := anthropicDeployment(f, "https://api.anthropic.com", "k")
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		got, resp, err := anthropic{}.RequestBody(d, ChatCompletions, body)
		if !bytes.Equal(orig, body) {
			t.Fatalf("the client's body was modified")
		}
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v does not wrap ErrBadRequest", err)
			}
			if got != nil || resp != nil {
				t.Fatalf("output with an error")
			}
			return
		}
		if resp == nil {
			t.Fatalf("no response translator")
		}
		var req struct {
			Model     *string          `json:"model"`
			MaxTokens *json.RawMessage `json:"max_tokens"`
			Messages  []struct {
				Role    string            `json:"role"`
				Content []json.RawMessage `json:"content"`
			} `json:"messages"`
		}
		if err := json.Unmarshal(got, &req); err != nil {
			t.Fatalf("invalid request %q from %q: %v", got, body, err)
		}
		if req.Model == nil || *req.Model != anthropicTestModel {
			t.Fatalf("model %v in %s", req.Model, got)
		}
		if req.MaxTokens == nil {
			t.Fatalf("no max_tokens in %s", got)
		}
		for i, m := range req.Messages {
			if m.Role != "user" && m.Role != "assistant" {
				t.Fatalf("role %q in %s", m.Role, got)
			}
			if i > 0 && req.Messages[i-1].Role == m.Role {
				t.Fatalf("roles do not alternate in %s", got)
			}
			if m.Content == nil {
				t.Fatalf("null content in %s", got)
			}
		}
	})
}

// FuzzAnthropicStream feeds any bytes, cut at any point, to the stream
// translation: it never panics, the cut does not change what comes out,
// and what comes out is well-formed OpenAI SSE: "data: " events of one
// line, JSON or [DONE], each ended by a blank line, nothing after [DONE].
func FuzzAnthropicStream(f *testing.F) {
	files, _ := filepath.Glob("testdata/anthropic/stream/*.sse")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b, uint16(len(b)/2), true)
		}
	}
	for _, seed := range []string{
		"",
		"\n\n\n",
		"data: {\"type\":\"message_stop\"}\n\n",
		"data:{\"type\":\"content_block_start\",\"index\":-1,\"content_block\":{\"type\":\"tool_use\"}}\n\ndata: {\"type\":\"content_block_stop\",\"index\":-1}\n\n",
		"data: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}\n\n",
		"data: {\"type\":\"error\"}\n\n",
		"data: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":99999999999999999999}}\n\n",
		"event: ping\r\ndata: {\"type\": \"ping\"}\r\n\r\n",
		"data: \"\xff\xfe\"\n\n",
		"data: {\"type\":\"message_start\",\"message\":{\"id\":\"\u2028\",\"model\":\"<&>\"}}",
	} {
		f.Add([]byte(seed), uint16(3), true)
		f.Add([]byte(seed), uint16(0), false)
	}
	f.Fuzz(func(t *testing.T, in []byte, cut uint16, usage bool) {
		whole := &anthropicResponse{includeUsage: usage, created: 1}
		want, wantErr := whole.Chunk(in, true)

		split := &anthropicResponse{includeUsage: usage, created: 1}
		at := 0
		if len(in) > 0 {
			at = int(cut) % (len(in) + 1)
		}
		a, errA := split.Chunk(in[:at], false)
		var b []byte
		var errB error
		if errA == nil {
			b, errB = split.Chunk(in[at:], true)
		}
		got := append(a, b...)
		if (wantErr == nil) != (errA == nil && errB == nil) {
			t.Fatalf("errors differ: whole %v, cut at %d: %v / %v", wantErr, at, errA, errB)
		}
		if wantErr == nil && !bytes.Equal(want, got) {
			t.Fatalf("cut at %d changed the output:\n%q\n%q", at, want, got)
		}
		checkOpenAISSE(t, want)
		checkOpenAISSE(t, got)
	})
}

func checkOpenAISSE(t *testing.T, out []byte) {
	t.Helper()
	if len(out) == 0 {
		return
	}
	s := string(out)
	if !strings.HasSuffix(s, "\n\n") {
		t.Fatalf("output does not end with a blank line: %q", s)
	}
	done := false
	for _, ev := range strings.Split(strings.TrimSuffix(s, "\n\n"), "\n\n") {
		if done {
			t.Fatalf("event after [DONE]: %q", s)
		}
		data, ok := strings.CutPrefix(ev, "data: ")
		if !ok || strings.Contains(data, "\n") {
			t.Fatalf("malformed event %q", ev)
		}
		if data == "[DONE]" {
			done = true
			continue
		}
		if !json.Valid([]byte(data)) {
			t.Fatalf("invalid JSON event %q", data)
		}
	}
}
