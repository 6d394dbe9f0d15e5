package translate

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
)

func TestAzureAIRequestHead(t *testing.T) {
	tests := []struct {
		name               string
		base, key, version string
		ep                 Endpoint
		query              string
		want               RequestHead
	}{
		{
			name: "Foundry resource: model inference route and api-key", base: "https://my-proj.services.ai.azure.com", key: "f-key", version: "2024-05-01-preview",
			ep: ChatCompletions,
			want: RequestHead{Path: "/models/chat/completions?api-version=2024-05-01-preview", Authority: "my-proj.services.ai.azure.com",
				Set: []Header{{"api-key", "f-key"}}},
		},
		{
			name: "Foundry base already ending in /models", base: "https://my-proj.services.ai.azure.com/models/", key: "f-key",
			ep: ChatCompletions,
			want: RequestHead{Path: "/models/chat/completions", Authority: "my-proj.services.ai.azure.com",
				Set: []Header{{"api-key", "f-key"}}},
		},
		{
			name: "Foundry base that is the whole URL", base: "https://my-proj.services.ai.azure.com/models/chat/completions?api-version=2024-05-01-preview", key: "f-key", version: "2025-01-01",
			ep: ChatCompletions,
			want: RequestHead{Path: "/models/chat/completions?api-version=2024-05-01-preview", Authority: "my-proj.services.ai.azure.com",
				Set: []Header{{"api-key", "f-key"}}},
		},
		{
			name: "serverless endpoint: bearer token", base: "https://Mistral-large-abcd-serverless.eastus2.inference.ai.azure.com/v1/", key: "s-key",
			ep: ChatCompletions,
			want: RequestHead{Path: "/v1/chat/completions", Authority: "Mistral-large-abcd-serverless.eastus2.inference.ai.azure.com",
				Set: []Header{{"authorization", "Bearer s-key"}}},
		},
		{
			name: "Azure OpenAI host: api-key", base: "https://my-res.openai.azure.com/openai/v1", key: "k",
			ep: ChatCompletions,
			want: RequestHead{Path: "/openai/v1/chat/completions", Authority: "my-res.openai.azure.com",
				Set: []Header{{"api-key", "k"}}},
		},
		{
			name: "api-version set, client's dropped", base: "https://x.models.ai.azure.com", key: "k", version: "2024-05-01-preview",
			ep: ChatCompletions, query: "api-version=1&a=b",
			want: RequestHead{Path: "/chat/completions?api-version=2024-05-01-preview&a=b", Authority: "x.models.ai.azure.com",
				Set: []Header{{"authorization", "Bearer k"}}},
		},
		{
			name: "no api-version: client query as sent", base: "https://x.models.ai.azure.com", ep: ChatCompletions, query: "api-version=1",
			want: RequestHead{Path: "/chat/completions?api-version=1", Authority: "x.models.ai.azure.com"},
		},
		{
			name: "embeddings go the OpenAI client's way", base: "https://my-proj.services.ai.azure.com/models", key: "f-key", version: "2024-05-01-preview",
			ep: Embeddings,
			want: RequestHead{Path: "/models/embeddings", Authority: "my-proj.services.ai.azure.com",
				Set: []Header{{"authorization", "Bearer f-key"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &config.Deployment{ID: "dep", Provider: "azure_ai", API: config.APIAzureAI, UpstreamModel: "m",
				APIBase: mustURL(t, tt.base), APIKey: config.Secret(tt.key), APIVersion: tt.version}
			got, err := azureAI{}.RequestHead(d, tt.ep, tt.query)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestAzureAIRequestBody(t *testing.T) {
	d := &config.Deployment{ID: "dep", Provider: "azure_ai", API: config.APIAzureAI, UpstreamModel: "Llama-3.3-70B-Instruct",
		APIBase: mustURL(t, "https://p.services.ai.azure.com")}
	got, resp, err := azureAI{}.RequestBody(d, ChatCompletions, []byte(`{"model":"llama","messages":[]}`))
	require.NoError(t, err)
	require.Nil(t, resp)
	require.JSONEq(t, `{"model":"Llama-3.3-70B-Instruct","messages":[]}`, string(got))
	require.False(t, azureAI{}.TranslatesResponses(d))
}

func TestAddPathOnce(t *testing.T) {
	for _, tt := range []struct{ base, route, want string }{
		{"", "/chat/completions", "/chat/completions"},
		{"/", "/chat/completions", "/chat/completions"},
		{"/v1/", "/chat/completions", "/v1/chat/completions"},
		{"/models", "/models/chat/completions", "/models/chat/completions"},
		{"/models/chat", "/models/chat/completions", "/models/chat/completions"},
		{"/models/chat/completions", "/models/chat/completions", "/models/chat/completions"},
		{"/a/models", "/models/chat/completions", "/a/models/chat/completions"},
		{"/chat/x", "/chat/completions", "/chat/x/chat/completions"},
		{"/p%2Fq", "/chat/completions", "/p%2Fq/chat/completions"},
	} {
		assert.Equal(t, tt.want, addPathOnce(tt.base, tt.route), "%s + %s", tt.base, tt.route)
	}
}
