package extproc_test

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/llmvoy/llmvoy/plan"
)

// upstreamConfig has deployments with and without a key and a path in their
// api_base, and one llmvoy cannot serve.
const upstreamConfig = `
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o-2024-08-06
      api_base: http://h:1/v1
      api_key: os.environ/DEP_A_KEY
    model_info:
      id: dep-a
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://h2:2
    model_info:
      id: dep-b
  - model_name: llama
    litellm_params:
      model: hosted_vllm/meta-llama/Llama-3.1-8B-Instruct
      api_base: https://vllm.internal/openai/v1/
    model_info:
      id: dep-v
  - model_name: claude
    litellm_params:
      model: sagemaker/jumpstart-dft-meta-textgeneration-llama-2-7b
    model_info:
      id: dep-c
general_settings:
  master_key: os.environ/MASTER_KEY
`

func startUpstream(t *testing.T) *harness {
	t.Helper()
	// No OPENAI_API_KEY: dep-b would take it, as in LiteLLM.
	return startServer(t, parseConfig(t, upstreamConfig, map[string]string{"MASTER_KEY": masterKey, "DEP_A_KEY": deploymentKey}))
}

// clientCredentials are the headers a client may send its gateway key in;
// Envoy forwards them to the upstream filter unless it removes them.
var clientCredentials = []header{
	{"authorization", "Bearer " + masterKey},
	{"api-key", masterKey},
	{"x-api-key", masterKey},
}

func TestUpstreamRewritesHeaders(t *testing.T) {
	h := startUpstream(t)
	tests := []struct {
		name       string
		deployment string
		path       string
		wantPath   string
		wantAuth   string // "" = authorization removed
		authority  string
	}{
		{"key and base path", "dep-a", "/v1/chat/completions", "/v1/chat/completions", "Bearer " + deploymentKey, "h:1"},
		{"bare client path", "dep-a", "/chat/completions", "/v1/chat/completions", "Bearer " + deploymentKey, "h:1"},
		{"query kept", "dep-a", "/v1/chat/completions?api-version=2024-10-21&x=a%20b", "/v1/chat/completions?api-version=2024-10-21&x=a%20b", "Bearer " + deploymentKey, "h:1"},
		{"embeddings", "dep-a", "/v1/embeddings", "/v1/embeddings", "Bearer " + deploymentKey, "h:1"},
		{"no key, no base path", "dep-b", "/v1/chat/completions", "/chat/completions", "", "h2:2"},
		{"completions, no base path", "dep-b", "/completions", "/completions", "", "h2:2"},
		{"https base with trailing slash", "dep-v", "/v1/chat/completions", "/openai/v1/chat/completions", "", "vllm.internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := h.open(t, plan.ProcessorUpstream)
			body := chatBody("gpt-4o")
			resp := exchange(t, stream, attempt(t, tt.deployment, tt.path, body, clientCredentials...))
			common := resp.GetRequestHeaders().GetResponse()
			require.NotNil(t, common, "want a headers response, got %v", resp)
			assert.Equal(t, extprocv3.CommonResponse_CONTINUE, common.GetStatus())
			assert.False(t, common.GetClearRouteCache(), "the upstream filter cannot re-route")
			assert.Nil(t, common.GetBodyMutation())

			m := flattenMutation(t, common.GetHeaderMutation())
			want := map[string]string{":path": tt.wantPath, ":authority": tt.authority}
			wantRemoved := []string{"api-key", "x-api-key", "x-litellm-api-key", "x-goog-api-key", "ocp-apim-subscription-key", "x-amz-security-token", "x-amz-date", "x-amz-content-sha256"}
			if tt.wantAuth != "" {
				want["authorization"] = tt.wantAuth
			} else {
				wantRemoved = append([]string{"authorization"}, wantRemoved...)
			}
			assert.Equal(t, want, m.set)
			assert.ElementsMatch(t, wantRemoved, m.remove)
			finish(t, stream)
		})
	}
}

func TestUpstreamRewritesModel(t *testing.T) {
	h := startUpstream(t)
	vision := visionBody("gpt-4o", 5<<20)
	require.Greater(t, len(vision), 4<<20, "larger than gRPC's default message limit")
	tests := []struct {
		name       string
		deployment string
		body       string
		want       string // "" = body unchanged, no mutation at all
	}{
		{"group name to upstream model", "dep-a",
			`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`,
			`{"model":"gpt-4o-2024-08-06","messages":[{"role":"user","content":"hi"}]}`},
		{"other deployment of the group", "dep-b",
			`{"model":"gpt-4o","messages":[]}`,
			`{"model":"gpt-4o-mini","messages":[]}`},
		{"upstream model with a slash", "dep-v",
			`{"messages":[],"model":"llama","stream":true}`,
			`{"messages":[],"model":"meta-llama/Llama-3.1-8B-Instruct","stream":true}`},
		{"whitespace kept", "dep-a",
			"{\n  \"model\" : \"gpt-4o\" ,\n  \"n\": 1\n}\n",
			"{\n  \"model\" : \"gpt-4o-2024-08-06\" ,\n  \"n\": 1\n}\n"},
		{"earlier duplicates removed", "dep-a",
			`{"model":"claude","messages":[],"model":"gpt-4o"}`,
			`{"messages":[],"model":"gpt-4o-2024-08-06"}`},
		{"already the upstream model", "dep-b", `{"model":"gpt-4o-mini","messages":[]}`, ""},
		{"vision body", "dep-a", vision, strings.Replace(vision, `"model":"gpt-4o"`, `"model":"gpt-4o-2024-08-06"`, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := h.open(t, plan.ProcessorUpstream)
			body := []byte(tt.body)
			exchange(t, stream, attempt(t, tt.deployment, "/v1/chat/completions", body))
			resp := exchange(t, stream, requestBody(body))
			finish(t, stream)
			if tt.want == "" {
				requireProtoEqual(t, &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{
					RequestBody: &extprocv3.BodyResponse{Response: &extprocv3.CommonResponse{}},
				}}, resp)
				return
			}
			common := resp.GetRequestBody().GetResponse()
			require.NotNil(t, common, "want a body response")
			assert.Equal(t, extprocv3.CommonResponse_CONTINUE, common.GetStatus())
			assert.False(t, common.GetClearRouteCache())
			got := common.GetBodyMutation().GetBody()
			// Not require.Equal: a failing diff of a 4 MB body is useless.
			require.True(t, bytes.Equal([]byte(tt.want), got), "body:\n got %.300s\nwant %.300s", got, tt.want)
			m := flattenMutation(t, common.GetHeaderMutation())
			assert.Equal(t, map[string]string{"content-length": strconv.Itoa(len(tt.want))}, m.set)
			assert.Empty(t, m.remove)
		})
	}
}

func TestUpstreamErrors(t *testing.T) {
	h := startUpstream(t)
	body := chatBody("gpt-4o")
	withAttrs := func(attrs map[string]*structpb.Struct) *extprocv3.ProcessingRequest {
		req := postHeaders("/v1/chat/completions", body)
		req.Attributes = attrs
		return req
	}
	otherNamespace := hostAttributes(`filter_metadata { key: "envoy.lb" value { fields { key: "deployment_id" value { string_value: "dep-a" } } } }`)
	tests := []struct {
		name   string
		req    *extprocv3.ProcessingRequest
		status int
		typ    string
		msg    string
	}{
		{"unknown deployment", attempt(t, "dep-gone", "/v1/chat/completions", body), 503, "service_unavailable", "dep-gone"},
		{"unsupported provider", attempt(t, "dep-c", "/v1/chat/completions", body), 501, "not_implemented", "dep-c"},
		{"unknown path", attempt(t, "dep-a", "/v1/models", body), 404, "invalid_request_error", "/v1/models"},
		{"no attributes", withAttrs(nil), 500, "internal_error", plan.AttrUpstreamHostMetadata},
		{"attributes without host metadata", withAttrs(map[string]*structpb.Struct{extProcFilterName: {Fields: map[string]*structpb.Value{
			"request.path": structpb.NewStringValue("/v1/chat/completions"),
		}}}), 500, "internal_error", plan.AttrUpstreamHostMetadata},
		{"host without llmvoy metadata", withAttrs(otherNamespace), 500, "internal_error", "llmvoy.deployment_id"},
		{"host without any metadata", withAttrs(hostAttributes("")), 500, "internal_error", "llmvoy.deployment_id"},
		{"metadata not in text format", withAttrs(hostAttributes(`{"filter_metadata":{}}`)), 500, "internal_error", "parse upstream host metadata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := h.open(t, plan.ProcessorUpstream)
			e := requireAPIError(t, exchange(t, stream, tt.req), tt.status, tt.typ)
			assert.Contains(t, e.Message, tt.msg)
			assert.NotContains(t, e.Message, deploymentKey)
			finish(t, stream)
		})
	}
}

// The attribute exactly as Envoy 1.40 sends it, copied from a real stream.
func TestUpstreamReadsEnvoyHostMetadata(t *testing.T) {
	h := startUpstream(t)
	stream := h.open(t, plan.ProcessorUpstream)
	body := chatBody("gpt-4o")
	req := postHeaders("/v1/chat/completions", body)
	req.Attributes = hostAttributes(`filter_metadata { key: "llmvoy" value { fields { key: "deployment_id" value { string_value: "dep-a" } } } } `)
	m := flattenMutation(t, exchange(t, stream, req).GetRequestHeaders().GetResponse().GetHeaderMutation())
	assert.Equal(t, "h:1", m.set[":authority"])
	finish(t, stream)
}

// A body phase without a headers phase before it (a filter configured to
// skip headers) cannot be served: there is no deployment yet.
func TestUpstreamBodyBeforeHeaders(t *testing.T) {
	h := startUpstream(t)
	stream := h.open(t, plan.ProcessorUpstream)
	requireAPIError(t, exchange(t, stream, requestBody(chatBody("gpt-4o"))), 500, "internal_error")
	finish(t, stream)
}

// Envoy may still pick an endpoint of the previous config just after a
// reload: an attempt on a deployment the last reload removed is still
// served, one removed two reloads ago is not.
func TestUpstreamServesPreviousConfigOnce(t *testing.T) {
	full := parseConfig(t, upstreamConfig, testEnv)
	// Without dep-b; dep-a moves to another host.
	withoutB := parseConfig(t, strings.Replace(strings.Replace(upstreamConfig, `
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://h2:2
    model_info:
      id: dep-b`, "", 1), "api_base: http://h:1/v1", "api_base: http://h-new:1/v1", 1), testEnv)
	require.Nil(t, withoutB.Deployment("dep-b"))

	h := startServer(t, full)
	authority := func(id string) (string, *extprocv3.ProcessingResponse) {
		stream := h.open(t, plan.ProcessorUpstream)
		resp := exchange(t, stream, attempt(t, id, "/v1/chat/completions", chatBody("gpt-4o")))
		finish(t, stream)
		return flattenMutation(t, resp.GetRequestHeaders().GetResponse().GetHeaderMutation()).set[":authority"], resp
	}

	got, _ := authority("dep-b")
	require.Equal(t, "h2:2", got)

	h.server.SetPlan(mustPlan(t, withoutB))
	got, _ = authority("dep-b")
	require.Equal(t, "h2:2", got, "removed by the last reload: still served")
	got, _ = authority("dep-a")
	require.Equal(t, "h-new:1", got, "the current config wins over the previous one")

	h.server.SetPlan(mustPlan(t, withoutB))
	_, resp := authority("dep-b")
	requireAPIError(t, resp, 503, "service_unavailable")
	got, _ = authority("dep-a")
	require.Equal(t, "h-new:1", got)
}

// An attempt keeps the deployment it started with when a reload lands
// between its headers and its body.
func TestUpstreamKeepsDeploymentForAttempt(t *testing.T) {
	h := startUpstream(t)
	stream := h.open(t, plan.ProcessorUpstream)
	body := chatBody("gpt-4o")
	exchange(t, stream, attempt(t, "dep-a", "/v1/chat/completions", body))
	h.server.SetPlan(mustPlan(t, parseConfig(t, strings.Replace(upstreamConfig, "openai/gpt-4o-2024-08-06", "openai/gpt-4o-2024-11-20", 1), testEnv)))
	h.server.SetPlan(mustPlan(t, parseConfig(t, strings.Replace(upstreamConfig, "openai/gpt-4o-2024-08-06", "openai/gpt-4o-2024-11-20", 1), testEnv)))
	resp := exchange(t, stream, requestBody(body))
	require.Equal(t, `{"model":"gpt-4o-2024-08-06","messages":[{"role":"user","content":"hi"}],"stream":false}`, string(resp.GetRequestBody().GetResponse().GetBodyMutation().GetBody()))
	finish(t, stream)
}

func TestUpstreamNeverLeaksKeys(t *testing.T) {
	h := startUpstream(t)
	for _, id := range []string{"dep-a", "dep-b", "dep-gone"} {
		stream := h.open(t, plan.ProcessorUpstream)
		body := chatBody("gpt-4o")
		resp := exchange(t, stream, attempt(t, id, "/v1/chat/completions", body, clientCredentials...))
		if resp.GetImmediateResponse() == nil {
			resp = exchange(t, stream, requestBody(body))
			// The deployment's key goes in authorization, nowhere else.
			assert.NotContains(t, string(resp.GetRequestBody().GetResponse().GetBodyMutation().GetBody()), deploymentKey)
		}
		finish(t, stream)
	}
	logs := h.logs.String()
	require.Contains(t, logs, "upstream attempt", "the debug line ran")
	require.NotContains(t, logs, deploymentKey)
	require.NotContains(t, logs, masterKey)
}

// The header mutation Envoy applies must not carry a second credential for
// the upstream: every header set once, and each client credential header
// either overwritten or removed.
func TestUpstreamCredentialHeadersAreAccountedFor(t *testing.T) {
	h := startUpstream(t)
	for _, id := range []string{"dep-a", "dep-b"} {
		stream := h.open(t, plan.ProcessorUpstream)
		resp := exchange(t, stream, attempt(t, id, "/v1/chat/completions", chatBody("gpt-4o"), clientCredentials...))
		m := flattenMutation(t, resp.GetRequestHeaders().GetResponse().GetHeaderMutation())
		for _, c := range clientCredentials {
			_, set := m.set[c.key]
			removed := slices.Contains(m.remove, c.key)
			assert.True(t, set != removed, "%s: %s must be either set or removed, set=%v removed=%v", id, c.key, set, removed)
			if set {
				assert.NotEqual(t, c.value, m.set[c.key])
			}
		}
		finish(t, stream)
	}
}

// When the gateway already wrote the deployment's model into the body (a
// group of OpenAI-compatible deployments that all want one model), the
// attempt asks for no more phases; when the header names another model (a
// reload changed the deployment, or a client sent it and the gateway did
// not vouch for it) the attempt rewrites the body itself. The provider
// never gets the header.
func TestUpstreamSkipsBodyTheGatewayWrote(t *testing.T) {
	h := startUpstream(t)
	body := chatBody("gpt-4o-mini")
	for _, tt := range []struct {
		name, header string
		skips        bool
	}{
		{"written for this deployment", "gpt-4o-mini", true},
		{"written for another model", "gpt-4o-2024-08-06", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stream := h.open(t, plan.ProcessorUpstream)
			id := "req-" + t.Name()
			h.server.Routed(id, "/v1/chat/completions", "", tt.header)
			resp := exchange(t, stream, attempt(t, "dep-b", "/v1/chat/completions", body, header{"x-request-id", id}))
			mode := resp.GetModeOverride()
			if !tt.skips {
				// No override: the configured BUFFERED body phase follows.
				assert.Nil(t, mode)
				exchange(t, stream, requestBody(body))
				finish(t, stream)
				return
			}
			require.NotNil(t, mode)
			assert.Equal(t, "NONE", mode.GetRequestBodyMode().String())
			assert.Equal(t, "SKIP", mode.GetResponseHeaderMode().String())
			finish(t, stream)
		})
	}
}
