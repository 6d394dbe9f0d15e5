package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// noEnv is the environment of CI: no keys set.
func noEnv(string) (string, bool) { return "", false }

func testdataFiles(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

// LiteLLM's own examples must load: llmvoy reads the files LiteLLM users
// already have. Warnings are expected (keys and providers not supported yet,
// unset keys), errors are not.
func TestLiteLLMExamples(t *testing.T) {
	for _, path := range testdataFiles(t, "litellm") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			cfg, warnings, err := Parse(data, path, noEnv)
			for _, w := range warnings {
				t.Log(w)
			}
			require.NoError(t, err)
			require.NotEmpty(t, cfg.Deployments)
			for _, d := range cfg.Deployments {
				require.NotEmpty(t, d.ID)
				require.Same(t, d, cfg.Deployment(d.ID))
				if d.API != "" {
					require.NotNil(t, d.APIBase, "deployment %s", d.ID)
				}
			}
		})
	}
}

// Each file in testdata/invalid holds one mistake and says on its first line,
// "# want: ...", what the error must contain. The error must name the file,
// the line and the key path.
func TestInvalidConfigs(t *testing.T) {
	for _, path := range testdataFiles(t, "invalid") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			want := wantLine(t, data)

			cfg, _, err := Parse(data, path, noEnv)
			require.Error(t, err)
			require.Nil(t, cfg)
			require.Contains(t, err.Error(), want)

			e := findError(t, err, want)
			require.Equal(t, path, e.File)
			require.Contains(t, want, e.Path, "the expected message names the key path")
			if e.Path != "" {
				require.Positive(t, e.Line)
				require.Contains(t, e.Error(), path+":")
			}
		})
	}
}

func wantLine(t *testing.T, data []byte) string {
	t.Helper()
	first, _, _ := bytes.Cut(data, []byte("\n"))
	want, ok := strings.CutPrefix(string(first), "# want: ")
	require.True(t, ok, "first line must be '# want: <part of the error>'")
	return want
}

// findError returns the *Error among the joined ones whose text contains want.
func findError(t *testing.T, err error, want string) *Error {
	t.Helper()
	var joined interface{ Unwrap() []error }
	require.True(t, errors.As(err, &joined))
	for _, e := range joined.Unwrap() {
		var ce *Error
		if errors.As(e, &ce) && strings.Contains(ce.Error(), want) {
			return ce
		}
	}
	t.Fatalf("no *Error contains %q in:\n%v", want, err)
	return nil
}

// An error reports the file and line the way editors jump to.
func TestErrorFormat(t *testing.T) {
	data := []byte(`model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o-mini
      weight: heavy
`)
	_, _, err := Parse(data, "config.yaml", noEnv)
	require.EqualError(t, err, `config.yaml:8: model_list[1].litellm_params.weight: want a number, got "heavy"`)

	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, Error{File: "config.yaml", Line: 8, Path: "model_list[1].litellm_params.weight", Msg: `want a number, got "heavy"`}, *e)
}

// All problems are reported at once, in file order.
func TestAllErrorsReported(t *testing.T) {
	data := []byte(`model_list:
  - model_name: a
    litellm_params:
      model: openai/gpt-4o
      order: 0
  - litellm_params:
      model: mystery
router_settings:
  routing_strategy: fastest
`)
	_, _, err := Parse(data, "config.yaml", noEnv)
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	require.Equal(t, []string{
		"config.yaml:5: model_list[0].litellm_params.order: want an integer >= 1, got 0",
		"config.yaml:6: model_list[1].model_name: missing; want the model group name clients ask for",
		`config.yaml:7: model_list[1].litellm_params.model: cannot tell the provider of "mystery"; add a provider prefix, e.g. openai/mystery`,
		`config.yaml:9: router_settings.routing_strategy: unknown routing strategy "fastest"; want one of simple-shuffle, least-busy, latency-based-routing, usage-based-routing, usage-based-routing-v2, cost-based-routing`,
	}, lines)
}

// FuzzParse: no input makes Parse panic. The seeds are the test configs.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"litellm", "invalid"} {
		for _, path := range testdataFiles(f, dir) {
			data, err := os.ReadFile(path)
			require.NoError(f, err)
			f.Add(data)
		}
	}
	env := func(name string) (string, bool) {
		if strings.HasPrefix(name, "SET_") {
			return "true", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, warnings, err := Parse(data, "fuzz.yaml", env)
		if err == nil {
			require.NotNil(t, cfg)
			for _, d := range cfg.Deployments {
				require.NotEmpty(t, d.ID)
			}
		}
		for _, w := range warnings {
			_ = w.String()
		}
	})
}
