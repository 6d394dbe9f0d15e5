package mock

import (
	"encoding/json"
	"hash/fnv"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// OpenAI's media and moderation endpoints, answered as OpenAI documents
// them:
//
//	POST /v1/images/generations     {"created","data":[{"url"|"b64_json","revised_prompt"}]};
//	                                gpt-image-* models: b64_json and a token usage
//	POST /v1/moderations            {"id","model","results":[{"flagged","categories","category_scores"}]};
//	                                an input containing "kill" is flagged as violence
//	POST /v1/audio/speech           audio bytes (audio/mpeg, or the response_format's type)
//	POST /v1/audio/transcriptions   multipart/form-data (file, model) → {"text","usage":{"type":"duration","seconds"}};
//	                                response_format text → text/plain, verbose_json → with "duration"
//	POST /v1/images/edits           multipart/form-data (image or image[] files, prompt, mask, model, n,
//	                                response_format) → the images answer (image_edits.go)
//
// Required fields are checked as OpenAI does (400 invalid_request_error),
// and the x-mock-* headers apply. The Azure routes serve the same answers
// under /openai/deployments/{deployment}/... (azure.go).
func init() {
	providerRoutes = append(providerRoutes, providerRoute{
		match: func(method, path string) bool {
			_, ok := mediaHandlers[strings.TrimPrefix(path, "/v1")]
			return method == http.MethodPost && strings.HasPrefix(path, "/v1/") && ok
		},
		serve: func(s *Server, w http.ResponseWriter, r *http.Request, body []byte, opts *Options) {
			mediaHandlers[strings.TrimPrefix(r.URL.Path, "/v1")](s, w, r, body, opts)
		},
	})
}

type mediaHandler func(s *Server, w http.ResponseWriter, r *http.Request, body []byte, opts *Options)

// mediaHandlers by endpoint, without /v1.
var mediaHandlers = map[string]mediaHandler{
	"/images/generations":   (*Server).images,
	"/images/edits":         (*Server).imageEdits,
	"/moderations":          (*Server).moderations,
	"/audio/speech":         (*Server).speech,
	"/audio/transcriptions": (*Server).transcriptions,
}

// proceed applies the request's x-mock-* headers: it waits the latency and
// answers an injected failure itself. false: the request is answered (or
// the client left).
func (s *Server) proceed(w http.ResponseWriter, r *http.Request, opts *Options, model string) bool {
	a, e := s.resolve(opts, r.Header)
	if e != nil {
		writeError(w, e)
		return false
	}
	w.Header()["X-Request-Id"] = []string{s.newID("req_", 24)}
	if !wait(r, a.latency) {
		return false
	}
	if a.failStatus != 0 {
		setRetryAfter(w.Header(), a.retryAfter)
		writeError(w, newInjectedError(a.failStatus, model, a.retryAfter))
		return false
	}
	if a.failStreamAfter >= 0 {
		panic(http.ErrAbortHandler)
	}
	return true
}

// optionalString reads an optional string field: "" when absent or null.
func optionalString(raw json.RawMessage, param string) (string, *apiError) {
	if isNull(raw) {
		return "", nil
	}
	var v string
	if json.Unmarshal(raw, &v) != nil {
		return "", invalidType(param, "a string", raw)
	}
	return v, nil
}

// modelOr reads an optional model, which OpenAI defaults to def.
func modelOr(raw json.RawMessage, def string) (string, *apiError) {
	model, e := optionalString(raw, "model")
	if model == "" && e == nil {
		model = def
	}
	return model, e
}

func oneOf(v, param string, allowed ...string) *apiError {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return invalidRequest("Invalid value: '"+v+"'. Supported values are: '"+strings.Join(allowed, "', '")+"'.", param, "invalid_value")
}

func (s *Server) images(w http.ResponseWriter, r *http.Request, body []byte, opts *Options) {
	var fields struct {
		Model          json.RawMessage `json:"model"`
		Prompt         json.RawMessage `json:"prompt"`
		N              json.RawMessage `json:"n"`
		ResponseFormat json.RawMessage `json:"response_format"`
	}
	if json.Unmarshal(body, &fields) != nil {
		writeError(w, couldNotParse)
		return
	}
	model, e := modelOr(fields.Model, "dall-e-2")
	if e != nil {
		writeError(w, e)
		return
	}
	if isNull(fields.Prompt) {
		writeError(w, missingParam("prompt"))
		return
	}
	prompt, e := optionalString(fields.Prompt, "prompt")
	if e != nil {
		writeError(w, e)
		return
	}
	n := 1
	if !isNull(fields.N) {
		if json.Unmarshal(fields.N, &n) != nil || n < 1 || n > 10 {
			writeError(w, invalidRequest("Invalid 'n': expected an integer from 1 to 10.", "n", "invalid_value"))
			return
		}
	}
	format, e := optionalString(fields.ResponseFormat, "response_format")
	if e != nil {
		writeError(w, e)
		return
	}
	s.answerImages(w, r, opts, model, prompt, format, n)
}

// answerImages answers an images request of model for n images in format
// (the request's response_format), once the x-mock-* headers let it.
func (s *Server) answerImages(w http.ResponseWriter, r *http.Request, opts *Options, model, prompt, format string, n int) {
	format, e := imageFormat(model, format)
	if e != nil {
		writeError(w, e)
		return
	}
	if !s.proceed(w, r, opts, model) {
		return
	}
	s.writeImages(w, model, prompt, format, n)
}

// imageFormat is the response_format an images answer has: gpt-image
// models always answer base64, the others a URL unless asked otherwise.
func imageFormat(model, format string) (string, *apiError) {
	switch {
	case strings.HasPrefix(model, "gpt-image"):
		return "b64_json", nil
	case format == "":
		return "url", nil
	}
	return format, oneOf(format, "response_format", "url", "b64_json")
}

// writeImages answers n images of model in format, as OpenAI's images
// endpoints do.
func (s *Server) writeImages(w http.ResponseWriter, model, prompt, format string, n int) {
	type image struct {
		URL           string `json:"url,omitempty"`
		B64JSON       string `json:"b64_json,omitempty"`
		RevisedPrompt string `json:"revised_prompt,omitempty"`
	}
	resp := struct {
		Created int64          `json:"created"`
		Data    []image        `json:"data"`
		Usage   map[string]int `json:"usage,omitempty"`
	}{Created: time.Now().Unix(), Data: make([]image, n)}
	for i := range resp.Data {
		if format == "url" {
			resp.Data[i].URL = "https://images.mock.invalid/" + s.newID("img-", 24) + ".png"
		} else {
			// A PNG signature: enough for a client to tell the bytes.
			resp.Data[i].B64JSON = "iVBORw0KGgo="
		}
		if model == "dall-e-3" {
			resp.Data[i].RevisedPrompt = prompt
		}
	}
	if strings.HasPrefix(model, "gpt-image") {
		in := EstimateTokens(prompt)
		resp.Usage = map[string]int{"input_tokens": in, "output_tokens": 272 * n, "total_tokens": in + 272*n}
	}
	writeJSON(w, http.StatusOK, resp)
}

// moderationCategories are OpenAI's omni-moderation categories.
var moderationCategories = []string{"harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
	"self-harm", "self-harm/instructions", "self-harm/intent", "sexual", "sexual/minors", "violence", "violence/graphic"}

func (s *Server) moderations(w http.ResponseWriter, r *http.Request, body []byte, opts *Options) {
	var req struct {
		Model json.RawMessage `json:"model"`
		Input json.RawMessage `json:"input"`
	}
	if json.Unmarshal(body, &req) != nil {
		writeError(w, couldNotParse)
		return
	}
	model, e := modelOr(req.Model, "omni-moderation-latest")
	if e != nil {
		writeError(w, e)
		return
	}
	if isNull(req.Input) {
		writeError(w, missingParam("input"))
		return
	}
	var inputs []string
	var one string
	if json.Unmarshal(req.Input, &one) == nil {
		inputs = []string{one}
	} else if json.Unmarshal(req.Input, &inputs) != nil || len(inputs) == 0 {
		// (Image parts are OpenAI's too; the mock reads text.)
		writeError(w, invalidType("input", "a string or an array of strings", req.Input))
		return
	}
	if !s.proceed(w, r, opts, model) {
		return
	}
	type result struct {
		Flagged        bool               `json:"flagged"`
		Categories     map[string]bool    `json:"categories"`
		CategoryScores map[string]float64 `json:"category_scores"`
	}
	resp := struct {
		ID      string   `json:"id"`
		Model   string   `json:"model"`
		Results []result `json:"results"`
	}{ID: s.newID("modr-", 24), Model: model, Results: make([]result, len(inputs))}
	for i, in := range inputs {
		res := result{Categories: map[string]bool{}, CategoryScores: map[string]float64{}}
		for _, c := range moderationCategories {
			res.Categories[c], res.CategoryScores[c] = false, 0.0001
		}
		if strings.Contains(strings.ToLower(in), "kill") {
			res.Flagged, res.Categories["violence"], res.CategoryScores["violence"] = true, true, 0.93
		}
		resp.Results[i] = res
	}
	writeJSON(w, http.StatusOK, resp)
}

// speechTypes are the content types of OpenAI's speech response formats.
var speechTypes = map[string]string{"mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac", "flac": "audio/flac", "wav": "audio/wav", "pcm": "audio/pcm"}

// MaxSpeechInput is OpenAI's limit on a speech request's input.
const MaxSpeechInput = 4096

func (s *Server) speech(w http.ResponseWriter, r *http.Request, body []byte, opts *Options) {
	var req struct {
		Model          json.RawMessage `json:"model"`
		Input          json.RawMessage `json:"input"`
		Voice          json.RawMessage `json:"voice"`
		ResponseFormat json.RawMessage `json:"response_format"`
	}
	if json.Unmarshal(body, &req) != nil {
		writeError(w, couldNotParse)
		return
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{{"model", req.Model}, {"input", req.Input}, {"voice", req.Voice}} {
		if isNull(f.raw) {
			writeError(w, missingParam(f.name))
			return
		}
	}
	model, e := optionalString(req.Model, "model")
	if e == nil {
		_, e = optionalString(req.Voice, "voice")
	}
	var input string
	if e == nil {
		input, e = optionalString(req.Input, "input")
	}
	if e == nil && len([]rune(input)) > MaxSpeechInput {
		e = invalidRequest("Invalid 'input': string too long. Expected a string with maximum length 4096.", "input", "string_above_max_length")
	}
	format := "mp3"
	if e == nil {
		if f, fe := optionalString(req.ResponseFormat, "response_format"); fe != nil {
			e = fe
		} else if f != "" {
			format = f
			e = oneOf(f, "response_format", "mp3", "opus", "aac", "flac", "wav", "pcm")
		}
	}
	if e != nil {
		writeError(w, e)
		return
	}
	if !s.proceed(w, r, opts, model) {
		return
	}
	audio := speechAudio(input)
	h := w.Header()
	h["Content-Type"] = []string{speechTypes[format]}
	h["Content-Length"] = []string{strconv.Itoa(len(audio))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(audio)
}

// speechAudio is deterministic bytes for an input: an ID3 tag, then bytes
// (not valid UTF-8, as audio is not) as long as the input, at least 64.
func speechAudio(input string) []byte {
	out := []byte("ID3\x04\x00\x00\x00\x00\x00\x00")
	h := fnv.New64a()
	_, _ = h.Write([]byte(input))
	x := h.Sum64() | 1
	for i := 0; i < max(64, len(input)); i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		out = append(out, byte(x)|0x80)
	}
	return out
}

// maxFormMemory bounds what a transcription's form holds in memory.
const maxFormMemory = 32 << 20

// readForm reads a multipart/form-data request as OpenAI does, answering
// its 400 when it is not one: nil then.
func readForm(w http.ResponseWriter, r *http.Request, body []byte) *multipart.Form {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		writeError(w, invalidRequest("Invalid Content-Type header ("+r.Header.Get("Content-Type")+"), expected multipart/form-data. (HINT: If you're using curl, you can pass -H 'Content-Type: multipart/form-data')", "", ""))
		return nil
	}
	form, err := multipart.NewReader(strings.NewReader(string(body)), params["boundary"]).ReadForm(maxFormMemory)
	if err != nil {
		writeError(w, invalidRequest("Could not parse multipart form", "", ""))
		return nil
	}
	return form
}

func (s *Server) transcriptions(w http.ResponseWriter, r *http.Request, body []byte, opts *Options) {
	form := readForm(w, r, body)
	if form == nil {
		return
	}
	defer form.RemoveAll()
	model := first(form.Value["model"])
	if model == "" {
		writeError(w, missingParam("model"))
		return
	}
	files := form.File["file"]
	if len(files) == 0 {
		writeError(w, missingParam("file"))
		return
	}
	format := first(form.Value["response_format"])
	if format == "" {
		format = "json"
	}
	if e := oneOf(format, "response_format", "json", "text", "srt", "verbose_json", "vtt"); e != nil {
		writeError(w, e)
		return
	}
	f, err := files[0].Open()
	if err != nil {
		writeError(w, invalidRequest("Could not read the file", "file", ""))
		return
	}
	audio, _ := io.ReadAll(f)
	f.Close()
	if !s.proceed(w, r, opts, model) {
		return
	}
	// A second of audio per kilobyte, at least one.
	seconds := max(1, len(audio)/1000)
	text := "mock transcription of " + files[0].Filename + " (" + strconv.Itoa(len(audio)) + " bytes) by " + model
	switch format {
	case "json":
		writeJSON(w, http.StatusOK, map[string]any{"text": text, "usage": map[string]any{"type": "duration", "seconds": seconds}})
	case "verbose_json":
		writeJSON(w, http.StatusOK, map[string]any{"task": "transcribe", "language": "english", "duration": float64(seconds), "text": text, "segments": []any{}})
	default: // text, srt, vtt: the text itself
		w.Header()["Content-Type"] = []string{"text/plain; charset=utf-8"}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(text + "\n"))
	}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
