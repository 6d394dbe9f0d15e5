package extproc_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/mock"
	"github.com/llmvoy/llmvoy/plan"
)

const bedrockConfig = `
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: bedrock/us.anthropic.claude-3-7-sonnet-20250219-v1:0
      api_base: http://127.0.0.1:4010
      aws_access_key_id: os.environ/BEDROCK_KEY_ID
      aws_secret_access_key: os.environ/BEDROCK_SECRET
      aws_session_token: os.environ/BEDROCK_TOKEN
      aws_region_name: us-east-1
    model_info:
      id: dep-br
general_settings:
  master_key: os.environ/MASTER_KEY
`

var bedrockAuth = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=` + mock.BedrockAccessKeyID + `/\d{8}/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$`)

// A Bedrock attempt is signed in the body phase, over the body sent, for
// the path and authority it goes to; the client's key never goes along.
func TestUpstreamSignsBedrockAttempts(t *testing.T) {
	env := map[string]string{"MASTER_KEY": masterKey, "BEDROCK_KEY_ID": mock.BedrockAccessKeyID, "BEDROCK_SECRET": mock.BedrockSecretAccessKey, "BEDROCK_TOKEN": "session-token-5b1e"}
	h := startServer(t, parseConfig(t, bedrockConfig, env))
	for _, tt := range []struct {
		name, body, wantPath string
	}{
		{"converse", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, "/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse"},
		{"converse-stream", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}`, "/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse-stream"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stream := h.open(t, plan.ProcessorUpstream)
			body := []byte(tt.body)
			resp := exchange(t, stream, attempt(t, "dep-br", "/v1/chat/completions", body, clientCredentials...))
			m := flattenMutation(t, resp.GetRequestHeaders().GetResponse().GetHeaderMutation())
			assert.Equal(t, "/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse", m.set[":path"])
			assert.Equal(t, "127.0.0.1:4010", m.set[":authority"])
			assert.NotContains(t, m.set, "authorization")
			assert.Subset(t, m.remove, []string{"authorization", "api-key", "x-api-key", "x-amz-security-token", "x-amz-date", "x-amz-content-sha256"})

			resp = exchange(t, stream, requestBody(body))
			finish(t, stream)
			common := resp.GetRequestBody().GetResponse()
			require.NotNil(t, common, "want a body response, got %v", resp)
			sent := common.GetBodyMutation().GetBody()
			require.True(t, json.Valid(sent), "%s", sent)
			assert.JSONEq(t, `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`, string(sent))
			m = flattenMutation(t, common.GetHeaderMutation())
			assert.Equal(t, tt.wantPath, m.set[":path"])
			assert.Equal(t, "127.0.0.1:4010", m.set[":authority"], "the authority signed for")
			assert.Regexp(t, bedrockAuth, m.set["authorization"])
			sum := sha256.Sum256(sent)
			assert.Equal(t, hex.EncodeToString(sum[:]), m.set["x-amz-content-sha256"])
			assert.Len(t, m.set["x-amz-date"], len("20060102T150405Z"))
			assert.Equal(t, "session-token-5b1e", m.set["x-amz-security-token"])
			assert.Equal(t, strconv.Itoa(len(sent)), m.set["content-length"])
			assert.Empty(t, m.remove)
		})
	}
	assert.NotContains(t, h.logs.String(), mock.BedrockSecretAccessKey)
	assert.NotContains(t, h.logs.String(), "session-token-5b1e")
}
