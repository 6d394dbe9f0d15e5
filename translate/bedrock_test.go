package translate

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/mock"
)

// -update-bedrock rewrites the expected outputs of the fixtures in
// testdata/bedrock from what the translator produces now; review the diff.
var updateBedrock = flag.Bool("update-bedrock", false, "rewrite testdata/bedrock expectations")

const (
	bedrockTestModel   = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
	bedrockTestCreated = 1_760_000_000
	bedrockTestID      = "chatcmpl-bedrock-test"
)

func bedrockDeployment(t testing.TB, base, model string) *config.Deployment {
	t.Helper()
	return &config.Deployment{
		ID:            "dep-bedrock",
		ModelName:     "claude",
		Provider:      "bedrock",
		API:           config.APIBedrock,
		UpstreamModel: model,
		APIBase:       mustURL(t, base),
		AWS: config.AWSCredentials{
			Region:          "us-east-1",
			AccessKeyID:     mock.BedrockAccessKeyID,
			SecretAccessKey: mock.BedrockSecretAccessKey,
		},
	}
}

func fixBedrock(t testing.TB) {
	oldNow, oldID := bedrockNow, bedrockNewID
	bedrockNow = func() time.Time { return time.Unix(bedrockTestCreated, 0) }
	bedrockNewID = func() string { return bedrockTestID }
	t.Cleanup(func() { bedrockNow, bedrockNewID = oldNow, oldID })
}

func TestBedrockRequestHead(t *testing.T) {
	tests := []struct {
		name, base, model string
		wantPath          string
		wantAuthority     string
	}{
		{"base model", "https://bedrock-runtime.us-east-1.amazonaws.com", "anthropic.claude-3-5-sonnet-20240620-v1:0",
			"/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse", "bedrock-runtime.us-east-1.amazonaws.com"},
		{"inference profile", "https://bedrock-runtime.us-east-1.amazonaws.com", bedrockTestModel,
			"/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse", "bedrock-runtime.us-east-1.amazonaws.com"},
		{"ARN, escaped whole", "https://bedrock-runtime.us-east-2.amazonaws.com", "arn:aws:bedrock:us-east-2:123456789012:inference-profile/us.meta.llama3-3-70b-instruct-v1:0",
			"/model/arn%3Aaws%3Abedrock%3Aus-east-2%3A123456789012%3Ainference-profile%2Fus.meta.llama3-3-70b-instruct-v1%3A0/converse", "bedrock-runtime.us-east-2.amazonaws.com"},
		{"LiteLLM's converse/ route", "https://bedrock-runtime.us-east-1.amazonaws.com", "converse/amazon.nova-pro-v1:0",
			"/model/amazon.nova-pro-v1%3A0/converse", "bedrock-runtime.us-east-1.amazonaws.com"},
		{"LiteLLM's invoke/ route, still Converse", "https://bedrock-runtime.us-east-1.amazonaws.com", "invoke/amazon.nova-pro-v1:0",
			"/model/amazon.nova-pro-v1%3A0/converse", "bedrock-runtime.us-east-1.amazonaws.com"},
		{"default https port left out", "https://bedrock-runtime.us-east-1.amazonaws.com:443", "m",
			"/model/m/converse", "bedrock-runtime.us-east-1.amazonaws.com"},
		{"default http port left out", "http://proxy:80", "m", "/model/m/converse", "proxy"},
		{"mock on a port, base path kept", "http://127.0.0.1:4010/bedrock/", "m", "/bedrock/model/m/converse", "127.0.0.1:4010"},
		{"query of the base not sent", "http://h:1?x=1", "m", "/model/m/converse", "h:1"},
		{"odd characters", "http://h:1", "a b/c?d#e%f", "/model/a%20b%2Fc%3Fd%23e%25f/converse", "h:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := bedrockDeployment(t, tt.base, tt.model)
			got, err := bedrock{}.RequestHead(d, ChatCompletions, "api-version=1")
			require.NoError(t, err)
			require.Equal(t, RequestHead{Path: tt.wantPath, Authority: tt.wantAuthority, Set: []Header{
				{"content-type", "application/json"}, {"accept-encoding", "identity"},
			}}, got)
		})
	}

	d := bedrockDeployment(t, "http://h:1", "m")
	_, err := bedrock{}.RequestHead(d, "/models", "")
	require.ErrorContains(t, err, "not supported")
	d.APIBase = nil
	_, err = bedrock{}.RequestHead(d, ChatCompletions, "")
	require.ErrorContains(t, err, "no api_base")
}

func TestBedrockFromConfig(t *testing.T) {
	cfg, warnings, err := config.Parse([]byte(`
model_list:
  - model_name: claude
    litellm_params:
      model: bedrock/us.anthropic.claude-3-7-sonnet-20250219-v1:0
      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY
      aws_region_name: eu-west-1
    model_info: {id: dep-b}
`), "test.yaml", func(name string) (string, bool) { return "value-of-" + name, true })
	require.NoError(t, err)
	require.Empty(t, warnings)
	d := cfg.Deployment("dep-b")
	tr, err := For(d)
	require.NoError(t, err)
	require.True(t, tr.TranslatesResponses(d))
	head, err := tr.RequestHead(d, ChatCompletions, "")
	require.NoError(t, err)
	require.Equal(t, "/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse", head.Path)
	require.Equal(t, "bedrock-runtime.eu-west-1.amazonaws.com", head.Authority)
	_, resp, err := tr.RequestBody(d, ChatCompletions, []byte(`{"messages":[{"role":"user","content":"hi"}]}`))
	require.NoError(t, err)
	auth := headerOf(resp.(HeaderOverrider).UpstreamHeaders(), "authorization")
	require.Contains(t, auth, "Credential=value-of-AWS_ACCESS_KEY_ID/")
	require.Contains(t, auth, "/eu-west-1/bedrock/aws4_request")
}

func headerOf(hs []Header, key string) string {
	for _, h := range hs {
		if h.Key == key {
			return h.Value
		}
	}
	return ""
}

// Request fixtures: testdata/bedrock/request/NAME.json holds the OpenAI
// request and the Converse request it becomes ("want").
func TestBedrockRequestFixtures(t *testing.T) {
	fixBedrock(t)
	files, err := filepath.Glob("testdata/bedrock/request/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			var fx struct {
				Request json.RawMessage `json:"request"`
				Want    json.RawMessage `json:"want"`
			}
			readFixture(t, file, &fx)
			d := bedrockDeployment(t, "https://bedrock-runtime.us-east-1.amazonaws.com", bedrockTestModel)
			orig := bytes.Clone(fx.Request)
			got, resp, err := bedrock{}.RequestBody(d, ChatCompletions, fx.Request)
			require.NoError(t, err)
			require.Equal(t, orig, []byte(fx.Request), "the client's body was modified")
			require.NotNil(t, resp)
			require.True(t, json.Valid(got), "%s", got)
			if *updateBedrock {
				writeFixture(t, file, fx.Request, "want", got)
				return
			}
			require.NotEmpty(t, fx.Want, "no want: run with -update-bedrock")
			require.JSONEq(t, string(fx.Want), string(got))
			checkBedrockRequest(t, got)
		})
	}
}

// checkBedrockRequest checks what every Converse request must satisfy:
// turns that alternate, no empty turn, no blank text block, no model in
// the body.
func checkBedrockRequest(t *testing.T, body []byte) {
	t.Helper()
	var req struct {
		Model    *string `json:"model"`
		Messages []struct {
			Role    string                       `json:"role"`
			Content []map[string]json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	require.NoError(t, json.Unmarshal(body, &req))
	require.Nil(t, req.Model, "the model goes in the path")
	for i, m := range req.Messages {
		require.Contains(t, []string{"user", "assistant"}, m.Role)
		require.NotEmpty(t, m.Content)
		if i > 0 {
			require.NotEqual(t, req.Messages[i-1].Role, m.Role, "roles must alternate: %s", body)
		}
		for _, b := range m.Content {
			require.Len(t, b, 1, "a block is an object with one member: %v", b)
			if text, ok := b["text"]; ok {
				require.NotEqual(t, `""`, string(text), "blank text block in %s", body)
			}
		}
	}
}

func TestBedrockRequestErrors(t *testing.T) {
	tests := []struct {
		name, body, msg string
		ep              Endpoint
	}{
		{"completions", `{"model":"x","prompt":"hi"}`, "/chat/completions and /embeddings only", Completions},
		{"embeddings on a chat model", `{"model":"x","input":"hi"}`, "cannot tell the family", Embeddings},
		{"not JSON", `{"model":`, "invalid JSON", ""},
		{"not an object", `[1]`, "invalid JSON", ""},
		{"no messages", `{"model":"x"}`, "messages: required", ""},
		{"messages not a list", `{"messages":{"role":"user"}}`, "messages", ""},
		{"unknown role", `{"messages":[{"role":"robot","content":"hi"}]}`, `unknown role "robot"`, ""},
		{"function role", `{"messages":[{"role":"function","name":"f","content":"x"}]}`, "deprecated", ""},
		{"content number", `{"messages":[{"role":"user","content":5}]}`, "messages[0].content", ""},
		{"system image", `{"messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}]}`, "want a text part", ""},
		{"unknown part", `{"messages":[{"role":"user","content":[{"type":"video","video":{}}]}]}`, `unsupported content part type "video"`, ""},
		{"audio", `{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"x","format":"wav"}}]}]}`, "audio", ""},
		{"remote image", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}`, "not remote URLs", ""},
		{"data URL not base64", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/svg+xml,<svg/>"}}]}]}`, "base64 data: URL", ""},
		{"media type Bedrock lacks", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/tiff;base64,AA=="}}]}]}`, `media type "image/tiff"`, ""},
		{"file id", `{"messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-abc"}}]}]}`, "only file_data", ""},
		{"tool args not JSON", `{"messages":[{"role":"assistant","tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"{oops"}}]}],"tools":[{"type":"function","function":{"name":"f"}}]}`, "arguments: want a JSON object", ""},
		{"tool call without id", `{"messages":[{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}],"tools":[{"type":"function","function":{"name":"f"}}]}`, "tool_calls[0].id: required", ""},
		{"tool message without id", `{"messages":[{"role":"tool","content":"x"}]}`, "tool_call_id: required", ""},
		{"tool history without tools", `{"messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"t","content":"x"}]}`, "tools: required", ""},
		{"legacy function_call", `{"messages":[{"role":"assistant","function_call":{"name":"f","arguments":"{}"}}]}`, "function_call", ""},
		{"tool not a function", `{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"web_search_preview"}]}`, "only function tools", ""},
		{"tool without name", `{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{}}]}`, "name: required", ""},
		{"tool schema a list", `{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":[1]}}]}`, "want a JSON schema object", ""},
		{"tool_choice unknown", `{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"sometimes"}`, "tool_choice", ""},
		{"tool_choice object without name", `{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function"}}`, "tool_choice", ""},
		{"stream not bool", `{"messages":[{"role":"user","content":"hi"}],"stream":"yes"}`, "stream: want a boolean", ""},
		{"temperature a string", `{"messages":[{"role":"user","content":"hi"}],"temperature":"hot"}`, "temperature: want a number", ""},
		{"max_tokens a float", `{"messages":[{"role":"user","content":"hi"}],"max_tokens":1.5}`, "max_tokens: want a positive integer", ""},
		{"max_tokens zero", `{"messages":[{"role":"user","content":"hi"}],"max_tokens":0}`, "max_tokens: want a positive integer", ""},
		{"max_tokens negative", `{"messages":[{"role":"user","content":"hi"}],"max_completion_tokens":-1}`, "max_completion_tokens: want a positive integer", ""},
		{"stop a number", `{"messages":[{"role":"user","content":"hi"}],"stop":5}`, "stop: want a string or a list", ""},
		{"thinking block unknown", `{"messages":[{"role":"assistant","content":"x","thinking_blocks":[{"type":"other"}]}]}`, "thinking_blocks[0].type", ""},
	}
	d := bedrockDeployment(t, "https://bedrock-runtime.us-east-1.amazonaws.com", bedrockTestModel)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := tt.ep
			if ep == "" {
				ep = ChatCompletions
			}
			got, resp, err := bedrock{}.RequestBody(d, ep, []byte(tt.body))
			require.ErrorIs(t, err, ErrBadRequest)
			require.ErrorContains(t, err, tt.msg)
			require.Nil(t, got)
			require.Nil(t, resp)
		})
	}
}

// Anthropic's own parameters go to Anthropic models only.
func TestBedrockModelSpecificParameters(t *testing.T) {
	body := `{"messages":[{"role":"user","content":"hi"}],"top_k":5,"reasoning_effort":"low"}`
	for _, tt := range []struct {
		model string
		want  string
	}{
		{"anthropic.claude-3-7-sonnet-20250219-v1:0", `{"top_k":5,"thinking":{"type":"enabled","budget_tokens":1024}}`},
		{"arn:aws:bedrock:us-east-1:123:inference-profile/eu.anthropic.claude-sonnet-4-20250514-v1:0", `{"top_k":5,"thinking":{"type":"enabled","budget_tokens":1024}}`},
		{"amazon.nova-pro-v1:0", ``},
		{"converse/amazon.nova-pro-v1:0", ``},
		{"meta.llama3-3-70b-instruct-v1:0", ``},
	} {
		t.Run(tt.model, func(t *testing.T) {
			got, _, err := bedrock{}.RequestBody(bedrockDeployment(t, "http://h:1", tt.model), ChatCompletions, []byte(body))
			require.NoError(t, err)
			var req struct {
				Extra json.RawMessage `json:"additionalModelRequestFields"`
			}
			require.NoError(t, json.Unmarshal(got, &req))
			if tt.want == "" {
				require.Nil(t, req.Extra)
			} else {
				require.JSONEq(t, tt.want, string(req.Extra))
			}
		})
	}
}

// A vision request carries megabytes of base64: it goes through whole.
func TestBedrockRequestLargeImage(t *testing.T) {
	image := strings.Repeat("iVBORw0KGgoAAAANSUhEUgAA+/==", 200_000)
	body := `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,` + image + `"}}]}]}`
	got, _, err := bedrock{}.RequestBody(bedrockDeployment(t, "http://h:1", bedrockTestModel), ChatCompletions, []byte(body))
	require.NoError(t, err)
	var req struct {
		Messages []struct {
			Content []struct {
				Image struct {
					Format string `json:"format"`
					Source struct {
						Bytes string `json:"bytes"`
					} `json:"source"`
				} `json:"image"`
			} `json:"content"`
		} `json:"messages"`
	}
	require.NoError(t, json.Unmarshal(got, &req))
	require.Equal(t, "png", req.Messages[0].Content[0].Image.Format)
	require.Equal(t, image, req.Messages[0].Content[0].Image.Source.Bytes)
}

var bedrockAuthPattern = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([a-z0-9-]+)/bedrock/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$`)

// Each attempt is signed over the body it sends, for the path it goes to:
// the stream operation when the client streams.
func TestBedrockSignature(t *testing.T) {
	fixBedrock(t)
	for _, tt := range []struct {
		name, body, wantPath string
		token                string
		wantSigned           string
	}{
		{"converse", `{"messages":[{"role":"user","content":"hi"}]}`, "/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse", "",
			"host;x-amz-content-sha256;x-amz-date"},
		{"converse-stream", `{"messages":[{"role":"user","content":"hi"}],"stream":true}`, "/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse-stream", "",
			"host;x-amz-content-sha256;x-amz-date"},
		{"temporary credentials", `{"messages":[{"role":"user","content":"hi"}]}`, "/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse", "session-token",
			"host;x-amz-content-sha256;x-amz-date;x-amz-security-token"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := bedrockDeployment(t, "https://bedrock-runtime.us-east-1.amazonaws.com:443", bedrockTestModel)
			d.AWS.SessionToken = config.Secret(tt.token)
			out, resp, err := bedrock{}.RequestBody(d, ChatCompletions, []byte(tt.body))
			require.NoError(t, err)
			require.Equal(t, tt.wantPath, resp.(PathOverrider).UpstreamPath())
			hs := resp.(HeaderOverrider).UpstreamHeaders()
			require.Equal(t, "bedrock-runtime.us-east-1.amazonaws.com", headerOf(hs, ":authority"))
			require.Equal(t, "20251009T085320Z", headerOf(hs, "x-amz-date"))
			sum := sha256.Sum256(out)
			require.Equal(t, hex.EncodeToString(sum[:]), headerOf(hs, "x-amz-content-sha256"), "signed over the body sent")
			require.Equal(t, tt.token, headerOf(hs, "x-amz-security-token"))
			m := bedrockAuthPattern.FindStringSubmatch(headerOf(hs, "authorization"))
			require.NotNil(t, m, headerOf(hs, "authorization"))
			require.Equal(t, []string{mock.BedrockAccessKeyID, "20251009", "us-east-1", tt.wantSigned}, m[1:5])
			for _, h := range hs {
				require.Equal(t, strings.ToLower(h.Key), h.Key)
			}
		})
	}

	// Without credentials the request goes unsigned (the config warned).
	d := bedrockDeployment(t, "http://h:1", bedrockTestModel)
	d.AWS = config.AWSCredentials{Region: "us-east-1"}
	_, resp, err := bedrock{}.RequestBody(d, ChatCompletions, []byte(`{"messages":[{"role":"user","content":"hi"}]}`))
	require.NoError(t, err)
	require.Equal(t, []Header{{":authority", "h:1"}}, resp.(HeaderOverrider).UpstreamHeaders())
}

// The mock provider checks signatures with its own SigV4 implementation:
// what the translator signs, for the path and authority it sends, must
// verify there, and a wrong secret must not.
func TestBedrockSignatureVerifiesAtTheMock(t *testing.T) {
	srv := mock.New(mock.Options{Name: "mock-bedrock"})
	for _, tt := range []struct {
		name, model, body, secret string
		token                     string
		wantStatus                int
	}{
		{"converse", bedrockTestModel, `{"messages":[{"role":"user","content":"hi"}]}`, mock.BedrockSecretAccessKey, "", 200},
		{"stream", bedrockTestModel, `{"messages":[{"role":"user","content":"hi"}],"stream":true}`, mock.BedrockSecretAccessKey, "", 200},
		{"ARN model, session token", "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0",
			`{"messages":[{"role":"user","content":"héllo <&>"}]}`, mock.BedrockSecretAccessKey, "tok/en+=", 200},
		{"wrong secret", bedrockTestModel, `{"messages":[{"role":"user","content":"hi"}]}`, "not-the-secret", "", 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := bedrockDeployment(t, "http://127.0.0.1:4010", tt.model)
			d.AWS.SecretAccessKey = config.Secret(tt.secret)
			d.AWS.SessionToken = config.Secret(tt.token)
			out, resp, err := bedrock{}.RequestBody(d, ChatCompletions, []byte(tt.body))
			require.NoError(t, err)
			req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:4010"+resp.(PathOverrider).UpstreamPath(), bytes.NewReader(out))
			for _, h := range resp.(HeaderOverrider).UpstreamHeaders() {
				if h.Key == ":authority" {
					req.Host = h.Value
				} else {
					req.Header.Set(h.Key, h.Value)
				}
			}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())

			// And the mock's answer translates.
			stream, _ := resp.Headers(rec.Code, rec.Header().Get("content-type"))
			if stream {
				got, err := resp.Chunk(rec.Body.Bytes(), true)
				require.NoError(t, err)
				require.Contains(t, string(got), `"content":"Hello fr"`)
				require.True(t, strings.HasSuffix(string(got), "data: [DONE]\n\n"))
				return
			}
			got, err := resp.Body(rec.Code, rec.Body.Bytes())
			require.NoError(t, err)
			if tt.wantStatus == 200 {
				require.Contains(t, string(got), "Hello from mock mock-bedrock!")
			} else {
				require.Contains(t, string(got), "signature we calculated does not match")
				require.Equal(t, 401, resp.(StatusOverrider).BodyStatus())
			}
		})
	}
}

// Response fixtures: testdata/bedrock/response/NAME.json holds the
// provider's status and body and the client's body ("want").
func TestBedrockResponseFixtures(t *testing.T) {
	fixBedrock(t)
	files, err := filepath.Glob("testdata/bedrock/response/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			var fx struct {
				Request json.RawMessage `json:"request"`
				Status  int             `json:"status"`
				Body    json.RawMessage `json:"body"`
				Want    json.RawMessage `json:"want"`
			}
			readFixture(t, file, &fx)
			request := `{"model":"claude","messages":[{"role":"user","content":"hi"}]}`
			if fx.Request != nil {
				request = string(fx.Request)
			}
			r := newBedrockTestResponse(t, request)
			stream, set := r.Headers(fx.Status, "application/json")
			require.False(t, stream)
			require.Contains(t, set, Header{"content-type", "application/json"})
			got, err := r.Body(fx.Status, fx.Body)
			require.NoError(t, err)
			require.True(t, json.Valid(got), "%s", got)
			require.Zero(t, r.BodyStatus())
			if *updateBedrock {
				writeFixture(t, file, nil, "want", got)
				return
			}
			require.NotEmpty(t, fx.Want, "no want: run with -update-bedrock")
			require.JSONEq(t, string(fx.Want), string(got))
		})
	}
}

func newBedrockTestResponse(t *testing.T, request string) *bedrockResponse {
	t.Helper()
	_, resp, err := bedrock{}.RequestBody(bedrockDeployment(t, "http://h:1", bedrockTestModel), ChatCompletions, []byte(request))
	require.NoError(t, err)
	return resp.(*bedrockResponse)
}

// Bedrock's errors keep their message and get the status, type and code
// an OpenAI client and the router expect.
func TestBedrockErrors(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		wantStatus int
		wantType   string
		wantCode   string
		wantMsg    string
	}{
		{"validation", 400, `{"message":"Malformed input request: #: extraneous key [foo] is not permitted"}`, 400, "invalid_request_error", "400", "Malformed input request: #: extraneous key [foo] is not permitted"},
		{"input too long", 400, `{"message":"Input is too long for requested model."}`, 400, "invalid_request_error", "context_length_exceeded", "Input is too long for requested model."},
		{"model's prompt too long", 400, `{"message":"The model returned the following errors: prompt is too long: 210000 tokens > 200000 maximum"}`, 400, "invalid_request_error", "context_length_exceeded", ""},
		{"too many input tokens", 400, `{"message":"Too many input tokens. Max input tokens: 8192, request input token count: 9000"}`, 400, "invalid_request_error", "context_length_exceeded", ""},
		{"bad access key", 403, `{"message":"The security token included in the request is invalid."}`, 401, "authentication_error", "invalid_api_key", "The security token included in the request is invalid."},
		{"bad signature", 403, `{"message":"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."}`, 401, "authentication_error", "invalid_api_key", ""},
		{"expired token", 403, `{"message":"The security token included in the request is expired"}`, 401, "authentication_error", "invalid_api_key", ""},
		{"no credentials", 403, `{"message":"Missing Authentication Token"}`, 401, "authentication_error", "invalid_api_key", ""},
		{"access denied", 403, `{"Message":"User: arn:aws:iam::123456789012:user/x is not authorized to perform: bedrock:InvokeModel"}`, 403, "permission_error", "403", "User: arn:aws:iam::123456789012:user/x is not authorized to perform: bedrock:InvokeModel"},
		{"model access", 403, `{"message":"You don't have access to the model with the specified model ID."}`, 403, "permission_error", "403", ""},
		{"not found", 404, `{"message":"The provided model identifier is invalid."}`, 404, "not_found_error", "model_not_found", ""},
		{"model timeout", 408, `{"message":"Model has timed out in processing the request."}`, 408, "timeout_error", "408", ""},
		{"model error", 424, `{"message":"The model returned an error.","originalStatusCode":500}`, 500, "server_error", "500", ""},
		{"throttling", 429, `{"message":"Too many requests, please wait before trying again."}`, 429, "rate_limit_error", "rate_limit_exceeded", "Too many requests, please wait before trying again."},
		{"model not ready", 429, `{"message":"Model is not ready for inference. Wait and try your request again."}`, 503, "service_unavailable", "model_not_ready", ""},
		{"internal", 500, `{"message":"The server encountered an internal error."}`, 500, "server_error", "500", ""},
		{"unavailable", 503, `{"message":"Bedrock is unable to process your request."}`, 503, "service_unavailable", "service_unavailable", ""},
		{"__type names it", 400, `{"__type":"com.amazon.coral.service#UnrecognizedClientException","message":"The security token included in the request is invalid."}`, 401, "authentication_error", "invalid_api_key", ""},
		{"__type with a URL", 400, `{"__type":"ServiceQuotaExceededException:http://internal.amazon.com/coral/com.amazon.bedrock/","message":"quota"}`, 400, "invalid_request_error", "quota_exceeded", ""},
		{"unknown __type keeps the status", 409, `{"__type":"ConflictException","message":"conflict"}`, 409, "invalid_request_error", "409", "conflict"},
		{"not JSON", 502, `<html>Bad Gateway</html>`, 502, "server_error", "502", "Bedrock answered HTTP 502: <html>Bad Gateway</html>"},
		{"empty", 503, ``, 503, "service_unavailable", "service_unavailable", "Bedrock answered HTTP 503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newBedrockTestResponse(t, `{"messages":[{"role":"user","content":"hi"}]}`)
			stream, _ := r.Headers(tt.status, "application/json")
			require.False(t, stream)
			got, err := r.Body(tt.status, []byte(tt.body))
			require.NoError(t, err)
			var e struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Param   *string `json:"param"`
					Code    *string `json:"code"`
				} `json:"error"`
			}
			require.NoError(t, json.Unmarshal(got, &e), "%s", got)
			require.Equal(t, tt.wantType, e.Error.Type)
			require.NotNil(t, e.Error.Code)
			require.Equal(t, tt.wantCode, *e.Error.Code)
			if tt.wantMsg != "" {
				require.Equal(t, tt.wantMsg, e.Error.Message)
			}
			wantBodyStatus := tt.wantStatus
			if wantBodyStatus == tt.status {
				wantBodyStatus = 0 // unchanged
			}
			require.Equal(t, wantBodyStatus, r.BodyStatus())
		})
	}
}

func TestBedrockHeaders(t *testing.T) {
	r := &bedrockResponse{}
	stream, set := r.Headers(200, "application/vnd.amazon.eventstream")
	require.True(t, stream)
	require.Equal(t, []Header{{"content-type", "text/event-stream; charset=utf-8"}}, set)

	stream, set = r.Headers(200, "application/json")
	require.False(t, stream)
	require.Equal(t, []Header{{"content-type", "application/json"}}, set)

	// An error answer to a streaming request is JSON, not a stream.
	stream, _ = r.Headers(429, "application/json")
	require.False(t, stream)
	stream, _ = r.Headers(500, "application/vnd.amazon.eventstream")
	require.False(t, stream)

	// ModelErrorException (424) is a server error.
	_, set = r.Headers(424, "application/json")
	require.Equal(t, []Header{{"content-type", "application/json"}, {":status", "500"}}, set)
}

func TestBedrockBodyMalformed(t *testing.T) {
	r := &bedrockResponse{}
	for _, body := range []string{``, `{`, `[]`, `{"output":{}}`, `{"output":{"message":{"content":[1]}}}`} {
		got, err := r.Body(200, []byte(body))
		require.Error(t, err, body)
		require.Nil(t, got)
	}
}

// Anthropic's models refuse whitespace-only stop sequences; other models
// take them ("\n\n" is a common one for Llama).
func TestBedrockStopSequences(t *testing.T) {
	body := `{"messages":[{"role":"user","content":"hi"}],"stop":["\n\n"," ","","END"]}`
	for model, want := range map[string][]string{
		bedrockTestModel:                  {"END"},
		"meta.llama3-3-70b-instruct-v1:0": {"\n\n", " ", "END"},
	} {
		got, _, err := bedrock{}.RequestBody(bedrockDeployment(t, "http://h:1", model), ChatCompletions, []byte(body))
		require.NoError(t, err)
		var req struct {
			InferenceConfig struct {
				StopSequences []string `json:"stopSequences"`
			} `json:"inferenceConfig"`
		}
		require.NoError(t, json.Unmarshal(got, &req))
		require.Equal(t, want, req.InferenceConfig.StopSequences, model)
	}
}
