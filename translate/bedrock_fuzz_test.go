package translate

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmvoy/llmvoy/internal/eventstream"
)

// FuzzBedrockRequest checks the request translation on any body: it never
// panics or touches the client's body, refuses only with ErrBadRequest,
// and what it sends is a Converse request (no model, user and assistant
// turns that alternate, no empty turn, no blank text, one member per
// block) signed over exactly those bytes.
func FuzzBedrockRequest(f *testing.F) {
	files, _ := filepath.Glob("testdata/bedrock/request/*.json")
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
		`{"messages":[{"role":"assistant","content":"x"},{"role":"assistant","tool_calls":[{"id":"a","function":{"name":"f","arguments":"{}"}}]}],"tools":[{"type":"function","function":{"name":"f"}}]}`,
		`{"messages":[{"role":"tool","tool_call_id":"a","content":null},{"role":"user","content":[]}],"tools":[{"type":"function","function":{"name":"f"}}]}`,
		`{"messages":[{"role":"user","content":"hi"}],"stop":["",""],"tools":[{"type":"function","function":{"name":"f","parameters":null}}],"tool_choice":{"type":"function","function":{"name":"f"}}}`,
		`{"messages":[{"role":"user","content":"\u2028\ud800"}],"max_tokens":1e3,"thinking":{"type":"enabled","budget_tokens":"x"}}`,
		`{"messages":[{"role":"system","content":[{"type":"text","text":"a","cache_control":{}}]}],"messages":null}`,
		`{"messages":[{"role":"user","content":[{"type":"file","file":{"file_data":"data:text/plain;base64,"}}]}],"response_format":{"type":"json_schema"}}`,
		"{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}",
	} {
		f.Add([]byte(seed))
	}
	d := bedrockDeployment(f, "https://bedrock-runtime.us-east-1.amazonaws.com", bedrockTestModel)
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		got, resp, err := bedrock{}.RequestBody(d, ChatCompletions, body)
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
		var req struct {
			Model    *json.RawMessage `json:"model"`
			Messages []struct {
				Role    string                       `json:"role"`
				Content []map[string]json.RawMessage `json:"content"`
			} `json:"messages"`
		}
		if err := json.Unmarshal(got, &req); err != nil {
			t.Fatalf("invalid request %q from %q: %v", got, body, err)
		}
		if req.Model != nil {
			t.Fatalf("a model in the body: %s", got)
		}
		for i, m := range req.Messages {
			if m.Role != "user" && m.Role != "assistant" {
				t.Fatalf("role %q in %s", m.Role, got)
			}
			if i > 0 && req.Messages[i-1].Role == m.Role {
				t.Fatalf("roles do not alternate in %s", got)
			}
			if len(m.Content) == 0 {
				t.Fatalf("an empty turn in %s", got)
			}
			for _, b := range m.Content {
				if len(b) != 1 {
					t.Fatalf("a block of %d members in %s", len(b), got)
				}
				if text, ok := b["text"]; ok && string(text) == `""` {
					t.Fatalf("a blank text block in %s", got)
				}
			}
		}
		sum := sha256.Sum256(got)
		if h := headerOf(resp.(HeaderOverrider).UpstreamHeaders(), "x-amz-content-sha256"); h != hex.EncodeToString(sum[:]) {
			t.Fatalf("signed %s, sent a body hashing to %x", h, sum)
		}
	})
}

// bedrockFuzzEvents are the event types the structured mode of
// FuzzBedrockStream frames payloads as.
var bedrockFuzzEvents = []string{"messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata", "unknownEvent"}

// bedrockFuzzFrames turns fuzz bytes into an event stream: pieces
// separated by 0xff, each a selector byte (event type, or an exception)
// and a payload. Random bytes alone would almost never pass the CRCs.
func bedrockFuzzFrames(data []byte) []byte {
	var out []byte
	for _, piece := range bytes.Split(data, []byte{0xff}) {
		if len(piece) == 0 {
			continue
		}
		sel, payload := int(piece[0]), piece[1:]
		var headers []eventstream.Header
		switch {
		case sel < 200:
			headers = []eventstream.Header{eventstream.String(":event-type", bedrockFuzzEvents[sel%len(bedrockFuzzEvents)]), eventstream.String(":message-type", "event")}
		case sel < 230:
			headers = []eventstream.Header{eventstream.String(":exception-type", "throttlingException"), eventstream.String(":message-type", "exception")}
		default:
			headers = []eventstream.Header{eventstream.String(":error-code", string(payload)), eventstream.String(":message-type", "error")}
		}
		out, _ = eventstream.Append(out, eventstream.Message{Headers: headers, Payload: payload})
	}
	return out
}

// FuzzBedrockStream feeds any stream, cut at any point, to the stream
// translation: it never panics, the cut changes neither what comes out
// nor whether it fails, what comes out is well-formed OpenAI SSE ("data: "
// events of one line, JSON or [DONE], nothing after [DONE]), and a stream
// that fails never ends with [DONE]. With frame set, the input is
// structured into event stream messages first (bedrockFuzzFrames).
func FuzzBedrockStream(f *testing.F) {
	files, _ := filepath.Glob("testdata/bedrock/stream/*.events.json")
	for _, file := range files {
		b := bedrockEncodeEvents(f, file)
		f.Add(b, uint16(len(b)/2), true, false)
	}
	for _, seed := range []string{
		"",
		"\x00{}\xff\x02{\"delta\":{\"text\":\"hi\"}}\xff\x04{\"stopReason\":\"end_turn\"}\xff\x05{\"usage\":{\"inputTokens\":1}}",
		"\x01{\"contentBlockIndex\":-1,\"start\":{\"toolUse\":{\"name\":\"json_tool_call\"}}}\xff\x03{\"contentBlockIndex\":-1}\xff\x04{}",
		"\x02{\"contentBlockIndex\":7,\"delta\":{\"toolUse\":{\"input\":\"{\"}}}\xff\x05{}",
		"\x02{\"delta\":{\"reasoningContent\":{\"signature\":\"\\u2028\"}}}\xff\xd0{\"message\":\"slow down\"}",
		"\xf0\xff\x00[]\xff\x02null",
		"\x05{\"usage\":{\"outputTokens\":99999999999999999999}}",
	} {
		f.Add([]byte(seed), uint16(3), true, true)
		f.Add([]byte(seed), uint16(0), false, true)
	}
	f.Fuzz(func(t *testing.T, in []byte, cut uint16, usage, frame bool) {
		if frame {
			in = bedrockFuzzFrames(in)
		}
		newResponse := func() *bedrockResponse {
			return &bedrockResponse{includeUsage: usage, jsonMode: cut%2 == 0, id: "chatcmpl-1", model: "m", created: 1}
		}
		want, wantErr := newResponse().Chunk(in, true)

		split := newResponse()
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
		if wantErr != nil && strings.HasSuffix(string(want), "data: [DONE]\n\n") {
			t.Fatalf("[DONE] from a stream that failed (%v): %q", wantErr, want)
		}
	})
}
