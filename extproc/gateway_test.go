package extproc_test

import (
	"encoding/json"
	"google.golang.org/protobuf/types/known/structpb"
	"slices"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/extproc"
	"github.com/llmvoy/llmvoy/plan"
)

// gatewayConfig has a group of two deployments, a group whose name needs a
// hashed cluster name, and a group llmvoy cannot serve (SageMaker has no
// translator yet, so the config leaves its API empty).
const gatewayConfig = `
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o-2024-08-06
      api_base: http://h:1/v1
      api_key: os.environ/OPENAI_API_KEY
    model_info:
      id: dep-a
  - model_name: openai/text-embedding-3-small
    litellm_params:
      model: openai/text-embedding-3-small
      api_base: http://h:1/v1
    model_info:
      id: dep-e
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://h2:2
    model_info:
      id: dep-b
  - model_name: claude
    litellm_params:
      model: sagemaker/jumpstart-dft-meta-textgeneration-llama-2-7b
    model_info:
      id: dep-c
general_settings:
  master_key: os.environ/MASTER_KEY
`

// gatewayGroups is gatewayConfig's model groups in config order.
var gatewayGroups = []string{"gpt-4o", "openai/text-embedding-3-small", "claude"}

func startGateway(t *testing.T) *harness {
	t.Helper()
	return startServer(t, parseConfig(t, gatewayConfig, testEnv))
}

var bearer = header{"authorization", "Bearer " + masterKey}

// chatBody is a typical chat request for a group.
func chatBody(model string) []byte {
	return []byte(`{"model":"` + model + `","messages":[{"role":"user","content":"hi"}],"stream":false}`)
}

// routeResponse is the body-phase answer that sends the request to a
// group's cluster: only the route header changes, and the route is
// recomputed from it.
func routeResponse(group, clientPath string, removed ...string) *extprocv3.ProcessingResponse {
	// The access log gets the client's path without its query.
	clientPath, _, _ = strings.Cut(clientPath, "?")
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{
		RequestBody: &extprocv3.BodyResponse{Response: &extprocv3.CommonResponse{
			HeaderMutation: &extprocv3.HeaderMutation{
				SetHeaders:    []*corev3.HeaderValueOption{overwrite(plan.RouteHeader, plan.ClusterName(group))},
				RemoveHeaders: append(slices.Clone(defaultRemoved), removed...),
			},
			ClearRouteCache: true,
		}},
	}, DynamicMetadata: &structpb.Struct{Fields: map[string]*structpb.Value{
		plan.MetadataNamespace: structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
			plan.ClientPathMetadataKey:         structpb.NewStringValue(clientPath),
			plan.AttemptedFallbacksMetadataKey: structpb.NewStringValue("0"),
		}}),
	}}}
}

// defaultRemoved are the headers of requestHeaders that no provider gets.
var defaultRemoved = []string{"user-agent"}

// rewriteResponse is routeResponse for a group whose deployments are all
// OpenAI-compatible and want the same model: the gateway writes it into
// the body (out; nil when it already was).
func rewriteResponse(group string, out []byte, clientPath string, removed ...string) *extprocv3.ProcessingResponse {
	resp := routeResponse(group, clientPath, removed...)
	c := resp.GetRequestBody().GetResponse()
	if out != nil {
		c.BodyMutation = &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: out}}
	}
	return resp
}

// directResponse is the answer that sends a request on a direct group's
// route: the model written into the body (out), the deployments' path set,
// the client's path kept aside and its credential headers removed.
func directResponse(group string, out []byte, path, clientPath string, removed ...string) *extprocv3.ProcessingResponse {
	resp := routeResponse(group, clientPath, removed...)
	c := resp.GetRequestBody().GetResponse()
	c.HeaderMutation.SetHeaders[0] = overwrite(plan.RouteHeader, plan.DirectRouteName(group))
	if out != nil {
		c.BodyMutation = &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: out}}
	}
	c.HeaderMutation.SetHeaders = append(c.HeaderMutation.SetHeaders, overwrite(":path", path))
	return resp
}

func overwrite(key, value string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: key, RawValue: []byte(value)}, AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD}
}

// postThroughGateway plays a whole POST: headers and body; it returns the
// gateway's answer to it (see bodyAnswer).
func postThroughGateway(t *testing.T, h *harness, path string, body []byte, extra ...header) *extprocv3.ProcessingResponse {
	t.Helper()
	stream := h.open(t, plan.ProcessorGateway)
	sendHeaders(t, stream, postHeaders(path, body, extra...))
	resp := bodyAnswer(t, stream, body)
	finish(t, stream)
	return resp
}

// getThroughGateway plays a request without a body, which the gateway must
// answer itself.
func getThroughGateway(t *testing.T, h *harness, method, path string, extra ...header) localReply {
	t.Helper()
	stream := h.open(t, plan.ProcessorGateway)
	r := requireImmediate(t, exchange(t, stream, requestHeaders(method, path, true, extra...)))
	require.Equal(t, "application/json", r.headers["content-type"])
	finish(t, stream)
	return r
}

func TestGatewayProbesNeedNoKey(t *testing.T) {
	h := startGateway(t)
	readiness := `{"status":"healthy","db":"Not connected","cache":null,"llmvoy_version":` + mustJSON(t, extproc.Version) + `}`
	tests := []struct {
		path string
		want string
	}{
		{"/health/liveliness", `"I'm alive!"`},
		{"/health/liveness", `"I'm alive!"`},
		{"/health/liveliness?probe=1", `"I'm alive!"`},
		{"/health/readiness", readiness},
	}
	for _, tt := range tests {
		for _, auth := range [][]header{nil, {bearer}, {{"authorization", "Bearer wrong"}}} {
			t.Run(tt.path, func(t *testing.T) {
				r := getThroughGateway(t, h, "GET", tt.path, auth...)
				require.Equal(t, 200, r.status)
				require.JSONEq(t, tt.want, string(r.body))
			})
		}
	}
}

func TestGatewayAuth(t *testing.T) {
	h := startGateway(t)
	tests := []struct {
		name    string
		headers []header
		// wantOK: the request passes; else 401 with this message start.
		wantOK  bool
		wantMsg string
	}{
		{name: "no key", wantMsg: "Authentication Error, No api key passed in."},
		{name: "bearer", headers: []header{{"authorization", "Bearer " + masterKey}}, wantOK: true},
		{name: "bearer lowercase scheme", headers: []header{{"authorization", "bearer " + masterKey}}, wantOK: true},
		{name: "bearer extra spaces", headers: []header{{"authorization", "Bearer   " + masterKey + " "}}, wantOK: true},
		{name: "raw authorization", headers: []header{{"authorization", masterKey}}, wantOK: true},
		{name: "api-key", headers: []header{{"api-key", masterKey}}, wantOK: true},
		{name: "x-api-key", headers: []header{{"x-api-key", masterKey}}, wantOK: true},
		{name: "x-goog-api-key", headers: []header{{"x-goog-api-key", masterKey}}, wantOK: true},
		{name: "ocp-apim-subscription-key", headers: []header{{"ocp-apim-subscription-key", masterKey}}, wantOK: true},
		{name: "x-litellm-api-key bearer", headers: []header{{"x-litellm-api-key", "Bearer " + masterKey}}, wantOK: true},
		{name: "x-litellm-api-key raw", headers: []header{{"x-litellm-api-key", masterKey}}, wantOK: true},
		// x-litellm-api-key is read first, as LiteLLM does: the
		// authorization header may be a cloud SDK's.
		{name: "x-litellm-api-key over authorization", headers: []header{{"authorization", "Bearer ya29.google"}, {"x-litellm-api-key", masterKey}}, wantOK: true},
		{name: "wrong x-litellm-api-key, right authorization", headers: []header{{"authorization", "Bearer " + masterKey}, {"x-litellm-api-key", "sk-wrong"}}, wantMsg: "Authentication Error, Invalid proxy server token passed."},
		{name: "wrong bearer", headers: []header{{"authorization", "Bearer sk-wrong"}}, wantMsg: "Authentication Error, Invalid proxy server token passed."},
		{name: "prefix of the key", headers: []header{{"authorization", "Bearer " + masterKey[:len(masterKey)-1]}}, wantMsg: "Authentication Error, Invalid proxy server token passed."},
		{name: "key with suffix", headers: []header{{"authorization", "Bearer " + masterKey + "x"}}, wantMsg: "Authentication Error, Invalid proxy server token passed."},
		{name: "wrong raw authorization", headers: []header{{"authorization", "sk-wrong"}}, wantMsg: "Authentication Error, Invalid proxy server token passed."},
		{name: "wrong api-key", headers: []header{{"api-key", "sk-wrong"}}, wantMsg: "Authentication Error, Invalid proxy server token passed."},
		{name: "wrong x-api-key", headers: []header{{"x-api-key", "sk-wrong"}}, wantMsg: "Authentication Error, Invalid proxy server token passed."},
		{name: "bearer without key", headers: []header{{"authorization", "Bearer "}}, wantMsg: "Authentication Error, Invalid proxy server token passed."},
		{name: "basic scheme", headers: []header{{"authorization", "Basic " + masterKey}}, wantMsg: "Authentication Error, Invalid proxy server token passed."},
		// authorization is read first, as LiteLLM does.
		{name: "wrong authorization, right api-key", headers: []header{{"authorization", "Bearer sk-wrong"}, {"api-key", masterKey}}, wantMsg: "Authentication Error, Invalid proxy server token passed."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A local endpoint and a routed one: both are guarded.
			models := getThroughGateway(t, h, "GET", "/v1/models", tt.headers...)
			stream := h.open(t, plan.ProcessorGateway)
			body := chatBody("gpt-4o")
			if tt.wantOK {
				require.Equal(t, 200, models.status)
				sendHeaders(t, stream, postHeaders("/v1/chat/completions", body, tt.headers...))
				var removed []string
				for _, hd := range tt.headers {
					removed = append(removed, hd.key)
				}
				requireProtoEqual(t, routeResponse("gpt-4o", "/v1/chat/completions", removed...), bodyAnswer(t, stream, body))
				finish(t, stream)
				return
			}
			headersResp := exchange(t, stream, postHeaders("/v1/chat/completions", body, tt.headers...))
			require.Equal(t, 401, models.status)
			for _, r := range []localReply{models, requireImmediate(t, headersResp)} {
				e := requireAPIErrorReply(t, r, 401, "auth_error")
				require.True(t, strings.HasPrefix(e.Message, tt.wantMsg), "message %q", e.Message)
				require.Equal(t, "401", *e.Code)
				require.Nil(t, e.Param)
				require.NotContains(t, e.Message, masterKey)
			}
			finish(t, stream)
		})
	}
}

func TestGatewayWithoutMasterKey(t *testing.T) {
	noKey := strings.Replace(gatewayConfig, "general_settings:\n  master_key: os.environ/MASTER_KEY\n", "", 1)
	require.NotContains(t, noKey, "master_key")
	h := startServer(t, parseConfig(t, noKey, testEnv))

	for _, auth := range [][]header{nil, {{"authorization", "Bearer anything"}}, {{"x-api-key", "whatever"}}} {
		r := getThroughGateway(t, h, "GET", "/v1/models", auth...)
		require.Equal(t, 200, r.status)
		var removed []string
		for _, a := range auth {
			removed = append(removed, a.key)
		}
		requireProtoEqual(t, routeResponse("gpt-4o", "/v1/chat/completions", removed...), postThroughGateway(t, h, "/v1/chat/completions", chatBody("gpt-4o"), auth...))
	}
}

// LiteLLM's documented alternative to general_settings.master_key keeps the
// gateway guarded.
func TestGatewayMasterKeyFromEnvironment(t *testing.T) {
	cfg := parseConfig(t, `
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_base: http://h:1/v1
`, map[string]string{"LITELLM_MASTER_KEY": "sk-from-env"})
	h := startServer(t, cfg)
	require.Equal(t, 401, getThroughGateway(t, h, "GET", "/v1/models").status)
	require.Equal(t, 200, getThroughGateway(t, h, "GET", "/v1/models", header{"authorization", "Bearer sk-from-env"}).status)
}

func TestGatewayListModels(t *testing.T) {
	h := startGateway(t)
	var data []string
	for _, g := range gatewayGroups {
		data = append(data, `{"id":`+mustJSON(t, g)+`,"object":"model","created":1677610602,"owned_by":"openai"}`)
	}
	want := `{"object":"list","data":[` + strings.Join(data, ",") + `]}`

	for _, path := range []string{"/v1/models", "/models", "/v1/models?return_wildcard_routes=false"} {
		t.Run(path, func(t *testing.T) {
			r := getThroughGateway(t, h, "GET", path, bearer)
			require.Equal(t, 200, r.status)
			require.JSONEq(t, want, string(r.body))
			// Order is part of the answer: config order, as LiteLLM lists.
			var got struct {
				Data []struct{ ID string } `json:"data"`
			}
			require.NoError(t, json.Unmarshal(r.body, &got))
			var ids []string
			for _, d := range got.Data {
				ids = append(ids, d.ID)
			}
			require.Equal(t, gatewayGroups, ids)
		})
	}
}

func TestGatewayRetrieveModel(t *testing.T) {
	h := startGateway(t)
	for _, tt := range []struct{ path, id string }{
		{"/v1/models/gpt-4o", "gpt-4o"},
		{"/models/gpt-4o", "gpt-4o"},
		{"/v1/models/claude?x=1", "claude"},
		// Group names may contain a slash; the id is the rest of the path.
		{"/v1/models/openai/text-embedding-3-small", "openai/text-embedding-3-small"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			r := getThroughGateway(t, h, "GET", tt.path, bearer)
			require.Equal(t, 200, r.status)
			require.JSONEq(t, `{"id":`+mustJSON(t, tt.id)+`,"object":"model","created":1677610602,"owned_by":"openai"}`, string(r.body))
		})
	}
	for _, path := range []string{"/v1/models/gpt-5", "/models/GPT-4O", "/v1/models/", "/v1/models/gpt-4o/extra"} {
		t.Run(path, func(t *testing.T) {
			r := getThroughGateway(t, h, "GET", path, bearer)
			e := requireAPIErrorReply(t, r, 404, "invalid_request_error")
			require.Equal(t, "model_not_found", *e.Code)
			require.Equal(t, "model", *e.Param)
			id := strings.SplitN(strings.TrimPrefix(strings.TrimPrefix(path, "/v1"), "/models/"), "?", 2)[0]
			require.Contains(t, e.Message, "model="+id+".")
			require.Contains(t, e.Message, strings.Join(gatewayGroups, ", "))
		})
	}
	r := getThroughGateway(t, h, "GET", "/v1/models/gpt-4o")
	requireAPIErrorReply(t, r, 401, "auth_error")
}

func TestGatewayRoutesModelRequests(t *testing.T) {
	h := startGateway(t)
	tests := []struct {
		name  string
		path  string
		body  string
		group string
		// rewritten is the body the gateway writes for a direct group
		// (see TestGatewayDirectRoutes).
		rewritten string
	}{
		{"chat", "/v1/chat/completions", string(chatBody("gpt-4o")), "gpt-4o", ""},
		{"chat without /v1", "/chat/completions", string(chatBody("gpt-4o")), "gpt-4o", ""},
		{"chat with query", "/v1/chat/completions?api-version=2024-10-21", string(chatBody("gpt-4o")), "gpt-4o", ""},
		{"embeddings", "/v1/embeddings", `{"model":"openai/text-embedding-3-small","input":["a","b"]}`, "openai/text-embedding-3-small", `{"model":"text-embedding-3-small","input":["a","b"]}`},
		{"embeddings without /v1", "/embeddings", `{"input":"a","model":"openai/text-embedding-3-small"}`, "openai/text-embedding-3-small", `{"input":"a","model":"text-embedding-3-small"}`},
		{"completions", "/v1/completions", `{"model":"gpt-4o","prompt":"Say this is a test","max_tokens":7}`, "gpt-4o", ""},
		{"completions without /v1", "/completions", `{"model":"gpt-4o","prompt":"x"}`, "gpt-4o", ""},
		{"whitespace around members", "/v1/chat/completions", "\n{ \"messages\" : [ ] ,\n  \"model\" :\t\"gpt-4o\" }\n", "gpt-4o", ""},
		{"escaped model name", "/v1/chat/completions", `{"model":"gpt\u002d4o","messages":[]}`, "gpt-4o", ""},
		{"escaped key", "/v1/chat/completions", `{"mod\u0065l":"gpt-4o","messages":[]}`, "gpt-4o", ""},
		// The last duplicate decides, as in encoding/json and Python's json;
		// the upstream processor removes the others.
		{"duplicate model", "/v1/chat/completions", `{"model":"claude","messages":[],"model":"gpt-4o"}`, "gpt-4o", ""},
		{"vision body", "/v1/chat/completions", visionBody("gpt-4o", 5<<20), "gpt-4o", ""},
		{"model nested elsewhere too", "/v1/chat/completions", `{"prediction":{"model":"claude"},"model":"gpt-4o"}`, "gpt-4o", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := postThroughGateway(t, h, tt.path, []byte(tt.body), bearer)
			if tt.rewritten != "" {
				requireProtoEqual(t, directResponse(tt.group, []byte(tt.rewritten), "/v1/embeddings", tt.path, "authorization"), resp)
				return
			}
			requireProtoEqual(t, routeResponse(tt.group, tt.path, "authorization"), resp)
			// No body mutation: the upstream processor owns the body.
			require.Nil(t, resp.GetRequestBody().GetResponse().GetBodyMutation())
		})
	}
}

// LiteLLM's own body fields never reach a provider: OpenAI-compatible
// servers refuse parameters they do not know. A body without them is left
// alone.
func TestGatewayStripsLiteLLMParams(t *testing.T) {
	h := startGateway(t)
	body := `{"model":"gpt-4o","metadata":{"user":"u"},"messages":[{"role":"user","content":"hi"}],"tags":["a"],` +
		`"num_retries":2,"fallbacks":["claude"],"mock_testing_rate_limit_error":false,"caching":false,"temperature":0.2}`
	resp := postThroughGateway(t, h, "/v1/chat/completions", []byte(body), bearer)
	got := resp.GetRequestBody().GetResponse().GetBodyMutation().GetBody()
	require.JSONEq(t, `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":0.2}`, string(got))

	// On a direct group the model is rewritten in the same body.
	resp = postThroughGateway(t, h, "/v1/embeddings", []byte(`{"model":"openai/text-embedding-3-small","input":"a","metadata":{}}`), bearer)
	require.JSONEq(t, `{"model":"text-embedding-3-small","input":"a"}`, string(resp.GetRequestBody().GetResponse().GetBodyMutation().GetBody()))
}

// A client cannot choose a cluster by sending the route header itself: the
// gateway overwrites it with the group of the body's model. Its other
// x-llmvoy-* headers are removed: a forged client path, key or body model
// steers nothing and reaches no provider.
func TestGatewayOverwritesClientRouteHeader(t *testing.T) {
	h := startGateway(t)
	resp := postThroughGateway(t, h, "/v1/chat/completions", chatBody("gpt-4o"), bearer,
		header{plan.RouteHeader, plan.ClusterName("claude")}, header{"x-llmvoy-client-path", "/v1/embeddings"},
		header{"x-llmvoy-key", "forged-token"}, header{"x-llmvoy-body-model", "forged"}, header{"x-llmvoy-anything", "x"})
	requireProtoEqual(t, routeResponse("gpt-4o", "/v1/chat/completions", "authorization", "x-llmvoy-client-path", "x-llmvoy-key", "x-llmvoy-body-model", "x-llmvoy-anything"), resp)
}

func TestGatewayRejectsBadModelRequests(t *testing.T) {
	h := startGateway(t)
	tests := []struct {
		name      string
		body      string
		status    int
		typ       string
		param     *string
		code      string
		msgPieces []string
	}{
		{name: "not JSON", body: `model=gpt-4o`, status: 400, typ: "invalid_request_error", code: "400", msgPieces: []string{"We could not parse the JSON body"}},
		{name: "truncated", body: `{"model":"gpt-4o","messages":[`, status: 400, typ: "invalid_request_error", code: "400", msgPieces: []string{"We could not parse the JSON body"}},
		{name: "empty body", body: ``, status: 400, typ: "invalid_request_error", code: "400", msgPieces: []string{"We could not parse the JSON body"}},
		{name: "array", body: `[{"model":"gpt-4o"}]`, status: 400, typ: "invalid_request_error", code: "400", msgPieces: []string{"We could not parse the JSON body"}},
		{name: "trailing data", body: `{"model":"gpt-4o"} {}`, status: 400, typ: "invalid_request_error", code: "400", msgPieces: []string{"We could not parse the JSON body"}},
		{name: "invalid nested value", body: `{"model":"gpt-4o","messages":[tru]}`, status: 400, typ: "invalid_request_error", code: "400", msgPieces: []string{"We could not parse the JSON body"}},
		{name: "missing model", body: `{"messages":[]}`, status: 400, typ: "invalid_request_error", param: ptr("model"), code: "400", msgPieces: []string{"you must provide a model parameter"}},
		{name: "model only nested", body: `{"metadata":{"model":"gpt-4o"}}`, status: 400, typ: "invalid_request_error", param: ptr("model"), code: "400", msgPieces: []string{"you must provide a model parameter"}},
		{name: "empty object", body: `{}`, status: 400, typ: "invalid_request_error", param: ptr("model"), code: "400", msgPieces: []string{"you must provide a model parameter"}},
		{name: "model number", body: `{"model":4}`, status: 400, typ: "invalid_request_error", param: ptr("model"), code: "400", msgPieces: []string{"model must be a string"}},
		{name: "model null", body: `{"model":null}`, status: 400, typ: "invalid_request_error", param: ptr("model"), code: "400", msgPieces: []string{"model must be a string"}},
		{name: "model array", body: `{"model":["gpt-4o"]}`, status: 400, typ: "invalid_request_error", param: ptr("model"), code: "400", msgPieces: []string{"model must be a string"}},
		{name: "unknown model", body: `{"model":"gpt-5","messages":[]}`, status: 400, typ: "invalid_request_error", param: ptr("model"), code: "model_not_found",
			msgPieces: []string{"model=gpt-5.", "Available model groups: gpt-4o, openai/text-embedding-3-small, claude"}},
		{name: "model names differ in case", body: `{"model":"GPT-4o"}`, status: 400, typ: "invalid_request_error", param: ptr("model"), code: "model_not_found",
			msgPieces: []string{"model=GPT-4o."}},
		{name: "empty model", body: `{"model":""}`, status: 400, typ: "invalid_request_error", param: ptr("model"), code: "model_not_found"},
		{name: "unservable group", body: `{"model":"claude","messages":[]}`, status: 501, typ: "not_implemented", param: ptr("model"), code: "501",
			msgPieces: []string{"claude", `provider "sagemaker"`, "not supported"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := postThroughGateway(t, h, "/v1/chat/completions", []byte(tt.body), bearer)
			e := requireAPIError(t, resp, tt.status, tt.typ)
			assert.Equal(t, tt.param, e.Param)
			assert.Equal(t, tt.code, *e.Code)
			for _, p := range tt.msgPieces {
				assert.Contains(t, e.Message, p)
			}
		})
	}
}

func TestGatewayRejectsByHeaders(t *testing.T) {
	h := startGateway(t)
	tests := []struct {
		name   string
		method string
		path   string
		eos    bool
		status int
		code   string
	}{
		{"GET chat", "GET", "/v1/chat/completions", true, 405, "405"},
		{"GET embeddings", "GET", "/embeddings", true, 405, "405"},
		{"PUT completions", "PUT", "/v1/completions", false, 405, "405"},
		{"POST without body", "POST", "/v1/chat/completions", true, 400, "400"},
		{"POST completions without body", "POST", "/completions", true, 400, "400"},
		{"unknown path", "GET", "/v2/chat/completions", true, 404, "not_found"},
		{"unknown POST path", "POST", "/v1/batches", false, 404, "not_found"},
		{"trailing slash", "POST", "/v1/chat/completions/", false, 404, "not_found"},
		{"double /v1", "POST", "/v1/v1/chat/completions", false, 404, "not_found"},
		{"root", "GET", "/", true, 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := h.open(t, plan.ProcessorGateway)
			resp := exchange(t, stream, requestHeaders(tt.method, tt.path, tt.eos, bearer))
			e := requireAPIError(t, resp, tt.status, "invalid_request_error")
			require.Equal(t, tt.code, *e.Code)
			if tt.status == 405 {
				require.Contains(t, e.Message, "POST")
			}
			finish(t, stream)
		})
	}
}

// Each request keeps the config it started with: a reload between the
// headers and the body of one request does not change its answer.
func TestGatewayKeepsConfigForRequest(t *testing.T) {
	h := startGateway(t)
	stream := h.open(t, plan.ProcessorGateway)
	body := chatBody("claude")
	sendHeaders(t, stream, postHeaders("/v1/chat/completions", body, bearer))
	select {
	case <-h.received: // the request has started
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not read the headers")
	}

	// The new config serves claude through an OpenAI-compatible server.
	h.server.SetPlan(mustPlan(t, parseConfig(t, strings.Replace(gatewayConfig, "model: sagemaker/jumpstart-dft-meta-textgeneration-llama-2-7b", "model: openai/claude-3-5-sonnet\n      api_base: http://h3:3", 1), testEnv)))

	requireAPIError(t, bodyAnswer(t, stream, body), 501, "not_implemented")
	finish(t, stream)

	requireProtoEqual(t, rewriteResponse("claude", []byte(`{"model":"claude-3-5-sonnet","messages":[{"role":"user","content":"hi"}],"stream":false}`), "/v1/chat/completions", "authorization"),
		postThroughGateway(t, h, "/v1/chat/completions", body, bearer))
}

func TestGatewayReloadChangesMasterKey(t *testing.T) {
	h := startGateway(t)
	h.server.SetPlan(mustPlan(t, parseConfig(t, gatewayConfig, map[string]string{"MASTER_KEY": "sk-rotated", "OPENAI_API_KEY": deploymentKey})))
	require.Equal(t, 401, getThroughGateway(t, h, "GET", "/v1/models", bearer).status)
	require.Equal(t, 200, getThroughGateway(t, h, "GET", "/v1/models", header{"authorization", "Bearer sk-rotated"}).status)
}

func TestGatewayNeverLogsKeys(t *testing.T) {
	h := startGateway(t)
	postThroughGateway(t, h, "/v1/chat/completions", chatBody("gpt-4o"), bearer)
	getThroughGateway(t, h, "GET", "/v1/models", header{"authorization", "Bearer sk-wrong-key-123"})
	require.NotContains(t, h.logs.String(), masterKey)
	require.NotContains(t, h.logs.String(), "sk-wrong-key-123")
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// directConfig has a group whose deployments share their model, path and
// key (direct), one whose deployments have a key each, and one with a
// fallback chain.
const directConfig = `
model_list:
  - model_name: local
    litellm_params: {model: openai/llama-3.1-8b, api_base: "http://h:1/v1?tenant=t1", api_key: sk-shared}
    model_info: {id: l1}
  - model_name: local
    litellm_params: {model: openai/llama-3.1-8b, api_base: "http://h2:2/v1?tenant=t1", api_key: sk-shared}
    model_info: {id: l2}
  - model_name: two-keys
    litellm_params: {model: openai/gpt-4o, api_base: "http://h:1/v1", api_key: sk-one}
    model_info: {id: k1}
  - model_name: two-keys
    litellm_params: {model: openai/gpt-4o, api_base: "http://h2:2/v1", api_key: sk-two}
    model_info: {id: k2}
  - model_name: chained
    litellm_params: {model: openai/gpt-4o, api_base: "http://h:1/v1"}
    model_info: {id: c1}
router_settings:
  fallbacks: [{chained: [local]}]
general_settings:
  master_key: os.environ/MASTER_KEY
`

func TestGatewayDirectRoutes(t *testing.T) {
	h := startServer(t, parseConfig(t, directConfig, testEnv))
	body := []byte(`{"model":"local","messages":[]}`)
	rewritten := []byte(`{"model":"llama-3.1-8b","messages":[]}`)

	resp := postThroughGateway(t, h, "/chat/completions?x=1", body, bearer, header{"x-api-key", "sk-client"}, header{"x-llmvoy-body-model", "forged"})
	// The api_base's query is kept; the client's is not passed on (it
	// could add its own key= or tenant), unless client headers are.
	want := directResponse("local", rewritten, "/v1/chat/completions?tenant=t1", "/chat/completions?x=1", "authorization", "x-api-key", "x-llmvoy-body-model")
	requireProtoEqual(t, want, resp)

	// A key each: the upstream processor sets it per attempt.
	resp = postThroughGateway(t, h, "/v1/chat/completions", []byte(`{"model":"two-keys"}`), bearer)
	requireProtoEqual(t, rewriteResponse("two-keys", []byte(`{"model":"gpt-4o"}`), "/v1/chat/completions", "authorization"), resp)

	// A group with a chain: its attempts may redirect, through the hop.
	cluster, fb := routedTo(t, postThroughGateway(t, h, "/v1/chat/completions", []byte(`{"model":"chained"}`), bearer))
	require.Equal(t, plan.HopRouteName("chained"), cluster)
	require.NotEmpty(t, fb)
}

// general_settings.litellm_key_header_name names a header the gateway key
// is read from first (Authorization may be a proxy's in front); it is a
// credential: removed even where client headers are forwarded.
func TestGatewayCustomKeyHeader(t *testing.T) {
	cfg := strings.Replace(gatewayConfig, "general_settings:\n", "general_settings:\n  litellm_key_header_name: X-Gateway-Key\n  forward_client_headers_to_llm_api: true\n", 1)
	h := startServer(t, parseConfig(t, cfg, testEnv))
	resp := postThroughGateway(t, h, "/v1/chat/completions", chatBody("gpt-4o"),
		header{"x-gateway-key", "Bearer " + masterKey}, header{"authorization", "Bearer sk-belongs-to-a-proxy"})
	m := flattenMutation(t, resp.GetRequestBody().GetResponse().GetHeaderMutation())
	require.Equal(t, plan.ClusterName("gpt-4o"), m.set[plan.RouteHeader], "authenticated by the custom header")
	require.Contains(t, m.remove, "x-gateway-key")
	require.Contains(t, m.remove, "authorization")

	stream := h.open(t, plan.ProcessorGateway)
	requireAPIError(t, exchange(t, stream, postHeaders("/v1/chat/completions", chatBody("gpt-4o"),
		header{"x-gateway-key", "sk-wrong"}, bearer)), 401, "auth_error")
}

// The Azure OpenAI SDKs call /openai/deployments/{model}/chat/completions
// (api-key header, api-version query): the path's model names the group,
// over the body's, as in LiteLLM, and goes into the body for the attempts.
func TestGatewayAzureClientPaths(t *testing.T) {
	h := startGateway(t)
	for _, tt := range []struct{ path, body string }{
		{"/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", `{"messages":[{"role":"user","content":"hi"}]}`},
		{"/openai/deployments/gpt-4o/chat/completions", `{"model":"claude","messages":[]}`},
		{"/engines/gpt-4o/completions", `{"prompt":"x"}`},
	} {
		resp := postThroughGateway(t, h, tt.path, []byte(tt.body), header{"api-key", masterKey})
		m := flattenMutation(t, resp.GetRequestBody().GetResponse().GetHeaderMutation())
		require.Equal(t, plan.ClusterName("gpt-4o"), m.set[plan.RouteHeader], tt.path)
		var sent struct{ Model string }
		require.NoError(t, json.Unmarshal(resp.GetRequestBody().GetResponse().GetBodyMutation().GetBody(), &sent), tt.path)
		require.Equal(t, "gpt-4o", sent.Model)
	}
	// The upstream processor reads the endpoint from the same path.
	stream := h.open(t, plan.ProcessorUpstream)
	resp := exchange(t, stream, attempt(t, "dep-a", "/openai/deployments/gpt-4o/chat/completions", chatBody("gpt-4o"), header{"x-request-id", "azure-attempt"}))
	require.Equal(t, "/v1/chat/completions", flattenMutation(t, resp.GetRequestHeaders().GetResponse().GetHeaderMutation()).set[":path"])
	finish(t, stream)
}
