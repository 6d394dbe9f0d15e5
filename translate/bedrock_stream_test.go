package translate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/internal/eventstream"
)

// bedrockFixtureEvent is one event stream message in a stream fixture: an
// event with its JSON payload, an exception, or an error message.
type bedrockFixtureEvent struct {
	Event     string          `json:"event"`
	Exception string          `json:"exception"`
	Error     string          `json:"error"`
	Message   string          `json:"message"`
	Payload   json.RawMessage `json:"payload"`
}

// bedrockEncodeEvents frames fixture events as ConverseStream sends them.
func bedrockEncodeEvents(t testing.TB, file string) []byte {
	t.Helper()
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	var events []bedrockFixtureEvent
	require.NoError(t, json.Unmarshal(raw, &events), file)
	var out []byte
	for _, ev := range events {
		var m eventstream.Message
		switch {
		case ev.Event != "":
			m.Headers = []eventstream.Header{eventstream.String(":event-type", ev.Event), eventstream.String(":content-type", "application/json"), eventstream.String(":message-type", "event")}
		case ev.Exception != "":
			m.Headers = []eventstream.Header{eventstream.String(":exception-type", ev.Exception), eventstream.String(":content-type", "application/json"), eventstream.String(":message-type", "exception")}
		default:
			m.Headers = []eventstream.Header{eventstream.String(":error-code", ev.Error), eventstream.String(":error-message", ev.Message), eventstream.String(":message-type", "error")}
		}
		if ev.Payload != nil {
			var buf bytes.Buffer
			require.NoError(t, json.Compact(&buf, ev.Payload))
			m.Payload = buf.Bytes()
		}
		out, err = eventstream.Append(out, m)
		require.NoError(t, err)
	}
	return out
}

// Stream fixtures: testdata/bedrock/stream/NAME.events.json are the
// provider's events (framed by the test), NAME.want the client's stream,
// NAME.request.json (optional) the client's request.
func TestBedrockStreamFixtures(t *testing.T) {
	fixBedrock(t)
	files, err := filepath.Glob("testdata/bedrock/stream/*.events.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		name := strings.TrimSuffix(file, ".events.json")
		t.Run(filepath.Base(name), func(t *testing.T) {
			in := bedrockEncodeEvents(t, file)
			request := `{"model":"claude","messages":[{"role":"user","content":"hi"}],"stream":true}`
			if b, err := os.ReadFile(name + ".request.json"); err == nil {
				request = string(b)
			}
			r := newBedrockTestResponse(t, request)
			stream, _ := r.Headers(200, "application/vnd.amazon.eventstream")
			require.True(t, stream)
			got, err := r.Chunk(in, true)
			if *updateBedrock {
				require.NoError(t, os.WriteFile(name+".want", got, 0o644))
				if err != nil {
					require.NoError(t, os.WriteFile(name+".want", append(got, []byte("error: "+err.Error()+"\n")...), 0o644))
				}
				return
			}
			want, rerr := os.ReadFile(name + ".want")
			require.NoError(t, rerr, "no want: run with -update-bedrock")
			wantStream, wantErr, _ := strings.Cut(string(want), "error: ")
			if wantErr != "" {
				require.EqualError(t, err, strings.TrimSuffix(wantErr, "\n"))
			} else {
				require.NoError(t, err)
			}
			requireSameEvents(t, wantStream, string(got))

			// The same stream cut at every byte, and fed a byte at a
			// time, reads the same.
			for cut := 0; cut <= len(in); cut++ {
				r := newBedrockTestResponse(t, request)
				a, err := r.Chunk(in[:cut], false)
				require.NoError(t, err)
				b, err := r.Chunk(in[cut:], true)
				require.Equal(t, wantErr != "", err != nil, "cut at %d: %v", cut, err)
				require.Equal(t, string(got), string(a)+string(b), "cut at %d", cut)
			}
			r = newBedrockTestResponse(t, request)
			var all []byte
			for i := range in {
				out, err := r.Chunk(in[i:i+1], false)
				require.NoError(t, err)
				all = append(all, out...)
			}
			out, _ := r.Chunk(nil, true)
			require.Equal(t, string(got), string(append(all, out...)), "byte at a time")
		})
	}
}

func TestBedrockStreamCorrupt(t *testing.T) {
	fixBedrock(t)
	in := bedrockEncodeEvents(t, "testdata/bedrock/stream/text.events.json")
	// Flip a byte inside the second message's payload.
	first := int(in[3]) | int(in[2])<<8
	bad := bytes.Clone(in)
	bad[first+30] ^= 0x01
	r := newBedrockTestResponse(t, `{"messages":[{"role":"user","content":"hi"}],"stream":true}`)
	out, err := r.Chunk(bad, false)
	require.ErrorIs(t, err, eventstream.ErrMalformed)
	require.ErrorContains(t, err, "message CRC mismatch")
	// What came whole before the damage went out; nothing after it.
	require.Contains(t, string(out), `"role":"assistant"`)
	require.NotContains(t, string(out), "Hello")
	out, err = r.Chunk(in, true)
	require.NoError(t, err)
	require.Empty(t, out)

	// A body that is not an event stream at all.
	r = newBedrockTestResponse(t, `{"messages":[{"role":"user","content":"hi"}],"stream":true}`)
	_, err = r.Chunk([]byte(`{"message":"not a stream"}`), true)
	require.ErrorContains(t, err, "prelude CRC mismatch")
}

func TestBedrockStreamCut(t *testing.T) {
	fixBedrock(t)
	in := bedrockEncodeEvents(t, "testdata/bedrock/stream/text.events.json")
	r := newBedrockTestResponse(t, `{"messages":[{"role":"user","content":"hi"}],"stream":true}`)
	out, err := r.Chunk(in[:len(in)/2], true)
	require.ErrorIs(t, err, errBedrockStreamCut)
	require.ErrorContains(t, err, "unfinished event")
	require.Contains(t, string(out), `"role":"assistant"`)
	require.NotContains(t, string(out), "[DONE]")

	// Whole events, but no messageStop.
	r = newBedrockTestResponse(t, `{"messages":[{"role":"user","content":"hi"}],"stream":true}`)
	first := int(in[3]) | int(in[2])<<8
	_, err = r.Chunk(in[:first], true)
	require.ErrorIs(t, err, errBedrockStreamCut)
}

func TestBedrockStreamMalformedEvents(t *testing.T) {
	fixBedrock(t)
	frame := func(headers []eventstream.Header, payload string) []byte {
		b, err := eventstream.Append(nil, eventstream.Message{Headers: headers, Payload: []byte(payload)})
		require.NoError(t, err)
		return b
	}
	ev := func(typ, payload string) []byte {
		return frame([]eventstream.Header{eventstream.String(":event-type", typ), eventstream.String(":message-type", "event")}, payload)
	}
	for _, tt := range []struct {
		name string
		in   []byte
		msg  string
	}{
		{"payload not JSON", ev("contentBlockDelta", `{nope`), "malformed contentBlockDelta event"},
		{"unknown message type", frame([]eventstream.Header{eventstream.String(":message-type", "gossip")}, `{}`), `message of type "gossip"`},
		{"no message type", frame(nil, `{}`), `message of type ""`},
		{"metadata before messageStop", append(ev("messageStart", `{}`), ev("metadata", `{"usage":{}}`)...), "metadata before messageStop"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newBedrockTestResponse(t, `{"messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`)
			out, err := r.Chunk(tt.in, false)
			require.ErrorContains(t, err, tt.msg)
			require.NotContains(t, string(out), "[DONE]")
			out, err = r.Chunk(ev("messageStop", `{}`), true)
			require.NoError(t, err)
			require.Empty(t, out)
		})
	}
}
