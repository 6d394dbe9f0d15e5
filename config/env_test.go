package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEnvironmentResolution(t *testing.T) {
	const src = `
environment_variables:
  OPENAI_API_KEY: sk-from-file
  REDIS_PORT: 6379
  CACHE: true
  COPIED: os.environ/PROCESS_ONLY
model_list:
  - model_name: a
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/OPENAI_API_KEY
  - model_name: b
    litellm_params:
      model: os.environ/MODEL
      api_key: os.environ/COPIED
      api_base: os.environ/BASE
      api_version: os.environ/UNSET_VERSION
general_settings:
  master_key: os.environ/MASTER
`
	env := map[string]string{
		"OPENAI_API_KEY": "sk-from-process", // environment_variables win
		"PROCESS_ONLY":   "sk-copied",
		"MODEL":          "deepseek/deepseek-chat",
		"BASE":           "https://deepseek.internal/v1",
		"MASTER":         "sk-master",
	}
	cfg, warnings := mustParse(t, src, env)

	a, b := cfg.Deployments[0], cfg.Deployments[1]
	require.Equal(t, Secret("sk-from-file"), a.APIKey)
	require.Equal(t, Secret("sk-copied"), b.APIKey)
	require.Equal(t, "deepseek", b.Provider)
	require.Equal(t, "https://deepseek.internal/v1", b.APIBase.String())
	require.Empty(t, b.APIVersion)
	require.Equal(t, Secret("sk-master"), cfg.General.MasterKey)
	// LiteLLM exports str(value): 6379 → "6379", true → "True".
	require.Equal(t, map[string]Secret{
		"OPENAI_API_KEY": "sk-from-file", "REDIS_PORT": "6379", "CACHE": "True", "COPIED": "sk-copied",
	}, cfg.Environment)
	// An unset variable reads as "", as in LiteLLM, and is a warning.
	require.Equal(t, []Warning{{
		File: "config.yaml", Line: 17, Path: "model_list[1].litellm_params.api_version",
		Msg: "environment variable UNSET_VERSION is not set",
	}}, warnings)
}

// LiteLLM's doc examples must validate in CI, where no key is set.
func TestUnsetKeyIsAWarning(t *testing.T) {
	cfg, warnings := mustParse(t, `model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/OPENAI_API_KEY
`, nil)
	require.Empty(t, cfg.Deployments[0].APIKey)
	require.Equal(t, []Warning{{
		File: "config.yaml", Line: 5, Path: "model_list[0].litellm_params.api_key",
		Msg: "environment variable OPENAI_API_KEY is not set",
	}}, warnings)
}

// A gateway protected by LiteLLM's LITELLM_MASTER_KEY stays protected.
func TestMasterKeyFromLiteLLMVariable(t *testing.T) {
	const models = `model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
`
	cfg, _ := mustParse(t, models, map[string]string{"LITELLM_MASTER_KEY": "sk-env"})
	require.Equal(t, Secret("sk-env"), cfg.General.MasterKey)

	cfg, _ = mustParse(t, models+"environment_variables:\n  LITELLM_MASTER_KEY: sk-file\n", nil)
	require.Equal(t, Secret("sk-file"), cfg.General.MasterKey)

	cfg, _ = mustParse(t, models+"general_settings:\n  master_key: sk-config\n", map[string]string{"LITELLM_MASTER_KEY": "sk-env"})
	require.Equal(t, Secret("sk-config"), cfg.General.MasterKey)

}

// A master key that resolves to nothing would open the gateway to everyone:
// the config is refused, naming the setting (#15).
func TestEmptyMasterKeyRefused(t *testing.T) {
	const models = `model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
`
	for name, tc := range map[string]struct {
		src  string
		env  map[string]string
		want string
	}{
		"unset variable": {models + "general_settings:\n  master_key: os.environ/NOPE\n", nil,
			"config.yaml:6: general_settings.master_key: environment variable NOPE is unset or empty: refusing to start"},
		"empty variable": {models + "general_settings:\n  master_key: os.environ/EMPTY\n", map[string]string{"EMPTY": ""},
			"config.yaml:6: general_settings.master_key: environment variable EMPTY is unset or empty: refusing to start"},
		"empty string": {models + "general_settings:\n  master_key: \"\"\n", nil,
			"config.yaml:6: general_settings.master_key: empty: refusing to start"},
		"empty LITELLM_MASTER_KEY": {models, map[string]string{"LITELLM_MASTER_KEY": ""},
			"LITELLM_MASTER_KEY: set but empty: refusing to start"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := Parse([]byte(tc.src), "config.yaml", envOf(tc.env))
			require.ErrorContains(t, err, tc.want)
		})
	}
	// No master_key at all is a choice, not an accident: it parses.
	cfg, _ := mustParse(t, models, nil)
	require.Equal(t, Secret(""), cfg.General.MasterKey)
}

func warningStrings(ws []Warning) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.String()
	}
	return out
}

// Values from the environment may be credentials: no message quotes one,
// whether the value is used as a key, a URL or a number.
func TestSecretsStayOutOfMessages(t *testing.T) {
	const secret = "sk-very-secret-value"
	env := map[string]string{"KEY": secret, "BASE": secret, "RPM": secret}
	src := `model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/KEY
      api_base: os.environ/BASE
      rpm: os.environ/RPM
general_settings:
  master_key: 12345
`
	cfg, warnings, err := Parse([]byte(src), "config.yaml", envOf(env))
	require.Nil(t, cfg)
	require.Error(t, err)
	require.Contains(t, err.Error(), "environment variable BASE")
	require.Contains(t, err.Error(), "environment variable RPM")
	for _, msg := range append(warningStrings(warnings), err.Error()) {
		require.NotContains(t, msg, secret)
		require.NotContains(t, msg, "12345")
	}
}

// No verb of fmt prints a Secret, alone or inside a Deployment or a Config.
func TestSecretNeverPrinted(t *testing.T) {
	const key, master, envKey = "sk-deployment-key", "sk-master-key", "sk-environment-key"
	cfg, _ := mustParse(t, `
environment_variables:
  ANTHROPIC_API_KEY: `+envKey+`
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_key: `+key+`
general_settings:
  master_key: `+master+`
`, nil)
	d := cfg.Deployments[0]
	require.Equal(t, key, d.APIKey.Reveal())
	require.True(t, strings.HasPrefix(fmt.Sprintf("%#v", d), `config.Deployment{ID:"`))
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d", "%t"} {
		for _, x := range []any{d, *d, cfg, *cfg, cfg.General, cfg.Environment, d.APIKey} {
			out := fmt.Sprintf(verb, x)
			for _, secret := range []string{key, master, envKey} {
				require.False(t, strings.Contains(out, secret), "%s of %T prints a secret: %s", verb, x, out)
			}
		}
	}
}
