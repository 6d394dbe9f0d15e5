package translate

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
)

func newAzureDeployment(t testing.TB, base, key, model, version string) *config.Deployment {
	t.Helper()
	return &config.Deployment{
		ID:            "dep-az",
		ModelName:     "gpt-4o",
		Provider:      "azure",
		API:           config.APIAzure,
		UpstreamModel: model,
		APIBase:       mustURL(t, base),
		APIKey:        config.Secret(key),
		APIVersion:    version,
	}
}

func TestAzureRequestHead(t *testing.T) {
	const res = "https://my-res.openai.azure.com"
	tests := []struct {
		name         string
		base, model  string
		key, version string
		ep           Endpoint
		query        string
		want         RequestHead
	}{
		{
			name: "chat with api_version", base: res + "/", model: "gpt-4o-eu", key: "az-key", version: "2024-10-21",
			ep: ChatCompletions,
			want: RequestHead{Path: "/openai/deployments/gpt-4o-eu/chat/completions?api-version=2024-10-21",
				Authority: "my-res.openai.azure.com", Set: []Header{{"api-key", "az-key"}}},
		},
		{
			name: "LiteLLM's default api-version", base: res, model: "gpt-4o-eu", key: "az-key",
			ep: ChatCompletions,
			want: RequestHead{Path: "/openai/deployments/gpt-4o-eu/chat/completions?api-version=" + AzureDefaultAPIVersion,
				Authority: "my-res.openai.azure.com", Set: []Header{{"api-key", "az-key"}}},
		},
		{
			name: "embeddings", base: res, model: "text-embedding-3-large", key: "az-key", version: "2024-10-21",
			ep: Embeddings,
			want: RequestHead{Path: "/openai/deployments/text-embedding-3-large/embeddings?api-version=2024-10-21",
				Authority: "my-res.openai.azure.com", Set: []Header{{"api-key", "az-key"}}},
		},
		{
			name: "text completions", base: res, model: "gpt-35-turbo-instruct", key: "az-key", version: "2024-10-21",
			ep: Completions,
			want: RequestHead{Path: "/openai/deployments/gpt-35-turbo-instruct/completions?api-version=2024-10-21",
				Authority: "my-res.openai.azure.com", Set: []Header{{"api-key", "az-key"}}},
		},
		{
			name: "no key sends no credential", base: res, model: "d", version: "2024-10-21", ep: ChatCompletions,
			want: RequestHead{Path: "/openai/deployments/d/chat/completions?api-version=2024-10-21", Authority: "my-res.openai.azure.com"},
		},
		{
			name: "trailing /openai is not doubled", base: res + "/openai/", model: "d", key: "k", version: "2024-10-21", ep: ChatCompletions,
			want: RequestHead{Path: "/openai/deployments/d/chat/completions?api-version=2024-10-21",
				Authority: "my-res.openai.azure.com", Set: []Header{{"api-key", "k"}}},
		},
		{
			name: "trailing /openai/v1 with a dated version", base: res + "/openai/v1", model: "d", key: "k", version: "2024-10-21", ep: ChatCompletions,
			want: RequestHead{Path: "/openai/deployments/d/chat/completions?api-version=2024-10-21",
				Authority: "my-res.openai.azure.com", Set: []Header{{"api-key", "k"}}},
		},
		{
			name: "base naming the deployment is used as is", base: res + "/openai/deployments/gpt-4-vision/extensions", model: "gpt-4-vision", key: "k", version: "2024-02-15-preview",
			ep: ChatCompletions,
			want: RequestHead{Path: "/openai/deployments/gpt-4-vision/extensions/chat/completions?api-version=2024-02-15-preview",
				Authority: "my-res.openai.azure.com", Set: []Header{{"api-key", "k"}}},
		},
		{
			name: "gateway in front of Azure keeps its path prefix", base: "http://127.0.0.1:8080/azure/eu", model: "d", key: "k", version: "2024-10-21",
			ep: ChatCompletions,
			want: RequestHead{Path: "/azure/eu/openai/deployments/d/chat/completions?api-version=2024-10-21",
				Authority: "127.0.0.1:8080", Set: []Header{{"api-key", "k"}}},
		},
		{
			name: "api-version in the api_base wins", base: res + "?api-version=2024-06-01", model: "d", key: "k", version: "2024-10-21",
			ep: ChatCompletions,
			want: RequestHead{Path: "/openai/deployments/d/chat/completions?api-version=2024-06-01",
				Authority: "my-res.openai.azure.com", Set: []Header{{"api-key", "k"}}},
		},
		{
			name: "client query kept, its api-version dropped", base: res, model: "d", key: "k", version: "2024-10-21",
			ep: ChatCompletions, query: "api-version=1999-01-01&trace=a%20b",
			want: RequestHead{Path: "/openai/deployments/d/chat/completions?api-version=2024-10-21&trace=a%20b",
				Authority: "my-res.openai.azure.com", Set: []Header{{"api-key", "k"}}},
		},
		{
			name: "deployment name is escaped", base: res, model: "my dep/../x", key: "k", version: "2024-10-21",
			ep: ChatCompletions,
			want: RequestHead{Path: "/openai/deployments/my%20dep%2F..%2Fx/chat/completions?api-version=2024-10-21",
				Authority: "my-res.openai.azure.com", Set: []Header{{"api-key", "k"}}},
		},
		{
			name: "o_series routing prefix is not part of the deployment", base: res, model: "o_series/my-o3", key: "k", version: "2025-01-01-preview",
			ep: ChatCompletions,
			want: RequestHead{Path: "/openai/deployments/my-o3/chat/completions?api-version=2025-01-01-preview",
				Authority: "my-res.openai.azure.com", Set: []Header{{"api-key", "k"}}},
		},
		{
			name: "gpt5_series routing prefix", base: res, model: "gpt5_series/prod-5", key: "k", version: "2025-01-01-preview",
			ep: ChatCompletions,
			want: RequestHead{Path: "/openai/deployments/prod-5/chat/completions?api-version=2025-01-01-preview",
				Authority: "my-res.openai.azure.com", Set: []Header{{"api-key", "k"}}},
		},
		{
			name: "health probe lists the resource's models", base: res + "/openai/deployments/x", model: "d", key: "k", version: "2024-10-21",
			ep: "/models",
			want: RequestHead{Path: "/openai/models?api-version=2024-10-21", Authority: "my-res.openai.azure.com",
				Set: []Header{{"api-key", "k"}}},
		},
		{
			name: "health probe on the v1 API", base: res, model: "d", key: "k", version: "v1", ep: "/models",
			want: RequestHead{Path: "/openai/v1/models", Authority: "my-res.openai.azure.com",
				Set: []Header{{"authorization", "Bearer k"}}},
		},
		{
			name: "v1 API", base: res, model: "gpt-4.1", key: "k", version: "v1", ep: ChatCompletions,
			want: RequestHead{Path: "/openai/v1/chat/completions", Authority: "my-res.openai.azure.com",
				Set: []Header{{"authorization", "Bearer k"}}},
		},
		{
			name: "v1 API as latest, embeddings", base: res + "/", model: "emb", key: "k", version: "latest", ep: Embeddings,
			want: RequestHead{Path: "/openai/v1/embeddings", Authority: "my-res.openai.azure.com",
				Set: []Header{{"authorization", "Bearer k"}}},
		},
		{
			name: "v1 API as preview, base with /openai/v1", base: res + "/openai/v1/", model: "gpt-4.1", key: "k", version: "preview",
			ep: ChatCompletions, query: "api-version=x&a=1",
			want: RequestHead{Path: "/openai/v1/chat/completions?a=1", Authority: "my-res.openai.azure.com",
				Set: []Header{{"authorization", "Bearer k"}}},
		},
		{
			name: "v1 API, base naming a deployment", base: res + "/openai/deployments/old", model: "gpt-4.1", version: "v1",
			ep:   ChatCompletions,
			want: RequestHead{Path: "/openai/v1/chat/completions", Authority: "my-res.openai.azure.com"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newAzureDeployment(t, tt.base, tt.key, tt.model, tt.version)
			got, err := azure{}.RequestHead(d, tt.ep, tt.query)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// An Entra ID token (azure_ad_token) is a bearer token, and goes before a
// key, as the Azure OpenAI SDK sends it.
func TestAzureADToken(t *testing.T) {
	for _, version := range []string{"2024-10-21", "v1"} {
		d := newAzureDeployment(t, "https://my-res.openai.azure.com", "az-key", "d", version)
		d.AzureADToken = "eyJ.token"
		got, err := azure{}.RequestHead(d, ChatCompletions, "")
		require.NoError(t, err)
		assert.Equal(t, []Header{{"authorization", "Bearer eyJ.token"}}, got.Set, version)
	}
}

func TestAzureRequestBody(t *testing.T) {
	tests := []struct {
		name, model, ep, body, want string
	}{
		{name: "model becomes the deployment name", model: "gpt-4o-eu", ep: string(ChatCompletions),
			body: `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}`,
			want: `{"model":"gpt-4o-eu","messages":[{"role":"user","content":"hi"}],"stream":true}`},
		{name: "already the deployment name", model: "gpt-4o-eu", ep: string(ChatCompletions),
			body: `{"model":"gpt-4o-eu","messages":[]}`},
		{name: "routing prefix stripped", model: "o_series/my-o3", ep: string(ChatCompletions),
			body: `{"model":"o3","messages":[]}`, want: `{"model":"my-o3","messages":[]}`},
		{name: "embeddings", model: "emb-large", ep: string(Embeddings),
			body: `{"model":"text-embedding-3-large","input":"x"}`, want: `{"model":"emb-large","input":"x"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newAzureDeployment(t, "https://r.openai.azure.com", "k", tt.model, "")
			got, resp, err := azure{}.RequestBody(d, Endpoint(tt.ep), []byte(tt.body))
			require.NoError(t, err)
			if tt.want == "" {
				require.Nil(t, got, "an unchanged body is nil")
			} else {
				require.JSONEq(t, tt.want, string(got))
			}
			if Endpoint(tt.ep) == Embeddings {
				require.Nil(t, resp, "embeddings are not content-filtered")
			} else {
				require.NotNil(t, resp)
			}
			require.Equal(t, tt.model == "o_series/my-o3", d.UpstreamModel == "o_series/my-o3", "the deployment is not modified")
		})
	}

	_, resp, err := azure{}.RequestBody(newAzureDeployment(t, "https://r.openai.azure.com", "k", "d", ""), ChatCompletions, []byte(`{"model":`))
	require.ErrorIs(t, err, ErrBadRequest)
	require.Nil(t, resp)
	require.True(t, azure{}.TranslatesResponses(nil))
}

// Azure's answer to a prompt its content filter blocks, as documented by
// Microsoft (content filtering: "scenario details") and seen in the wild.
const azureContentFilterBody = `{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":true,"severity":"high"},"jailbreak":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}}}`

func TestAzureResponseContentFilterError(t *testing.T) {
	r := &azureResponse{}
	stream, set := r.Headers(400, "application/json")
	require.False(t, stream)
	require.Equal(t, []Header{{"content-type", "application/json"}}, set)

	out, err := r.Body(400, []byte(azureContentFilterBody))
	require.NoError(t, err)
	var got struct {
		Error map[string]json.RawMessage `json:"error"`
	}
	require.NoError(t, json.Unmarshal(out, &got), string(out))
	require.JSONEq(t, `"content_policy_violation"`, string(got.Error["code"]))
	require.JSONEq(t, `"invalid_request_error"`, string(got.Error["type"]))
	require.JSONEq(t, `"prompt"`, string(got.Error["param"]))
	require.Contains(t, string(got.Error["message"]), "content management policy")
	require.JSONEq(t, `{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":true,"severity":"high"},"jailbreak":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}`,
		string(got.Error["innererror"]), "which category fired is kept")
	require.NotContains(t, got.Error, "status")
	require.NotContains(t, string(out), `\u0027`, "no HTML escaping of the message")
}

func TestAzureContentPolicyErrorDetection(t *testing.T) {
	tests := []struct {
		name string
		body string
		ok   bool
	}{
		{"code content_filter, no innererror", `{"error":{"message":"The response was filtered","type":null,"param":"prompt","code":"content_filter","status":400}}`, true},
		{"innererror only", `{"error":{"message":"blocked","code":"400","innererror":{"code":"ResponsibleAIPolicyViolation"}}}`, true},
		{"jailbreak", `{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","code":"content_filter","innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"jailbreak":{"detected":true,"filtered":true}}}}}`, true},
		{"LiteLLM's message match", `{"error":{"message":"Your request was rejected as a result of our safety system.","code":null}}`, true},
		{"already OpenAI's code", `{"error":{"message":"x","type":"invalid_request_error","param":null,"code":"content_policy_violation"}}`, true},
		{"deployment not found", `{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist."}}`, false},
		{"context length", `{"error":{"message":"This model's maximum context length is 8192 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`, false},
		{"not JSON", `Bad Request`, false},
		{"no error object", `{"detail":"content_filter"}`, false},
		{"error is a string", `{"error":"content_filter"}`, false},
		{"code not a string", `{"error":{"message":"m","code":400}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, ok := azureContentPolicyError([]byte(tt.body))
			require.Equal(t, tt.ok, ok)
			r := &azureResponse{}
			got, err := r.Body(400, []byte(tt.body))
			require.NoError(t, err, "a provider's error never becomes a gateway error")
			if !tt.ok {
				require.Equal(t, tt.body, string(got), "other errors pass through byte for byte")
				return
			}
			require.Equal(t, string(out), string(got))
			var e struct {
				Error struct {
					Message string          `json:"message"`
					Type    string          `json:"type"`
					Param   json.RawMessage `json:"param"`
					Code    string          `json:"code"`
				} `json:"error"`
			}
			require.NoError(t, json.Unmarshal(got, &e))
			require.Equal(t, "content_policy_violation", e.Error.Code)
			require.Equal(t, "invalid_request_error", e.Error.Type)
			require.NotEmpty(t, e.Error.Param, "param is present (null when Azure sent none)")
		})
	}
}

func TestAzureResponsePassesSuccessThrough(t *testing.T) {
	// A completion the filter cut short is OpenAI's format already.
	filtered := []byte(`{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-2024-08-06","choices":[{"index":0,"finish_reason":"content_filter","message":{"role":"assistant","content":null},"content_filter_results":{"hate":{"filtered":true,"severity":"high"}}}],"prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}`)
	r := &azureResponse{}
	stream, set := r.Headers(200, "application/json")
	require.False(t, stream)
	require.Equal(t, []Header{{"content-type", "application/json"}}, set)
	out, err := r.Body(200, filtered)
	require.NoError(t, err)
	require.Equal(t, filtered, out)

	// Even a 200 whose text looks like a filter error is left alone.
	out, err = r.Body(200, []byte(azureContentFilterBody))
	require.NoError(t, err)
	require.Equal(t, azureContentFilterBody, string(out))

	// 5xx are not rewritten: the status could not say 400 anyway.
	out, err = r.Body(500, []byte(`{"error":{"message":"The model produced invalid content.","code":"server_error"}}`))
	require.NoError(t, err)
	require.Contains(t, string(out), `"server_error"`)

	stream, set = (&azureResponse{}).Headers(200, "text/event-stream; charset=utf-8")
	require.True(t, stream, "an SSE stream is passed through chunk by chunk, never held back")
	require.Equal(t, []Header{{"content-type", "text/event-stream; charset=utf-8"}}, set)
	chunk := []byte("data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"content_filter\"}]}\n\nda")
	got, err := r.Chunk(chunk, false)
	require.NoError(t, err)
	require.Equal(t, chunk, got)

	stream, set = (&azureResponse{}).Headers(400, "")
	require.False(t, stream, "an error is read whole, even if it claimed to be a stream")
	require.Empty(t, set)
}

func TestAzureV1(t *testing.T) {
	for v, want := range map[string]bool{
		"v1": true, "latest": true, "preview": true,
		"2024-10-21": false, "2025-04-01-preview": false, "": false, "V1": false,
	} {
		assert.Equal(t, want, azureV1(v), v)
	}
}

func TestQueryKeys(t *testing.T) {
	assert.True(t, hasQueryKey("a=1&api-version=x", "api-version"))
	assert.True(t, hasQueryKey("api-version", "api-version"))
	assert.False(t, hasQueryKey("api-versions=1&x=api-version", "api-version"))
	assert.False(t, hasQueryKey("", "api-version"))
	assert.Equal(t, "a=1&b=2", dropQueryKey("a=1&api-version=x&b=2", "api-version"))
	assert.Equal(t, "", dropQueryKey("api-version=x", "api-version"))
	assert.Equal(t, "a=1&&b", dropQueryKey("a=1&&b", "api-version"), "untouched when absent")
}

// Deployments read from a LiteLLM config get the Azure translators.
func TestAzureFromConfig(t *testing.T) {
	_, _, err := config.Parse([]byte(`
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: azure/gpt-4o-eu
      api_base: https://my-endpoint-europe.openai.azure.com/
      api_key: os.environ/AZURE_API_KEY_EU
      api_version: "2024-10-21"
    model_info: {id: az-eu}
  - model_name: gpt-4o
    litellm_params:
      model: azure/gpt-4o-ca
      api_base: os.environ/AZURE_API_BASE_CA
    model_info: {id: az-ca}
  - model_name: llama
    litellm_params:
      model: azure_ai/Llama-3.3-70B-Instruct
      api_base: https://my-project.services.ai.azure.com
      api_key: sk-foundry
    model_info: {id: foundry}
  - model_name: mistral
    litellm_params:
      model: azure_ai/mistral-large
    model_info: {id: no-base}
`), "test.yaml", func(name string) (string, bool) {
		if name == "AZURE_API_KEY_EU" {
			return "eu-key", true
		}
		return "", false
	})
	require.Error(t, err, "azure_ai without api_base is an error: it has no default")
	require.Contains(t, err.Error(), `model_list[3].litellm_params.api_base: missing; provider "azure_ai" has no default api_base`)

	cfg, warnings, err := config.Parse([]byte(`
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: azure/gpt-4o-eu
      api_base: https://my-endpoint-europe.openai.azure.com/
      api_key: os.environ/AZURE_API_KEY_EU
      api_version: "2024-10-21"
      azure_ad_token: os.environ/AZURE_AD_TOKEN
    model_info: {id: az-eu}
  - model_name: gpt-4o
    litellm_params:
      model: azure/gpt-4o-ca
      api_base: os.environ/AZURE_API_BASE_CA
    model_info: {id: az-ca}
  - model_name: llama
    litellm_params:
      model: azure_ai/Llama-3.3-70B-Instruct
      api_base: https://my-project.services.ai.azure.com
      api_key: sk-foundry
    model_info: {id: foundry}
`), "test.yaml", func(name string) (string, bool) {
		if name == "AZURE_API_KEY_EU" {
			return "eu-key", true
		}
		return "", false
	})
	require.NoError(t, err)

	eu := cfg.Deployment("az-eu")
	require.Equal(t, config.APIAzure, eu.API)
	require.Equal(t, "gpt-4o-eu", eu.UpstreamModel)
	require.Equal(t, "https://my-endpoint-europe.openai.azure.com", eu.APIBase.String())
	require.Equal(t, "2024-10-21", eu.APIVersion)
	tr, err := For(eu)
	require.NoError(t, err)
	require.Equal(t, azure{}, tr)

	// An api_base from an unset variable loads (CI validates without
	// secrets) but is not routable until the variable is set.
	ca := cfg.Deployment("az-ca")
	require.Empty(t, ca.API)
	require.Nil(t, ca.APIBase)
	_, err = For(ca)
	require.ErrorIs(t, err, ErrUnsupported)

	foundry := cfg.Deployment("foundry")
	require.Equal(t, config.APIAzureAI, foundry.API)
	tr, err = For(foundry)
	require.NoError(t, err)
	require.Equal(t, azureAI{}, tr)

	var msgs []string
	for _, w := range warnings {
		msgs = append(msgs, w.Path+": "+w.Msg)
	}
	require.Contains(t, msgs, "model_list[0].litellm_params.azure_ad_token: environment variable AZURE_AD_TOKEN is not set")
	require.Contains(t, msgs, "model_list[1].litellm_params.api_base: environment variable AZURE_API_BASE_CA is not set")
}
