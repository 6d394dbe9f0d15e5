package mock

import (
	"encoding/json"
	"net/http"
)

// POST /v1/messages/count_tokens: Anthropic's token counting, answered with
// the mock's own count of the prompt (the one its messages report as
// input_tokens), after the same checks of the headers and the body. A count
// takes no max_tokens.
func init() {
	providerRoutes = append(providerRoutes, providerRoute{
		match: func(method, path string) bool {
			return method == http.MethodPost && path == "/v1/messages/count_tokens"
		},
		serve: (*Server).anthropicCountTokens,
	})
}

func (s *Server) anthropicCountTokens(w http.ResponseWriter, r *http.Request, body []byte, _ *Options) {
	w.Header()["Request-Id"] = []string{s.newID("req_011", 21)}
	if r.Header.Get(anthropicAPIKeyHdr) == "" {
		s.writeAnthropicError(w, newAnthropicError(http.StatusUnauthorized, "authentication_error", "x-api-key header is required"))
		return
	}
	if r.Header.Get(anthropicVersionHdr) == "" {
		s.writeAnthropicError(w, invalidAnthropic("anthropic-version: header is required"))
		return
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil || fields == nil {
		s.writeAnthropicError(w, invalidAnthropic("There was an issue with your request body: the body is not a JSON object."))
		return
	}
	if _, ok := fields["max_tokens"]; ok {
		s.writeAnthropicError(w, invalidAnthropic("max_tokens: Extra inputs are not permitted"))
		return
	}
	fields["max_tokens"] = json.RawMessage("1")
	asMessage, _ := json.Marshal(fields)
	call, e := parseAnthropic(asMessage)
	if e != nil {
		s.writeAnthropicError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"input_tokens": call.inputTokens})
}
