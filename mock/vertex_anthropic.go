package mock

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Anthropic's Claude models on Vertex AI, behind the same Google access
// tokens as Gemini (vertex.go):
//
//	POST /v1/projects/{project}/locations/{location}/publishers/anthropic/models/{model}:rawPredict
//	POST /v1/projects/{project}/locations/{location}/publishers/anthropic/models/{model}:streamRawPredict
//
// The body is a Messages request (anthropic.go) with no model (the path
// names it) and "anthropic_version": "vertex-2023-10-16"; streamRawPredict
// takes "stream": true and rawPredict a request without it. The answers
// and errors are Anthropic's, x-mock-* headers included.

// vertexAnthropicVersion is the anthropic_version Vertex AI documents.
const vertexAnthropicVersion = "vertex-2023-10-16"

// vertexPublisher is the publisher a Vertex AI model path names, or "".
func vertexPublisher(path string) string {
	_, rest, ok := strings.Cut(path, "/publishers/")
	if !ok {
		return ""
	}
	publisher, _, _ := strings.Cut(rest, "/")
	return publisher
}

func (s *Server) vertexAnthropic(w http.ResponseWriter, r *http.Request, model, method string, body []byte, opts *Options) {
	if method != "rawPredict" && method != "streamRawPredict" {
		writeGeminiError(w, http.StatusNotFound, "Method not found.")
		return
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		s.writeAnthropicError(w, invalidAnthropic("There was an issue with your request body: the body is not a JSON object."))
		return
	}
	var version string
	if err := json.Unmarshal(fields["anthropic_version"], &version); err != nil || version != vertexAnthropicVersion {
		s.writeAnthropicError(w, invalidAnthropic("anthropic_version: Input should be '"+vertexAnthropicVersion+"'"))
		return
	}
	if _, ok := fields["model"]; ok {
		s.writeAnthropicError(w, invalidAnthropic("model: Extra inputs are not permitted"))
		return
	}
	var stream bool
	_ = json.Unmarshal(fields["stream"], &stream)
	switch {
	case stream && method == "rawPredict":
		s.writeAnthropicError(w, invalidAnthropic("stream: a streamed request goes to :streamRawPredict"))
		return
	case !stream && method == "streamRawPredict":
		s.writeAnthropicError(w, invalidAnthropic("stream: :streamRawPredict takes \"stream\": true"))
		return
	}
	delete(fields, "anthropic_version")
	fields["model"], _ = json.Marshal(model)
	messages, _ := json.Marshal(fields)
	s.answerAnthropic(w, r, messages, opts)
}
