package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// litellm_settings.cooldown_time, as LiteLLM's reliability docs set it,
// applies when router_settings sets none.
func TestLiteLLMSettingsCooldownTime(t *testing.T) {
	const models = "model_list:\n  - model_name: m\n    litellm_params: {model: openai/gpt-4o}\n"
	cfg, warnings := mustParse(t, models+"litellm_settings:\n  cooldown_time: 30\n", nil)
	require.Empty(t, warnings)
	require.Equal(t, 30*time.Second, cfg.Router.CooldownTime)

	cfg, _ = mustParse(t, models+"litellm_settings:\n  cooldown_time: 30\nrouter_settings:\n  cooldown_time: 7\n", nil)
	require.Equal(t, 7*time.Second, cfg.Router.CooldownTime, "router_settings wins")
}

// general_settings.host and port are named as ignored, not as unsupported:
// the command line decides where llmvoy listens.
func TestGeneralSettingsHostPortIgnored(t *testing.T) {
	_, warnings := mustParse(t, "model_list:\n  - model_name: m\n    litellm_params: {model: openai/gpt-4o}\ngeneral_settings:\n  host: 0.0.0.0\n  port: 4000\n", nil)
	require.Len(t, warnings, 2)
	for i, key := range []string{"host", "port"} {
		require.Equal(t, "general_settings."+key, warnings[i].Path)
		require.Contains(t, warnings[i].Msg, "ignored: llmvoy listens where `llmvoy run --host` and `--port` say")
	}
}
