package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

const oneModel = "model_list:\n  - model_name: gpt-4o\n    litellm_params:\n      model: openai/gpt-4o\n"

const callbacksConfig = `model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
litellm_settings:
  success_callback: ["langfuse", "prometheus"]
  failure_callback: ["langfuse", "generic_api"]
  callbacks: ["otel", "datadog"]
environment_variables:
  LANGFUSE_HOST: http://127.0.0.1:3000/
`

func TestCallbacksAreReadWithLiteLLMsVariables(t *testing.T) {
	cfg, warnings := mustParse(t, callbacksConfig, map[string]string{
		"LANGFUSE_PUBLIC_KEY": "pk-lf-1", "LANGFUSE_SECRET_KEY": "sk-lf-1",
		"GENERIC_LOGGER_ENDPOINT": "http://127.0.0.1:9/logs", "GENERIC_LOGGER_HEADERS": "Authorization=Bearer%20t, X-A=b",
		"OTEL_EXPORTER": "otlp_http", "OTEL_ENDPOINT": "http://127.0.0.1:4318", "OTEL_HEADERS": "api-key=k",
	})
	require.Equal(t, []Warning{{File: "config.yaml", Line: 8, Path: "litellm_settings.callbacks[1]", Msg: `callback "datadog" not supported yet, ignored`}}, warnings)
	c := cfg.Callbacks
	require.Equal(t, map[string]CallbackEvents{
		"langfuse": {Success: true, Failure: true}, "prometheus": {Success: true},
		"generic_api": {Failure: true}, "otel": {Success: true, Failure: true},
	}, c.On)
	require.True(t, c.ReadsAnswers())
	require.Equal(t, LangfuseSettings{PublicKey: "pk-lf-1", SecretKey: "sk-lf-1", Host: "http://127.0.0.1:3000"}, c.Langfuse)
	require.Equal(t, map[string]WebhookSettings{"generic_api": {Endpoint: "http://127.0.0.1:9/logs", Headers: map[string]Secret{"Authorization": "Bearer t", "X-A": "b"}, Format: "json_array"}}, c.Webhooks)
	require.Equal(t, OTelSettings{Exporter: "otlp_http", Endpoint: "http://127.0.0.1:4318/v1/traces", Headers: map[string]Secret{"api-key": "k"}, ServiceName: "llmvoy"}, c.OTel)
}

func TestOTelStandardVariables(t *testing.T) {
	for _, tc := range []struct {
		env      map[string]string
		exporter string
		endpoint string
	}{
		{map[string]string{}, "console", ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317"}, "otlp_grpc", "http://127.0.0.1:4317"},
		{map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, "otlp_http", "http://c:4318/v1/traces"},
		{map[string]string{"OTEL_EXPORTER": "otlp_grpc", "OTEL_ENDPOINT": "http://c:4317"}, "otlp_grpc", "http://c:4317"},
		{map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}, "otlp_http_json", "http://c:4318/v1/traces"},
	} {
		cfg, _ := mustParse(t, oneModel+"litellm_settings:\n  callbacks: [\"otel\"]\n", tc.env)
		require.Equal(t, tc.exporter, cfg.Callbacks.OTel.Exporter, tc.env)
		require.Equal(t, tc.endpoint, cfg.Callbacks.OTel.Endpoint, tc.env)
	}
}

func TestCallbacksWithoutTheirVariablesWarn(t *testing.T) {
	cfg, warnings := mustParse(t, oneModel+"litellm_settings:\n  callbacks: [\"langfuse\", \"generic_api\", \"prometheus\"]\n", nil)
	require.Equal(t, []Warning{
		{File: "config.yaml", Line: 6, Path: "litellm_settings.callbacks[0]", Msg: "langfuse needs LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY; ignored"},
		{File: "config.yaml", Line: 6, Path: "litellm_settings.callbacks[1]", Msg: "generic_api needs GENERIC_LOGGER_ENDPOINT (or an entry in callback_settings); ignored"},
	}, warnings)
	require.Equal(t, map[string]CallbackEvents{"prometheus": {Success: true, Failure: true}}, cfg.Callbacks.On)
	require.False(t, cfg.Callbacks.ReadsAnswers(), "prometheus is served anyway")
}

func TestCallbackSettingsNameWebhooks(t *testing.T) {
	cfg, warnings := mustParse(t, oneModel+`litellm_settings:
  success_callback: ["audit"]
callback_settings:
  audit:
    callback_type: generic_api
    endpoint: https://logs.example.com/in
    headers:
      Authorization: os.environ/AUDIT_TOKEN
    event_types: [llm_api_failure]
    log_format: ndjson
  errors_only:
    callback_type: generic_api
    endpoint: http://127.0.0.1:9/errors
  s3_logs:
    callback_type: s3
`, map[string]string{"AUDIT_TOKEN": "Bearer a"})
	require.Equal(t, []Warning{{File: "config.yaml", Line: 18, Path: "callback_settings.s3_logs", Msg: `callback_type "s3" not supported yet (generic_api is), ignored`}}, warnings)
	c := cfg.Callbacks
	require.Equal(t, map[string]WebhookSettings{
		"audit":       {Endpoint: "https://logs.example.com/in", Headers: map[string]Secret{"Authorization": "Bearer a"}, Format: "ndjson"},
		"errors_only": {Endpoint: "http://127.0.0.1:9/errors", Format: "json_array"},
	}, c.Webhooks)
	// Enabled by being there; success_callback adds the answered requests.
	require.Equal(t, map[string]CallbackEvents{"audit": {Success: true, Failure: true}, "errors_only": {Success: true, Failure: true}}, c.On)

	_, _, err := Parse([]byte(oneModel+"callback_settings:\n  x:\n    callback_type: generic_api\n    log_format: xml\n"), "config.yaml", envOf(nil))
	require.ErrorContains(t, err, "callback_settings.x.log_format: want json_array, ndjson or single")
	require.ErrorContains(t, err, "callback_settings.x: a generic_api callback needs an endpoint")
}
