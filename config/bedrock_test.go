package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Bedrock deployments: region, credentials and endpoint from litellm_params,
// else from the environment, as LiteLLM (through boto3) reads them.
func TestBedrockDeployment(t *testing.T) {
	tests := []struct {
		name     string
		params   string
		env      map[string]string
		want     AWSCredentials
		wantBase string
		warnings []string // parts of the warnings, in order
	}{
		{
			name:     "keys and region in the file",
			params:   `{model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0, aws_access_key_id: AKID, aws_secret_access_key: SECRET, aws_region_name: eu-central-1}`,
			want:     AWSCredentials{Region: "eu-central-1", AccessKeyID: "AKID", SecretAccessKey: "SECRET"},
			wantBase: "https://bedrock-runtime.eu-central-1.amazonaws.com",
		},
		{
			name:     "keys named by os.environ/, with a session token",
			params:   `{model: bedrock/us.anthropic.claude-3-5-sonnet-20241022-v2:0, aws_access_key_id: os.environ/MY_ID, aws_secret_access_key: os.environ/MY_SECRET, aws_session_token: os.environ/MY_TOKEN, aws_region_name: os.environ/MY_REGION}`,
			env:      map[string]string{"MY_ID": "AKID", "MY_SECRET": "SECRET", "MY_TOKEN": "TOKEN", "MY_REGION": "us-east-1", "AWS_SESSION_TOKEN": "ignored"},
			want:     AWSCredentials{Region: "us-east-1", AccessKeyID: "AKID", SecretAccessKey: "SECRET", SessionToken: "TOKEN"},
			wantBase: "https://bedrock-runtime.us-east-1.amazonaws.com",
		},
		{
			name:     "everything from the environment",
			params:   `{model: bedrock/amazon.nova-pro-v1:0}`,
			env:      map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "SECRET", "AWS_SESSION_TOKEN": "TOKEN", "AWS_REGION": "ap-northeast-1", "AWS_DEFAULT_REGION": "eu-west-1"},
			want:     AWSCredentials{Region: "ap-northeast-1", AccessKeyID: "AKID", SecretAccessKey: "SECRET", SessionToken: "TOKEN"},
			wantBase: "https://bedrock-runtime.ap-northeast-1.amazonaws.com",
		},
		{
			name:     "LiteLLM's AWS_REGION_NAME first",
			params:   `{model: bedrock/amazon.nova-pro-v1:0, aws_access_key_id: A, aws_secret_access_key: S}`,
			env:      map[string]string{"AWS_REGION_NAME": "eu-west-3", "AWS_REGION": "us-east-2", "AWS_SESSION_TOKEN": "not for these keys"},
			want:     AWSCredentials{Region: "eu-west-3", AccessKeyID: "A", SecretAccessKey: "S"},
			wantBase: "https://bedrock-runtime.eu-west-3.amazonaws.com",
		},
		{
			name:     "AWS_DEFAULT_REGION last",
			params:   `{model: bedrock/amazon.nova-pro-v1:0, aws_access_key_id: A, aws_secret_access_key: S}`,
			env:      map[string]string{"AWS_DEFAULT_REGION": "sa-east-1"},
			want:     AWSCredentials{Region: "sa-east-1", AccessKeyID: "A", SecretAccessKey: "S"},
			wantBase: "https://bedrock-runtime.sa-east-1.amazonaws.com",
		},
		{
			name:     "region of an ARN model",
			params:   `{model: "bedrock/converse/arn:aws:bedrock:us-east-2:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0", aws_access_key_id: A, aws_secret_access_key: S}`,
			env:      map[string]string{"AWS_REGION": "eu-west-1"},
			want:     AWSCredentials{Region: "us-east-2", AccessKeyID: "A", SecretAccessKey: "S"},
			wantBase: "https://bedrock-runtime.us-east-2.amazonaws.com",
		},
		{
			name:     "no region, no credentials",
			params:   `{model: bedrock/anthropic.claude-instant-v1}`,
			want:     AWSCredentials{Region: "us-west-2"},
			wantBase: "https://bedrock-runtime.us-west-2.amazonaws.com",
			warnings: []string{"using us-west-2, LiteLLM's default", "no AWS credentials"},
		},
		{
			name:     "half the keys",
			params:   `{model: bedrock/anthropic.claude-instant-v1, aws_access_key_id: A, aws_region_name: us-east-1}`,
			env:      map[string]string{"AWS_SECRET_ACCESS_KEY": "not mixed with the file's key"},
			want:     AWSCredentials{Region: "us-east-1", AccessKeyID: "A"},
			wantBase: "https://bedrock-runtime.us-east-1.amazonaws.com",
			warnings: []string{"no AWS credentials"},
		},
		{
			name:     "LiteLLM's endpoint override",
			params:   `{model: bedrock/anthropic.claude-instant-v1, aws_access_key_id: A, aws_secret_access_key: S, aws_region_name: us-east-1, aws_bedrock_runtime_endpoint: "https://vpce-1a2b.bedrock-runtime.us-east-1.vpce.amazonaws.com/"}`,
			want:     AWSCredentials{Region: "us-east-1", AccessKeyID: "A", SecretAccessKey: "S"},
			wantBase: "https://vpce-1a2b.bedrock-runtime.us-east-1.vpce.amazonaws.com",
		},
		{
			name:     "api_base wins over the endpoint override",
			params:   `{model: bedrock/anthropic.claude-instant-v1, aws_access_key_id: A, aws_secret_access_key: S, aws_region_name: us-east-1, api_base: "http://127.0.0.1:4010", aws_bedrock_runtime_endpoint: "https://other"}`,
			want:     AWSCredentials{Region: "us-east-1", AccessKeyID: "A", SecretAccessKey: "S"},
			wantBase: "http://127.0.0.1:4010",
		},
		{
			name:     "custom_llm_provider",
			params:   `{model: anthropic.claude-instant-v1, custom_llm_provider: bedrock, aws_access_key_id: A, aws_secret_access_key: S, aws_region_name: us-east-1, aws_bedrock_runtime_endpoint: "http://127.0.0.1:4011"}`,
			want:     AWSCredentials{Region: "us-east-1", AccessKeyID: "A", SecretAccessKey: "S"},
			wantBase: "http://127.0.0.1:4011",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, warnings := mustParse(t, "model_list:\n  - model_name: m\n    litellm_params: "+tt.params+"\n", tt.env)
			d := cfg.Deployments[0]
			require.Equal(t, "bedrock", d.Provider)
			require.Equal(t, APIBedrock, d.API)
			require.Equal(t, tt.want, d.AWS)
			require.Equal(t, tt.wantBase, d.APIBase.String())
			require.Len(t, warnings, len(tt.warnings), "%v", warnings)
			for i, w := range tt.warnings {
				require.Contains(t, warnings[i].Msg, w)
			}
		})
	}
}

func TestBedrockErrors(t *testing.T) {
	tests := []struct{ name, params, want string }{
		{"bad region", `{model: bedrock/m, aws_region_name: "us-east-1.evil.com/x"}`, `config.yaml:3: model_list[0].litellm_params.aws_region_name: want an AWS region such as us-east-1, got "us-east-1.evil.com/x"`},
		{"bad endpoint", `{model: bedrock/m, aws_region_name: us-east-1, aws_bedrock_runtime_endpoint: "bedrock.local"}`, `model_list[0].litellm_params.aws_bedrock_runtime_endpoint: want an absolute http(s) URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse([]byte("model_list:\n  - model_name: m\n    litellm_params: "+tt.params+"\n"), "config.yaml", noEnv)
			require.ErrorContains(t, err, tt.want)
		})
	}
	// A region from the environment is checked too, and named.
	_, _, err := Parse([]byte("model_list:\n  - model_name: m\n    litellm_params: {model: bedrock/m}\n"), "config.yaml", envOf(map[string]string{"AWS_REGION": "Mars"}))
	require.ErrorContains(t, err, `(region from AWS_REGION): want an AWS region such as us-east-1, got "Mars"`)
}

// AWS credentials never print, whatever the verb.
func TestBedrockSecretsRedacted(t *testing.T) {
	cfg, _ := mustParse(t, `
model_list:
  - model_name: m
    litellm_params: {model: bedrock/m, aws_access_key_id: AKIDSECRETID, aws_secret_access_key: verysecret, aws_session_token: tokensecret, aws_region_name: us-east-1}
`, nil)
	d := cfg.Deployments[0]
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		for _, v := range []any{d, *d, d.AWS, cfg} {
			out := fmt.Sprintf(verb, v)
			for _, secret := range []string{"AKIDSECRETID", "verysecret", "tokensecret"} {
				require.False(t, strings.Contains(out, secret), "%s of %T shows %s: %s", verb, v, secret, out)
			}
		}
	}
}
