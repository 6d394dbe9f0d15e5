package extproc

import (
	"strconv"
	"strings"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// mockTestingParams are LiteLLM's request knobs for drills: they make a
// request fail on purpose (to exercise fallbacks, retries, timeouts) or
// wait. LiteLLM refuses them with a 400 unless the operator sets
// general_settings.dangerously_allow_mock_testing_request_params, so a
// drill never passes without running, and no caller steers failures
// unless the operator said so.
var mockTestingParams = []string{
	"mock_testing_fallbacks", "mock_testing_context_fallbacks", "mock_testing_content_policy_fallbacks",
	"mock_testing_rate_limit_error", "mock_timeout", "mock_delay",
}

// mockDelayMax bounds mock_delay: a drill's wait, never a way to hold a
// gateway stream for long.
const mockDelayMax = 60 * time.Second

// drill is what a request's mock testing knobs ask for.
type drill struct {
	// chain is the fallback chain the request's group fails into
	// (config.Fallback*), "" for none.
	chain string
	// refuse is the error the request gets at once (a mock timeout or
	// rate limit), nil for none.
	refuse *apiError
	delay  time.Duration
}

// mockTesting reads the request's mock testing knobs: a 400 naming them
// and the setting when the operator has not allowed them. A knob set to
// false or null asks for nothing.
func (g *gateway) mockTesting(fields []jsonscan.Field, model string) (drill, *apiError) {
	var d drill
	var asked []string
	for _, name := range mockTestingParams {
		f, ok := jsonscan.Get(fields, name)
		if !ok || jsonscan.IsNull(f.Value) || string(f.Value) == "false" {
			continue
		}
		asked = append(asked, name)
		switch name {
		case "mock_testing_fallbacks":
			d.chain = config.FallbackGeneric
		case "mock_testing_context_fallbacks":
			d.chain = config.FallbackContextWindow
		case "mock_testing_content_policy_fallbacks":
			d.chain = config.FallbackContentPolicy
		case "mock_testing_rate_limit_error":
			d.refuse = &apiError{Status: 429, Type: "rate_limit_error", Code: "429",
				Message: "litellm.RateLimitError: this is a mock rate limit error for model " + echoed(model) + " (mock_testing_rate_limit_error)"}
		case "mock_timeout":
			d.refuse = &apiError{Status: 408, Type: "timeout", Code: "408",
				Message: "litellm.Timeout: this is a mock timeout for model " + echoed(model) + " (mock_timeout)"}
		case "mock_delay":
			secs, err := strconv.ParseFloat(string(f.Value), 64)
			if err != nil || secs < 0 {
				return d, &apiError{Status: 400, Type: "invalid_request_error", Param: name, Message: "mock_delay must be a non-negative number of seconds"}
			}
			d.delay = min(time.Duration(secs*float64(time.Second)), mockDelayMax)
		}
	}
	if len(asked) > 0 && !g.state.cfg.General.AllowMockTesting {
		return drill{}, &apiError{Status: 400, Type: "invalid_request_error", Param: asked[0],
			Message: "mock testing request params (" + strings.Join(asked, ", ") + ") are not allowed on this gateway: its operator can set general_settings.dangerously_allow_mock_testing_request_params: true"}
	}
	return d, nil
}

// failInto is the request's place after its group failed on purpose into
// chain: the chain's next step, or the error LiteLLM's mock exception
// gives when the group has none.
func (d drill) failInto(fb fallback, g *gateway, model string) (fallback, *apiError) {
	next, ok := fb.next(g.state.plan, d.chain)
	if ok {
		g.server.log.Info("falling back", "cause", "mock_testing", "model_group", fb.origin, "chain", d.chain)
		g.server.metrics.FallbackWithoutAnswer(fb.group(g.state.plan), d.chain)
		return next, nil
	}
	switch d.chain {
	case config.FallbackContextWindow:
		return fb, &apiError{Status: 400, Type: "invalid_request_error", Code: "context_length_exceeded", Param: "messages",
			Message: "litellm.ContextWindowExceededError: this is a mock context window error for model " + echoed(model) + " (mock_testing_context_fallbacks), and it has no context_window_fallbacks"}
	case config.FallbackContentPolicy:
		return fb, &apiError{Status: 400, Type: "invalid_request_error", Code: "content_policy_violation",
			Message: "litellm.ContentPolicyViolationError: this is a mock content policy error for model " + echoed(model) + " (mock_testing_content_policy_fallbacks), and it has no content_policy_fallbacks"}
	}
	return fb, &apiError{Status: 500, Type: "internal_server_error", Code: "500",
		Message: "litellm.InternalServerError: this is a mock exception for model " + echoed(model) + " to trigger a fallback (mock_testing_fallbacks), and it has no fallbacks"}
}

// mockResponse is LiteLLM's mock_response: a chat completion whose text
// the request names, answered without calling a deployment (LiteLLM's way
// to test a client for free). Only for a virtual key whose metadata has
// allow_client_mock_response: true, as LiteLLM (since 1.84) strips it from
// any other caller's request (a client could otherwise skip the model it
// is meant to get): see allowsMockResponse. ok is false when the request
// has none (or not a string).
func mockResponse(fields []jsonscan.Field, model string) (resp *extprocv3.ProcessingResponse, ok bool) {
	f, found := jsonscan.Get(fields, "mock_response")
	if !found {
		return nil, false
	}
	text, isString := jsonscan.String(f.Value)
	if !isString {
		return nil, false
	}
	id := "chatcmpl-mock-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	created := strconv.FormatInt(time.Now().Unix(), 10)
	head := `{"id":` + string(jsonscan.QuoteString(id)) + `,"created":` + created + `,"model":` + string(jsonscan.QuoteString(model))
	if !isStream(fields) {
		body := head + `,"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":` +
			string(jsonscan.QuoteString(text)) + `},"finish_reason":"stop"}],"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}}`
		return reply(200, "application/json", []byte(body)), true
	}
	chunk := func(delta, finish string) string {
		return "data: " + head + `,"object":"chat.completion.chunk","choices":[{"index":0,"delta":` + delta + `,"finish_reason":` + finish + "}]}\n\n"
	}
	body := chunk(`{"role":"assistant","content":""}`, "null") +
		chunk(`{"content":`+string(jsonscan.QuoteString(text))+`}`, "null") +
		chunk(`{}`, `"stop"`) + "data: [DONE]\n\n"
	return reply(200, "text/event-stream", []byte(body)), true
}

// allowsMockResponse reports whether the caller may have a mock_response
// answered: a virtual key whose metadata says allow_client_mock_response
// (LiteLLM reads the key's and its team's; llmvoy has no teams). Not the
// master key, whose LiteLLM metadata is empty.
func (c caller) allowsMockResponse() bool {
	if c.key == nil {
		return false
	}
	allowed, _ := c.key.Metadata["allow_client_mock_response"].(bool)
	return allowed
}
