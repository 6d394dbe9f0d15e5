package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A service account key as Google writes it; the private key is a
// placeholder, never a real one: config does not parse it.
const testServiceAccount = `{"type": "service_account", "project_id": "key-project", "private_key_id": "k1", "private_key": "-----BEGIN PRIVATE KEY-----\nplaceholder\n-----END PRIVATE KEY-----\n", "client_email": "sa@key-project.iam.gserviceaccount.com", "token_uri": "https://oauth2.googleapis.com/token"}`

// Vertex AI deployments: project, location and credentials from
// litellm_params, else from LiteLLM's environment variables.
func TestVertexDeployment(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "sa.json")
	require.NoError(t, os.WriteFile(keyFile, []byte(testServiceAccount), 0o600))
	userFile := filepath.Join(t.TempDir(), "adc.json")
	require.NoError(t, os.WriteFile(userFile, []byte(`{"type":"authorized_user","client_id":"c","client_secret":"s","refresh_token":"r","quota_project_id":"quota-p"}`), 0o600))
	tests := []struct {
		name      string
		params    string
		env       map[string]string
		project   string
		location  string
		creds     string // "" none, "sa", "user"
		wantBase  string
		wantModel string
	}{
		{
			name:    "key file, project and location in the file",
			params:  `{model: vertex_ai/gemini-2.0-flash, vertex_project: my-project, vertex_location: europe-west4, vertex_credentials: ` + keyFile + `}`,
			project: "my-project", location: "europe-west4", creds: "sa",
			wantBase: "https://europe-west4-aiplatform.googleapis.com",
		},
		{
			name:    "the key's JSON itself, from os.environ/, its project and the default location",
			params:  `{model: vertex_ai/gemini-2.5-pro, vertex_credentials: os.environ/MY_VERTEX_KEY}`,
			env:     map[string]string{"MY_VERTEX_KEY": testServiceAccount},
			project: "key-project", location: "us-central1", creds: "sa",
			wantBase: "https://us-central1-aiplatform.googleapis.com",
		},
		{
			name:    "global location has no regional host",
			params:  `{model: vertex_ai/gemini-2.5-flash, vertex_project: p, vertex_location: global}`,
			project: "p", location: "global",
			wantBase: "https://aiplatform.googleapis.com",
		},
		{
			name:    "LiteLLM's environment variables",
			params:  `{model: vertex_ai/gemini-2.0-flash}`,
			env:     map[string]string{"VERTEXAI_PROJECT": "env-project", "VERTEXAI_LOCATION": "asia-northeast1", "VERTEXAI_CREDENTIALS": keyFile, "GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent"},
			project: "env-project", location: "asia-northeast1", creds: "sa",
			wantBase: "https://asia-northeast1-aiplatform.googleapis.com",
		},
		{
			name:    "GOOGLE_APPLICATION_CREDENTIALS with gcloud's user credentials",
			params:  `{model: vertex_ai/gemini-2.0-flash}`,
			env:     map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": userFile},
			project: "quota-p", location: "us-central1", creds: "user",
			wantBase: "https://us-central1-aiplatform.googleapis.com",
		},
		{
			name:    "credentials as a mapping, api_base overrides the endpoint",
			params:  `{model: vertex_ai/gemini-2.0-flash, vertex_ai_project: p2, vertex_credentials: {type: service_account, client_email: a@b, private_key: k}, api_base: "http://127.0.0.1:4010/"}`,
			project: "p2", location: "us-central1", creds: "sa",
			wantBase: "http://127.0.0.1:4010",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, warnings := mustParse(t, "model_list:\n  - model_name: m\n    litellm_params: "+tt.params+"\n", tt.env)
			require.Empty(t, warnings)
			d := cfg.Deployments[0]
			require.Equal(t, "vertex_ai", d.Provider)
			require.Equal(t, APIVertex, d.API)
			require.Equal(t, tt.project, d.Vertex.Project)
			require.Equal(t, tt.location, d.Vertex.Location)
			require.Equal(t, tt.wantBase, d.APIBase.String())
			switch tt.creds {
			case "":
				require.Empty(t, d.Vertex.Credentials)
			case "sa":
				require.Contains(t, d.Vertex.Credentials.Reveal(), `"service_account"`)
			case "user":
				require.Contains(t, d.Vertex.Credentials.Reveal(), `"authorized_user"`)
			}
		})
	}
}

func TestVertexErrors(t *testing.T) {
	tests := []struct {
		name, params string
		env          map[string]string
		want         string
	}{
		{"no project", `{model: vertex_ai/gemini-2.0-flash}`, nil, `config.yaml:3: model_list[0].litellm_params.vertex_project: missing; want the Google Cloud project`},
		{"bad location", `{model: vertex_ai/m, vertex_project: p, vertex_location: "us-central1.evil.com/x"}`, nil, `model_list[0].litellm_params.vertex_location: want a Google Cloud location such as us-central1 or global, got "us-central1.evil.com/x"`},
		{"missing key file", `{model: vertex_ai/m, vertex_project: p, vertex_credentials: /nonexistent/sa.json}`, nil, `model_list[0].litellm_params.vertex_credentials: cannot read /nonexistent/sa.json: no such file or directory`},
		{"broken JSON", `{model: vertex_ai/m, vertex_project: p, vertex_credentials: '{"type": "service_account", "private_key": "SECRETKEY'}`, nil, `the JSON does not parse`},
		{"unsupported type", `{model: vertex_ai/m, vertex_project: p, vertex_credentials: '{"type": "external_account"}'}`, nil, `credentials of type "external_account" are not supported`},
		{"service account without key", `{model: vertex_ai/m, vertex_project: p, vertex_credentials: '{"type": "service_account", "client_email": "a@b"}'}`, nil, `no client_email or private_key`},
		{"from GOOGLE_APPLICATION_CREDENTIALS", `{model: vertex_ai/m, vertex_project: p}`, map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/adc.json"}, `vertex_credentials (from GOOGLE_APPLICATION_CREDENTIALS): cannot read /nonexistent/adc.json`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse([]byte("model_list:\n  - model_name: m\n    litellm_params: "+tt.params+"\n"), "config.yaml", envOf(tt.env))
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), "SECRETKEY")
		})
	}
}

// Credentials never print, whatever the verb.
func TestVertexSecretsRedacted(t *testing.T) {
	cfg, _ := mustParse(t, "model_list:\n  - model_name: m\n    litellm_params: {model: vertex_ai/m, vertex_credentials: os.environ/K}\n", map[string]string{"K": testServiceAccount})
	d := cfg.Deployments[0]
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		for _, v := range []any{d, *d, d.Vertex, cfg} {
			out := fmt.Sprintf(verb, v)
			require.False(t, strings.Contains(out, "placeholder"), "%s of %T shows the key: %s", verb, v, out)
		}
	}
}
