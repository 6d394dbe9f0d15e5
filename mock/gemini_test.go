package mock

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const geminiPath = "/v1beta/models/gemini-2.0-flash:generateContent"
const geminiStreamPath = "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"

const geminiBody = `{"systemInstruction":{"parts":[{"text":"Be brief."}]},"contents":[{"role":"user","parts":[{"text":"What is the capital of France?"}]}]}`

type geminiTestResponse struct {
	Candidates []struct {
		Content *struct {
			Role  string `json:"role"`
			Parts []struct {
				Text         string `json:"text"`
				FunctionCall *struct {
					Name string         `json:"name"`
					Args map[string]any `json:"args"`
				} `json:"functionCall"`
			} `json:"parts"`
		} `json:"content"`
		FinishReason string `json:"finishReason"`
		Index        int    `json:"index"`
	} `json:"candidates"`
	PromptFeedback *struct {
		BlockReason string `json:"blockReason"`
	} `json:"promptFeedback"`
	UsageMetadata struct {
		PromptTokenCount     int `json:"promptTokenCount"`
		CandidatesTokenCount int `json:"candidatesTokenCount"`
		TotalTokenCount      int `json:"totalTokenCount"`
	} `json:"usageMetadata"`
	ModelVersion string `json:"modelVersion"`
	ResponseID   string `json:"responseId"`
}

func decodeGemini(t *testing.T, body []byte) geminiTestResponse {
	t.Helper()
	var r geminiTestResponse
	require.NoError(t, json.Unmarshal(body, &r), string(body))
	return r
}

type geminiTestError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
	} `json:"error"`
}

func decodeGeminiError(t *testing.T, rec interface{ Result() *http.Response }, status int) geminiTestError {
	t.Helper()
	resp := rec.Result()
	require.Equal(t, status, resp.StatusCode)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	body, _ := io.ReadAll(resp.Body)
	var shape map[string]map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &shape), string(body))
	require.Len(t, shape, 1)
	var e geminiTestError
	require.NoError(t, json.Unmarshal(body, &e))
	require.Equal(t, status, e.Error.Code)
	require.NotEmpty(t, e.Error.Message)
	require.NotEmpty(t, e.Error.Status)
	return e
}

func TestGeminiGenerateContent(t *testing.T) {
	s := New(Options{Name: "g"})
	rec := serve(s, http.MethodPost, geminiPath, geminiBody, "x-goog-api-key", "AIza-test")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	r := decodeGemini(t, rec.Body.Bytes())
	require.Len(t, r.Candidates, 1)
	c := r.Candidates[0]
	require.Equal(t, "model", c.Content.Role)
	require.Equal(t, Reply("g", "What is the capital of France?"), c.Content.Parts[0].Text)
	require.Equal(t, "STOP", c.FinishReason)
	require.Equal(t, "gemini-2.0-flash", r.ModelVersion)
	require.NotEmpty(t, r.ResponseID)
	u := r.UsageMetadata
	require.Equal(t, EstimateTokens("Be brief.What is the capital of France?"), u.PromptTokenCount)
	require.Equal(t, EstimateTokens(c.Content.Parts[0].Text), u.CandidatesTokenCount)
	require.Equal(t, u.PromptTokenCount+u.CandidatesTokenCount, u.TotalTokenCount)
	require.NotContains(t, rec.Body.String(), `"index"`, "proto3 JSON leaves out a zero index")

	reqs := s.Requests()
	require.Len(t, reqs, 1)
	require.Equal(t, "AIza-test", reqs[0].Header.Get("X-Goog-Api-Key"))
	require.Equal(t, "/v1beta/models/gemini-2.0-flash:generateContent", reqs[0].Path)
}

func TestGeminiKey(t *testing.T) {
	s := New(Options{})
	e := decodeGeminiError(t, serve(s, http.MethodPost, geminiPath, geminiBody), http.StatusForbidden)
	require.Equal(t, "PERMISSION_DENIED", e.Error.Status)
	rec := serve(s, http.MethodPost, geminiPath+"?key=AIza-q", geminiBody)
	require.Equal(t, http.StatusOK, rec.Code, "Google also takes the key as a query parameter")
}

func TestGeminiRoutes(t *testing.T) {
	s := New(Options{})
	for _, path := range []string{
		"/v1/models/gemini-1.5-pro:generateContent",
		"/v1beta/tunedModels/my-tuned:generateContent",
	} {
		rec := serve(s, http.MethodPost, path, geminiBody, "x-goog-api-key", "k")
		require.Equal(t, http.StatusOK, rec.Code, path)
	}
	e := decodeGeminiError(t, serve(s, http.MethodPost, "/v1beta/models/m:countTokens", geminiBody, "x-goog-api-key", "k"), http.StatusNotFound)
	require.Equal(t, "NOT_FOUND", e.Error.Status)
	// Not Gemini's: the OpenAI routes still answer.
	require.Equal(t, http.StatusOK, serve(s, http.MethodGet, "/v1/models/mock-model", "").Code)
	rec := serve(s, http.MethodGet, "/v1beta/models/gemini-2.0-flash", "", "x-goog-api-key", "k")
	require.Equal(t, http.StatusOK, rec.Code)
	require.JSONEq(t, `{"name":"models/gemini-2.0-flash","version":"001","displayName":"gemini-2.0-flash","inputTokenLimit":1048576,"outputTokenLimit":8192,"supportedGenerationMethods":["generateContent","countTokens"]}`, rec.Body.String())
	rec = serve(s, http.MethodGet, "/v1beta/models", "", "x-goog-api-key", "k")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), `"models":[`)
	decodeGeminiError(t, serve(s, http.MethodGet, "/v1beta/models/gemini-2.0-flash", ""), http.StatusForbidden)
	require.False(t, matchGemini(http.MethodGet, "/v1/models/mock-model"))
	require.False(t, matchGemini(http.MethodDelete, geminiPath))
	require.False(t, matchGemini(http.MethodPost, "/v1beta/models/:generateContent"))
	require.False(t, matchGemini(http.MethodPost, "/v1beta/models/a/b:generateContent"))
	require.False(t, matchGemini(http.MethodPost, "/v2/models/m:generateContent"))
}

func TestGeminiInvalidRequests(t *testing.T) {
	s := New(Options{})
	for name, tt := range map[string]struct{ body, want string }{
		"not JSON":          {`{"contents":`, "Invalid JSON payload"},
		"no contents":       {`{}`, "contents is not specified"},
		"bad role":          {`{"contents":[{"role":"assistant","parts":[{"text":"x"}]}]}`, "valid role: user, model"},
		"no parts":          {`{"contents":[{"role":"user","parts":[]}]}`, "must not be empty"},
		"nameless fn":       {`{"contents":[{"role":"user","parts":[{"text":"x"}]}],"tools":[{"functionDeclarations":[{"description":"d"}]}]}`, "Name cannot be empty"},
		"nameless response": {`{"contents":[{"role":"user","parts":[{"functionResponse":{"response":{}}}]}]}`, "function_response.name"},
	} {
		t.Run(name, func(t *testing.T) {
			e := decodeGeminiError(t, serve(s, http.MethodPost, geminiPath, tt.body, "x-goog-api-key", "k"), http.StatusBadRequest)
			require.Equal(t, "INVALID_ARGUMENT", e.Error.Status)
			require.Contains(t, e.Error.Message, tt.want)
		})
	}
}

func TestGeminiStreamSSE(t *testing.T) {
	_, ts := start(t, Options{Name: "g"})
	resp := post(t, ts, geminiStreamPath, geminiBody, "x-goog-api-key", "k", "x-mock-chunks", "4")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(string(raw), "}\r\n\r\n"), "Gemini separates events with CRLF CRLF")
	events, err := readEvents(strings.NewReader(string(raw)))
	require.NoError(t, err)
	require.Len(t, events, 4)
	var text strings.Builder
	prevCandidates := 0
	for i, ev := range events {
		r := decodeGemini(t, []byte(ev))
		require.Len(t, r.Candidates, 1)
		text.WriteString(r.Candidates[0].Content.Parts[0].Text)
		if i < len(events)-1 {
			require.Empty(t, r.Candidates[0].FinishReason)
		} else {
			require.Equal(t, "STOP", r.Candidates[0].FinishReason)
		}
		require.GreaterOrEqual(t, r.UsageMetadata.CandidatesTokenCount, prevCandidates, "usage is cumulative")
		prevCandidates = r.UsageMetadata.CandidatesTokenCount
	}
	require.Equal(t, Reply("g", "What is the capital of France?"), text.String())
}

func TestGeminiStreamJSONArray(t *testing.T) {
	_, ts := start(t, Options{})
	resp := post(t, ts, strings.TrimSuffix(geminiStreamPath, "?alt=sse"), geminiBody, "x-goog-api-key", "k", "x-mock-chunks", "3")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"))
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var list []geminiTestResponse
	require.NoError(t, json.Unmarshal(raw, &list), string(raw))
	require.Len(t, list, 3)
	require.Equal(t, "STOP", list[2].Candidates[0].FinishReason)
}

func TestGeminiSafetyBlock(t *testing.T) {
	s := New(Options{})
	rec := serve(s, http.MethodPost, geminiPath, geminiBody, "x-goog-api-key", "k", "x-mock-safety-block", "1")
	require.Equal(t, http.StatusOK, rec.Code, "Gemini answers a blocked prompt with a 200")
	r := decodeGemini(t, rec.Body.Bytes())
	require.Empty(t, r.Candidates)
	require.Equal(t, "SAFETY", r.PromptFeedback.BlockReason)
	require.Equal(t, r.UsageMetadata.PromptTokenCount, r.UsageMetadata.TotalTokenCount)

	_, ts := start(t, Options{})
	resp := post(t, ts, geminiStreamPath, geminiBody, "x-goog-api-key", "k", "x-mock-safety-block", "1")
	events, err := readEvents(resp.Body)
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, "SAFETY", decodeGemini(t, []byte(events[0])).PromptFeedback.BlockReason)
}

func TestGeminiFinishReasonKnob(t *testing.T) {
	s := New(Options{})
	r := decodeGemini(t, serve(s, http.MethodPost, geminiPath, geminiBody, "x-goog-api-key", "k", "x-mock-finish-reason", "SAFETY").Body.Bytes())
	require.Equal(t, "SAFETY", r.Candidates[0].FinishReason)
	require.Nil(t, r.Candidates[0].Content, "a candidate blocked for safety comes without content")
	r = decodeGemini(t, serve(s, http.MethodPost, geminiPath, geminiBody, "x-goog-api-key", "k", "x-mock-finish-reason", "MAX_TOKENS").Body.Bytes())
	require.Equal(t, "MAX_TOKENS", r.Candidates[0].FinishReason)
	require.NotNil(t, r.Candidates[0].Content)
}

func TestGeminiMaxOutputTokensAndCandidates(t *testing.T) {
	s := New(Options{Name: "g"})
	body := `{"contents":[{"parts":[{"text":"What is the capital of France?"}]}],"generation_config":{"max_output_tokens":2,"candidate_count":2}}`
	r := decodeGemini(t, serve(s, http.MethodPost, geminiPath, body, "x-goog-api-key", "k").Body.Bytes())
	require.Len(t, r.Candidates, 2)
	require.Equal(t, 1, r.Candidates[1].Index)
	for _, c := range r.Candidates {
		require.Equal(t, "MAX_TOKENS", c.FinishReason)
		require.Equal(t, "Hello fr", c.Content.Parts[0].Text)
	}
}

func TestGeminiInjectedFailures(t *testing.T) {
	s := New(Options{})
	rec := serve(s, http.MethodPost, geminiPath, geminiBody, "x-goog-api-key", "k", "x-mock-status", "429", "x-mock-retry-after", "2")
	e := decodeGeminiError(t, rec, http.StatusTooManyRequests)
	require.Equal(t, "RESOURCE_EXHAUSTED", e.Error.Status)
	require.Contains(t, e.Error.Message, "You exceeded your current quota")
	require.Equal(t, "2", rec.Header().Get("Retry-After"))

	e = decodeGeminiError(t, serve(s, http.MethodPost, geminiPath, geminiBody, "x-goog-api-key", "k", "x-mock-status", "503"), http.StatusServiceUnavailable)
	require.Equal(t, "UNAVAILABLE", e.Error.Status)

	e = decodeGeminiError(t, serve(s, http.MethodPost, geminiPath, geminiBody, "x-goog-api-key", "k", "x-mock-context-overflow", "1"), http.StatusBadRequest)
	require.Contains(t, e.Error.Message, "exceeds the maximum number of tokens allowed (1048576)")

	e = decodeGeminiError(t, serve(s, http.MethodPost, geminiPath, geminiBody, "x-goog-api-key", "k", "x-mock-chunks", "zero"), http.StatusBadRequest)
	require.Contains(t, e.Error.Message, "x-mock-chunks")
}

func TestGeminiFailStreamAfter(t *testing.T) {
	_, ts := start(t, Options{})
	resp := post(t, ts, geminiStreamPath, geminiBody, "x-goog-api-key", "k", "x-mock-chunks", "5", "x-mock-fail-stream-after", "2")
	events, err := readEvents(resp.Body)
	require.Error(t, err, "the connection is reset mid-stream")
	require.Len(t, events, 2)
	for _, ev := range events {
		require.Empty(t, decodeGemini(t, []byte(ev)).Candidates[0].FinishReason)
	}
}

const geminiToolsBody = `{"contents":[{"role":"user","parts":[{"text":"Weather in Paris?"}]}],
 "tools":[{"functionDeclarations":[
   {"name":"get_time","parameters":{"type":"object","properties":{"tz":{"type":"string"}}}},
   {"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"},"unit":{"type":"string","enum":["c","f"]},"hourly":{"type":"boolean"}},"required":["city","days","unit","hourly"]}}]}]%s}`

func TestGeminiFunctionCalling(t *testing.T) {
	s := New(Options{Name: "g"})
	for name, tt := range map[string]struct {
		toolConfig string
		wantCall   string
	}{
		"auto picks the first":   {"", "get_time"},
		"allowed names":          {`,"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_weather"]}}`, "get_weather"},
		"snake case":             {`,"tool_config":{"function_calling_config":{"mode":"ANY","allowed_function_names":["get_weather"]}}`, "get_weather"},
		"mode NONE answers text": {`,"toolConfig":{"functionCallingConfig":{"mode":"NONE"}}`, ""},
	} {
		t.Run(name, func(t *testing.T) {
			body := strings.Replace(geminiToolsBody, "%s", tt.toolConfig, 1)
			rec := serve(s, http.MethodPost, geminiPath, body, "x-goog-api-key", "k")
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			parts := decodeGemini(t, rec.Body.Bytes()).Candidates[0].Content.Parts
			if tt.wantCall == "" {
				require.Nil(t, parts[0].FunctionCall)
				require.Equal(t, Reply("g", "Weather in Paris?"), parts[0].Text)
				return
			}
			require.Len(t, parts, 1)
			require.Equal(t, tt.wantCall, parts[0].FunctionCall.Name)
			if tt.wantCall == "get_weather" {
				require.Equal(t, map[string]any{"city": "mock", "days": float64(1), "unit": "c", "hourly": true}, parts[0].FunctionCall.Args)
			} else {
				require.Empty(t, parts[0].FunctionCall.Args)
			}
		})
	}

	after := `{"contents":[{"role":"user","parts":[{"text":"Weather?"}]},
	  {"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}}]},
	  {"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"temp_c":21}}}]}],
	  "tools":[{"function_declarations":[{"name":"get_weather"}]}]}`
	rec := serve(s, http.MethodPost, geminiPath, after, "x-goog-api-key", "k")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	parts := decodeGemini(t, rec.Body.Bytes()).Candidates[0].Content.Parts
	require.Equal(t, `Hello from mock g! The function returned: {"temp_c":21}`, parts[0].Text)

	// Streamed, the call comes whole in the last event.
	_, ts := start(t, Options{})
	resp := post(t, ts, geminiStreamPath, strings.Replace(geminiToolsBody, "%s", "", 1), "x-goog-api-key", "k", "x-mock-chunks", "3")
	events, err := readEvents(resp.Body)
	require.NoError(t, err)
	require.Len(t, events, 1)
	r := decodeGemini(t, []byte(events[0]))
	require.Equal(t, "get_time", r.Candidates[0].Content.Parts[0].FunctionCall.Name)
	require.Equal(t, "STOP", r.Candidates[0].FinishReason)
}

func TestGeminiBatchEmbedContents(t *testing.T) {
	s := New(Options{})
	path := "/v1beta/models/text-embedding-004:batchEmbedContents"
	body := `{"requests":[{"model":"models/text-embedding-004","content":{"parts":[{"text":"a"}]},"outputDimensionality":4},
	  {"model":"models/text-embedding-004","content":{"parts":[{"text":"b"}]}}]}`
	rec := serve(s, http.MethodPost, path, body, "x-goog-api-key", "k")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var out struct {
		Embeddings []struct{ Values []float64 } `json:"embeddings"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
	require.Len(t, out.Embeddings, 2)
	require.Len(t, out.Embeddings[0].Values, 4)
	require.Len(t, out.Embeddings[1].Values, DefaultEmbeddingDims)

	e := decodeGeminiError(t, serve(s, http.MethodPost, path, `{"requests":[{"model":"models/other","content":{"parts":[{"text":"a"}]}}]}`, "x-goog-api-key", "k"), http.StatusBadRequest)
	require.Contains(t, e.Error.Message, "does not match")
	decodeGeminiError(t, serve(s, http.MethodPost, path, `{"requests":[]}`, "x-goog-api-key", "k"), http.StatusBadRequest)
	decodeGeminiError(t, serve(s, http.MethodPost, path, body, "x-goog-api-key", "k", "x-mock-status", "500"), http.StatusInternalServerError)
}
