package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func mustParse(t *testing.T, src string, env map[string]string) (*Config, []Warning) {
	t.Helper()
	cfg, warnings, err := Parse([]byte(src), "config.yaml", envOf(env))
	require.NoError(t, err)
	return cfg, warnings
}

// The expected ids were computed with Python 3, mirroring
// Router._generate_model_id in litellm/router.py:
//
//	import hashlib, json
//	s = ("gpt-4o" + "model" + "openai/gpt-4o" + "api_key" + "sk-test"
//	     + "rpm" + str(100) + "weight" + str(0.5) + "stream" + str(True)
//	     + "extra_headers" + json.dumps({"X-Team": "ml", "n": 1})
//	     + "stop" + str(["\n", "it's"]))
//	hashlib.sha256(s.encode()).hexdigest()
//
// and, for an api_key whose variable is unset (get_secret returns None):
//
//	hashlib.sha256(("gpt-4o" + "model" + "openai/gpt-4o" + "api_key" + str(None)).encode()).hexdigest()
func TestLiteLLMDeploymentID(t *testing.T) {
	const full = `
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/OPENAI_API_KEY
      rpm: 100
      weight: 0.5
      stream: true
      extra_headers: {"X-Team": "ml", "n": 1}
      stop: ["\n", "it's"]
`
	const keyOnly = `
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/OPENAI_API_KEY
`
	for _, tc := range []struct {
		name, src string
		env       map[string]string
		want      string
	}{
		{"every kind of value", full, map[string]string{"OPENAI_API_KEY": "sk-test"}, "c0c943d203a9d1840216625f63d36f6e2cf4d9b26d4b5fc279d9b621dcf771fc"},
		{"unset key hashes as None", keyOnly, nil, "1ba51fe304c0f54b0b91c6556de38840add35bd54d72663fa3bc2c770f6cf673"},
		// LiteLLM resolves os.environ/ as it reads the file, before it
		// exports environment_variables: a key defined only there hashes
		// as unset, though llmvoy sends it.
		{"environment_variables do not count", `
environment_variables:
  OPENAI_API_KEY: sk-test
` + keyOnly, nil, "1ba51fe304c0f54b0b91c6556de38840add35bd54d72663fa3bc2c770f6cf673"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := mustParse(t, tc.src, tc.env)
			require.Equal(t, tc.want, cfg.Deployments[0].ID)
		})
	}
}

func TestModelInfoIDOverrides(t *testing.T) {
	cfg, _ := mustParse(t, `
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
    model_info:
      id: primary
      mode: chat
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o-mini
    model_info:
      id: 42
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o-2024-08-06
    model_info:
      id: os.environ/DEPLOYMENT_ID
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o-2024-05-13
    model_info:
      id:
`, map[string]string{"DEPLOYMENT_ID": "from-env"})
	ids := make([]string, len(cfg.Deployments))
	for i, d := range cfg.Deployments {
		ids[i] = d.ID
	}
	require.Equal(t, "primary", ids[0])
	require.Equal(t, "42", ids[1]) // LiteLLM's ModelInfo turns an int id into str(id)
	require.Equal(t, "from-env", ids[2])
	require.Len(t, ids[3], 64, "an empty id is generated")
	require.Equal(t, map[string]any{"id": "primary", "mode": "chat"}, cfg.Deployments[0].Info)
	require.Same(t, cfg.Deployments[1], cfg.Deployment("42"))
	require.Nil(t, cfg.Deployment("nope"))
}
