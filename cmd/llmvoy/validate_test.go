package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The validate contract: exit 0 for a valid file (warnings allowed, on
// stderr), 1 for an invalid one with a message that names the key.

func TestValidateRejectsInvalidConfigs(t *testing.T) {
	files, err := filepath.Glob("../../config/testdata/invalid/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want := wantedError(t, f)
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{"validate", "--config", f}, &stdout, &stderr)
			require.Error(t, err)
			require.Equal(t, 1, exitCode(err))
			require.Contains(t, err.Error(), want)
			require.Contains(t, err.Error(), filepath.Base(f), "the message names the file")
		})
	}
}

func TestValidateAcceptsExamplesAndLiteLLMDocs(t *testing.T) {
	var files []string
	for _, pattern := range []string{"../../examples/*/*.yaml", "../../config/testdata/litellm/*.yaml"} {
		m, err := filepath.Glob(pattern)
		require.NoError(t, err)
		files = append(files, m...)
	}
	require.GreaterOrEqual(t, len(files), 5)
	// The compose example reads its master key from the variable compose
	// sets; unset, the config is refused (an open gateway otherwise).
	t.Setenv("LLMVOY_MASTER_KEY", "sk-compose")
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{"validate", "--config", f}, &stdout, &stderr)
			require.NoError(t, err, "stderr:\n%s", stderr.String())
			require.Equal(t, 0, exitCode(err))
			require.Contains(t, stdout.String(), "valid")
			if stderr.Len() > 0 {
				t.Logf("warnings:\n%s", stderr.String())
			}
		})
	}
}

func TestValidateUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"validate"}, &stdout, &stderr)
	require.True(t, errors.Is(err, errUsage))
	require.Equal(t, 2, exitCode(err))
	require.Contains(t, stderr.String(), "--config is required")

	err = run(context.Background(), []string{"validate", "--config", filepath.Join(t.TempDir(), "missing.yaml")}, &stdout, &stderr)
	require.Error(t, err)
	require.Equal(t, 1, exitCode(err))
}

// wantedError reads the "# want: ..." line at the top of an invalid config.
func wantedError(t *testing.T, path string) string {
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		if w, ok := strings.CutPrefix(line, "# want: "); ok {
			return strings.TrimSpace(w)
		}
	}
	t.Fatalf("%s has no '# want:' line", path)
	return ""
}

// A config that parses but that a reload would refuse, since Envoy cannot
// take its resources, is invalid too: a group with 130 distinct orders
// needs more priorities than Envoy's 129 (0-128). 129 orders are fine.
func TestValidateTranslatesAndChecks(t *testing.T) {
	manyOrders := func(n int) string {
		var b strings.Builder
		b.WriteString("model_list:\n")
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "  - model_name: many\n    litellm_params:\n      model: openai/m%d\n"+
				"      api_base: http://127.0.0.1:%d/v1\n      api_key: sk-mock\n      order: %d\n"+
				"    model_info:\n      id: many-%d\n", i, 20000+i, i, i)
		}
		return b.String()
	}
	dir := t.TempDir()
	for _, tt := range []struct {
		orders int
		valid  bool
	}{{129, true}, {130, false}} {
		path := filepath.Join(dir, fmt.Sprintf("orders-%d.yaml", tt.orders))
		require.NoError(t, os.WriteFile(path, []byte(manyOrders(tt.orders)), 0o600))
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{"validate", "--config", path}, &stdout, &stderr)
		if tt.valid {
			require.NoError(t, err, "stderr:\n%s", stderr.String())
			require.Contains(t, stdout.String(), "valid (1 model groups, 129 deployments")
			continue
		}
		require.Error(t, err)
		require.Equal(t, 1, exitCode(err))
		require.Contains(t, err.Error(), path)
		require.Contains(t, err.Error(), `model group "many"`)
		require.Contains(t, err.Error(), "Priority")
	}
}
