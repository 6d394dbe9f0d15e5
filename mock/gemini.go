package mock

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// Google's Gemini API (AI Studio) routes, with Google's wire shapes:
//
//	POST /v1beta/models/{model}:generateContent              GenerateContentResponse
//	POST /v1beta/models/{model}:streamGenerateContent?alt=sse  SSE of partial GenerateContentResponses
//	                                                          (without alt=sse: a JSON array of them)
//	POST /v1beta/models/{model}:batchEmbedContents           {"embeddings": [{"values": [...]}]}
//	GET  /v1beta/models, /v1beta/models/{model}               models.list, models.get (the health probe)
//
// (/v1/ and tunedModels/ paths are served the same way.) The key is read
// from x-goog-api-key, or the key query parameter as Google also accepts;
// any key passes, none gets Google's 403 PERMISSION_DENIED. Errors are
// Google's: {"error": {"code", "message", "status"}}. The reply is the one
// of the OpenAI route (Reply), split into chunks events when streamed,
// each event carrying the usage so far; token counts use EstimateTokens.
//
// When the request declares functions, the function calling mode is not
// NONE and the last turn is not a function response, the model "calls"
// the first allowed function with arguments made up from its schema's
// required properties; after a function response it answers in text.
//
// The x-mock-* headers of the OpenAI routes apply (status, latency, chunk
// delay, chunks, retry-after, fail-stream-after), plus:
//
//	x-mock-safety-block: 1            the prompt is blocked: 200 with promptFeedback.blockReason
//	                                  SAFETY and no candidates
//	x-mock-finish-reason: REASON      the candidate ends with REASON (SAFETY, RECITATION, ...
//	                                  leave it without content, as Gemini does; MAX_TOKENS keeps it)
//	x-mock-context-overflow: 1        400 INVALID_ARGUMENT "The input token count (N) exceeds the
//	                                  maximum number of tokens allowed (1048576)."
func init() {
	providerRoutes = append(providerRoutes, providerRoute{match: matchGemini, serve: (*Server).serveGemini})
}

const (
	hdrSafetyBlock     = "X-Mock-Safety-Block"
	hdrFinishReason    = "X-Mock-Finish-Reason"
	hdrContextOverflow = "X-Mock-Context-Overflow"
)

// geminiInputLimit is the input limit the mock reports on an overflow
// (Gemini 2.x Flash's).
const geminiInputLimit = 1048576

func matchGemini(method, path string) bool {
	switch method {
	case http.MethodPost:
		_, _, ok := geminiRoute(path)
		return ok
	case http.MethodGet:
		// /v1/models/{id} is OpenAI's; Gemini's model routes are /v1beta's.
		return path == "/v1beta/models" || strings.HasPrefix(path, "/v1beta/models/")
	}
	return false
}

// geminiRoute splits /{version}/{models|tunedModels}/{model}:{method}.
func geminiRoute(path string) (model, method string, ok bool) {
	rest, found := strings.CutPrefix(path, "/v1beta/")
	if !found {
		if rest, found = strings.CutPrefix(path, "/v1/"); !found {
			return "", "", false
		}
	}
	if !strings.HasPrefix(rest, "models/") && !strings.HasPrefix(rest, "tunedModels/") {
		return "", "", false
	}
	_, name, _ := strings.Cut(rest, "/")
	model, method, ok = strings.Cut(name, ":")
	if !ok || model == "" || strings.Contains(model, "/") {
		return "", "", false
	}
	return model, method, true
}

// geminiStatuses are the google.rpc status names Google sends with each
// HTTP status (Gemini API troubleshooting guide), and its messages for the
// statuses tests inject most.
var geminiStatuses = map[int]struct{ status, message string }{
	400: {"INVALID_ARGUMENT", "Request contains an invalid argument."},
	401: {"UNAUTHENTICATED", "Request had invalid authentication credentials."},
	403: {"PERMISSION_DENIED", "The caller does not have permission"},
	404: {"NOT_FOUND", "Requested entity was not found."},
	409: {"ABORTED", "The operation was aborted."},
	429: {"RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."},
	499: {"CANCELLED", "The operation was cancelled."},
	500: {"INTERNAL", "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"},
	501: {"UNIMPLEMENTED", "Operation is not implemented, or supported, or enabled."},
	503: {"UNAVAILABLE", "The model is overloaded. Please try again later."},
	504: {"DEADLINE_EXCEEDED", "Deadline expired before operation could complete."},
}

func writeGeminiError(w http.ResponseWriter, code int, message string) {
	spec, ok := geminiStatuses[code]
	if !ok {
		spec.status = "UNKNOWN"
		if code >= 400 && code < 500 {
			spec.status = "FAILED_PRECONDITION"
		}
	}
	if message == "" {
		message = spec.message
	}
	if message == "" {
		message = http.StatusText(code)
	}
	b := append([]byte(`{"error":{"code":`), strconv.Itoa(code)...)
	b = append(b, `,"message":`...)
	b = jsonscan.AppendString(b, message)
	b = append(b, `,"status":"`...)
	b = append(b, spec.status...)
	b = append(b, `"}}`...)
	writeJSONBytes(w, code, b)
}

func (s *Server) serveGemini(w http.ResponseWriter, r *http.Request, body []byte, opts *Options) {
	if r.Header.Get("X-Goog-Api-Key") == "" && r.URL.Query().Get("key") == "" {
		writeGeminiError(w, http.StatusForbidden, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.")
		return
	}
	if r.Method == http.MethodGet {
		serveGeminiModel(w, strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/v1beta/models"), "/"))
		return
	}
	model, method, _ := geminiRoute(r.URL.Path)
	switch method {
	case "generateContent":
		s.geminiGenerate(w, r, model, body, opts, false)
	case "streamGenerateContent":
		s.geminiGenerate(w, r, model, body, opts, true)
	case "batchEmbedContents":
		s.geminiBatchEmbed(w, r, model, body, opts)
	default:
		writeGeminiError(w, http.StatusNotFound, "Method not found.")
	}
}

// serveGeminiModel answers models.list (id "") and models.get: any model
// name exists, as any model name is served.
func serveGeminiModel(w http.ResponseWriter, id string) {
	model := func(name string) map[string]any {
		return map[string]any{
			"name": "models/" + name, "version": "001", "displayName": name,
			"inputTokenLimit": geminiInputLimit, "outputTokenLimit": 8192,
			"supportedGenerationMethods": []string{"generateContent", "countTokens"},
		}
	}
	switch {
	case id == "":
		writeJSON(w, http.StatusOK, map[string]any{"models": []any{model("gemini-2.0-flash")}})
	case strings.Contains(id, "/") || strings.Contains(id, ":"):
		writeGeminiError(w, http.StatusNotFound, "Method not found.")
	default:
		writeJSON(w, http.StatusOK, model(id))
	}
}

// geminiObj reads a JSON object the way Google's JSON parser does: a field
// may be written in lowerCamelCase or snake_case.
type geminiObj map[string]json.RawMessage

func (o geminiObj) get(camel string) json.RawMessage {
	if v, ok := o[camel]; ok {
		return v
	}
	var sb strings.Builder
	for _, c := range camel {
		if c >= 'A' && c <= 'Z' {
			sb.WriteByte('_')
			c += 'a' - 'A'
		}
		sb.WriteRune(c)
	}
	return o[sb.String()]
}

func (o geminiObj) obj(camel string) geminiObj {
	var v geminiObj
	_ = json.Unmarshal(o.get(camel), &v)
	return v
}

func (o geminiObj) list(camel string) []geminiObj {
	var v []geminiObj
	_ = json.Unmarshal(o.get(camel), &v)
	return v
}

func (o geminiObj) str(camel string) string {
	var v string
	_ = json.Unmarshal(o.get(camel), &v)
	return v
}

// geminiCall is a validated generateContent request, reduced to what the
// mock uses.
type geminiCall struct {
	lastUser     string
	promptTokens int
	candidates   int
	maxTokens    int // 0: unlimited
	// call is the function to call, "" to answer in text.
	call     string
	callArgs map[string]any
	// result is the last function response, when the last turn is one.
	result string
}

func parseGeminiCall(body []byte) (geminiCall, string) {
	c := geminiCall{candidates: 1}
	var req geminiObj
	if err := json.Unmarshal(body, &req); err != nil {
		return c, "Invalid JSON payload received. " + err.Error()
	}
	contents := req.list("contents")
	if len(contents) == 0 {
		return c, "* GenerateContentRequest.contents: contents is not specified\n"
	}
	runes := 0
	for _, p := range req.obj("systemInstruction").list("parts") {
		runes += utf8.RuneCountInString(p.str("text"))
	}
	lastIsResult := false
	for i, content := range contents {
		role := content.str("role")
		if role != "" && role != "user" && role != "model" {
			return c, "Please use a valid role: user, model."
		}
		parts := content.list("parts")
		if len(parts) == 0 {
			return c, "* GenerateContentRequest.contents[" + strconv.Itoa(i) + "].parts: contents.parts must not be empty.\n"
		}
		lastIsResult = false
		var texts []string
		for _, p := range parts {
			if t := p.str("text"); t != "" {
				texts = append(texts, t)
				runes += utf8.RuneCountInString(t)
			}
			if fr := p.obj("functionResponse"); fr != nil {
				if fr.str("name") == "" {
					return c, "* GenerateContentRequest.contents[" + strconv.Itoa(i) + "].parts: function_response.name must not be empty.\n"
				}
				lastIsResult = true
				c.result = string(fr.get("response"))
				runes += utf8.RuneCount(fr.get("response"))
			}
			if fc := p.obj("functionCall"); fc != nil && fc.str("name") == "" {
				return c, "* GenerateContentRequest.contents[" + strconv.Itoa(i) + "].parts: function_call.name must not be empty.\n"
			}
		}
		if role != "model" && len(texts) > 0 {
			c.lastUser = strings.Join(texts, " ")
		}
	}
	c.promptTokens = tokensForRunes(runes)

	gen := req.obj("generationConfig")
	if n, err := strconv.Atoi(string(gen.get("candidateCount"))); err == nil && n > 1 {
		c.candidates = min(n, 8)
	}
	if n, err := strconv.Atoi(string(gen.get("maxOutputTokens"))); err == nil && n > 0 {
		c.maxTokens = n
	}

	var decls []geminiObj
	for _, tool := range req.list("tools") {
		decls = append(decls, tool.list("functionDeclarations")...)
	}
	fcc := req.obj("toolConfig").obj("functionCallingConfig")
	mode := fcc.str("mode")
	if len(decls) > 0 && mode != "NONE" && !lastIsResult {
		var allowed []string
		_ = json.Unmarshal(fcc.get("allowedFunctionNames"), &allowed)
		for _, d := range decls {
			name := d.str("name")
			if name == "" {
				return c, "* GenerateContentRequest.tools[0].function_declarations[0].name: Name cannot be empty.\n"
			}
			if c.call == "" && (len(allowed) == 0 || geminiContains(allowed, name)) {
				c.call, c.callArgs = name, geminiArgsFor(d.obj("parameters"))
			}
		}
	}
	if !lastIsResult {
		c.result = ""
	}
	return c, ""
}

func geminiContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// geminiArgsFor makes up arguments for a function: a value of the right
// type for each required property.
func geminiArgsFor(schema geminiObj) map[string]any {
	args := map[string]any{}
	var required []string
	_ = json.Unmarshal(schema.get("required"), &required)
	props := schema.obj("properties")
	for _, name := range required {
		var p geminiObj
		_ = json.Unmarshal(props[name], &p)
		var enum []any
		_ = json.Unmarshal(p.get("enum"), &enum)
		switch {
		case len(enum) > 0:
			args[name] = enum[0]
		default:
			switch strings.ToLower(p.str("type")) {
			case "integer", "number":
				args[name] = 1
			case "boolean":
				args[name] = true
			case "array":
				args[name] = []any{}
			case "object":
				args[name] = map[string]any{}
			default:
				args[name] = "mock"
			}
		}
	}
	return args
}

// geminiFlaggedFinish are the finish reasons whose candidate Gemini sends
// without content.
var geminiFlaggedFinish = map[string]bool{
	"SAFETY": true, "RECITATION": true, "BLOCKLIST": true, "PROHIBITED_CONTENT": true,
	"SPII": true, "IMAGE_SAFETY": true,
}

func (s *Server) geminiGenerate(w http.ResponseWriter, r *http.Request, model string, body []byte, opts *Options, stream bool) {
	call, problem := parseGeminiCall(body)
	if problem != "" {
		writeGeminiError(w, http.StatusBadRequest, problem)
		return
	}
	a, e := s.resolve(opts, r.Header)
	if e != nil {
		writeGeminiError(w, http.StatusBadRequest, e.Message)
		return
	}
	if a.failStatus != 0 {
		if wait(r, a.latency) {
			setRetryAfter(w.Header(), a.retryAfter)
			writeGeminiError(w, a.failStatus, "")
		}
		return
	}
	if v, _ := header(r.Header, hdrContextOverflow); v == "1" {
		if wait(r, a.latency) {
			writeGeminiError(w, http.StatusBadRequest, "The input token count ("+strconv.Itoa(geminiInputLimit+call.promptTokens)+") exceeds the maximum number of tokens allowed ("+strconv.Itoa(geminiInputLimit)+").")
		}
		return
	}
	g := geminiAnswer{
		call:       call,
		model:      model,
		responseID: s.newID("", 22),
		finish:     "STOP",
	}
	if v, _ := header(r.Header, hdrSafetyBlock); v == "1" || strings.EqualFold(v, "true") {
		g.blocked = true
	}
	if call.call == "" {
		if call.result != "" {
			g.text = "Hello from mock " + opts.Name + "! The function returned: " + firstRunes(call.result, 60)
		} else {
			g.text = Reply(opts.Name, call.lastUser)
		}
		if call.maxTokens > 0 && EstimateTokens(g.text) > call.maxTokens {
			g.text, g.finish = firstRunes(g.text, 4*call.maxTokens), "MAX_TOKENS"
		}
	}
	if v, ok := header(r.Header, hdrFinishReason); ok && v != "" {
		g.finish = v
	}
	if !stream {
		if !wait(r, a.latency) {
			return
		}
		if a.failStreamAfter >= 0 {
			panic(http.ErrAbortHandler)
		}
		writeJSON(w, http.StatusOK, g.response(g.parts(g.text, true), true))
		return
	}
	s.geminiStream(w, r, &g, a, r.URL.Query().Get("alt") == "sse")
}

// geminiAnswer is what the mock model answers to one request.
type geminiAnswer struct {
	call       geminiCall
	model      string
	responseID string
	text       string
	finish     string
	blocked    bool
	sentTokens int
}

// parts is the content of one event: text, and (on the last event) the
// function call.
func (g *geminiAnswer) parts(text string, last bool) []map[string]any {
	var parts []map[string]any
	if text != "" {
		parts = append(parts, map[string]any{"text": text})
	}
	if last && g.call.call != "" {
		parts = append(parts, map[string]any{"functionCall": map[string]any{"name": g.call.call, "args": g.call.callArgs}})
	}
	return parts
}

// response is one GenerateContentResponse carrying parts, with the usage
// so far; last adds the finish reason.
func (g *geminiAnswer) response(parts []map[string]any, last bool) map[string]any {
	resp := map[string]any{"modelVersion": g.model, "responseId": g.responseID}
	usage := map[string]any{"promptTokenCount": g.call.promptTokens}
	if g.blocked {
		resp["promptFeedback"] = map[string]any{
			"blockReason": "SAFETY",
			"safetyRatings": []map[string]any{
				{"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "probability": "NEGLIGIBLE"},
				{"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"},
				{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
				{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"},
			},
		}
		usage["totalTokenCount"] = g.call.promptTokens
		resp["usageMetadata"] = usage
		return resp
	}
	for _, p := range parts {
		if t, ok := p["text"].(string); ok {
			g.sentTokens += EstimateTokens(t)
		}
		if _, ok := p["functionCall"]; ok {
			g.sentTokens += 5
		}
	}
	var candidates []map[string]any
	for i := range g.call.candidates {
		c := map[string]any{"index": i}
		if i == 0 {
			delete(c, "index") // proto3 JSON leaves out zeros
		}
		if len(parts) > 0 && !(last && geminiFlaggedFinish[g.finish]) {
			c["content"] = map[string]any{"parts": parts, "role": "model"}
		}
		if last {
			c["finishReason"] = g.finish
		}
		candidates = append(candidates, c)
	}
	resp["candidates"] = candidates
	usage["candidatesTokenCount"] = g.sentTokens * g.call.candidates
	usage["totalTokenCount"] = g.call.promptTokens + g.sentTokens*g.call.candidates
	resp["usageMetadata"] = usage
	return resp
}

// geminiStream sends the answer as Gemini streams: SSE events "data: {...}"
// separated by CRLF CRLF (alt=sse), or one JSON array written piece by piece.
func (s *Server) geminiStream(w http.ResponseWriter, r *http.Request, g *geminiAnswer, a attempt, sse bool) {
	if !wait(r, a.latency) {
		return
	}
	h := w.Header()
	if sse {
		h["Content-Type"] = []string{"text/event-stream"}
	} else {
		h["Content-Type"] = []string{"application/json; charset=UTF-8"}
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	n := 0
	send := func(resp map[string]any) bool {
		b, err := json.Marshal(resp)
		if err != nil {
			return false
		}
		var out []byte
		switch {
		case sse:
			out = append(append([]byte("data: "), b...), "\r\n\r\n"...)
		case n == 0:
			out = append([]byte("[{"), b[1:]...)
		default:
			out = append([]byte(",\r\n{"), b[1:]...)
		}
		n++
		if _, err := w.Write(out); err != nil {
			return false
		}
		return flush(rc)
	}
	finish := func() {
		if !sse {
			if _, err := io.WriteString(w, "]"); err == nil {
				flush(rc)
			}
		}
	}
	if g.blocked {
		if send(g.response(nil, true)) {
			finish()
		}
		return
	}
	var pieces []string
	for _, p := range splitRunes(g.text, a.chunks) {
		if p != "" {
			pieces = append(pieces, p)
		}
	}
	if len(pieces) == 0 {
		pieces = []string{""} // a function call alone
	}
	for i, piece := range pieces {
		if i == a.failStreamAfter {
			panic(http.ErrAbortHandler)
		}
		if i > 0 && !wait(r, a.chunkDelay) {
			return
		}
		last := i == len(pieces)-1
		if !send(g.response(g.parts(piece, last), last)) {
			return
		}
	}
	if a.failStreamAfter >= 0 {
		panic(http.ErrAbortHandler)
	}
	finish()
}

func (s *Server) geminiBatchEmbed(w http.ResponseWriter, r *http.Request, model string, body []byte, opts *Options) {
	var req struct {
		Requests []geminiObj `json:"requests"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeGeminiError(w, http.StatusBadRequest, "Invalid JSON payload received. "+err.Error())
		return
	}
	if len(req.Requests) == 0 {
		writeGeminiError(w, http.StatusBadRequest, "* BatchEmbedContentsRequest.requests: requests is not specified\n")
		return
	}
	a, e := s.resolve(opts, r.Header)
	if e != nil {
		writeGeminiError(w, http.StatusBadRequest, e.Message)
		return
	}
	if !wait(r, a.latency) {
		return
	}
	if a.failStatus != 0 {
		setRetryAfter(w.Header(), a.retryAfter)
		writeGeminiError(w, a.failStatus, "")
		return
	}
	type values struct {
		Values []float32 `json:"values"`
	}
	out := struct {
		Embeddings []values `json:"embeddings"`
	}{make([]values, len(req.Requests))}
	for i, one := range req.Requests {
		if m := strings.TrimPrefix(one.str("model"), "models/"); m != model {
			writeGeminiError(w, http.StatusBadRequest, "* BatchEmbedContentsRequest.model: model in the request ("+one.str("model")+") does not match the model in the URL (models/"+model+").\n")
			return
		}
		var texts []string
		for _, p := range one.obj("content").list("parts") {
			texts = append(texts, p.str("text"))
		}
		dims := DefaultEmbeddingDims
		if n, err := strconv.Atoi(string(one.get("outputDimensionality"))); err == nil && n > 0 {
			dims = min(n, MaxEmbeddingDims)
		}
		out.Embeddings[i] = values{embedding([]byte(strings.Join(texts, " ")), dims)}
	}
	writeJSON(w, http.StatusOK, out)
}
