package admin_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/admin"
	"github.com/llmvoy/llmvoy/keys"
)

// deploymentKey is the OpenAI key infoConfig's deployments resolve.
const deploymentKey = "sk-openai-deployment-91c2"

// Secrets of infoConfig beyond the master and deployment keys: AWS credentials and a Vertex AI
// service account key whose private key is a placeholder.
const (
	awsKeyID        = "AKIAINFOTESTKEY7Q2W"
	awsSecret       = "info-test-aws-secret/3f9Kq+Zr"
	awsSession      = "info-test-session-token-81d0"
	vertexKeyID     = "vertex-key-id-6a2e"
	vertexPrivate   = "vertex-private-key-material-5c9d"
	vertexAccount   = `{"type": "service_account", "project_id": "sa-project", "private_key_id": "` + vertexKeyID + `", "private_key": "-----BEGIN PRIVATE KEY-----\n` + vertexPrivate + `\n-----END PRIVATE KEY-----\n", "client_email": "sa@sa-project.iam.gserviceaccount.com", "token_uri": "https://oauth2.googleapis.com/token"}`
	infoRedisSecret = "redis-pass-1c7b"
)

// infoConfig has a group of two OpenAI deployments (one with user info and
// a token in its api_base), Bedrock and Vertex AI deployments with
// credentials, a deployment priced and described by its config (with the
// OpenAI key pasted into its description), and one the price table does
// not know.
const infoConfig = `
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_base: http://user:pa55word@h:1/v1?token=t0ken
      api_key: os.environ/OPENAI_API_KEY
      rpm: 100
      tpm: 10000
      timeout: 30
    model_info:
      id: dep-a
      description: team A
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o-mini-2024-07-18
      api_base: http://h2:2/v1
      api_key: sk-literal-deployment-key-0e4f
      rpm: 50
    model_info:
      id: dep-b
  - model_name: claude
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_access_key_id: os.environ/AWS_KEY_ID
      aws_secret_access_key: os.environ/AWS_SECRET
      aws_session_token: os.environ/AWS_SESSION
      aws_region_name: us-east-1
    model_info:
      id: dep-br
  - model_name: gemini
    litellm_params:
      model: vertex_ai/gemini-2.5-pro
      vertex_credentials: os.environ/VERTEX_KEY
      vertex_location: europe-west4
    model_info:
      id: dep-vx
  - model_name: custom
    litellm_params:
      model: openai/my-finetune
      api_base: http://h3:3/v1
      input_cost_per_token: 0.000001
      output_cost_per_token: 0.000002
    model_info:
      id: dep-c
      mode: completion
      max_input_tokens: 4096
      supports_vision: true
      description: "ask ops; the key is sk-openai-deployment-91c2"
      tags: [internal, "sk-openai-deployment-91c2"]
  - model_name: mystery
    litellm_params:
      model: openai/my-own-model
      api_base: http://h4:4/v1
    model_info:
      id: dep-m
router_settings:
  routing_strategy: least-busy
  model_group_alias: {"alias-4o": "gpt-4o"}
  redis_host: 127.0.0.1
  redis_password: os.environ/REDIS_PASSWORD
general_settings:
  master_key: os.environ/MASTER_KEY
`

// infoSecrets are every credential infoConfig holds; neither endpoint may
// show any of them, whole or in part.
var infoSecrets = []string{
	masterKey, deploymentKey, "sk-literal-deployment-key-0e4f", "pa55word", "t0ken",
	awsKeyID, awsSecret, awsSession, vertexKeyID, vertexPrivate, "PRIVATE KEY", infoRedisSecret,
}

// infoHandler answers from infoConfig, with its secrets in the environment.
func infoHandler(t *testing.T) *admin.Handler {
	t.Helper()
	env := map[string]string{
		"MASTER_KEY": masterKey, "OPENAI_API_KEY": deploymentKey,
		"AWS_KEY_ID": awsKeyID, "AWS_SECRET": awsSecret, "AWS_SESSION": awsSession,
		"VERTEX_KEY": vertexAccount, "REDIS_PASSWORD": infoRedisSecret,
	}
	return &admin.Handler{Config: parseConfig(t, infoConfig, env), Log: slog.New(slog.DiscardHandler)}
}

type infoDeployment struct {
	ModelName     string         `json:"model_name"`
	LiteLLMParams map[string]any `json:"litellm_params"`
	ModelInfo     map[string]any `json:"model_info"`
}

// getInfo GETs an info endpoint as c, checks it answered 200 without any
// secret, and decodes its data.
func getInfo[T any](t *testing.T, h *admin.Handler, c admin.Caller, path string) []T {
	t.Helper()
	r := call(t, h, c, "GET", path, "")
	require.Equal(t, 200, r.status, "body: %s", r.body)
	requireNoSecrets(t, r.body)
	var body struct {
		Data []T `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&body), "body: %s", r.body)
	require.NotNil(t, body.Data, "data must be a list, not null: %s", r.body)
	return body.Data
}

func requireNoSecrets(t *testing.T, body []byte) {
	t.Helper()
	for _, s := range infoSecrets {
		require.NotContains(t, string(body), s)
	}
}

func byID(t *testing.T, ds []infoDeployment) map[string]infoDeployment {
	t.Helper()
	out := map[string]infoDeployment{}
	for _, d := range ds {
		out[d.ModelInfo["id"].(string)] = d
	}
	return out
}

// /model/info lists every deployment in config order with LiteLLM's fields:
// litellm_params without credentials, and model_info from the price table
// overridden by the config.
func TestModelInfo(t *testing.T) {
	h := infoHandler(t)
	data := getInfo[infoDeployment](t, h, master, "/model/info")
	var ids []string
	for _, d := range data {
		ids = append(ids, d.ModelInfo["id"].(string))
	}
	require.Equal(t, []string{"dep-a", "dep-b", "dep-br", "dep-vx", "dep-c", "dep-m"}, ids)
	got := byID(t, data)

	a := got["dep-a"]
	assert.Equal(t, "gpt-4o", a.ModelName)
	assert.Equal(t, map[string]any{"model": "openai/gpt-4o", "api_base": "http://h:1/v1", "rpm": 100.0, "tpm": 10000.0, "timeout": 30.0}, a.LiteLLMParams)
	assert.Subset(t, a.ModelInfo, map[string]any{
		"id": "dep-a", "db_model": false, "key": "gpt-4o", "description": "team A", "litellm_provider": "openai",
		"input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05, "mode": "chat",
		"max_input_tokens": 128000.0, "max_output_tokens": 16384.0, "max_tokens": 16384.0,
		"supports_vision": true, "supports_function_calling": true, "supports_parallel_function_calling": true,
		"supports_reasoning": false, "supports_web_search": false,
	})

	// A dated snapshot is described by its model's entry.
	assert.Subset(t, got["dep-b"].ModelInfo, map[string]any{"key": "gpt-4o-mini", "input_cost_per_token": 1.5e-07})
	assert.Equal(t, map[string]any{"model": "openai/gpt-4o-mini-2024-07-18", "api_base": "http://h2:2/v1", "rpm": 50.0}, got["dep-b"].LiteLLMParams)

	assert.Equal(t, map[string]any{"model": "bedrock/anthropic.claude-3-haiku-20240307-v1:0",
		"api_base": "https://bedrock-runtime.us-east-1.amazonaws.com", "aws_region_name": "us-east-1"}, got["dep-br"].LiteLLMParams)
	assert.Subset(t, got["dep-br"].ModelInfo, map[string]any{"key": "anthropic.claude-3-haiku-20240307-v1:0", "litellm_provider": "bedrock",
		"input_cost_per_token": 2.5e-07, "output_cost_per_token": 1.25e-06, "supports_vision": true})

	assert.Equal(t, map[string]any{"model": "vertex_ai/gemini-2.5-pro", "api_base": "https://europe-west4-aiplatform.googleapis.com",
		"vertex_project": "sa-project", "vertex_location": "europe-west4"}, got["dep-vx"].LiteLLMParams)
	assert.Subset(t, got["dep-vx"].ModelInfo, map[string]any{"key": "gemini/gemini-2.5-pro", "litellm_provider": "vertex_ai-language-models",
		"input_cost_per_token": 1.25e-06, "supports_reasoning": true})

	// The config's prices and model_info win over the table; a key pasted
	// into model_info comes out redacted.
	c := got["dep-c"]
	assert.Equal(t, map[string]any{"model": "openai/my-finetune", "api_base": "http://h3:3/v1",
		"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}, c.LiteLLMParams)
	assert.Subset(t, c.ModelInfo, map[string]any{
		"id": "dep-c", "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06, "mode": "completion",
		"max_input_tokens": 4096.0, "max_tokens": nil, "supports_vision": true, "supports_function_calling": false,
		"description": "ask ops; the key is [redacted]", "tags": []any{"internal", "[redacted]"},
	})
	assert.NotContains(t, c.ModelInfo, "key", "the table does not know the model")

	// Unknown to the table: the same keys, unknown ones null.
	m := got["dep-m"].ModelInfo
	assert.Subset(t, m, map[string]any{"id": "dep-m", "db_model": false, "input_cost_per_token": nil, "output_cost_per_token": nil,
		"max_input_tokens": nil, "max_tokens": nil, "mode": nil, "litellm_provider": "openai", "supports_vision": false})
	for _, d := range data {
		assert.Subset(t, fieldNames(d.ModelInfo), []string{"id", "db_model", "input_cost_per_token", "output_cost_per_token",
			"max_input_tokens", "max_tokens", "mode", "supports_vision", "supports_function_calling"}, d.ModelInfo["id"])
	}

	// /v1/model/info is the same endpoint.
	v1 := call(t, h, master, "GET", "/v1/model/info", "")
	all := call(t, h, master, "GET", "/model/info", "")
	assert.JSONEq(t, string(all.body), string(v1.body))
}

func fieldNames(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestModelInfoByID(t *testing.T) {
	h := infoHandler(t)
	for _, path := range []string{"/model/info?litellm_model_id=dep-br", "/v1/model/info?litellm_model_id=dep-br"} {
		data := getInfo[infoDeployment](t, h, master, path)
		require.Len(t, data, 1, path)
		assert.Equal(t, "dep-br", data[0].ModelInfo["id"], path)
	}
	r := call(t, h, master, "GET", "/model/info?litellm_model_id=nope", "")
	e := requireError(t, r, 404, "not_found_error")
	assert.Equal(t, "Model id = nope not found on llmvoy", e.Message)
	assert.Equal(t, "litellm_model_id", *e.Param)
}

type groupInfo struct {
	ModelGroup                      string   `json:"model_group"`
	Providers                       []string `json:"providers"`
	MaxInputTokens                  *int64   `json:"max_input_tokens"`
	MaxOutputTokens                 *int64   `json:"max_output_tokens"`
	InputCostPerToken               *float64 `json:"input_cost_per_token"`
	OutputCostPerToken              *float64 `json:"output_cost_per_token"`
	Mode                            string   `json:"mode"`
	TPM                             *int     `json:"tpm"`
	RPM                             *int     `json:"rpm"`
	SupportsParallelFunctionCalling bool     `json:"supports_parallel_function_calling"`
	SupportsVision                  bool     `json:"supports_vision"`
	SupportsWebSearch               bool     `json:"supports_web_search"`
	SupportsReasoning               bool     `json:"supports_reasoning"`
	SupportsFunctionCalling         bool     `json:"supports_function_calling"`
	RoutingStrategy                 string   `json:"routing_strategy"`
	Deployments                     []string `json:"deployments"`
}

// /model_group/info sums each group up as LiteLLM's Router does: the
// largest limits and prices, any deployment's capabilities, the sum of the
// rpm and tpm that are set.
func TestModelGroupInfo(t *testing.T) {
	h := infoHandler(t)
	data := getInfo[groupInfo](t, h, master, "/model_group/info")
	var names []string
	for _, g := range data {
		names = append(names, g.ModelGroup)
	}
	require.Equal(t, []string{"gpt-4o", "claude", "gemini", "custom", "mystery"}, names)

	assert.Equal(t, groupInfo{
		ModelGroup: "gpt-4o", Providers: []string{"openai"},
		MaxInputTokens: ptr[int64](128000), MaxOutputTokens: ptr[int64](16384),
		InputCostPerToken: ptr(2.5e-06), OutputCostPerToken: ptr(1e-05), Mode: "chat",
		TPM: ptr(10000), RPM: ptr(150),
		SupportsParallelFunctionCalling: true, SupportsVision: true, SupportsFunctionCalling: true,
		RoutingStrategy: "least-busy", Deployments: []string{"dep-a", "dep-b"},
	}, data[0])
	assert.Equal(t, groupInfo{
		ModelGroup: "custom", Providers: []string{"openai"}, MaxInputTokens: ptr[int64](4096),
		InputCostPerToken: ptr(1e-06), OutputCostPerToken: ptr(2e-06), Mode: "completion", SupportsVision: true,
		RoutingStrategy: "least-busy", Deployments: []string{"dep-c"},
	}, data[3])
	assert.Equal(t, groupInfo{
		ModelGroup: "mystery", Providers: []string{"openai"}, Mode: "chat",
		RoutingStrategy: "least-busy", Deployments: []string{"dep-m"},
	}, data[4])
	assert.Equal(t, []string{"bedrock"}, data[1].Providers)
	assert.Equal(t, []string{"vertex_ai"}, data[2].Providers)
	assert.True(t, data[2].SupportsReasoning)

	one := getInfo[groupInfo](t, h, master, "/model_group/info?model_group=claude")
	require.Len(t, one, 1)
	assert.Equal(t, data[1], one[0])

	// An alias answers for its group, under the name asked for.
	alias := getInfo[groupInfo](t, h, master, "/model_group/info?model_group=alias-4o")
	require.Len(t, alias, 1)
	want := data[0]
	want.ModelGroup = "alias-4o"
	assert.Equal(t, want, alias[0])

	assert.Empty(t, getInfo[groupInfo](t, h, master, "/model_group/info?model_group=nope"))
}

// A virtual key sees only the deployments and groups it may call, as in
// LiteLLM; a deployment of another group is as unknown as a missing one.
func TestInfoForARestrictedKey(t *testing.T) {
	h := infoHandler(t)
	restricted := admin.Caller{Key: &keys.Key{Models: []string{"gpt-4o", "custom"}}}
	var ids []string
	for _, d := range getInfo[infoDeployment](t, h, restricted, "/model/info") {
		ids = append(ids, d.ModelInfo["id"].(string))
	}
	assert.Equal(t, []string{"dep-a", "dep-b", "dep-c"}, ids)
	assert.Len(t, getInfo[infoDeployment](t, h, restricted, "/model/info?litellm_model_id=dep-c"), 1)
	forbidden := call(t, h, restricted, "GET", "/model/info?litellm_model_id=dep-br", "")
	missing := call(t, h, restricted, "GET", "/model/info?litellm_model_id=dep-zz", "")
	requireError(t, forbidden, 404, "not_found_error")
	assert.Equal(t, string(missing.body), strings.ReplaceAll(string(forbidden.body), "dep-br", "dep-zz"))

	var names []string
	for _, g := range getInfo[groupInfo](t, h, restricted, "/model_group/info") {
		names = append(names, g.ModelGroup)
	}
	assert.Equal(t, []string{"gpt-4o", "custom"}, names)
	assert.Empty(t, getInfo[groupInfo](t, h, restricted, "/model_group/info?model_group=claude"))
	assert.Len(t, getInfo[groupInfo](t, h, restricted, "/model_group/info?model_group=gpt-4o"), 1)
	// An unrestricted key sees what the master key sees.
	assert.Len(t, getInfo[groupInfo](t, h, admin.Caller{Key: &keys.Key{}}, "/model_group/info"), 5)
}

// A hidden alias routes but is never shown, even asked for by name.
func TestInfoNeverShowsAHiddenAlias(t *testing.T) {
	h := newEnv(t, adminConfig).h
	var names []string
	for _, g := range getInfo[groupInfo](t, h, master, "/model_group/info") {
		names = append(names, g.ModelGroup)
	}
	assert.Equal(t, []string{"gpt-4o", "claude"}, names)
	assert.Empty(t, getInfo[groupInfo](t, h, master, "/model_group/info?model_group=hidden-4o"))
	assert.Len(t, getInfo[groupInfo](t, h, master, "/model_group/info?model_group=alias-4o"), 1)
}

func ptr[T any](v T) *T { return &v }
