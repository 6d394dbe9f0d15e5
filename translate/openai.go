package translate

import (
	"fmt"
	"strings"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// openAI speaks OpenAI's API and every OpenAI-compatible server (DeepSeek,
// DashScope, Ollama, vLLM, ...): the body passes through with the deployment's
// model name, and the key goes in "Authorization: Bearer".
type openAI struct{}

var _ Translator = openAI{}

func (openAI) RequestHead(d *config.Deployment, ep Endpoint, rawQuery string) (RequestHead, error) {
	h := RequestHead{
		Path:      strings.TrimSuffix(d.APIBase.Path, "/") + string(ep),
		Authority: d.APIBase.Host,
	}
	if rawQuery != "" {
		h.Path += "?" + rawQuery
	}
	if key := d.APIKey.Reveal(); key != "" {
		h.Set = append(h.Set, Header{Key: "authorization", Value: "Bearer " + key})
	}
	return h, nil
}

func (openAI) RequestBody(d *config.Deployment, _ Endpoint, body []byte) ([]byte, error) {
	fields, err := jsonscan.Fields(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	model := jsonscan.QuoteString(d.UpstreamModel)
	if f, ok := jsonscan.Get(fields, "model"); ok && string(f.Value) == string(model) {
		return nil, nil
	}
	return jsonscan.Set(body, fields, "model", model), nil
}
