package extproc

import (
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/internal/jsonscan"
	"github.com/llmvoy/llmvoy/pricing"
	"github.com/llmvoy/llmvoy/translate"
)

// OpenAI's media and moderation endpoints (translate.MediaEndpoints) take
// the chat path: the model names a group, and keys, budgets, retries,
// cooldowns and fallbacks apply. What differs is here: a transcription's
// body is a form, not JSON; only OpenAI-format deployments serve them; and
// they are priced per image, character or second besides tokens.

// formFields reads a multipart/form-data request (translate.IsForm) for
// the gateway's routing, which reads a JSON body's top-level fields: its
// model is the one field it gets. The Azure SDKs' path names the model
// instead, as for a JSON body (formFields reads it). No model: no fields,
// which the routing refuses as it refuses a JSON body without one. The
// field's offsets are not the body's: nothing may edit the body with them,
// and the gateway never rewrites a form.
func formFields(contentType string, body []byte, path string) ([]jsonscan.Field, error) {
	model, err := translate.FormModel(contentType, body)
	if p, _, _ := strings.Cut(path, "?"); err == nil || errors.Is(err, translate.ErrNoFormModel) {
		if _, pathModel, azure := azurePath(p); azure {
			model, err = pathModel, nil
		}
	}
	switch {
	case errors.Is(err, translate.ErrNoFormModel):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return []jsonscan.Field{{Key: "model", Value: jsonscan.QuoteString(model)}}, nil
}

// unservedEndpoint refuses, before any attempt, a request to an endpoint
// that no deployment of the group serves: a 501 naming the endpoint and
// the provider. (A group with some deployments that serve it routes the
// request; an attempt on another is refused with a 400, which does not cool
// the deployment down: see translateError.)
func unservedEndpoint(ep translate.Endpoint, target group) *extprocv3.ProcessingResponse {
	var err error
	for _, d := range target.Deployments {
		if err = translate.Serves(d, ep); err == nil {
			return nil
		}
	}
	if err == nil {
		return nil
	}
	return replyError(apiError{Status: 501, Type: "not_implemented", Param: "model",
		Message: "model group " + target.Name + ": " + err.Error()})
}

// speechCharacters is the length of a speech request's input, which
// input_cost_per_character prices.
func speechCharacters(body []byte) int {
	var req struct {
		Input string `json:"input"`
	}
	if json.Unmarshal(body, &req) != nil {
		return 0
	}
	return utf8.RuneCountInString(req.Input)
}

// mediaCost is what an answer of a media endpoint costs on d besides its
// tokens: its images, the characters spoken (characters, read from the
// request), the seconds of audio transcribed, a rerank's search units. answer is the whole answer
// in OpenAI's format; one that is not JSON (a transcription as text, srt
// or vtt) costs nothing more.
func mediaCost(d *config.Deployment, ep translate.Endpoint, characters int, answer []byte) float64 {
	price := pricing.MediaFor(d)
	switch ep {
	case translate.AudioSpeech:
		return float64(characters) * price.PerCharacter
	case translate.ImageGenerations, translate.ImageEdits:
		var a struct {
			Data []json.RawMessage `json:"data"`
		}
		if price.PerImage == 0 || json.Unmarshal(answer, &a) != nil {
			return 0
		}
		return float64(len(a.Data)) * price.PerImage
	case translate.AudioTranscriptions:
		// verbose_json has the audio's duration; whisper-1 answers with a
		// usage of type "duration" too.
		var a struct {
			Duration float64 `json:"duration"`
			Usage    struct {
				Type    string  `json:"type"`
				Seconds float64 `json:"seconds"`
			} `json:"usage"`
		}
		if price.PerSecond == 0 || json.Unmarshal(answer, &a) != nil {
			return 0
		}
		seconds := a.Duration
		if a.Usage.Type == "duration" {
			seconds = a.Usage.Seconds
		}
		return max(seconds, 0) * price.PerSecond
	case translate.Rerank:
		// LiteLLM's rerank cost: input_cost_per_query per search unit
		// Cohere bills, nothing without them.
		var a struct {
			Meta struct {
				BilledUnits struct {
					SearchUnits float64 `json:"search_units"`
				} `json:"billed_units"`
			} `json:"meta"`
		}
		if price.PerQuery == 0 || json.Unmarshal(answer, &a) != nil {
			return 0
		}
		return max(a.Meta.BilledUnits.SearchUnits, 0) * price.PerQuery
	}
	return 0
}
