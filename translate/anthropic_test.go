package translate

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
)

// -update-anthropic rewrites the expected outputs of the fixtures in
// testdata/anthropic from what the translator produces now; review the diff.
var updateAnthropic = flag.Bool("update-anthropic", false, "rewrite testdata/anthropic expectations")

const anthropicTestModel = "claude-sonnet-4-5-20250929"

// anthropicTestCreated is the fixed "created" of translated responses.
const anthropicTestCreated = 1_760_000_000

func anthropicDeployment(t testing.TB, base, key string) *config.Deployment {
	t.Helper()
	return &config.Deployment{
		ID:            "dep-claude",
		ModelName:     "claude",
		Provider:      "anthropic",
		API:           config.APIAnthropic,
		UpstreamModel: anthropicTestModel,
		APIBase:       mustURL(t, base),
		APIKey:        config.Secret(key),
	}
}

func fixAnthropicClock(t testing.TB) {
	old := anthropicNow
	anthropicNow = func() time.Time { return time.Unix(anthropicTestCreated, 0) }
	t.Cleanup(func() { anthropicNow = old })
}

func TestAnthropicRequestHead(t *testing.T) {
	tests := []struct {
		name, base, key string
		ep              Endpoint
		query           string
		wantPath        string
		wantAuthority   string
	}{
		{"default base", "https://api.anthropic.com", "sk-ant-1", ChatCompletions, "", "/v1/messages", "api.anthropic.com"},
		{"client query dropped", "https://api.anthropic.com", "sk-ant-1", ChatCompletions, "api-version=2024-10-21", "/v1/messages", "api.anthropic.com"},
		{"base with a path", "http://proxy:8080/anthropic", "k", ChatCompletions, "", "/anthropic/v1/messages", "proxy:8080"},
		{"base that is the endpoint", "http://proxy:8080/anthropic/v1/messages", "k", ChatCompletions, "", "/anthropic/v1/messages", "proxy:8080"},
		{"trailing slash", "http://h:1/", "k", ChatCompletions, "", "/v1/messages", "h:1"},
		{"query of the base kept", "http://h:1/x?tenant=t1", "k", ChatCompletions, "y=2", "/x/v1/messages?tenant=t1", "h:1"},
		{"escaped path stays escaped", "http://h:1/my%20proxy", "k", ChatCompletions, "", "/my%20proxy/v1/messages", "h:1"},
		{"health probe lists models", "https://api.anthropic.com", "k", "/models", "", "/v1/models", "api.anthropic.com"},
		{"health probe with endpoint base", "http://h:1/v1/messages", "k", "/models", "", "/v1/models", "h:1"},
		{"no key", "http://h:1", "", ChatCompletions, "", "/v1/messages", "h:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := anthropicDeployment(t, tt.base, tt.key)
			got, err := anthropic{}.RequestHead(d, tt.ep, tt.query)
			require.NoError(t, err)
			want := RequestHead{Path: tt.wantPath, Authority: tt.wantAuthority}
			if tt.key != "" {
				want.Set = append(want.Set, Header{"x-api-key", tt.key})
			}
			want.Set = append(want.Set,
				Header{"anthropic-version", "2023-06-01"},
				Header{"content-type", "application/json"},
				Header{"accept-encoding", "identity"})
			require.Equal(t, want, got)
		})
	}
}

func TestAnthropicFromConfig(t *testing.T) {
	cfg, warnings, err := config.Parse([]byte(`
model_list:
  - model_name: claude
    litellm_params: {model: anthropic/claude-sonnet-4-5-20250929, api_key: os.environ/ANTHROPIC_API_KEY}
    model_info: {id: dep-c}
  - model_name: claude-inferred
    litellm_params: {model: claude-3-5-haiku-latest, api_base: "http://127.0.0.1:4010"}
    model_info: {id: dep-i}
`), "test.yaml", func(name string) (string, bool) { return "sk-ant-" + name, name == "ANTHROPIC_API_KEY" })
	require.NoError(t, err)
	require.Empty(t, warnings)

	d := cfg.Deployment("dep-c")
	require.Equal(t, config.APIAnthropic, d.API)
	require.Equal(t, "claude-sonnet-4-5-20250929", d.UpstreamModel)
	tr, err := For(d)
	require.NoError(t, err)
	require.True(t, tr.TranslatesResponses(d))
	head, err := tr.RequestHead(d, ChatCompletions, "")
	require.NoError(t, err)
	require.Equal(t, "/v1/messages", head.Path)
	require.Equal(t, "api.anthropic.com", head.Authority)
	require.Contains(t, head.Set, Header{"x-api-key", "sk-ant-ANTHROPIC_API_KEY"})

	d = cfg.Deployment("dep-i")
	require.Equal(t, "anthropic", d.Provider)
	head, err = tr.RequestHead(d, ChatCompletions, "")
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:4010", head.Authority)
	require.NotContains(t, head.Set, Header{"x-api-key", ""})
}

// Request fixtures: testdata/anthropic/request/NAME.json holds the OpenAI
// request and the Messages request it becomes ("want").
func TestAnthropicRequestFixtures(t *testing.T) {
	fixAnthropicClock(t)
	files, err := filepath.Glob("testdata/anthropic/request/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			var fx struct {
				Request json.RawMessage `json:"request"`
				Want    json.RawMessage `json:"want"`
			}
			readFixture(t, file, &fx)
			d := anthropicDeployment(t, "https://api.anthropic.com", "k")
			orig := bytes.Clone(fx.Request)
			got, resp, err := anthropic{}.RequestBody(d, ChatCompletions, fx.Request)
			require.NoError(t, err)
			require.Equal(t, orig, []byte(fx.Request), "the client's body was modified")
			require.NotNil(t, resp)
			require.True(t, json.Valid(got), "%s", got)
			if *updateAnthropic {
				writeFixture(t, file, fx.Request, "want", got)
				return
			}
			require.NotEmpty(t, fx.Want, "no want: run with -update-anthropic")
			require.JSONEq(t, string(fx.Want), string(got))
			checkAnthropicRequest(t, got)
		})
	}
}

// checkAnthropicRequest checks what every Messages request must satisfy.
func checkAnthropicRequest(t *testing.T, body []byte) {
	t.Helper()
	var req struct {
		Model     string          `json:"model"`
		MaxTokens json.RawMessage `json:"max_tokens"`
		Messages  []struct {
			Role    string            `json:"role"`
			Content []json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	require.NoError(t, json.Unmarshal(body, &req))
	require.Equal(t, anthropicTestModel, req.Model)
	require.NotEmpty(t, req.MaxTokens)
	for i, m := range req.Messages {
		require.Contains(t, []string{"user", "assistant"}, m.Role)
		if i > 0 {
			require.NotEqual(t, req.Messages[i-1].Role, m.Role, "roles must alternate: %s", body)
		}
	}
}

func TestAnthropicRequestErrors(t *testing.T) {
	tests := []struct {
		name, body, msg string
		ep              Endpoint
	}{
		{"embeddings", `{"model":"x","input":"hi"}`, "/chat/completions only", Embeddings},
		{"completions", `{"model":"x","prompt":"hi"}`, "/chat/completions only", Completions},
		{"not JSON", `{"model":`, "invalid JSON", ""},
		{"not an object", `[1]`, "invalid JSON", ""},
		{"no messages", `{"model":"x"}`, "messages: required", ""},
		{"messages not a list", `{"messages":{"role":"user"}}`, "messages", ""},
		{"unknown role", `{"messages":[{"role":"robot","content":"hi"}]}`, `unknown role "robot"`, ""},
		{"function role", `{"messages":[{"role":"function","name":"f","content":"x"}]}`, "deprecated", ""},
		{"content number", `{"messages":[{"role":"user","content":5}]}`, "messages[0].content", ""},
		{"system image", `{"messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}`, "want a text part", ""},
		{"unknown part", `{"messages":[{"role":"user","content":[{"type":"video","video":{}}]}]}`, `unsupported content part type "video"`, ""},
		{"audio", `{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"x","format":"wav"}}]}]}`, "audio", ""},
		{"image not a URL", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x"}}]}]}`, "data: or http(s) URL", ""},
		{"data URL not base64", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/svg+xml,<svg/>"}}]}]}`, "base64 data: URL", ""},
		{"file id", `{"messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-abc"}}]}]}`, "only file_data", ""},
		{"tool args not JSON", `{"messages":[{"role":"assistant","tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"{oops"}}]}]}`, "arguments: want a JSON object", ""},
		{"tool args a list", `{"messages":[{"role":"assistant","tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, "arguments: want a JSON object", ""},
		{"tool message without id", `{"messages":[{"role":"tool","content":"x"}]}`, "tool_call_id: required", ""},
		{"legacy function_call", `{"messages":[{"role":"assistant","function_call":{"name":"f","arguments":"{}"}}]}`, "function_call", ""},
		{"tool not a function", `{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"web_search_preview"}]}`, "only function tools", ""},
		{"tool without name", `{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{}}]}`, "name: required", ""},
		{"tool_choice unknown", `{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"sometimes"}`, "tool_choice", ""},
		{"tool_choice object without name", `{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function"}}`, "tool_choice", ""},
		{"parallel not bool", `{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"parallel_tool_calls":"no"}`, "parallel_tool_calls", ""},
		{"stream not bool", `{"messages":[{"role":"user","content":"hi"}],"stream":"yes"}`, "stream: want a boolean", ""},
		{"temperature a string", `{"messages":[{"role":"user","content":"hi"}],"temperature":"hot"}`, "temperature: want a number", ""},
		{"stop a number", `{"messages":[{"role":"user","content":"hi"}],"stop":5}`, "stop: want a string or a list", ""},
	}
	d := anthropicDeployment(t, "https://api.anthropic.com", "k")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := tt.ep
			if ep == "" {
				ep = ChatCompletions
			}
			got, resp, err := anthropic{}.RequestBody(d, ep, []byte(tt.body))
			require.ErrorIs(t, err, ErrBadRequest)
			require.ErrorContains(t, err, tt.msg)
			require.Nil(t, got)
			require.Nil(t, resp)
		})
	}
}

// A vision request carries megabytes of base64: it arrives whole.
func TestAnthropicRequestLargeImage(t *testing.T) {
	image := strings.Repeat("iVBORw0KGgoAAAANSUhEUgAA+/==", 200_000)
	body := `{"model":"claude","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,` + image + `"}}]}]}`
	got, _, err := anthropic{}.RequestBody(anthropicDeployment(t, "http://h:1", "k"), ChatCompletions, []byte(body))
	require.NoError(t, err)
	var req struct {
		Messages []struct {
			Content []struct {
				Source struct {
					MediaType string `json:"media_type"`
					Data      string `json:"data"`
				} `json:"source"`
			} `json:"content"`
		} `json:"messages"`
	}
	require.NoError(t, json.Unmarshal(got, &req))
	require.Equal(t, "image/png", req.Messages[0].Content[0].Source.MediaType)
	require.Equal(t, image, req.Messages[0].Content[0].Source.Data)
}

// Response fixtures: testdata/anthropic/response/NAME.json holds the
// provider's status and body and the client's body ("want").
func TestAnthropicResponseFixtures(t *testing.T) {
	fixAnthropicClock(t)
	files, err := filepath.Glob("testdata/anthropic/response/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			var fx struct {
				Request json.RawMessage `json:"request"` // optional: the client's request
				Status  int             `json:"status"`
				Body    json.RawMessage `json:"body"`
				Want    json.RawMessage `json:"want"`
			}
			readFixture(t, file, &fx)
			body := []byte(fx.Body)
			var text string
			if json.Unmarshal(fx.Body, &text) == nil {
				body = []byte(text) // a body that is not JSON
			}
			request := `{"model":"claude","messages":[{"role":"user","content":"hi"}]}`
			if fx.Request != nil {
				request = string(fx.Request)
			}
			r := newAnthropicTestResponse(t, request)
			stream, set := r.Headers(fx.Status, "application/json")
			require.False(t, stream)
			require.Contains(t, set, Header{"content-type", "application/json"})
			got, err := r.Body(fx.Status, body)
			require.NoError(t, err)
			require.True(t, json.Valid(got), "%s", got)
			if *updateAnthropic {
				writeFixture(t, file, nil, "want", got)
				return
			}
			require.NotEmpty(t, fx.Want, "no want: run with -update-anthropic")
			require.JSONEq(t, string(fx.Want), string(got))
		})
	}
}

func newAnthropicTestResponse(t *testing.T, request string) *anthropicResponse {
	t.Helper()
	_, resp, err := anthropic{}.RequestBody(anthropicDeployment(t, "http://h:1", "k"), ChatCompletions, []byte(request))
	require.NoError(t, err)
	return resp.(*anthropicResponse)
}

func TestAnthropicHeaders(t *testing.T) {
	r := &anthropicResponse{}
	stream, set := r.Headers(200, "text/event-stream; charset=utf-8")
	require.True(t, stream)
	require.Equal(t, []Header{{"content-type", "text/event-stream; charset=utf-8"}}, set)

	stream, set = r.Headers(200, "application/json")
	require.False(t, stream)
	require.Equal(t, []Header{{"content-type", "application/json"}}, set)

	// An error answer to a streaming request is JSON, not a stream.
	stream, _ = r.Headers(429, "application/json")
	require.False(t, stream)
	stream, _ = r.Headers(500, "text/event-stream")
	require.False(t, stream)

	// LiteLLM answers Anthropic's 529 with a 500.
	stream, set = r.Headers(529, "application/json")
	require.False(t, stream)
	require.Equal(t, []Header{{"content-type", "application/json"}, {":status", "500"}}, set)
}

func TestAnthropicBodyMalformed(t *testing.T) {
	r := &anthropicResponse{}
	for _, body := range []string{``, `{`, `[]`, `{"type":"completion"}`, `{"type":"message","content":[1]}`} {
		got, err := r.Body(200, []byte(body))
		require.Error(t, err, body)
		require.Nil(t, got)
	}
	// An error shape in a 200 is still an error for the client.
	got, err := r.Body(200, []byte(`{"type":"error","error":{"type":"api_error","message":"boom"}}`))
	require.NoError(t, err)
	require.JSONEq(t, `{"error":{"message":"boom","type":"server_error","param":null,"code":"200"}}`, string(got))
	// An empty error body keeps the status.
	got, err = r.Body(503, nil)
	require.NoError(t, err)
	require.JSONEq(t, `{"error":{"message":"Anthropic answered HTTP 503","type":"server_error","param":null,"code":"503"}}`, string(got))
}

// Stream fixtures: testdata/anthropic/stream/NAME.sse is the provider's
// stream, NAME.want the client's, NAME.request.json (optional) the client's
// request (it says whether usage is wanted).
func TestAnthropicStreamFixtures(t *testing.T) {
	fixAnthropicClock(t)
	files, err := filepath.Glob("testdata/anthropic/stream/*.sse")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		name := strings.TrimSuffix(file, ".sse")
		t.Run(filepath.Base(name), func(t *testing.T) {
			in, err := os.ReadFile(file)
			require.NoError(t, err)
			request := `{"model":"claude","messages":[{"role":"user","content":"hi"}],"stream":true}`
			if b, err := os.ReadFile(name + ".request.json"); err == nil {
				request = string(b)
			}
			r := newAnthropicTestResponse(t, request)
			stream, _ := r.Headers(200, "text/event-stream")
			require.True(t, stream)
			got, err := r.Chunk(in, true)
			require.NoError(t, err)
			if *updateAnthropic {
				require.NoError(t, os.WriteFile(name+".want", got, 0o644))
				return
			}
			want, err := os.ReadFile(name + ".want")
			require.NoError(t, err, "no want: run with -update-anthropic")
			requireSameEvents(t, string(want), string(got))

			// The same stream cut at every byte, and fed a byte at a
			// time, reads the same.
			for cut := 0; cut <= len(in); cut++ {
				r := newAnthropicTestResponse(t, request)
				a, err := r.Chunk(in[:cut], false)
				require.NoError(t, err)
				b, err := r.Chunk(in[cut:], true)
				require.NoError(t, err)
				require.Equal(t, string(got), string(a)+string(b), "cut at %d", cut)
			}
			r = newAnthropicTestResponse(t, request)
			var all []byte
			for i := range in {
				out, err := r.Chunk(in[i:i+1], false)
				require.NoError(t, err)
				all = append(all, out...)
			}
			out, err := r.Chunk(nil, true)
			require.NoError(t, err)
			require.Equal(t, string(got), string(append(all, out...)), "byte at a time")

			// CRLF line ends read the same.
			r = newAnthropicTestResponse(t, request)
			crlf, err := r.Chunk(bytes.ReplaceAll(in, []byte("\n"), []byte("\r\n")), true)
			require.NoError(t, err)
			require.Equal(t, string(got), string(crlf), "CRLF")
		})
	}
}

// requireSameEvents compares two OpenAI SSE streams event by event, each
// event's JSON structurally.
func requireSameEvents(t *testing.T, want, got string) {
	t.Helper()
	w, g := sseData(t, want), sseData(t, got)
	require.Len(t, g, len(w), "got:\n%s", got)
	for i := range w {
		if w[i] == "[DONE]" || g[i] == "[DONE]" {
			require.Equal(t, w[i], g[i], "event %d", i)
			continue
		}
		require.JSONEq(t, w[i], g[i], "event %d", i)
	}
}

// sseData splits an OpenAI SSE stream into its data payloads, checking
// that it is only "data: ..." events separated by blank lines.
func sseData(t *testing.T, s string) []string {
	t.Helper()
	require.True(t, s == "" || strings.HasSuffix(s, "\n\n"), "stream must end with a blank line: %q", s)
	var out []string
	for _, ev := range strings.Split(strings.TrimSuffix(s, "\n\n"), "\n\n") {
		if ev == "" {
			continue
		}
		data, ok := strings.CutPrefix(ev, "data: ")
		require.True(t, ok, "event %q", ev)
		require.NotContains(t, data, "\n")
		out = append(out, data)
	}
	return out
}

func TestAnthropicStreamCut(t *testing.T) {
	r := newAnthropicTestResponse(t, `{"messages":[{"role":"user","content":"hi"}],"stream":true}`)
	in := "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"m\",\"usage\":{\"input_tokens\":1}}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel"
	out, err := r.Chunk([]byte(in), true)
	require.ErrorIs(t, err, errAnthropicStreamCut)
	// What came whole went out first.
	require.Contains(t, string(out), `"role":"assistant"`)
	out, err = r.Chunk([]byte("lo\"}}\n\n"), true)
	require.NoError(t, err)
	require.Empty(t, out)
}

func TestAnthropicStreamMalformedEvent(t *testing.T) {
	r := newAnthropicTestResponse(t, `{"messages":[{"role":"user","content":"hi"}],"stream":true}`)
	out, err := r.Chunk([]byte("data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\"}}\n\ndata: {nope}\n\ndata: {\"type\":\"message_stop\"}\n\n"), false)
	require.Error(t, err)
	require.Contains(t, string(out), `"role":"assistant"`)
	require.NotContains(t, string(out), "[DONE]")
	out, err = r.Chunk([]byte("data: {\"type\":\"message_stop\"}\n\n"), true)
	require.NoError(t, err)
	require.Empty(t, out)
}

// SSE allows one event's data over several lines; they join with newlines.
func TestAnthropicStreamMultilineData(t *testing.T) {
	fixAnthropicClock(t)
	r := newAnthropicTestResponse(t, `{"messages":[{"role":"user","content":"hi"}],"stream":true}`)
	in := "data: {\"type\":\"message_start\",\ndata: \"message\":{\"id\":\"m1\",\"model\":\"c\"}}\n\n" +
		"data:{\"type\":\"message_stop\"}\n\n"
	out, err := r.Chunk([]byte(in), true)
	require.NoError(t, err)
	requireSameEvents(t, `data: {"id":"m1","object":"chat.completion.chunk","created":1760000000,"model":"c","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}

data: {"id":"m1","object":"chat.completion.chunk","created":1760000000,"model":"c","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}

data: [DONE]

`, string(out))
}

func readFixture(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v), file)
}

// writeFixture sets key in the fixture file to value (indented), keeping
// the other members; request, if set, is re-indented too.
func writeFixture(t *testing.T, file string, _ json.RawMessage, key string, value []byte) {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	var members map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &members))
	members[key] = value
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	// Fixed member order: inputs first.
	ordered := []string{"request", "status", "body", key}
	var out bytes.Buffer
	out.WriteString("{\n")
	first := true
	for _, k := range ordered {
		v, ok := members[k]
		if !ok {
			continue
		}
		if !first {
			out.WriteString(",\n")
		}
		first = false
		buf.Reset()
		require.NoError(t, enc.Encode(v))
		out.WriteString("  \"" + k + "\": ")
		out.WriteString(strings.ReplaceAll(strings.TrimSuffix(buf.String(), "\n"), "\n", "\n  "))
	}
	out.WriteString("\n}\n")
	require.NoError(t, os.WriteFile(file, out.Bytes(), 0o644))
}
