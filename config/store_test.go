package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStoreAndRedisSettings(t *testing.T) {
	const src = `
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
general_settings:
  master_key: sk-master
  database_url: os.environ/DB
  disable_spend_logs: true
  store_prompts_in_spend_logs: "true"
router_settings:
  redis_host: os.environ/REDIS_HOST
  redis_password: os.environ/REDIS_PASSWORD
litellm_settings:
  turn_off_message_logging: true
`
	cfg, warnings := mustParse(t, src, map[string]string{"DB": "postgres://u:p@127.0.0.1:5432/llmvoy", "REDIS_HOST": "127.0.0.1", "REDIS_PASSWORD": "pw"})
	require.Empty(t, warnings)
	require.Equal(t, Secret("postgres://u:p@127.0.0.1:5432/llmvoy"), cfg.General.DatabaseURL)
	require.True(t, cfg.General.DisableSpendLogs)
	require.True(t, cfg.General.StorePrompts)
	require.Equal(t, RedisSettings{Host: "127.0.0.1", Port: 6379, Password: "pw"}, cfg.Router.Redis)
	require.True(t, cfg.Router.Redis.Enabled())
}

func TestDatabaseURLFromEnvironment(t *testing.T) {
	const src = `
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
`
	cfg, _ := mustParse(t, src, map[string]string{"DATABASE_URL": "postgresql://127.0.0.1/x"})
	require.Equal(t, Secret("postgresql://127.0.0.1/x"), cfg.General.DatabaseURL)
	require.False(t, cfg.Router.Redis.Enabled())
	// LiteLLM's Prisma takes other URLs too; llmvoy only Postgres.
	cfg, _ = mustParse(t, src, map[string]string{"DATABASE_URL": "mysql://127.0.0.1/x"})
	require.Empty(t, cfg.General.DatabaseURL)
}

func TestBadStoreSettingsAreErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"general_settings:\n  database_url: mysql://h/db\n", "general_settings.database_url"},
		{"router_settings:\n  redis_port: 70000\n", "router_settings.redis_port"},
		{"router_settings:\n  redis_url: http://h:6379\n", "router_settings.redis_url"},
		{"general_settings:\n  litellm_key_header_name: \"\"\n", "general_settings.litellm_key_header_name"},
		{"general_settings:\n  litellm_key_header_name: \"x key\"\n", "general_settings.litellm_key_header_name"},
	} {
		src := "model_list:\n  - model_name: m\n    litellm_params:\n      model: openai/m\n" + tc.yaml
		_, _, err := Parse([]byte(src), "config.yaml", envOf(nil))
		require.ErrorContains(t, err, tc.want)
	}
}

func TestKeyHeaderName(t *testing.T) {
	cfg, warnings := mustParse(t, "model_list:\n  - model_name: m\n    litellm_params:\n      model: openai/m\ngeneral_settings:\n  litellm_key_header_name: X-Gateway-Key\n", nil)
	require.Empty(t, warnings)
	require.Equal(t, "x-gateway-key", cfg.General.KeyHeader)
}
