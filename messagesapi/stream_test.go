package messagesapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// -update rewrites the expected event streams in testdata from what the
// translator writes now; review the diff.
var update = flag.Bool("update", false, "rewrite testdata/*.events")

// feed runs a whole chat stream through a fresh translator, cut in pieces
// of size bytes (0: whole).
func feed(t testing.TB, req Request, in []byte, size int) []byte {
	t.Helper()
	r := NewResponse(req)
	stream, _ := r.Headers(200, "text/event-stream")
	require.True(t, stream)
	if size == 0 {
		size = len(in)
	}
	var out []byte
	for i := 0; ; i += size {
		end := min(i+size, len(in))
		got, err := r.Chunk(in[i:end], end == len(in))
		require.NoError(t, err)
		out = append(out, got...)
		if end == len(in) {
			return out
		}
	}
}

func TestStreamGolden(t *testing.T) {
	for _, name := range []string{"chat_stream_tools", "chat_stream_reasoning"} {
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile("testdata/" + name + ".sse")
			require.NoError(t, err)
			got := feed(t, Request{Model: "claude-sonnet-4-5", Stream: true}, in, 0)
			file := "testdata/" + strings.TrimPrefix(name, "chat_") + ".events"
			if *update {
				require.NoError(t, os.WriteFile(file, got, 0o644))
			}
			want, err := os.ReadFile(file)
			require.NoError(t, err)
			require.Equal(t, string(want), string(got))
			requireWellFormed(t, got, true)
			// Cut anywhere, even inside a UTF-8 character: the same.
			for _, size := range []int{1, 2, 7, 64} {
				require.Equal(t, string(got), string(feed(t, Request{Model: "claude-sonnet-4-5", Stream: true}, in, size)), "pieces of %d bytes", size)
			}
		})
	}
}

// TestStreamToolsInterleaved checks what Claude Code needs of the golden
// tools stream: one tool_use block per call, each stopped, with its whole
// input, and stop_reason tool_use after the usage chunk.
func TestStreamToolsInterleaved(t *testing.T) {
	in, err := os.ReadFile("testdata/chat_stream_tools.sse")
	require.NoError(t, err)
	r := NewResponse(Request{Model: "claude-sonnet-4-5", Stream: true})
	r.Headers(200, "text/event-stream")
	out, err := r.Chunk(in, true)
	require.NoError(t, err)
	blocks := requireWellFormed(t, out, true)
	require.Equal(t, []streamedBlock{
		{kind: "text", text: "Let me check both files."},
		{kind: "tool_use", id: "call_a1", name: "Read", text: `{"file_path":"/a.txt"}`},
		{kind: "tool_use", id: "call_b2", name: "Read", text: `{"file_path":"/b.txt"}`},
	}, blocks)
	require.Contains(t, string(out), `"delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":86,"cache_creation_input_tokens":0,"cache_read_input_tokens":1920,"output_tokens":61}`)
	u, ok := r.Usage()
	require.True(t, ok)
	require.Equal(t, Usage{PromptTokens: 2006, CompletionTokens: 61, CacheReadTokens: 1920}, u)
}

func TestStreamEnds(t *testing.T) {
	chunk := func(delta, finish string) string {
		f := "null"
		if finish != "" {
			f = `"` + finish + `"`
		}
		return `data: {"id":"chatcmpl-e","object":"chat.completion.chunk","choices":[{"index":0,"delta":` + delta + `,"finish_reason":` + f + "}]}\n\n"
	}
	tests := []struct {
		name, in   string
		complete   bool
		wantSuffix string
	}{
		{
			name:       "cut before a finish_reason",
			in:         chunk(`{"content":"Hel"}`, ""),
			wantSuffix: "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\nevent: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"the deployment's stream ended before the answer was complete\"}}\n\n",
		},
		{
			name:       "cut inside an event",
			in:         chunk(`{"content":"Hel"}`, "") + `data: {"id":"chatcmpl-e","choi`,
			wantSuffix: "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"the deployment's stream ended before the answer was complete\"}}\n\n",
		},
		{
			name:       "an OpenAI error event",
			in:         chunk(`{"content":"Hel"}`, "") + `data: {"error":{"message":"The server had an error while processing your request.","type":"server_error","code":null}}` + "\n\n",
			wantSuffix: "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"The server had an error while processing your request.\"}}\n\n",
		},
		{
			name:       "a rate limit in the stream",
			in:         `data: {"error":{"message":"slow down","code":"rate_limit_exceeded"}}` + "\n\n",
			wantSuffix: "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"slow down\"}}\n\n",
		},
		{
			name:       "a malformed event",
			in:         chunk(`{"content":"Hel"}`, "") + "data: {nope}\n\n",
			wantSuffix: "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"malformed event from the deployment: invalid character 'n' looking for beginning of object key string\"}}\n\n",
		},
		{
			name:       "finish without [DONE] or usage",
			in:         chunk(`{"content":"Hi"}`, "") + chunk(`{}`, "length"),
			complete:   true,
			wantSuffix: "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":0}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
		},
		{
			name:       "[DONE] alone after a tool call, CRLF lines and a comment",
			in:         ": keep-alive\r\n\r\n" + strings.ReplaceAll(chunk(`{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{}"}}]}`, ""), "\n", "\r\n") + "data: [DONE]\r\n\r\n",
			complete:   true,
			wantSuffix: "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":0}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
		},
		{
			name:       "[DONE] at once",
			in:         "data: [DONE]\n\n",
			complete:   true,
			wantSuffix: "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":0}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
		},
		{
			name:     "same index, new id: two calls; bad arguments of a waiting call kept",
			in:       chunk(`{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{\"x\""}}]}`, "") + chunk(`{"tool_calls":[{"index":0,"id":"b","function":{"name":"g","arguments":"oops"}}]}`, "") + chunk(`{}`, "tool_calls") + "data: [DONE]\n\n",
			complete: true,
			wantSuffix: "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"b\",\"name\":\"g\",\"input\":{}}}\n\n" +
				"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"arguments\\\":\\\"oops\\\"}\"}}\n\n" +
				"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n" +
				"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":0}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			whole := feed(t, Request{Model: "m", Stream: true}, []byte(tt.in), 0)
			require.True(t, strings.HasSuffix(string(whole), tt.wantSuffix), "got:\n%s", whole)
			require.Equal(t, randomIDs.ReplaceAllString(string(whole), "msg_R"),
				randomIDs.ReplaceAllString(string(feed(t, Request{Model: "m", Stream: true}, []byte(tt.in), 1)), "msg_R"))
			requireWellFormedOpts(t, whole, tt.complete, false)
			// Nothing after the end.
			r := NewResponse(Request{Model: "m", Stream: true})
			r.Headers(200, "text/event-stream")
			_, _ = r.Chunk([]byte(tt.in), true)
			more, err := r.Chunk([]byte(chunk(`{"content":"late"}`, "")), true)
			require.NoError(t, err)
			require.Empty(t, more)
		})
	}
}

// randomIDs are the ids of answers that came without one.
var randomIDs = regexp.MustCompile(`(msg|toolu)_[0-9a-f]{24}`)

// streamedBlock is a content block as a client rebuilds it from events.
type streamedBlock struct {
	kind, id, name, text string
}

func requireWellFormed(t testing.TB, out []byte, complete bool) []streamedBlock {
	t.Helper()
	return requireWellFormedOpts(t, out, complete, true)
}

// requireWellFormedOpts checks an event stream as Anthropic's SDKs read
// it: message_start first; blocks one at a time with increasing indexes,
// each stopped before the next starts and before message_delta;
// message_stop last, or an error event ending the stream. complete: it
// must end with message_stop. checkJSON: every tool_use input is a JSON
// object once its pieces are joined.
func requireWellFormedOpts(t testing.TB, out []byte, complete, checkJSON bool) []streamedBlock {
	t.Helper()
	var blocks []streamedBlock
	open, started, delta, ended := -1, false, false, false
	events := strings.Split(string(out), "\n\n")
	require.Empty(t, events[len(events)-1], "the stream ends mid-event: %q", out)
	for _, ev := range events[:len(events)-1] {
		require.False(t, ended, "an event after the end: %q", ev)
		name, data, ok := strings.Cut(ev, "\n")
		require.True(t, ok, "event %q", ev)
		name, ok = strings.CutPrefix(name, "event: ")
		require.True(t, ok, "event %q", ev)
		data, ok = strings.CutPrefix(data, "data: ")
		require.True(t, ok, "event %q", ev)
		var e struct {
			Type         string `json:"type"`
			Index        *int   `json:"index"`
			ContentBlock *struct {
				Type, ID, Name string
			} `json:"content_block"`
			Delta *struct {
				Type, Text, Thinking string
				PartialJSON          string  `json:"partial_json"`
				StopReason           *string `json:"stop_reason"`
			} `json:"delta"`
			Usage *struct {
				OutputTokens *int64 `json:"output_tokens"`
			} `json:"usage"`
		}
		require.NoError(t, json.Unmarshal([]byte(data), &e), "data %q", data)
		require.Equal(t, name, e.Type)
		if e.Type == "error" {
			ended = true
			continue
		}
		if e.Type != "message_start" {
			require.True(t, started, "%s before message_start", e.Type)
		}
		switch e.Type {
		case "message_start":
			require.False(t, started, "two message_start")
			started = true
		case "ping":
		case "content_block_start":
			require.Equal(t, -1, open, "a block starts while block %d is open", open)
			require.False(t, delta, "a block after message_delta")
			require.NotNil(t, e.Index)
			require.Equal(t, len(blocks), *e.Index)
			require.NotNil(t, e.ContentBlock)
			open = *e.Index
			blocks = append(blocks, streamedBlock{kind: e.ContentBlock.Type, id: e.ContentBlock.ID, name: e.ContentBlock.Name})
		case "content_block_delta":
			require.NotNil(t, e.Index)
			require.Equal(t, open, *e.Index, "a delta for a block that is not open")
			b := &blocks[open]
			switch e.Delta.Type {
			case "text_delta":
				require.Equal(t, "text", b.kind)
				b.text += e.Delta.Text
			case "thinking_delta":
				require.Equal(t, "thinking", b.kind)
				b.text += e.Delta.Thinking
			case "input_json_delta":
				require.Equal(t, "tool_use", b.kind)
				b.text += e.Delta.PartialJSON
			default:
				t.Fatalf("delta type %q", e.Delta.Type)
			}
		case "content_block_stop":
			require.NotNil(t, e.Index)
			require.Equal(t, open, *e.Index, "stop of a block that is not open")
			if b := blocks[open]; checkJSON && b.kind == "tool_use" && b.text != "" {
				require.True(t, wholeObject([]byte(b.text)), "tool input %q", b.text)
			}
			open = -1
		case "message_delta":
			require.Equal(t, -1, open, "message_delta while block %d is open", open)
			require.False(t, delta, "two message_delta")
			require.NotNil(t, e.Delta.StopReason)
			require.NotNil(t, e.Usage.OutputTokens)
			delta = true
		case "message_stop":
			require.True(t, delta, "message_stop without message_delta")
			ended = true
		default:
			t.Fatalf("event type %q", e.Type)
		}
	}
	if complete {
		require.True(t, delta && ended, "the stream did not end with message_stop: %s", out)
	}
	return blocks
}

func TestWholeObject(t *testing.T) {
	for in, want := range map[string]bool{`{}`: true, ` {"a":1} `: true, `{"a":`: false, `{"a":"}"`: false, `[]`: false, ``: false} {
		require.Equal(t, want, wholeObject([]byte(in)), in)
	}
	require.True(t, bytes.Equal(toolInput(`{"a": 1}`), []byte(`{"a":1}`)))
}
