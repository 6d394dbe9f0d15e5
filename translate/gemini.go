package translate

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/llmvoy/llmvoy/config"
)

// gemini speaks Google's Gemini API (AI Studio, LiteLLM's "gemini/" prefix):
// chat completions become models/{model}:streamGenerateContent (SSE), embeddings
// become models/{model}:batchEmbedContents, and the key travels in
// x-goog-api-key, never in the URL (URLs end up in access logs).
//
// The request head is computed before the body is seen, so chat always asks
// for the SSE stream: a client that did not ask to stream gets the events
// folded into one chat.completion. A response translator may name a better
// path through UpstreamPath (:generateContent for such clients) for an
// upstream processor that can still change :path in the body phase.
type gemini struct{}

var _ Translator = gemini{}

func init() { register(config.APIGemini, gemini{}) }

// geminiKeyHeader carries the API key (Gemini API reference, "API keys").
const geminiKeyHeader = "x-goog-api-key"

// Gemini API methods llmvoy calls.
const (
	geminiGenerate       = "generateContent"
	geminiStreamGenerate = "streamGenerateContent"
	geminiBatchEmbed     = "batchEmbedContents"
)

// geminiModels is the endpoint the health probe asks a head for (a GET).
const geminiModels Endpoint = "/models"

func (gemini) RequestHead(d *config.Deployment, ep Endpoint, _ string) (RequestHead, error) {
	if d.APIBase == nil {
		return RequestHead{}, fmt.Errorf("deployment %s has no api_base", d.ID)
	}
	var path string
	switch ep {
	case ChatCompletions:
		path = geminiPath(d, geminiStreamGenerate)
	case Embeddings:
		path = geminiPath(d, geminiBatchEmbed)
	case geminiModels:
		// The health probe: models.get checks the key and the model name
		// at no token cost.
		path = geminiPath(d, "")
	default:
		// Refused with a 400 in RequestBody; the path only has to be valid.
		path = geminiPath(d, geminiGenerate)
	}
	// The client's query string means nothing to Google and is dropped.
	h := RequestHead{Path: path, Authority: d.APIBase.Host}
	if key := d.APIKey.Reveal(); key != "" {
		h.Set = append(h.Set, Header{Key: geminiKeyHeader, Value: key})
	}
	return h, nil
}

func (gemini) RequestBody(d *config.Deployment, ep Endpoint, body []byte) ([]byte, ResponseTranslator, error) {
	switch ep {
	case ChatCompletions:
		return geminiChatRequest(d, body, geminiPath)
	case Embeddings:
		return geminiEmbeddingsRequest(d, body)
	}
	return nil, nil, fmt.Errorf("%w: %s is not supported for Gemini deployments (deployment %s); use /v1/chat/completions", ErrBadRequest, "/v1"+string(ep), d.ID)
}

// TranslatesResponses is true: Gemini never answers in OpenAI's format.
func (gemini) TranslatesResponses(*config.Deployment) bool { return true }

// geminiPath is {api_base}/v1beta/models/{model}:{method} (the model
// itself without a method), with alt=sse for the streaming method. A base
// that already ends in an API version (".../v1beta", ".../v1") is used as
// is, so proxies that mount the API elsewhere work.
func geminiPath(d *config.Deployment, method string) string {
	base := strings.TrimSuffix(d.APIBase.EscapedPath(), "/")
	if !endsWithAPIVersion(base) {
		base += "/v1beta"
	}
	p := base + "/" + geminiModelResource(d.UpstreamModel)
	if method != "" {
		p += ":" + method
	}
	q := d.APIBase.RawQuery
	if method == geminiStreamGenerate {
		q = joinQuery(q, "alt=sse")
	}
	if q != "" {
		p += "?" + q
	}
	return p
}

func endsWithAPIVersion(path string) bool {
	last := path[strings.LastIndexByte(path, '/')+1:]
	return len(last) >= 2 && last[0] == 'v' && last[1] >= '0' && last[1] <= '9'
}

// geminiModelResource is the model's resource name: "models/{model}", or a
// tuned model's "tunedModels/{id}" as written.
func geminiModelResource(model string) string {
	model = strings.TrimPrefix(model, "models/")
	if id, ok := strings.CutPrefix(model, "tunedModels/"); ok {
		return "tunedModels/" + url.PathEscape(id)
	}
	return "models/" + url.PathEscape(model)
}
