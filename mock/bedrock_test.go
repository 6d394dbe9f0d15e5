package mock

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/internal/eventstream"
)

const (
	bedrockBody = `{"system":[{"text":"Be brief."}],"messages":[{"role":"user","content":[{"text":"hello bedrock"}]}],"inferenceConfig":{"maxTokens":100}}`
	// bedrockModelPath is an inference profile, escaped as AWS's SDKs do.
	bedrockModelPath = "/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0"
)

var bedrockCreds = aws.Credentials{AccessKeyID: BedrockAccessKeyID, SecretAccessKey: BedrockSecretAccessKey}

// signedRequest is a request signed with AWS's own SDK signer, an
// implementation independent of the mock's verifier.
func signedRequest(t *testing.T, base, path, body string, creds aws.Credentials, at time.Time, headers ...string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	sum := sha256.Sum256([]byte(body))
	require.NoError(t, v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "bedrock", "us-east-1", at))
	return req
}

func serveBedrock(t *testing.T, s *Server, path, body string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := signedRequest(t, "http://127.0.0.1:4010", path, body, bedrockCreds, time.Now(), headers...)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

// decodeAWSError checks an AWS error answer: the exception in
// x-amzn-errortype, {"message"} in the body.
func decodeAWSError(t *testing.T, rec *httptest.ResponseRecorder, status int, typ string) string {
	t.Helper()
	require.Equal(t, status, rec.Code, rec.Body.String())
	require.True(t, strings.HasPrefix(rec.Header().Get("X-Amzn-Errortype"), typ+":"), rec.Header().Get("X-Amzn-Errortype"))
	var body map[string]string
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.Len(t, body, 1)
	require.NotEmpty(t, body["message"])
	return body["message"]
}

func TestBedrockConverse(t *testing.T) {
	s := New(Options{Name: "mock-bedrock"})
	rec := serveBedrock(t, s, bedrockModelPath+"/converse", bedrockBody)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	require.Len(t, rec.Header().Get("X-Amzn-Requestid"), 36)
	var out struct {
		Output struct {
			Message struct {
				Role    string `json:"role"`
				Content []struct {
					Text string `json:"text"`
				} `json:"content"`
			} `json:"message"`
		} `json:"output"`
		StopReason string         `json:"stopReason"`
		Usage      map[string]int `json:"usage"`
		Metrics    map[string]int `json:"metrics"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
	require.Equal(t, "assistant", out.Output.Message.Role)
	require.Equal(t, Reply("mock-bedrock", "hello bedrock"), out.Output.Message.Content[0].Text)
	require.Equal(t, "end_turn", out.StopReason)
	in, outTokens := EstimateTokens("Be brief.hello bedrock"), EstimateTokens(Reply("mock-bedrock", "hello bedrock"))
	require.Equal(t, map[string]int{"inputTokens": in, "outputTokens": outTokens, "totalTokens": in + outTokens}, out.Usage)
	require.Contains(t, out.Metrics, "latencyMs")

	// The request is recorded as it arrived, signature included.
	reqs := s.Requests()
	require.Len(t, reqs, 1)
	require.Contains(t, reqs[0].Header.Get("Authorization"), "Credential="+BedrockAccessKeyID+"/")
}

func TestBedrockToolUse(t *testing.T) {
	s := New(Options{Name: "b"})
	body := `{"messages":[{"role":"user","content":[{"text":"Oslo"}]}],"toolConfig":{"tools":[` +
		`{"toolSpec":{"name":"get_time","inputSchema":{"json":{"type":"object"}}}},` +
		`{"toolSpec":{"name":"get_weather","inputSchema":{"json":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city","days"]}}}}],` +
		`"toolChoice":{"tool":{"name":"get_weather"}}}}`
	rec := serveBedrock(t, s, "/model/m/converse", body)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var out struct {
		Output struct {
			Message struct {
				Content []struct {
					ToolUse struct {
						ToolUseID string          `json:"toolUseId"`
						Name      string          `json:"name"`
						Input     json.RawMessage `json:"input"`
					} `json:"toolUse"`
				} `json:"content"`
			} `json:"message"`
		} `json:"output"`
		StopReason string `json:"stopReason"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
	tu := out.Output.Message.Content[0].ToolUse
	require.True(t, strings.HasPrefix(tu.ToolUseID, "tooluse_"), tu.ToolUseID)
	require.Equal(t, "get_weather", tu.Name)
	require.JSONEq(t, `{"city":"Oslo","days":4}`, string(tu.Input))
	require.Equal(t, "tool_use", out.StopReason)

	// A tool result is the last user text.
	body = `{"messages":[{"role":"user","content":[{"text":"Oslo"}]},{"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"get_time","input":{}}}]},` +
		`{"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"text":"noon"}]}}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"get_time","inputSchema":{"json":{}}}}]}}`
	rec = serveBedrock(t, s, "/model/m/converse", body)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), Reply("b", "noon"))
}

// readFrames decodes an event stream body into its messages.
func readFrames(t *testing.T, body io.Reader) ([]eventstream.Message, error) {
	t.Helper()
	var d eventstream.Decoder
	var out []eventstream.Message
	buf := make([]byte, 7) // small reads: frames arrive in pieces
	for {
		n, err := body.Read(buf)
		d.Write(buf[:n])
		for {
			m, ok, derr := d.Next()
			require.NoError(t, derr)
			if !ok {
				break
			}
			c := eventstream.Message{Payload: bytes.Clone(m.Payload)}
			for _, h := range m.Headers {
				c.Headers = append(c.Headers, eventstream.Header{Name: h.Name, Type: h.Type, Value: bytes.Clone(h.Value)})
			}
			out = append(out, c)
		}
		if err == io.EOF {
			require.Zero(t, d.Buffered(), "a partial frame at the end")
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func eventTypes(msgs []eventstream.Message) []string {
	var out []string
	for _, m := range msgs {
		typ, ok := m.Header(":event-type")
		if !ok {
			typ, _ = m.Header(":exception-type")
			typ = "!" + typ
		}
		out = append(out, typ)
	}
	return out
}

func TestBedrockConverseStream(t *testing.T) {
	_, ts := start(t, Options{Name: "mock-bedrock"})
	start := time.Now()
	req := signedRequest(t, ts.URL, bedrockModelPath+"/converse-stream", bedrockBody, bedrockCreds, time.Now(),
		"x-mock-chunks", "4", "x-mock-chunk-delay-ms", "50")
	resp, err := ts.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/vnd.amazon.eventstream", resp.Header.Get("Content-Type"))
	msgs, err := readFrames(t, resp.Body)
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
	require.Equal(t, []string{"messageStart", "contentBlockDelta", "contentBlockDelta", "contentBlockDelta", "contentBlockDelta",
		"contentBlockStop", "messageStop", "metadata"}, eventTypes(msgs))
	var text strings.Builder
	for _, m := range msgs {
		ct, _ := m.Header(":content-type")
		mt, _ := m.Header(":message-type")
		require.Equal(t, "application/json", ct)
		require.Equal(t, "event", mt)
		var p struct {
			P     *string `json:"p"`
			Delta struct {
				Text string `json:"text"`
			} `json:"delta"`
			StopReason string         `json:"stopReason"`
			Usage      map[string]int `json:"usage"`
		}
		require.NoError(t, json.Unmarshal(m.Payload, &p))
		require.NotNil(t, p.P, "Bedrock pads every payload")
		text.WriteString(p.Delta.Text)
		if typ, _ := m.Header(":event-type"); typ == "messageStop" {
			require.Equal(t, "end_turn", p.StopReason)
		} else if typ == "metadata" {
			require.Equal(t, EstimateTokens("Be brief.hello bedrock"), p.Usage["inputTokens"])
		}
	}
	require.Equal(t, Reply("mock-bedrock", "hello bedrock"), text.String())
}

func TestBedrockStreamToolUse(t *testing.T) {
	_, ts := start(t, Options{})
	body := `{"messages":[{"role":"user","content":[{"text":"Oslo"}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"w","inputSchema":{"json":{"properties":{"city":{"type":"string"}}}}}}],"toolChoice":{"any":{}}}}`
	resp, err := ts.Client().Do(signedRequest(t, ts.URL, "/model/m/converse-stream", body, bedrockCreds, time.Now(), "x-mock-chunks", "3"))
	require.NoError(t, err)
	defer resp.Body.Close()
	msgs, err := readFrames(t, resp.Body)
	require.NoError(t, err)
	require.Equal(t, []string{"messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockDelta", "contentBlockDelta",
		"contentBlockStop", "messageStop", "metadata"}, eventTypes(msgs))
	var input strings.Builder
	for _, m := range msgs[2:5] {
		var p struct {
			Delta struct {
				ToolUse struct {
					Input string `json:"input"`
				} `json:"toolUse"`
			} `json:"delta"`
		}
		require.NoError(t, json.Unmarshal(m.Payload, &p))
		input.WriteString(p.Delta.ToolUse.Input)
	}
	require.JSONEq(t, `{"city":"Oslo"}`, input.String())
	require.Contains(t, string(msgs[6].Payload), `"stopReason":"tool_use"`)
}

// The mock checks signatures as AWS does.
func TestBedrockSignatureChecks(t *testing.T) {
	s := New(Options{})
	const path = bedrockModelPath + "/converse"
	now := time.Now()
	tests := []struct {
		name   string
		req    func(t *testing.T) *http.Request
		status int
		typ    string
		msg    string
	}{
		{"no signature", func(t *testing.T) *http.Request {
			r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(bedrockBody))
			return r
		}, 403, "MissingAuthenticationTokenException", "Missing Authentication Token"},
		{"unknown access key", func(t *testing.T) *http.Request {
			return signedRequest(t, "http://127.0.0.1:4010", path, bedrockBody, aws.Credentials{AccessKeyID: "AKIDOTHER", SecretAccessKey: BedrockSecretAccessKey}, now)
		}, 403, "UnrecognizedClientException", "security token included in the request is invalid"},
		{"wrong secret", func(t *testing.T) *http.Request {
			return signedRequest(t, "http://127.0.0.1:4010", path, bedrockBody, aws.Credentials{AccessKeyID: BedrockAccessKeyID, SecretAccessKey: "wrong"}, now)
		}, 403, "InvalidSignatureException", "signature we calculated does not match"},
		{"body changed after signing", func(t *testing.T) *http.Request {
			r := signedRequest(t, "http://127.0.0.1:4010", path, bedrockBody, bedrockCreds, now)
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(bedrockBody, "hello", "HELLO", 1)))
			return r
		}, 403, "InvalidSignatureException", "signature we calculated does not match"},
		{"body changed, content hash sent", func(t *testing.T) *http.Request {
			sum := sha256.Sum256([]byte(bedrockBody))
			r := signedRequest(t, "http://127.0.0.1:4010", path, bedrockBody, bedrockCreds, now, "X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(bedrockBody, "hello", "HELLO", 1)))
			return r
		}, 400, "ValidationException", "x-amz-content-sha256"},
		{"another host than signed", func(t *testing.T) *http.Request {
			r := signedRequest(t, "http://127.0.0.1:4010", path, bedrockBody, bedrockCreds, now)
			r.Host = "127.0.0.1:4011"
			return r
		}, 403, "InvalidSignatureException", "signature we calculated does not match"},
		{"path escaped once in the signature", func(t *testing.T) *http.Request {
			req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:4010"+path, strings.NewReader(bedrockBody))
			require.NoError(t, err)
			sum := sha256.Sum256([]byte(bedrockBody))
			require.NoError(t, v4.NewSigner().SignHTTP(context.Background(), bedrockCreds, req, hex.EncodeToString(sum[:]), "bedrock", "us-east-1", now,
				func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }))
			return req
		}, 403, "InvalidSignatureException", "signature we calculated does not match"},
		{"signed an hour ago", func(t *testing.T) *http.Request {
			return signedRequest(t, "http://127.0.0.1:4010", path, bedrockBody, bedrockCreds, now.Add(-time.Hour))
		}, 403, "InvalidSignatureException", "Signature expired"},
		{"another service", func(t *testing.T) *http.Request {
			req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:4010"+path, strings.NewReader(bedrockBody))
			require.NoError(t, err)
			sum := sha256.Sum256([]byte(bedrockBody))
			require.NoError(t, v4.NewSigner().SignHTTP(context.Background(), bedrockCreds, req, hex.EncodeToString(sum[:]), "s3", "us-east-1", now))
			return req
		}, 403, "InvalidSignatureException", "scoped to correct service: 'bedrock'"},
		{"session token not signed", func(t *testing.T) *http.Request {
			r := signedRequest(t, "http://127.0.0.1:4010", path, bedrockBody, bedrockCreds, now)
			r.Header.Set("X-Amz-Security-Token", "tok")
			return r
		}, 403, "InvalidSignatureException", "session token must be signed"},
		{"malformed", func(t *testing.T) *http.Request {
			r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(bedrockBody))
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x")
			return r
		}, 400, "IncompleteSignatureException", "requires 'Credential'"},
		{"another algorithm", func(t *testing.T) *http.Request {
			r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(bedrockBody))
			r.Header.Set("Authorization", "Bearer sk-123")
			return r
		}, 400, "IncompleteSignatureException", "AWS4-HMAC-SHA256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, tt.req(t))
			require.Contains(t, decodeAWSError(t, rec, tt.status, tt.typ), tt.msg)
		})
	}

	// A session token, signed, passes.
	creds := bedrockCreds
	creds.SessionToken = "session/token+="
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, signedRequest(t, "http://127.0.0.1:4010", path, bedrockBody, creds, now))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
}

func TestBedrockValidation(t *testing.T) {
	s := New(Options{})
	msgs := func(m string) string { return `{"messages":` + m + `}` }
	tests := []struct{ name, body, msg string }{
		{"not JSON", `{`, "Unable to parse"},
		{"unknown key", `{"messages":[{"role":"user","content":[{"text":"x"}]}],"model":"m"}`, "extraneous key [model]"},
		{"no messages", `{}`, "messages field is required"},
		{"empty messages", msgs(`[]`), "must start with a user message"},
		{"starts with assistant", msgs(`[{"role":"assistant","content":[{"text":"x"}]}]`), "must start with a user message"},
		{"roles do not alternate", msgs(`[{"role":"user","content":[{"text":"x"}]},{"role":"user","content":[{"text":"y"}]}]`), "must alternate"},
		{"bad role", msgs(`[{"role":"system","content":[{"text":"x"}]}]`), "enum value set"},
		{"empty content", msgs(`[{"role":"user","content":[]}]`), "content field in the Message object at messages.0 is empty"},
		{"blank text", msgs(`[{"role":"user","content":[{"text":" "}]}]`), "messages.0.content.0 is blank"},
		{"two members", msgs(`[{"role":"user","content":[{"text":"x","image":{}}]}]`), "exactly one member"},
		{"unknown block", msgs(`[{"role":"user","content":[{"video":{}}]}]`), `unknown member "video"`},
		{"bad image format", msgs(`[{"role":"user","content":[{"image":{"format":"tiff","source":{"bytes":"AA=="}}}]}]`), `unknown format "tiff"`},
		{"image not base64", msgs(`[{"role":"user","content":[{"image":{"format":"png","source":{"bytes":"%%%"}}}]}]`), "Invalid base64"},
		{"document without name", msgs(`[{"role":"user","content":[{"document":{"format":"pdf","source":{"bytes":"AA=="}}}]}]`), "name field is required"},
		{"tool blocks without toolConfig", msgs(`[{"role":"user","content":[{"toolResult":{"toolUseId":"t","content":[{"text":"x"}]}}]}]`), "toolConfig field must be defined"},
		{"blank system", `{"system":[{"text":""}],"messages":[{"role":"user","content":[{"text":"x"}]}]}`, "SystemContentBlock object at system.0 is blank"},
		{"maxTokens zero", `{"messages":[{"role":"user","content":[{"text":"x"}]}],"inferenceConfig":{"maxTokens":0}}`, "maxTokens failed to satisfy constraint"},
		{"unknown inference key", `{"messages":[{"role":"user","content":[{"text":"x"}]}],"inferenceConfig":{"topK":5}}`, "extraneous key [topK]"},
		{"empty tools", `{"messages":[{"role":"user","content":[{"text":"x"}]}],"toolConfig":{"tools":[]}}`, "toolConfig.tools failed to satisfy constraint"},
		{"tool choice of another tool", `{"messages":[{"role":"user","content":[{"text":"x"}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"a","inputSchema":{"json":{}}}}],"toolChoice":{"tool":{"name":"b"}}}}`, `tool "b" is not in toolConfig.tools`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serveBedrock(t, s, "/model/m/converse", tt.body)
			typ := "ValidationException"
			if tt.name == "not JSON" {
				typ = "SerializationException"
			}
			require.Contains(t, decodeAWSError(t, rec, http.StatusBadRequest, typ), tt.msg)
		})
	}
}

func TestBedrockRoutes(t *testing.T) {
	s := New(Options{Name: "n"})
	// An ARN model id: its escaped '/' is part of the id.
	rec := serveBedrock(t, s, "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse", bedrockBody)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	// A path prefix before /model/ (an api_base with a path).
	rec = serveBedrock(t, s, "/bedrock/model/m/converse", bedrockBody)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	// An operation the mock does not have.
	rec = serveBedrock(t, s, "/model/m/invoke-with-response-stream", bedrockBody)
	require.Equal(t, http.StatusNotFound, rec.Code)
	// InvokeModel serves embedding models only.
	rec = serveBedrock(t, s, "/model/m/invoke", bedrockBody)
	require.Contains(t, decodeAWSError(t, rec, http.StatusBadRequest, "ValidationException"), "Titan Text Embeddings and Cohere Embed models only")
	rec = serveBedrock(t, s, "/model/a/b/converse", bedrockBody)
	require.Equal(t, "UnknownOperationException:http://internal.amazon.com/coral/com.amazon.bedrock/", rec.Header().Get("X-Amzn-Errortype"))
}

func TestBedrockInjectedFailures(t *testing.T) {
	s := New(Options{})
	tests := []struct {
		headers []string
		status  int
		typ     string
		msg     string
	}{
		{[]string{"x-mock-status", "429"}, 429, "ThrottlingException", "Too many requests"},
		{[]string{"x-mock-status", "400"}, 400, "ValidationException", "injected"},
		{[]string{"x-mock-status", "403"}, 403, "AccessDeniedException", "don't have access"},
		{[]string{"x-mock-status", "500"}, 500, "InternalServerException", "internal error"},
		{[]string{"x-mock-status", "503"}, 503, "ServiceUnavailableException", "unable to process"},
		{[]string{"x-mock-status", "502"}, 502, "InternalServerException", "Bad Gateway"},
		{[]string{"x-mock-bedrock-error", "ModelNotReadyException"}, 429, "ModelNotReadyException", "not ready"},
		{[]string{"x-mock-bedrock-error", "UnrecognizedClientException"}, 403, "UnrecognizedClientException", "security token"},
		{[]string{"x-mock-bedrock-error", "NoSuchException"}, 400, "ValidationException", "unknown exception"},
		{[]string{"x-mock-context-window", "2"}, 400, "ValidationException", "Input is too long for requested model."},
		{[]string{"x-mock-chunks", "0"}, 400, "ValidationException", "x-mock-chunks"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.headers, "="), func(t *testing.T) {
			rec := serveBedrock(t, s, "/model/m/converse-stream", bedrockBody, tt.headers...)
			require.Contains(t, decodeAWSError(t, rec, tt.status, tt.typ), tt.msg)
		})
	}

	// Retry-After on injected failures, after the latency.
	start := time.Now()
	rec := serveBedrock(t, s, "/model/m/converse", bedrockBody, "x-mock-status", "429", "x-mock-retry-after", "2", "x-mock-latency-ms", "60")
	require.GreaterOrEqual(t, time.Since(start), 60*time.Millisecond)
	require.Equal(t, "2", rec.Header().Get("Retry-After"))
	// A big enough window passes.
	rec = serveBedrock(t, s, "/model/m/converse", bedrockBody, "x-mock-context-window", "1000")
	require.Equal(t, http.StatusOK, rec.Code)
}

func TestBedrockStreamFaults(t *testing.T) {
	_, ts := start(t, Options{})
	resp, err := ts.Client().Do(signedRequest(t, ts.URL, "/model/m/converse-stream", bedrockBody, bedrockCreds, time.Now(), "x-mock-chunks", "4", "x-mock-stream-error-after", "2"))
	require.NoError(t, err)
	defer resp.Body.Close()
	msgs, err := readFrames(t, resp.Body)
	require.NoError(t, err)
	require.Equal(t, []string{"messageStart", "contentBlockDelta", "contentBlockDelta", "!throttlingException"}, eventTypes(msgs))
	mt, _ := msgs[3].Header(":message-type")
	require.Equal(t, "exception", mt)
	require.JSONEq(t, `{"message":"Too many tokens, please wait before trying again."}`, string(msgs[3].Payload))

	// The connection is reset after two deltas.
	resp2, err := ts.Client().Do(signedRequest(t, ts.URL, "/model/m/converse-stream", bedrockBody, bedrockCreds, time.Now(), "x-mock-chunks", "4", "x-mock-fail-stream-after", "2"))
	require.NoError(t, err)
	defer resp2.Body.Close()
	msgs, err = readFrames(t, resp2.Body)
	require.Error(t, err)
	require.Equal(t, []string{"messageStart", "contentBlockDelta", "contentBlockDelta"}, eventTypes(msgs))

	// Not streaming: reset before any byte.
	_, err = ts.Client().Do(signedRequest(t, ts.URL, "/model/m/converse", bedrockBody, bedrockCreds, time.Now(), "x-mock-fail-stream-after", "0"))
	require.Error(t, err)
}
