package mock

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// apiError is OpenAI's error object: {"error":{"message","type","param","code"}}.
type apiError struct {
	status  int
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func newAPIError(status int, typ, message, param, code string) *apiError {
	return &apiError{status: status, Message: message, Type: typ, Param: strPtr(param), Code: strPtr(code)}
}

// invalidRequest is a 400 invalid_request_error.
func invalidRequest(message, param, code string) *apiError {
	return newAPIError(http.StatusBadRequest, "invalid_request_error", message, param, code)
}

// injectedError is the body a real OpenAI deployment sends with a status.
// {model} and {retry} in message are filled in per request.
type injectedError struct {
	typ, code, message string
}

// injectedErrors holds OpenAI's bodies for the statuses tests inject most. The
// 401/429/500/503 texts are OpenAI's; other statuses fall back to
// invalid_request_error (4xx) or server_error (5xx) with the status text.
var injectedErrors = map[int]injectedError{
	400: {"invalid_request_error", "", "Invalid request (injected by llmvoy mock)."},
	401: {"invalid_request_error", "invalid_api_key", "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."},
	403: {"request_forbidden", "unsupported_country_region_territory", "Country, region, or territory not supported"},
	404: {"invalid_request_error", "model_not_found", "The model `{model}` does not exist or you do not have access to it."},
	429: {"requests", "rate_limit_exceeded", "Rate limit reached for {model} in organization org-llmvoy-mock on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in {retry}. Visit https://platform.openai.com/account/rate-limits to learn more."},
	500: {"server_error", "", "The server had an error while processing your request. Sorry about that!"},
	503: {"service_unavailable_error", "server_is_overloaded", "The engine is currently overloaded, please try again later."},
}

func newInjectedError(status int, model string, retryAfter time.Duration) *apiError {
	spec, ok := injectedErrors[status]
	if !ok {
		spec = injectedError{typ: "invalid_request_error", message: http.StatusText(status)}
		if status >= 500 {
			spec.typ = "server_error"
		}
		if spec.message == "" {
			spec.message = "Error " + strconv.Itoa(status) + " (injected by llmvoy mock)."
		}
	}
	msg := spec.message
	if strings.Contains(msg, "{") {
		retry := "1s"
		if retryAfter > 0 {
			retry = retryAfter.String()
		}
		if model == "" {
			model = "mock-model"
		}
		msg = strings.NewReplacer("{model}", model, "{retry}", retry).Replace(msg)
	}
	return newAPIError(status, spec.typ, msg, "", spec.code)
}

func writeError(w http.ResponseWriter, e *apiError) {
	body, err := json.Marshal(struct {
		Error *apiError `json:"error"`
	}{e})
	if err != nil { // cannot happen: only strings
		body = []byte(`{"error":{"message":"mock: encoding error","type":"server_error","param":null,"code":null}}`)
	}
	writeJSONBytes(w, e.status, body)
}

// setRetryAfter advertises d the way OpenAI does (Retry-After, whole seconds)
// and the way the OpenAI SDKs read with more precision (retry-after-ms).
func setRetryAfter(h http.Header, d time.Duration) {
	if d <= 0 {
		return
	}
	secs := (d + time.Second - 1) / time.Second
	h["Retry-After"] = []string{strconv.FormatInt(int64(secs), 10)}
	h["Retry-After-Ms"] = []string{strconv.FormatInt(d.Milliseconds(), 10)}
}

func writeJSONBytes(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
