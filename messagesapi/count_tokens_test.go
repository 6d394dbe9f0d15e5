package messagesapi

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/translate"
)

func TestCountTokens(t *testing.T) {
	tests := []struct {
		name, body string
		want       int
	}{
		// "user" and "Hello, world" are 16 bytes: 4 tokens.
		{"the reference's example", `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"Hello, world"}]}`, 4},
		// 9 + 4 + 5 bytes, rounded up: 5; type and cache_control do not count.
		{"system and blocks", `{"model":"m","system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":[{"type":"text","text":"hello"}]}]}`, 5},
		// "user", "q" and the tools' compact JSON (47 bytes): 52 → 13.
		{"tools", `{"model":"m","messages":[{"role":"user","content":"q"}],"tools":[{"name":"f","input_schema":{"type":"object"}}]}`, 13},
		// An image counts 1600 whatever its data; "user" and "what?" are 9 bytes → 3.
		{"image", `{"model":"m","messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"` + strings.Repeat("A", 4000) + `"}},{"type":"text","text":"what?"}]}]}`, 1603},
		// Roles, tool_use names and input strings, tool_result text (23
		// bytes) count; ids do not.
		{"tools round trip", `{"model":"m","messages":[{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"Read","input":{"file_path":"/a"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"abcd"}]}]}`, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CountTokens([]byte(tt.body))
			require.NoError(t, err)
			require.JSONEq(t, `{"input_tokens":`+itoa(tt.want)+`}`, string(got))
		})
	}
	for _, body := range []string{`nope`, `{}`, `{"messages":{}}`} {
		_, err := CountTokens([]byte(body))
		require.True(t, errors.Is(err, translate.ErrBadRequest), "%s: %v", body, err)
	}
}
