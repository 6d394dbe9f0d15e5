package translate

import (
	"fmt"
	"maps"
	"slices"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// ShapedBy reports whether a request to ep takes d's own parameters and
// dropped fields (litellm_params): chat and text completions, as OpenAI's
// body before any translation, as LiteLLM's Router passes them to
// completion() and text_completion().
func ShapedBy(d *config.Deployment, ep Endpoint) bool {
	return d.ShapesRequest() && (ep == ChatCompletions || ep == Completions)
}

// DeploymentParams is body, an OpenAI request, as d wants it: each of d's
// parameters the request does not set, added (the request's own value
// wins, as in LiteLLM's Router); d's additional_drop_params, removed. The
// client's other members stay as they were sent.
func DeploymentParams(d *config.Deployment, body []byte) ([]byte, error) {
	fields, err := jsonscan.Fields(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	edit := func(out []byte) error {
		body = out
		fields, err = jsonscan.Fields(body)
		return err
	}
	for _, key := range slices.Sorted(maps.Keys(d.Params)) {
		if _, set := jsonscan.Get(fields, key); set {
			continue
		}
		raw, err := jsonscan.Marshal(d.Params[key])
		if err == nil {
			err = edit(jsonscan.Set(body, fields, key, raw))
		}
		if err != nil {
			return nil, fmt.Errorf("deployment %s: parameter %s: %w", d.ID, key, err)
		}
	}
	for _, key := range d.DropParams {
		if _, set := jsonscan.Get(fields, key); set {
			if err := edit(jsonscan.Delete(body, fields, key)); err != nil {
				return nil, err
			}
		}
	}
	return body, nil
}
