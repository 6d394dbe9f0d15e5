package extproc

import (
	"encoding/json"
	"slices"
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
)

// apiError is OpenAI's error object: SDKs map status + type to their typed
// exceptions and show message to users.
type apiError struct {
	Status  int
	Message string
	Type    string
	Param   string
	Code    string
}

func (e apiError) body() []byte {
	type inner struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	}
	in := inner{Message: e.Message, Type: e.Type}
	if e.Param != "" {
		in.Param = &e.Param
	}
	code := e.Code
	if code == "" {
		code = strconv.Itoa(e.Status)
	}
	in.Code = &code
	b, _ := json.Marshal(struct {
		Error inner `json:"error"`
	}{in})
	return b
}

// reply ends the request here with a local response.
func reply(status int, contentType string, body []byte, headers ...*corev3.HeaderValueOption) *extprocv3.ProcessingResponse {
	headers = append(headers, setHeader("content-type", contentType))
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{
		ImmediateResponse: &extprocv3.ImmediateResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode(status)},
			Headers: &extprocv3.HeaderMutation{SetHeaders: headers},
			Body:    body,
			Details: "llmvoy",
		},
	}}
}

func replyJSON(status int, v any) *extprocv3.ProcessingResponse {
	b, err := json.Marshal(v)
	if err != nil {
		return replyError(apiError{Status: 500, Message: "llmvoy: encode response: " + err.Error(), Type: "internal_error"})
	}
	return reply(status, "application/json", b)
}

func replyError(e apiError) *extprocv3.ProcessingResponse {
	return reply(e.Status, "application/json", e.body())
}

func setHeader(key, value string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: key, RawValue: []byte(value)},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

// withoutHeader is set without the header named key.
func withoutHeader(set []*corev3.HeaderValueOption, key string) []*corev3.HeaderValueOption {
	return slices.DeleteFunc(set, func(h *corev3.HeaderValueOption) bool { return h.GetHeader().GetKey() == key })
}

func continueHeaders(m *extprocv3.HeaderMutation, clearRouteCache bool) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{
		RequestHeaders: &extprocv3.HeadersResponse{Response: &extprocv3.CommonResponse{
			HeaderMutation:  m,
			ClearRouteCache: clearRouteCache,
		}},
	}}
}

func continueBody(m *extprocv3.HeaderMutation, body []byte, clearRouteCache bool) *extprocv3.ProcessingResponse {
	common := &extprocv3.CommonResponse{HeaderMutation: m, ClearRouteCache: clearRouteCache}
	if body != nil {
		common.BodyMutation = &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: body}}
	}
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{
		RequestBody: &extprocv3.BodyResponse{Response: common},
	}}
}

// headerValue returns a request header from a headers phase. Envoy sends
// values in raw_value.
func headerValue(h *extprocv3.HttpHeaders, key string) string {
	for _, kv := range h.GetHeaders().GetHeaders() {
		if kv.GetKey() == key {
			if raw := kv.GetRawValue(); raw != nil {
				return string(raw)
			}
			return kv.GetValue()
		}
	}
	return ""
}

// responseBody replaces a response body (or a streamed piece of it); an
// empty out drops the piece, e.g. a partial event held for the next one.
func responseBody(m *extprocv3.HeaderMutation, out []byte) *extprocv3.ProcessingResponse {
	mutation := &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: out}}
	if len(out) == 0 {
		mutation.Mutation = &extprocv3.BodyMutation_ClearBody{ClearBody: true}
	}
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{
		ResponseBody: &extprocv3.BodyResponse{Response: &extprocv3.CommonResponse{HeaderMutation: m, BodyMutation: mutation}},
	}}
}

// streamError is an SSE event carrying an OpenAI error: the OpenAI SDKs
// raise it as an APIError mid-stream.
func streamError(message string) []byte {
	e := apiError{Status: 502, Message: message, Type: "bad_gateway"}
	return append(append([]byte("data: "), e.body()...), "\n\n"...)
}
