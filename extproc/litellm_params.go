package extproc

import (
	"strings"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// litellmParams are request body fields LiteLLM reads for itself (its
// routing, caching, logging and test knobs) and never sends a provider:
// OpenAI-compatible servers refuse a body with a parameter they do not know.
// llmvoy removes them too. "fallbacks" (requestFallbacks), the drill
// knobs (mockTesting), mock_response, num_retries, timeout and
// stream_timeout (readRequestLimits), and cache and caching (the
// response cache, cache.go) are read first; the others that steer LiteLLM
// per request are not acted on yet: see docs/routing.md.
var litellmParams = map[string]bool{
	"metadata": true, "litellm_metadata": true, "tags": true,
	"fallbacks": true, "context_window_fallbacks": true, "content_policy_fallbacks": true, "disable_fallbacks": true,
	"num_retries": true, "max_retries": true, "timeout": true, "stream_timeout": true,
	"caching": true, "cache": true, "ttl": true, "no-log": true,
	"mock_response": true, "mock_tool_calls": true, "mock_timeout": true, "mock_delay": true,
	"guardrails": true, "litellm_session_id": true, "litellm_trace_id": true, "litellm_call_id": true,
	"prompt_id": true, "prompt_variables": true, "drop_params": true, "additional_drop_params": true,
	"input_cost_per_token": true, "output_cost_per_token": true, "model_list": true,
	"api_base": true, "base_url": true, "api_key": true, "api_version": true, "user_config": true,
	"proxy_server_request": true, "spend_logs_metadata": true,
}

// isLiteLLMParam reports whether a top-level body field is LiteLLM's own.
func isLiteLLMParam(key string) bool {
	return litellmParams[key] || strings.HasPrefix(key, "mock_testing_")
}

// stripLiteLLMParams returns body without LiteLLM's own fields, and the new
// body's fields; ok is false (and body, fields are returned as they are)
// when it has none, the common case, which costs one pass over the keys.
func stripLiteLLMParams(body []byte, fields []jsonscan.Field) ([]byte, []jsonscan.Field, bool) {
	var drop []string
	for _, f := range fields {
		if isLiteLLMParam(f.Key) {
			drop = append(drop, f.Key)
		}
	}
	if len(drop) == 0 {
		return body, fields, false
	}
	for _, key := range drop {
		body = jsonscan.Delete(body, fields, key)
		var err error
		if fields, err = jsonscan.Fields(body); err != nil {
			// Delete keeps the body valid; a scan cannot fail here.
			return nil, nil, false
		}
	}
	return body, fields, true
}
