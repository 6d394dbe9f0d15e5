package deploy

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// exampleConfigs finds every LiteLLM config under examples/: files whose top
// level has model_list, and ConfigMap values that are such a file.
func exampleConfigs(t *testing.T) map[string][]byte {
	t.Helper()
	configs := map[string][]byte{}
	err := filepath.WalkDir(filepath.Join(root, "examples"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, doc := range docSeparator.Split(string(data), -1) {
			var top map[string]any
			require.NoError(t, yaml.Unmarshal([]byte(doc), &top), p)
			if _, ok := top["model_list"]; ok {
				configs[p] = []byte(doc)
			}
			if top["kind"] != "ConfigMap" {
				continue
			}
			values, _ := top["data"].(map[string]any)
			for key, v := range values {
				s, _ := v.(string)
				var inner map[string]any
				if yaml.Unmarshal([]byte(s), &inner) != nil {
					continue
				}
				if _, ok := inner["model_list"]; ok {
					configs[fmt.Sprintf("%s#%d/%s", p, i+1, key)] = []byte(s)
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
	return configs
}

// TestExampleConfigs loads every config in examples/ the way llmvoy does and
// compiles it to Envoy resources, so none goes stale. Each os.environ/
// reference gets a value: the examples that run with real keys get them from
// their Secrets (checked in their own tests).
func TestExampleConfigs(t *testing.T) {
	configs := exampleConfigs(t)
	var names []string
	for name := range configs {
		names = append(names, filepath.ToSlash(strings.TrimPrefix(name, root+string(filepath.Separator))))
	}
	for _, want := range []string{"examples/quickstart/config.yaml", "examples/compose/config.yaml", "examples/kubernetes/sidecar/config.yaml", "examples/kubernetes/gateway/config.yaml"} {
		found := false
		for _, n := range names {
			found = found || strings.HasPrefix(n, want)
		}
		require.True(t, found, "no config found in %s (found %v)", want, names)
	}
	for name, data := range configs {
		t.Run(strings.TrimPrefix(filepath.ToSlash(name), "../examples/"), func(t *testing.T) {
			env := map[string]string{}
			for _, ref := range envRefs(string(data)) {
				env[ref] = "test-value-of-" + ref
			}
			got := compileConfig(t, data, name, env, 4000)
			require.NotEmpty(t, got.cfg.Deployments)
			for _, w := range got.warnings {
				require.Contains(t, allowedWarnings, w.Path, "unexpected warning %s", w)
			}
		})
	}
}
