package translate

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
)

func TestDeploymentParams(t *testing.T) {
	d := &config.Deployment{ID: "d1",
		Params:     map[string]any{"temperature": 0.2, "max_tokens": int64(512), "top_k": int64(3)},
		DropParams: []string{"logit_bias", "user"},
	}
	require.True(t, ShapedBy(d, ChatCompletions))
	require.True(t, ShapedBy(d, Completions))
	require.False(t, ShapedBy(d, Embeddings), "LiteLLM's defaults are completion parameters")
	require.False(t, ShapedBy(&config.Deployment{}, ChatCompletions))

	out, err := DeploymentParams(d, []byte(`{"model":"gpt","messages":[{"role":"user","content":"hi"}],"temperature":1,"logit_bias":{"50256":-100},"user":"u1"}`))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(out), `{"model":"gpt","messages":[{"role":"user","content":"hi"}],"temperature":1`),
		"the client's members stay as sent: %s", out)
	var got map[string]any
	require.NoError(t, json.Unmarshal(out, &got))
	require.Equal(t, map[string]any{
		"model": "gpt", "messages": []any{map[string]any{"role": "user", "content": "hi"}},
		"temperature": 1.0, // the request's own wins
		"max_tokens":  512.0, "top_k": 3.0,
	}, got)

	for _, bad := range []string{`[1]`, `null`, `{"model":`} {
		_, err := DeploymentParams(d, []byte(bad))
		require.True(t, errors.Is(err, ErrBadRequest), bad)
	}
}
