package translate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
)

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

func openAIDeployment(t testing.TB, base, key, model string) *config.Deployment {
	t.Helper()
	return &config.Deployment{
		ID:            "dep-1",
		ModelName:     "gpt-4o",
		Provider:      "openai",
		API:           config.APIOpenAI,
		UpstreamModel: model,
		APIBase:       mustURL(t, base),
		APIKey:        config.Secret(key),
	}
}

func TestOpenAIRequestHead(t *testing.T) {
	tests := []struct {
		name  string
		base  string
		key   string
		ep    Endpoint
		query string
		want  RequestHead
	}{
		{
			name: "base with path and key",
			base: "http://h:1/v1", key: "sk-1", ep: ChatCompletions,
			want: RequestHead{Path: "/v1/chat/completions", Authority: "h:1", Set: []Header{{"authorization", "Bearer sk-1"}}},
		},
		{
			name: "trailing slash on the base",
			base: "http://h:1/v1/", key: "sk-1", ep: Embeddings,
			want: RequestHead{Path: "/v1/embeddings", Authority: "h:1", Set: []Header{{"authorization", "Bearer sk-1"}}},
		},
		{
			name: "base without path",
			base: "http://h2:2", ep: Completions,
			want: RequestHead{Path: "/completions", Authority: "h2:2"},
		},
		{
			name: "base of just a slash",
			base: "http://h2:2/", ep: ChatCompletions,
			want: RequestHead{Path: "/chat/completions", Authority: "h2:2"},
		},
		{
			name: "query kept as sent",
			base: "http://h:1/v1", ep: ChatCompletions, query: "api-version=2024-10-21&x=a%20b",
			want: RequestHead{Path: "/v1/chat/completions?api-version=2024-10-21&x=a%20b", Authority: "h:1"},
		},
		{
			name: "https default port",
			base: "https://api.openai.com/v1", key: "sk-2", ep: ChatCompletions,
			want: RequestHead{Path: "/v1/chat/completions", Authority: "api.openai.com", Set: []Header{{"authorization", "Bearer sk-2"}}},
		},
		{
			name: "deep base",
			base: "https://dashscope-intl.aliyuncs.com/compatible-mode/v1", ep: ChatCompletions,
			want: RequestHead{Path: "/compatible-mode/v1/chat/completions", Authority: "dashscope-intl.aliyuncs.com"},
		},
		{
			name: "escaped base path stays escaped",
			base: "http://h:1/my%20api/v1", ep: ChatCompletions,
			want: RequestHead{Path: "/my%20api/v1/chat/completions", Authority: "h:1"},
		},
		{
			name: "query of the base joins the client's",
			base: "http://h:1/v1?tenant=t1", ep: ChatCompletions, query: "x=1",
			want: RequestHead{Path: "/v1/chat/completions?tenant=t1&x=1", Authority: "h:1"},
		},
		{
			name: "IPv6 host",
			base: "http://[::1]:8000/v1", ep: ChatCompletions,
			want: RequestHead{Path: "/v1/chat/completions", Authority: "[::1]:8000"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := openAIDeployment(t, tt.base, tt.key, "gpt-4o")
			got, err := openAI{}.RequestHead(d, tt.ep, tt.query)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// Deployments as config.Parse derives them, base defaults and Ollama's /v1
// included.
func TestOpenAIRequestHeadFromConfig(t *testing.T) {
	cfg, _, err := config.Parse([]byte(`
model_list:
  - model_name: a
    litellm_params: {model: openai/gpt-4o, api_key: os.environ/K}
    model_info: {id: openai-default}
  - model_name: b
    litellm_params: {model: deepseek/deepseek-chat}
    model_info: {id: deepseek-default}
  - model_name: c
    litellm_params: {model: ollama/llama3, api_base: "http://ollama:11434"}
    model_info: {id: ollama-root}
  - model_name: d
    litellm_params: {model: openai/my-model, api_base: "http://10.0.0.7:8000/v1///"}
    model_info: {id: trailing-slashes}
`), "test.yaml", func(name string) (string, bool) { return "sk-" + name, name == "K" })
	require.NoError(t, err)
	tests := []struct {
		id   string
		want RequestHead
	}{
		{"openai-default", RequestHead{Path: "/v1/chat/completions", Authority: "api.openai.com", Set: []Header{{"authorization", "Bearer sk-K"}}}},
		{"deepseek-default", RequestHead{Path: "/beta/chat/completions", Authority: "api.deepseek.com"}},
		{"ollama-root", RequestHead{Path: "/v1/chat/completions", Authority: "ollama:11434"}},
		{"trailing-slashes", RequestHead{Path: "/v1/chat/completions", Authority: "10.0.0.7:8000"}},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			d := cfg.Deployment(tt.id)
			require.NotNil(t, d)
			tr, err := For(d)
			require.NoError(t, err)
			got, err := tr.RequestHead(d, ChatCompletions, "")
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestOpenAIRequestBody(t *testing.T) {
	const up = "gpt-4o-2024-08-06"
	tests := []struct {
		name string
		body string
		// want is the exact body sent upstream; "" means the client's body
		// goes unchanged (nil).
		want string
	}{
		{"rewrites the model",
			`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`,
			`{"model":"gpt-4o-2024-08-06","messages":[{"role":"user","content":"hi"}]}`},
		{"model last",
			`{"messages":[],"temperature":0.2,"model":"gpt-4o"}`,
			`{"messages":[],"temperature":0.2,"model":"gpt-4o-2024-08-06"}`},
		{"whitespace and number formats kept",
			"{ \"model\" :\t\"gpt-4o\" ,\n \"temperature\" : 1.0e0 , \"n\" : 1 }\n",
			"{ \"model\" :\t\"gpt-4o-2024-08-06\" ,\n \"temperature\" : 1.0e0 , \"n\" : 1 }\n"},
		{"already the upstream model", `{"model":"gpt-4o-2024-08-06","messages":[]}`, ""},
		{"same model, other escaping",
			`{"model":"gpt\u002d4o-2024-08-06"}`,
			`{"model":"gpt-4o-2024-08-06"}`},
		{"escaped key",
			`{"mod\u0065l":"gpt-4o","messages":[]}`,
			`{"mod\u0065l":"gpt-4o-2024-08-06","messages":[]}`},
		{"key that only looks alike stays",
			`{"Model":"x","model":"gpt-4o"}`,
			`{"Model":"x","model":"gpt-4o-2024-08-06"}`},
		{"duplicates: the last is rewritten, the others dropped",
			`{"model":"a","messages":[],"model":"b"}`,
			`{"messages":[],"model":"gpt-4o-2024-08-06"}`},
		{"three duplicates",
			`{"model":"a","model":"b","n":1,"model":"c"}`,
			`{"n":1,"model":"gpt-4o-2024-08-06"}`},
		{"model absent: appended",
			`{"messages":[{"role":"user","content":"hi"}]}`,
			`{"messages":[{"role":"user","content":"hi"}],"model":"gpt-4o-2024-08-06"}`},
		{"empty object",
			`{}`,
			`{"model":"gpt-4o-2024-08-06"}`},
		{"empty object with spaces",
			" { } ",
			` { "model":"gpt-4o-2024-08-06"} `},
		{"model not a string",
			`{"model":["gpt-4o"],"n":2}`,
			`{"model":"gpt-4o-2024-08-06","n":2}`},
		{"model only nested: appended at the top",
			`{"metadata":{"model":"x"}}`,
			`{"metadata":{"model":"x"},"model":"gpt-4o-2024-08-06"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := openAIDeployment(t, "http://h:1/v1", "", up)
			got, _, err := openAI{}.RequestBody(d, ChatCompletions, []byte(tt.body))
			require.NoError(t, err)
			if tt.want == "" {
				require.Nil(t, got)
				return
			}
			require.Equal(t, tt.want, string(got))
			require.Equal(t, up, topLevelModel(t, got))
		})
	}
}

// A duplicated "model" whose last copy is already right is still rewritten:
// an upstream that reads the first member must not see another model.
func TestOpenAIRequestBodyDuplicateAlreadyRight(t *testing.T) {
	d := openAIDeployment(t, "http://h:1/v1", "", "gpt-4o")
	body := []byte(`{"model":"gpt-4.5-preview","messages":[],"model":"gpt-4o"}`)
	got, _, err := openAI{}.RequestBody(d, ChatCompletions, body)
	require.NoError(t, err)
	require.Equal(t, `{"messages":[],"model":"gpt-4o"}`, string(got))
}

func TestOpenAIRequestBodyQuotesModel(t *testing.T) {
	for _, model := range []string{
		`mo"del`,
		`back\slash`,
		"tab\there",
		"line\u2028sep",
		"ünïcødé/模型",
		"<html>&",
	} {
		t.Run(model, func(t *testing.T) {
			d := openAIDeployment(t, "http://h:1/v1", "", model)
			got, _, err := openAI{}.RequestBody(d, ChatCompletions, []byte(`{"model":"x","n":1}`))
			require.NoError(t, err)
			require.True(t, json.Valid(got), "body %s", got)
			require.Equal(t, model, topLevelModel(t, got))
			// Unchanged once right.
			again, _, err := openAI{}.RequestBody(d, ChatCompletions, got)
			require.NoError(t, err)
			require.Nil(t, again, "second pass rewrote %s", got)
		})
	}
}

// A vision request carries megabytes of base64; every byte but the model's
// goes through as sent.
func TestOpenAIRequestBodyLargeImage(t *testing.T) {
	image := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x7f, 0xfe}, 400_000))
	prefix := `{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"Describe \"this\"\n"},` +
		`{"type":"image_url","image_url":{"url":"data:image/png;base64,`
	suffix := `","detail":"high"}}]}],"max_tokens":300,"stream":true,"stream_options":{"include_usage":true}}`
	body := []byte(prefix + image + suffix)
	want := []byte(strings.Replace(prefix, `"model":"gpt-4o"`, `"model":"gpt-4o-2024-08-06"`, 1) + image + suffix)

	d := openAIDeployment(t, "http://h:1/v1", "", "gpt-4o-2024-08-06")
	got, _, err := openAI{}.RequestBody(d, ChatCompletions, body)
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got), "bodies differ (len %d, want %d)", len(got), len(want))
	require.Greater(t, len(got), 4<<20)
}

func TestOpenAIRequestBodyRejectsInvalidJSON(t *testing.T) {
	d := openAIDeployment(t, "http://h:1/v1", "", "gpt-4o")
	for _, body := range []string{
		``,
		`   `,
		`null`,
		`"model"`,
		`[{"model":"gpt-4o"}]`,
		`{"model":"gpt-4o"`,
		`{"model":"gpt-4o",}`,
		`{"model":"gpt-4o"}{}`,
		`{model:"gpt-4o"}`,
		`{"model":"gpt-4o","x":[1,2,]}`,
		`{"model":"gpt-4o","x":"\q"}`,
		"{\"model\":\"gpt-4o\",\"x\":\"a\x01b\"}",
		`{"model":"gpt-4o","n":01}`,
		strings.Repeat("[", 20000),
		`{"x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`,
	} {
		name := body
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			got, _, err := openAI{}.RequestBody(d, ChatCompletions, []byte(body))
			require.Error(t, err)
			require.ErrorIs(t, err, ErrBadRequest)
			require.Nil(t, got)
		})
	}
}

func TestFor(t *testing.T) {
	tr, err := For(&config.Deployment{Provider: "deepseek", API: config.APIOpenAI})
	require.NoError(t, err)
	assert.Equal(t, openAI{}, tr)

	for _, d := range []*config.Deployment{
		{Provider: "cohere", API: ""},
		{Provider: "sagemaker", API: ""},
		{Provider: "future", API: "some-api-not-known-here"},
	} {
		t.Run(d.Provider, func(t *testing.T) {
			tr, err := For(d)
			require.Nil(t, tr)
			require.True(t, errors.Is(err, ErrUnsupported), "err %v", err)
			require.False(t, errors.Is(err, ErrBadRequest))
			require.Contains(t, err.Error(), `"`+d.Provider+`"`)
		})
	}
}

// Deployments of a provider LiteLLM knows and llmvoy cannot speak load with
// an empty API, and get no translator.
func TestForUnsupportedProviderFromConfig(t *testing.T) {
	cfg, _, err := config.Parse([]byte(`
model_list:
  - model_name: llama
    litellm_params: {model: sagemaker/jumpstart-dft-meta-textgeneration-llama-2-7b}
    model_info: {id: dep-c}
`), "test.yaml", nil)
	require.NoError(t, err)
	d := cfg.Deployment("dep-c")
	require.Empty(t, d.API)
	_, err = For(d)
	require.ErrorIs(t, err, ErrUnsupported)
}

// topLevelModel decodes the body as encoding/json does (last duplicate wins)
// and returns its top-level "model", which must be a string.
func topLevelModel(t testing.TB, body []byte) string {
	t.Helper()
	var members map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &members), "body %.200s", body)
	var model string
	require.NoError(t, json.Unmarshal(members["model"], &model), "model %s", members["model"])
	return model
}

func TestIncludeStreamUsage(t *testing.T) {
	tests := []struct {
		name, body string
		want       string // "" = unchanged (nil)
	}{
		{"stream without options", `{"model":"m","stream":true}`, `{"model":"m","stream":true,"stream_options":{"include_usage":true}}`},
		{"null options", `{"stream":true,"stream_options":null}`, `{"stream":true,"stream_options":{"include_usage":true}}`},
		{"other options kept", `{"stream":true,"stream_options":{"continuous_usage_stats":false}}`, `{"stream":true,"stream_options":{"continuous_usage_stats":false,"include_usage":true}}`},
		{"usage off", `{"stream":true,"stream_options":{"include_usage":false}}`, `{"stream":true,"stream_options":{"include_usage":true}}`},
		{"client asked", `{"stream":true,"stream_options":{"include_usage":true}}`, ""},
		{"not a stream", `{"model":"m","stream":false}`, ""},
		{"no stream field", `{"model":"m"}`, ""},
		{"options not an object", `{"stream":true,"stream_options":"x"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := IncludeStreamUsage([]byte(tt.body))
			require.NoError(t, err)
			if tt.want == "" {
				require.Nil(t, got)
				return
			}
			require.JSONEq(t, tt.want, string(got))
		})
	}
	_, err := IncludeStreamUsage([]byte(`{"stream":true`))
	require.ErrorIs(t, err, ErrBadRequest)
}
