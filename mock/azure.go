package mock

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// Azure OpenAI's routes. The deployment is in the path and the answers are
// OpenAI's (the handlers of /v1/chat/completions and /v1/embeddings), so a
// test sees exactly what the gateway sent (path, api-version, api-key) in
// the recorded request:
//
//	POST /openai/deployments/{deployment}/chat/completions?api-version=V   api-key: KEY, or Authorization: Bearer ENTRA-JWT
//	POST /openai/deployments/{deployment}/completions?api-version=V        (answered as chat: the mock has no text completions)
//	POST /openai/deployments/{deployment}/embeddings?api-version=V
//	POST /openai/deployments/{deployment}/images/generations, images/edits, audio/speech, audio/transcriptions (media.go)
//	POST /openai/v1/chat/completions   api-key: KEY, or Authorization: Bearer KEY
//	POST /openai/v1/embeddings
//	GET  /openai/models?api-version=V, GET /openai/v1/models   the mock's model list (the health probe)
//
// As Azure does, a deployments request without api-version gets 404
// {"error":{"code":"404","message":"Resource not found"}}, and one without a
// key 401 "Access denied due to invalid subscription key ...". Any key is
// accepted. Per request:
//
//	x-mock-content-filter: 1 (or prompt)   Azure's content-filter 400 (code content_filter,
//	                                       innererror ResponsibleAIPolicyViolation)
//	x-mock-content-filter: completion      a 200 completion cut by the filter
//	                                       (finish_reason "content_filter"), streamed if asked
func init() {
	providerRoutes = append(providerRoutes, providerRoute{match: matchAzure, serve: (*Server).serveAzure})
}

const hdrContentFilter = "X-Mock-Content-Filter"

func matchAzure(method, path string) bool {
	if method == http.MethodGet {
		return path == "/openai/models" || path == "/openai/v1/models"
	}
	if method != http.MethodPost {
		return false
	}
	_, _, ok := azureRoute(path)
	return ok
}

// azureRoute splits an Azure path into its deployment ("" on the v1 API) and
// its OpenAI endpoint ("/chat/completions", "/embeddings", ...).
func azureRoute(path string) (deployment, endpoint string, ok bool) {
	if ep, found := strings.CutPrefix(path, "/openai/v1"); found {
		return "", ep, azureEndpoint(ep)
	}
	rest, found := strings.CutPrefix(path, "/openai/deployments/")
	if !found {
		return "", "", false
	}
	deployment, ep, found := strings.Cut(rest, "/")
	if !found || deployment == "" {
		return "", "", false
	}
	return deployment, "/" + ep, azureEndpoint("/" + ep)
}

func azureEndpoint(ep string) bool {
	_, media := mediaHandlers[ep]
	return ep == "/chat/completions" || ep == "/completions" || ep == "/embeddings" || (media && ep != "/moderations")
}

// Azure's own error bodies, which are not OpenAI's shape (no type, a string
// code).
var (
	azureResourceNotFound = []byte(`{"error":{"code":"404","message":"Resource not found"}}`)
	azureAccessDenied     = []byte(`{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."}}`)
	// AzureContentFilterError is Azure's answer to a prompt its content filter
	// blocks (HTTP 400), as Microsoft documents it.
	AzureContentFilterError = []byte(`{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":true,"severity":"high"},"jailbreak":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}}}`)
)

func (s *Server) serveAzure(w http.ResponseWriter, r *http.Request, body []byte, opts *Options) {
	_, ep, _ := azureRoute(r.URL.Path)
	v1 := strings.HasPrefix(r.URL.Path, "/openai/v1/")
	if !v1 && r.URL.Query().Get("api-version") == "" {
		writeJSONBytes(w, http.StatusNotFound, azureResourceNotFound)
		return
	}
	if !azureHasKey(r.Header, v1) {
		writeJSONBytes(w, http.StatusUnauthorized, azureAccessDenied)
		return
	}
	if r.Method == http.MethodGet {
		writeJSONBytes(w, http.StatusOK, modelsList)
		return
	}
	filter, _ := header(r.Header, hdrContentFilter)
	switch strings.ToLower(filter) {
	case "":
	case "1", "true", "prompt":
		w.Header()["X-Request-Id"] = []string{s.newID("req_", 24)}
		writeJSONBytes(w, http.StatusBadRequest, AzureContentFilterError)
		return
	case "completion":
		if ep == "/chat/completions" || ep == "/completions" {
			s.azureFilteredCompletion(w, r, body, opts)
			return
		}
	default:
		writeError(w, badHeader(hdrContentFilter, "1, prompt or completion"))
		return
	}
	if ep == "/embeddings" {
		s.embeddings(w, r, body, opts)
		return
	}
	if serve, ok := mediaHandlers[ep]; ok {
		serve(s, w, r, body, opts)
		return
	}
	s.chatCompletions(w, r, body, opts)
}

// azureHasKey reports whether the request carries a credential: api-key on
// every route, a bearer key on the v1 API (which takes both), or on any
// route a bearer Microsoft Entra ID token (a JWT: three dot-separated
// parts, the first "eyJ", as Azure checks it).
func azureHasKey(h http.Header, v1 bool) bool {
	if k, _ := header(h, "Api-Key"); k != "" {
		return true
	}
	auth, _ := header(h, "Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	token = strings.TrimSpace(token)
	if !ok || token == "" {
		return false
	}
	return v1 || (strings.HasPrefix(token, "eyJ") && strings.Count(token, ".") == 2)
}

// azureFilteredCompletion answers a chat completion whose output the content
// filter stopped: no content, finish_reason "content_filter" and Azure's
// content_filter_results on the choice.
func (s *Server) azureFilteredCompletion(w http.ResponseWriter, r *http.Request, body []byte, opts *Options) {
	call, e := parseChat(body)
	if e != nil {
		writeError(w, e)
		return
	}
	a, e := s.resolve(opts, r.Header)
	if e != nil {
		writeError(w, e)
		return
	}
	if !wait(r, a.latency) {
		return
	}
	w.Header()["X-Request-Id"] = []string{s.newID("req_", 24)}
	const results = `"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":true,"severity":"medium"}}`
	id := s.newID("chatcmpl-", 29)
	created := strconv.FormatInt(time.Now().Unix(), 10)
	model := string(jsonscan.AppendString(nil, call.model))
	if call.stream {
		h := w.Header()
		h["Content-Type"] = []string{"text/event-stream; charset=utf-8"}
		h["Cache-Control"] = []string{"no-cache"}
		w.WriteHeader(http.StatusOK)
		prefix := `data: {"id":"` + id + `","object":"chat.completion.chunk","created":` + created + `,"model":` + model + `,"choices":`
		_, _ = w.Write([]byte(prefix + `[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}` + "\n\n" +
			prefix + `[{"index":0,"delta":{},"logprobs":null,"finish_reason":"content_filter",` + results + `}]}` + "\n\n" +
			"data: [DONE]\n\n"))
		return
	}
	usage := `{"prompt_tokens":` + strconv.Itoa(call.promptTokens) + `,"completion_tokens":0,"total_tokens":` + strconv.Itoa(call.promptTokens) + `}`
	writeJSONBytes(w, http.StatusOK, []byte(`{"id":"`+id+`","object":"chat.completion","created":`+created+`,"model":`+model+
		`,"choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":null},"logprobs":null,"finish_reason":"content_filter",`+results+`}],"usage":`+usage+
		`,"system_fingerprint":`+string(jsonscan.AppendString(nil, "mock:"+opts.Name))+`}`))
}
