package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		path := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(src), 0o600))
	}
	return dir
}

// LiteLLM's documented example: the parent's settings and the included
// file's model_list; lists extend, other keys are replaced, and messages
// name the file that holds the key.
func TestInclude(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"parent.yaml": `include:
  - model_config.yaml
  - more/models.yaml
model_list:
  - model_name: parent
    litellm_params: {model: openai/gpt-4o}
litellm_settings:
  num_retries: 7
`,
		"model_config.yaml": `model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_base: https://exampleopenaiendpoint-production.up.railway.app/
  - model_name: fake-anthropic-endpoint
    litellm_params:
      model: anthropic/fake
      api_base: https://exampleanthropicendpoint-production.up.railway.app/
`,
		// Relative to the parent's directory, like LiteLLM's.
		"more/models.yaml": `model_list:
  - model_name: sage
    litellm_params:
      model: sagemaker/endpoint
router_settings:
  num_retries: 1
`,
	})
	parent := filepath.Join(dir, "parent.yaml")
	cfg, warnings, err := Load(parent)
	require.NoError(t, err)
	var groups []string
	for _, d := range cfg.Deployments {
		groups = append(groups, d.ModelName)
	}
	require.Equal(t, []string{"parent", "gpt-4o", "fake-anthropic-endpoint", "sage"}, groups)
	require.Equal(t, 1, cfg.Router.NumRetries)
	require.Equal(t, []Warning{{
		File: filepath.Join(dir, "more", "models.yaml"), Line: 4, Path: "model_list[3].litellm_params.model",
		Msg: `provider "sagemaker" is not supported yet`,
	}}, warnings)
	require.Equal(t, []string{parent, filepath.Join(dir, "model_config.yaml"), filepath.Join(dir, "more", "models.yaml")}, Files(parent))
}

// An included file's problems point into it; LiteLLM's failures (a missing
// file, include not a list) fail the config, and so does a nested include.
func TestIncludeErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"bad.yaml":    "model_list:\n  - model_name: m\n    litellm_params: {model: openai/gpt-4o, weight: -1}\n",
		"nested.yaml": "include: [bad.yaml]\n",
		"broken.yaml": "model_list: [\n",
	})
	for _, tt := range []struct{ src, want string }{
		{"include: [bad.yaml]\n", filepath.Join(dir, "bad.yaml") + ":3: model_list[0].litellm_params.weight: want a number > 0, got -1"},
		{"include: [missing.yaml]\nmodel_list: []\n", "parent.yaml:1: include[0]: cannot read included file " + filepath.Join(dir, "missing.yaml") + ": no such file or directory"},
		{"include: bad.yaml\n", "parent.yaml:1: include: want a list of YAML file paths, got a string"},
		{"include: [nested.yaml]\n", filepath.Join(dir, "nested.yaml") + ":1: include: an included file cannot include others"},
		{"include: [broken.yaml]\n", filepath.Join(dir, "broken.yaml") + ":1: invalid YAML"},
	} {
		parent := filepath.Join(dir, "parent.yaml")
		require.NoError(t, os.WriteFile(parent, []byte(tt.src), 0o600))
		_, _, err := Load(parent)
		require.ErrorContains(t, err, tt.want, tt.src)
	}
}
