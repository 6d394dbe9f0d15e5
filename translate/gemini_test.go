package translate

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/internal/sse"
)

// -update-gemini rewrites the response and stream goldens in
// testdata/gemini from what the translator produces now.
var updateGemini = flag.Bool("update-gemini", false, "rewrite testdata/gemini goldens")

func geminiDeployment(t testing.TB, base, key, model string) *config.Deployment {
	t.Helper()
	return &config.Deployment{
		ID: "gemini-1", ModelName: "flash", Provider: "gemini", API: config.APIGemini,
		UpstreamModel: model, APIBase: mustURL(t, base), APIKey: config.Secret(key),
	}
}

var (
	geminiCompletionIDRe = regexp.MustCompile(`chatcmpl-[0-9a-f]{32}`)
	geminiToolIDRe       = regexp.MustCompile(`call_[0-9a-f]{28}`)
	geminiCreatedRe      = regexp.MustCompile(`"created":\d+`)
)

// geminiNormalize replaces what changes per run: generated ids and times.
func geminiNormalize(b []byte) []byte {
	b = geminiCompletionIDRe.ReplaceAll(b, []byte("chatcmpl-ID"))
	b = geminiToolIDRe.ReplaceAll(b, []byte("call_ID"))
	return geminiCreatedRe.ReplaceAll(b, []byte(`"created":0`))
}

func geminiRequireSameJSON(t *testing.T, want, got []byte, msgAndArgs ...any) {
	t.Helper()
	var w, g any
	require.NoError(t, json.Unmarshal(want, &w), "want: %s", want)
	require.NoError(t, json.Unmarshal(got, &g), "got: %s", got)
	require.Equal(t, w, g, append([]any{"got: %s"}, append([]any{got}, msgAndArgs...)...)...)
}

// golden compares got with the file, or writes it under -update-gemini.
func geminiGolden(t *testing.T, path string, got []byte, compare func(want, got []byte)) {
	t.Helper()
	if *updateGemini {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./translate -run Gemini -update-gemini to create it")
	compare(want, got)
}

func TestGeminiRegistered(t *testing.T) {
	tr, err := For(geminiDeployment(t, "https://generativelanguage.googleapis.com", "k", "gemini-2.0-flash"))
	require.NoError(t, err)
	require.Equal(t, gemini{}, tr)
	require.True(t, tr.TranslatesResponses(nil))
}

func TestGeminiRequestHead(t *testing.T) {
	tests := []struct {
		name, base, key, model string
		ep                     Endpoint
		want                   RequestHead
	}{
		{
			name: "default base, chat streams", base: "https://generativelanguage.googleapis.com", key: "AIza-1", model: "gemini-2.0-flash", ep: ChatCompletions,
			want: RequestHead{Path: "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse", Authority: "generativelanguage.googleapis.com", Set: []Header{{"x-goog-api-key", "AIza-1"}}},
		},
		{
			name: "embeddings", base: "https://generativelanguage.googleapis.com/", key: "AIza-1", model: "text-embedding-004", ep: Embeddings,
			want: RequestHead{Path: "/v1beta/models/text-embedding-004:batchEmbedContents", Authority: "generativelanguage.googleapis.com", Set: []Header{{"x-goog-api-key", "AIza-1"}}},
		},
		{
			name: "health probe gets the model", base: "https://generativelanguage.googleapis.com", key: "AIza-1", model: "gemini-2.0-flash", ep: "/models",
			want: RequestHead{Path: "/v1beta/models/gemini-2.0-flash", Authority: "generativelanguage.googleapis.com", Set: []Header{{"x-goog-api-key", "AIza-1"}}},
		},
		{
			name: "base mounted under a path", base: "http://proxy:8080/google", model: "gemini-1.5-pro", ep: ChatCompletions,
			want: RequestHead{Path: "/google/v1beta/models/gemini-1.5-pro:streamGenerateContent?alt=sse", Authority: "proxy:8080"},
		},
		{
			name: "base with an API version is kept", base: "http://proxy:8080/gemini/v1", model: "gemini-1.5-pro", ep: ChatCompletions,
			want: RequestHead{Path: "/gemini/v1/models/gemini-1.5-pro:streamGenerateContent?alt=sse", Authority: "proxy:8080"},
		},
		{
			name: "query of the base rides along", base: "http://h:1/v1beta?tenant=t1", model: "m", ep: ChatCompletions,
			want: RequestHead{Path: "/v1beta/models/m:streamGenerateContent?tenant=t1&alt=sse", Authority: "h:1"},
		},
		{
			name: "models/ prefix is not doubled", base: "http://h:1", model: "models/gemini-2.0-flash", ep: Embeddings,
			want: RequestHead{Path: "/v1beta/models/gemini-2.0-flash:batchEmbedContents", Authority: "h:1"},
		},
		{
			name: "tuned model", base: "http://h:1", model: "tunedModels/my-model-abc", ep: ChatCompletions,
			want: RequestHead{Path: "/v1beta/tunedModels/my-model-abc:streamGenerateContent?alt=sse", Authority: "h:1"},
		},
		{
			name: "model name is escaped", base: "http://[::1]:9", model: "odd model?", ep: ChatCompletions,
			want: RequestHead{Path: "/v1beta/models/odd%20model%3F:streamGenerateContent?alt=sse", Authority: "[::1]:9"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := gemini{}.RequestHead(geminiDeployment(t, tt.base, tt.key, tt.model), tt.ep, "client=ignored")
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.NotContains(t, got.Path, "key=")
		})
	}
}

func TestGeminiFromConfig(t *testing.T) {
	cfg, warnings, err := config.Parse([]byte(`
model_list:
  - model_name: flash
    litellm_params: {model: gemini/gemini-2.0-flash, api_key: os.environ/GEMINI_KEY_FOR_TEST}
    model_info: {id: g1}
`), "test.yaml", func(name string) (string, bool) { return "AIza-" + name, name == "GEMINI_KEY_FOR_TEST" })
	require.NoError(t, err)
	require.Empty(t, warnings)
	d := cfg.Deployment("g1")
	require.Equal(t, config.APIGemini, d.API)
	require.Equal(t, "gemini-2.0-flash", d.UpstreamModel)
	require.Equal(t, "AIza-GEMINI_KEY_FOR_TEST", d.APIKey.Reveal())
	tr, err := For(d)
	require.NoError(t, err)
	head, err := tr.RequestHead(d, ChatCompletions, "")
	require.NoError(t, err)
	require.Equal(t, "generativelanguage.googleapis.com", head.Authority)
	require.Equal(t, "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse", head.Path)
}

// The request fixtures are pairs: NAME.openai.json (a client's body) and
// NAME.gemini.json (what Gemini must receive). The deployment's model is
// the client body's "model", so a fixture can pick model-dependent
// behaviour (thinking levels of Gemini 3).
func TestGeminiRequestFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/gemini/requests/*.openai.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".openai.json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(in)
			require.NoError(t, err)
			var m struct{ Model string }
			require.NoError(t, json.Unmarshal(body, &m))
			d := geminiDeployment(t, "https://generativelanguage.googleapis.com", "k", m.Model)
			orig := bytes.Clone(body)
			out, resp, err := gemini{}.RequestBody(d, ChatCompletions, body)
			require.NoError(t, err)
			require.Equal(t, orig, body, "the client's body was modified")
			require.NotNil(t, resp)
			want, err := os.ReadFile(filepath.Join("testdata/gemini/requests", name+".gemini.json"))
			require.NoError(t, err)
			geminiRequireSameJSON(t, want, out)
		})
	}
}

func TestGeminiRequestErrors(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"not JSON", `{"messages": [`, "unexpected end"},
		{"not an object", `[{"role":"user"}]`, "JSON object"},
		{"null", `null`, "JSON object"},
		{"no messages", `{"model":"x"}`, "at least one message"},
		{"messages not an array", `{"messages":"hi"}`, "cannot unmarshal"},
		{"unknown role", `{"messages":[{"role":"robot","content":"x"}]}`, `unsupported role "robot"`},
		{"index counts system messages", `{"messages":[{"role":"system","content":"s"},{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":"1"}}]}]}`, "messages[2].tool_calls[0].function.arguments"},
		{"missing role", `{"messages":[{"content":"x"}]}`, `unsupported role ""`},
		{"remote image", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}]}`, "remote URLs are not fetched"},
		{"not a URL", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/a.png"}}]}]}`, "want a data: URL"},
		{"data URL without media type", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:;base64,AAAA"}}]}]}`, "no media type"},
		{"data URL without comma", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64"}}]}]}`, "no comma"},
		{"gs:// of unknown type", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"gs://b/file.bin"}}]}]}`, "set format"},
		{"image_url missing", `{"messages":[{"role":"user","content":[{"type":"image_url"}]}]}`, "image_url: missing"},
		{"unknown part", `{"messages":[{"role":"user","content":[{"type":"video","video":{}}]}]}`, `unsupported content part type "video"`},
		{"audio without format", `{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA"}}]}]}`, "want data and format"},
		{"empty file", `{"messages":[{"role":"user","content":[{"type":"file","file":{}}]}]}`, "want file_id or file_data"},
		{"content a number", `{"messages":[{"role":"user","content":42}]}`, "want a string or an array"},
		{"image in system", `{"messages":[{"role":"system","content":[{"type":"image_url","image_url":"data:image/png;base64,AA"}]},{"role":"user","content":"x"}]}`, "only text parts"},
		{"arguments not JSON", `{"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{oops"}}]}]}`, "want a JSON object"},
		{"arguments an array", `{"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, "want a JSON object"},
		{"tool call without name", `{"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"arguments":"{}"}}]}]}`, "name: missing"},
		{"orphan tool result", `{"messages":[{"role":"user","content":"x"},{"role":"tool","tool_call_id":"nope","content":"r"}]}`, `no assistant tool call has id "nope"`},
		{"tool without function", `{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function"}]}`, "each tool must be"},
		{"tool of unknown shape", `{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"retrieval","retrieval":{}}]}`, "each tool must be"},
		{"tool without name", `{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"description":"d"}}]}`, "name: missing"},
		{"tool type not function", `{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"custom","function":{"name":"f"}}]}`, `unsupported tool type "custom"`},
		{"parameters not a schema", `{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":[1]}}]}`, "want a JSON schema object"},
		{"recursive ref", `{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"$defs":{"N":{"type":"object","properties":{"next":{"$ref":"#/$defs/N"}}}},"$ref":"#/$defs/N"}}}]}`, "recursive or too deep"},
		{"remote ref", `{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"$ref":"https://x/s.json"}}}}}]}`, "only local"},
		{"only null in anyOf", `{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"anyOf":[{"type":"null"}]}}}}}]}`, "only the null type"},
		{"tuple items", `{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"array","items":[{"type":"string"}]}}}}}]}`, "tuple items"},
		{"tool_choice unknown", `{"messages":[{"role":"user","content":"x"}],"tool_choice":"sometimes"}`, `unsupported value "sometimes"`},
		{"tool_choice without name", `{"messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"function","function":{}}}`, "missing function name"},
		{"tool_choice a number", `{"messages":[{"role":"user","content":"x"}],"tool_choice":3}`, "want a string or an object"},
		{"stop a number", `{"messages":[{"role":"user","content":"x"}],"stop":3}`, "stop: want a string"},
		{"response_format unknown", `{"messages":[{"role":"user","content":"x"}],"response_format":{"type":"yaml"}}`, `unsupported value "yaml"`},
		{"schema not an object", `{"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"schema":"s"}}}`, "want a JSON schema object"},
		{"reasoning_effort unknown", `{"messages":[{"role":"user","content":"x"}],"reasoning_effort":"max"}`, `unsupported value "max"`},
		{"safety_settings not a list", `{"messages":[{"role":"user","content":"x"}],"safety_settings":{"category":"x"}}`, "safety_settings"},
		{"temperature a string", `{"messages":[{"role":"user","content":"x"}],"temperature":"hot"}`, "cannot unmarshal"},
		{"arguments not a string", `{"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":{"a":1}}}]}]}`, "messages[0].tool_calls[0].function.arguments: want a string, got an object"},
		{"function_call not an object", `{"messages":[{"role":"assistant","function_call":"f"}]}`, "messages[0].function_call: "},
		{"function name not a string", `{"messages":[{"role":"user","content":"x"},{"role":"function","name":7,"content":"r"}]}`, "messages[1].name: want a string, got a number"},
	}
	d := geminiDeployment(t, "http://h:1", "k", "gemini-2.0-flash")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, resp, err := gemini{}.RequestBody(d, ChatCompletions, []byte(tt.body))
			require.Error(t, err)
			require.True(t, errors.Is(err, ErrBadRequest), "%v does not wrap ErrBadRequest", err)
			require.Contains(t, err.Error(), tt.want)
			require.Nil(t, out)
			require.Nil(t, resp)
		})
	}
}

func TestGeminiCompletionsEndpointRefused(t *testing.T) {
	d := geminiDeployment(t, "http://h:1", "k", "gemini-2.0-flash")
	_, err := gemini{}.RequestHead(d, Completions, "")
	require.NoError(t, err)
	_, _, err = gemini{}.RequestBody(d, Completions, []byte(`{"prompt":"x"}`))
	require.ErrorIs(t, err, ErrBadRequest)
	require.Contains(t, err.Error(), "/v1/completions is not supported")
}

func geminiChat(t *testing.T, body string) *geminiChatResponse {
	t.Helper()
	d := geminiDeployment(t, "https://generativelanguage.googleapis.com", "k", "gemini-2.0-flash")
	_, resp, err := gemini{}.RequestBody(d, ChatCompletions, []byte(body))
	require.NoError(t, err)
	return resp.(*geminiChatResponse)
}

const geminiPlainBody = `{"model":"flash","messages":[{"role":"user","content":"hi"}]}`
const geminiStreamBody = `{"model":"flash","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`

func TestGeminiHeadersAndPath(t *testing.T) {
	plain := geminiChat(t, geminiPlainBody)
	require.Equal(t, "/v1beta/models/gemini-2.0-flash:generateContent", plain.UpstreamPath())
	stream, set := plain.Headers(200, "text/event-stream")
	require.False(t, stream, "a client that did not stream gets one body, whatever the provider sends")
	require.Equal(t, []Header{{"content-type", "application/json"}}, set)

	s := geminiChat(t, geminiStreamBody)
	require.Empty(t, s.UpstreamPath(), "a streaming client keeps the head's :streamGenerateContent")
	stream, set = s.Headers(200, "text/event-stream")
	require.True(t, stream)
	require.Equal(t, []Header{{"content-type", "text/event-stream; charset=utf-8"}}, set)

	s = geminiChat(t, geminiStreamBody)
	stream, set = s.Headers(429, "application/json; charset=UTF-8")
	require.False(t, stream, "an error is one JSON body even for a streaming client")
	require.Equal(t, []Header{{"content-type", "application/json"}}, set)
}

// The response fixtures are NAME.gemini.json (a generateContent answer)
// and NAME.openai.json (the chat.completion the client must get).
func TestGeminiResponseFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/gemini/responses/*.gemini.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".gemini.json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(in)
			require.NoError(t, err)
			r := geminiChat(t, geminiPlainBody)
			r.Headers(200, "application/json; charset=UTF-8")
			out, err := r.Body(200, body)
			require.NoError(t, err)
			require.Zero(t, r.BodyStatus())
			want, err := os.ReadFile(filepath.Join("testdata/gemini/responses", name+".openai.json"))
			require.NoError(t, err)
			geminiRequireSameJSON(t, want, geminiNormalize(out))
		})
	}
}

func TestGeminiLegacyFunctionCall(t *testing.T) {
	r := geminiChat(t, `{"messages":[{"role":"user","content":"x"}],"functions":[{"name":"f"}]}`)
	out, err := r.Body(200, []byte(`{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{"a":1}}}]},"finishReason":"STOP"}]}`))
	require.NoError(t, err)
	geminiRequireSameJSON(t, []byte(`{"id":"chatcmpl-ID","object":"chat.completion","created":0,"model":"gemini-2.0-flash",
		"choices":[{"index":0,"message":{"role":"assistant","content":null,"function_call":{"name":"f","arguments":"{\"a\":1}"}},"logprobs":null,"finish_reason":"function_call"}],
		"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}}`), geminiNormalize(out))
}

func TestGeminiErrors(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		wantStatus int // BodyStatus; 0 = the provider's
		want       string
	}{
		{
			name: "bad key", status: 400,
			body:       `{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}`,
			want:       `{"error":{"message":"API key not valid. Please pass a valid API key.","type":"invalid_request_error","param":null,"code":"400"}}`,
			wantStatus: 0,
		},
		{
			name: "context window", status: 400,
			body: `{"error":{"code":400,"message":"The input token count (1300000) exceeds the maximum number of tokens allowed (1048575).","status":"INVALID_ARGUMENT"}}`,
			want: `{"error":{"message":"The input token count (1300000) exceeds the maximum number of tokens allowed (1048575).","type":"invalid_request_error","param":null,"code":"context_length_exceeded"}}`,
		},
		{
			name: "context window without counts", status: 400,
			body: `[{"error":{"code":400,"message":"The input token count exceeds the maximum number of tokens allowed 1048576.","status":"INVALID_ARGUMENT"}}]`,
			want: `{"error":{"message":"The input token count exceeds the maximum number of tokens allowed 1048576.","type":"invalid_request_error","param":null,"code":"context_length_exceeded"}}`,
		},
		{
			name: "quota", status: 429,
			body: `{"error":{"code":429,"message":"You exceeded your current quota.","status":"RESOURCE_EXHAUSTED"}}`,
			want: `{"error":{"message":"You exceeded your current quota.","type":"rate_limit_error","param":null,"code":"429"}}`,
		},
		{
			name: "permission", status: 403,
			body: `{"error":{"code":403,"message":"Method doesn't allow unregistered callers.","status":"PERMISSION_DENIED"}}`,
			want: `{"error":{"message":"Method doesn't allow unregistered callers.","type":"permission_error","param":null,"code":"403"}}`,
		},
		{
			name: "not found", status: 404,
			body: `{"error":{"code":404,"message":"models/gemini-9 is not found for API version v1beta.","status":"NOT_FOUND"}}`,
			want: `{"error":{"message":"models/gemini-9 is not found for API version v1beta.","type":"not_found_error","param":null,"code":"404"}}`,
		},
		{
			name: "overloaded", status: 503,
			body: `{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}`,
			want: `{"error":{"message":"The model is overloaded. Please try again later.","type":"api_error","param":null,"code":"503"}}`,
		},
		{
			name: "not Google's shape", status: 502,
			body: "upstream connect error or disconnect/reset before headers",
			want: `{"error":{"message":"upstream connect error or disconnect/reset before headers","type":"api_error","param":null,"code":"502"}}`,
		},
		{
			name: "empty", status: 401, body: "",
			want: `{"error":{"message":"Gemini returned HTTP 401 Unauthorized","type":"authentication_error","param":null,"code":"401"}}`,
		},
		{
			name: "prompt blocked", status: 200,
			body:       `{"promptFeedback":{"blockReason":"SAFETY","safetyRatings":[{"category":"HARM_CATEGORY_DANGEROUS_CONTENT","probability":"HIGH"}]},"usageMetadata":{"promptTokenCount":7,"totalTokenCount":7}}`,
			wantStatus: 400,
			want:       `{"error":{"message":"The prompt was blocked by Gemini's safety filters (blockReason SAFETY).","type":"invalid_request_error","param":null,"code":"content_policy_violation"}}`,
		},
		{
			name: "prompt blocked with a message", status: 200,
			body:       `{"promptFeedback":{"blockReason":"OTHER","blockReasonMessage":"Blocked for testing."}}`,
			wantStatus: 400,
			want:       `{"error":{"message":"The prompt was blocked by Gemini's safety filters (blockReason OTHER). Blocked for testing.","type":"invalid_request_error","param":null,"code":"content_policy_violation"}}`,
		},
		{
			name: "error event in a stream folded", status: 200,
			body:       "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]}\r\n\r\ndata: {\"error\":{\"code\":500,\"message\":\"An internal error has occurred.\",\"status\":\"INTERNAL\"}}\r\n\r\n",
			wantStatus: 500,
			want:       `{"error":{"message":"An internal error has occurred.","type":"api_error","param":null,"code":"500"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := geminiChat(t, geminiPlainBody)
			stream, _ := r.Headers(tt.status, "application/json")
			require.False(t, stream)
			out, err := r.Body(tt.status, []byte(tt.body))
			require.NoError(t, err)
			require.Equal(t, tt.wantStatus, r.BodyStatus())
			geminiRequireSameJSON(t, []byte(tt.want), out)
		})
	}
}

func TestGeminiMalformedResponses(t *testing.T) {
	for _, body := range []string{"", "   ", `{"candidates":`, `{"candidates":"x"}`, "data: {oops}\n\n", `[1,2]`} {
		r := geminiChat(t, geminiPlainBody)
		_, err := r.Body(200, []byte(body))
		require.Error(t, err, "body %q", body)
	}
}

// readStreamFixture reads NAME.gemini.sse and translates it whole for a
// client that asked for usage.
func geminiTranslateStream(t *testing.T, body string, pieces [][]byte) ([]byte, error) {
	t.Helper()
	r := geminiChat(t, body)
	stream, _ := r.Headers(200, "text/event-stream")
	require.True(t, stream)
	var out []byte
	for i, p := range pieces {
		o, err := r.Chunk(p, i == len(pieces)-1)
		out = append(out, o...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// geminiEvents splits translated SSE output into its data payloads.
func geminiSSEData(t *testing.T, out []byte) []string {
	t.Helper()
	var events []string
	for _, ev := range strings.Split(string(out), "\n\n") {
		if ev == "" {
			continue
		}
		data, ok := strings.CutPrefix(ev, "data: ")
		require.True(t, ok, "event %q", ev)
		require.NotContains(t, data, "\n")
		events = append(events, data)
	}
	return events
}

func geminiRequireSameEvents(t *testing.T, want, got []byte) {
	t.Helper()
	w, g := geminiSSEData(t, want), geminiSSEData(t, got)
	require.Equal(t, len(w), len(g), "event count\nwant: %s\ngot: %s", want, got)
	for i := range w {
		if w[i] == "[DONE]" || g[i] == "[DONE]" {
			require.Equal(t, w[i], g[i])
			continue
		}
		geminiRequireSameJSON(t, []byte(w[i]), []byte(g[i]), "event", i)
	}
}

// The stream fixtures are NAME.gemini.sse (a streamGenerateContent?alt=sse
// body); NAME.openai.sse is what a streaming client that asked for usage
// gets, NAME.folded.json what a client that did not stream gets.
func TestGeminiStreamFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/gemini/streams/*.gemini.sse")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".gemini.sse")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(in)
			require.NoError(t, err)
			out, err := geminiTranslateStream(t, geminiStreamBody, [][]byte{body, nil})
			require.NoError(t, err)
			geminiGolden(t, filepath.Join("testdata/gemini/streams", name+".openai.sse"), geminiNormalize(out), func(want, got []byte) {
				geminiRequireSameEvents(t, want, got)
			})

			r := geminiChat(t, geminiPlainBody)
			r.Headers(200, "text/event-stream")
			folded, err := r.Body(200, body)
			require.NoError(t, err)
			folded = geminiNormalize(folded)
			if r.BodyStatus() != 0 {
				folded = append([]byte(`{"status":`+geminiJSONInt(r.BodyStatus())+`,"body":`), append(folded, '}')...)
			}
			geminiGolden(t, filepath.Join("testdata/gemini/streams", name+".folded.json"), folded, func(want, got []byte) {
				geminiRequireSameJSON(t, want, got)
			})
		})
	}
}

func geminiJSONInt(n int) string { b, _ := json.Marshal(n); return string(b) }

// Providers split streams anywhere: in an event, in a line, in a CRLF, in
// a UTF-8 sequence. Every split of every fixture must translate the same.
func TestGeminiStreamSplitEverywhere(t *testing.T) {
	files, err := filepath.Glob("testdata/gemini/streams/*.gemini.sse")
	require.NoError(t, err)
	for _, in := range files {
		body, err := os.ReadFile(in)
		require.NoError(t, err)
		whole, wholeErr := geminiTranslateStream(t, geminiStreamBody, [][]byte{body, nil})
		want := geminiNormalize(whole)
		for i := 0; i <= len(body); i++ {
			got, err := geminiTranslateStream(t, geminiStreamBody, [][]byte{body[:i], body[i:], nil})
			require.Equal(t, wholeErr, err, "%s split at %d", in, i)
			require.Equal(t, string(want), string(geminiNormalize(got)), "%s split at %d", in, i)
		}
		pieces := make([][]byte, 0, len(body)+1)
		for i := range body {
			pieces = append(pieces, body[i:i+1])
		}
		got, err := geminiTranslateStream(t, geminiStreamBody, append(pieces, nil))
		require.Equal(t, wholeErr, err, "%s byte by byte", in)
		require.Equal(t, string(want), string(geminiNormalize(got)), "%s byte by byte", in)
		// The last piece may also carry end of stream itself.
		got, err = geminiTranslateStream(t, geminiStreamBody, [][]byte{body})
		require.Equal(t, wholeErr, err)
		require.Equal(t, string(want), string(geminiNormalize(got)))
	}
}

func TestGeminiStreamUsageOnlyWhenAsked(t *testing.T) {
	body, err := os.ReadFile("testdata/gemini/streams/text.gemini.sse")
	require.NoError(t, err)
	with, err := geminiTranslateStream(t, geminiStreamBody, [][]byte{body, nil})
	require.NoError(t, err)
	without, err := geminiTranslateStream(t, `{"stream":true,"messages":[{"role":"user","content":"hi"}]}`, [][]byte{body, nil})
	require.NoError(t, err)
	w, wo := geminiSSEData(t, with), geminiSSEData(t, without)
	require.Len(t, wo, len(w)-1)
	require.Contains(t, w[len(w)-2], `"choices":[],"usage":{"prompt_tokens":8,"completion_tokens":9,"total_tokens":17`)
	require.Equal(t, "[DONE]", wo[len(wo)-1])
	for _, ev := range wo {
		require.NotContains(t, ev, `"usage"`)
	}
}

func TestGeminiStreamCutShort(t *testing.T) {
	for name, body := range map[string]string{
		"no events":           "",
		"no finish reason":    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]}\r\n\r\n",
		"one of two finished": "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},\"finishReason\":\"STOP\"},{\"content\":{\"parts\":[{\"text\":\"b\"}]},\"index\":1}]}\n\n",
		"malformed event":     "data: {\"candidates\": nope}\n\n",
	} {
		t.Run(name, func(t *testing.T) {
			out, err := geminiTranslateStream(t, geminiStreamBody, [][]byte{[]byte(body), nil})
			require.Error(t, err)
			require.NotContains(t, string(out), "[DONE]")
			// After an error the translator stays quiet.
			r := geminiChat(t, geminiStreamBody)
			r.Headers(200, "text/event-stream")
			_, err = r.Chunk([]byte(body), true)
			require.Error(t, err)
			more, err := r.Chunk([]byte("data: {}\n\n"), true)
			require.NoError(t, err)
			require.Empty(t, more)
		})
	}
}

func TestGeminiStreamLineTooLong(t *testing.T) {
	r := geminiChat(t, geminiStreamBody)
	r.Headers(200, "text/event-stream")
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	var err error
	for i := 0; i <= sse.MaxLine>>20 && err == nil; i++ {
		_, err = r.Chunk(chunk, false)
	}
	require.ErrorContains(t, err, "too long")
}

func TestGeminiEmbeddings(t *testing.T) {
	d := geminiDeployment(t, "https://generativelanguage.googleapis.com", "k", "text-embedding-004")
	out, resp, err := gemini{}.RequestBody(d, Embeddings, []byte(`{"model":"e","input":["hello world","x"],"dimensions":3,"task_type":"RETRIEVAL_QUERY","encoding_format":"float"}`))
	require.NoError(t, err)
	geminiRequireSameJSON(t, []byte(`{"requests":[
		{"model":"models/text-embedding-004","content":{"parts":[{"text":"hello world"}]},"outputDimensionality":3,"taskType":"RETRIEVAL_QUERY"},
		{"model":"models/text-embedding-004","content":{"parts":[{"text":"x"}]},"outputDimensionality":3,"taskType":"RETRIEVAL_QUERY"}]}`), out)
	stream, set := resp.Headers(200, "application/json")
	require.False(t, stream)
	require.Equal(t, []Header{{"content-type", "application/json"}}, set)
	got, err := resp.Body(200, []byte(`{"embeddings":[{"values":[0.1,-0.25,3e-7]},{"values":[1,0,0]}]}`))
	require.NoError(t, err)
	geminiRequireSameJSON(t, []byte(`{"object":"list","model":"text-embedding-004","data":[
		{"object":"embedding","index":0,"embedding":[0.1,-0.25,3e-7]},
		{"object":"embedding","index":1,"embedding":[1,0,0]}],
		"usage":{"prompt_tokens":4,"completion_tokens":0,"total_tokens":4}}`), got)

	_, resp, err = gemini{}.RequestBody(d, Embeddings, []byte(`{"input":"one"}`))
	require.NoError(t, err)
	got, err = resp.Body(200, []byte(`{"embeddings":[{"values":[0.5,-1]}]}`))
	require.NoError(t, err)
	geminiRequireSameJSON(t, []byte(`{"object":"list","model":"text-embedding-004","data":[{"object":"embedding","index":0,"embedding":[0.5,-1]}],
		"usage":{"prompt_tokens":1,"completion_tokens":0,"total_tokens":1}}`), got)

	_, resp, err = gemini{}.RequestBody(d, Embeddings, []byte(`{"input":"one","encoding_format":"base64"}`))
	require.NoError(t, err)
	got, err = resp.Body(200, []byte(`{"embeddings":[{"values":[0.5,-1]}]}`))
	require.NoError(t, err)
	var b64 struct {
		Data []struct{ Embedding string }
	}
	require.NoError(t, json.Unmarshal(got, &b64))
	raw, err := base64.StdEncoding.DecodeString(b64.Data[0].Embedding)
	require.NoError(t, err)
	require.Len(t, raw, 8)
	require.Equal(t, float32(0.5), math.Float32frombits(binary.LittleEndian.Uint32(raw)))
	require.Equal(t, float32(-1), math.Float32frombits(binary.LittleEndian.Uint32(raw[4:])))

	got, err = resp.Body(429, []byte(`{"error":{"code":429,"message":"Quota exceeded.","status":"RESOURCE_EXHAUSTED"}}`))
	require.NoError(t, err)
	geminiRequireSameJSON(t, []byte(`{"error":{"message":"Quota exceeded.","type":"rate_limit_error","param":null,"code":"429"}}`), got)
	_, err = resp.Body(200, []byte(`{"embeddings":`))
	require.Error(t, err)

	for _, bad := range []string{`{"input":[1,2,3]}`, `{"input":[]}`, `{}`, `{"input":"x","encoding_format":"int8"}`, `[]`} {
		_, _, err := gemini{}.RequestBody(d, Embeddings, []byte(bad))
		require.ErrorIs(t, err, ErrBadRequest, bad)
	}
}
