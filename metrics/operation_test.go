package metrics

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOperationOfEveryModelPath(t *testing.T) {
	for path, want := range map[string]string{
		"/v1/chat/completions": "chat", "/chat/completions": "chat", "/v1/messages": "chat", "/v1/responses": "chat",
		"/v1/messages?beta=true": "chat", "/openai/deployments/gpt-4o/chat/completions": "chat",
		"/engines/text-embedding-3-small/embeddings": "embeddings", "/v1/completions": "text_completion",
		"/v1/messages/count_tokens": "", "/v1/models": "", "/health": "",
	} {
		require.Equal(t, want, operationOf(endpoint(path)), path)
	}
}
