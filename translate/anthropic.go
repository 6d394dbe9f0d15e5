package translate

import (
	"fmt"
	"strings"
	"time"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// anthropic speaks Anthropic's Messages API (POST {api_base}/v1/messages):
// OpenAI chat completions are rewritten into Messages requests, and messages,
// SSE streams and errors back into OpenAI's shapes, following what LiteLLM's
// AnthropicConfig does for the same request.
type anthropic struct{}

var _ Translator = anthropic{}

func init() { register(config.APIAnthropic, anthropic{}) }

// anthropicVersion is the Messages API version llmvoy speaks, sent in the
// anthropic-version header Anthropic requires (LiteLLM sends the same).
const anthropicVersion = "2023-06-01"

// anthropicNow is the clock for the "created" field of translated responses;
// tests fix it.
var anthropicNow = time.Now

func (anthropic) RequestHead(d *config.Deployment, ep Endpoint, _ string) (RequestHead, error) {
	// The client's query string is for OpenAI's API and is not forwarded;
	// a query written in the api_base is.
	path := anthropicPath(d.APIBase.EscapedPath(), ep)
	if q := d.APIBase.RawQuery; q != "" {
		path += "?" + q
	}
	h := RequestHead{Path: path, Authority: d.APIBase.Host}
	if key := d.APIKey.Reveal(); key != "" {
		h.Set = append(h.Set, Header{Key: "x-api-key", Value: key})
	}
	h.Set = append(h.Set,
		Header{Key: "anthropic-version", Value: anthropicVersion},
		Header{Key: "content-type", Value: "application/json"},
		// llmvoy reads and rewrites the answer: it must not come back
		// compressed because the client said it accepts gzip.
		Header{Key: "accept-encoding", Value: "identity"},
	)
	return h, nil
}

// anthropicPath appends the Messages API path to an api_base path. A base
// that already ends in /v1/messages is used as written, as LiteLLM does.
// /models (the health probe) lists models instead.
func anthropicPath(base string, ep Endpoint) string {
	base = strings.TrimSuffix(strings.TrimRight(base, "/"), "/v1/messages")
	switch ep {
	case "/models":
		return base + "/v1/models"
	case CountTokens:
		return base + "/v1/messages/count_tokens"
	}
	return base + "/v1/messages"
}

// TranslatesResponses is true: every Anthropic answer is rewritten.
func (anthropic) TranslatesResponses(*config.Deployment) bool { return true }

// RequestBody translates an OpenAI chat completion request into a Messages
// request for d.
//
// OpenAI parameters Anthropic has no equivalent for are dropped, as LiteLLM
// does with drop_params: frequency_penalty, presence_penalty, logit_bias,
// logprobs, top_logprobs, n (one choice is returned), seed, service_tier,
// store, metadata (OpenAI's stored-completion tags), modalities, audio,
// prediction, web_search_options, functions and function_call
// (deprecated), verbosity, safety_identifier, prompt_cache_key, and any key
// llmvoy does not know. top_k and thinking are Anthropic's own parameters
// and pass through. response_format asks for JSON through a forced tool, as
// LiteLLM does (see jsonModeTool).
func (anthropic) RequestBody(d *config.Deployment, ep Endpoint, body []byte) ([]byte, ResponseTranslator, error) {
	out, resp, _, err := anthropicChatBody(d, ep, body, d.UpstreamModel, "")
	if err != nil {
		return nil, nil, err // not a nil *anthropicResponse in the interface
	}
	return out, resp, nil
}

// anthropicChatBody translates a chat completion request for d into a
// Messages request with model and version in the body (each left out when
// ""), and reports whether the client streams.
func anthropicChatBody(d *config.Deployment, ep Endpoint, body []byte, model, version string) ([]byte, *anthropicResponse, bool, error) {
	if ep != ChatCompletions {
		return nil, nil, false, fmt.Errorf("%w: deployment %s speaks Anthropic's Messages API, which serves /chat/completions only, not %s", ErrBadRequest, d.ID, ep)
	}
	in, err := readOpenAIRequest(body)
	if err != nil {
		return nil, nil, false, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	req, err := anthropicTranslateRequest(in, model)
	if err != nil {
		return nil, nil, false, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	req.out.AnthropicVersion = version
	out, err := jsonscan.Marshal(req.out)
	if err != nil {
		return nil, nil, false, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	return out, &anthropicResponse{includeUsage: req.includeUsage, jsonMode: req.jsonMode, created: anthropicNow().Unix()}, req.out.Stream, nil
}
