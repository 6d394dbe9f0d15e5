package translate

import (
	"encoding/json"
	"fmt"

	"github.com/llmvoy/llmvoy/config"
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
// wins, as in LiteLLM's Router); d's additional_drop_params, removed.
func DeploymentParams(d *config.Deployment, body []byte) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return nil, fmt.Errorf("%w: the request body is not a JSON object", ErrBadRequest)
	}
	for key, v := range d.Params {
		if _, set := fields[key]; set {
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("deployment %s: parameter %s: %w", d.ID, key, err)
		}
		fields[key] = b
	}
	for _, key := range d.DropParams {
		delete(fields, key)
	}
	return json.Marshal(fields)
}
