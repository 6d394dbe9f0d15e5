package translate

import (
	"fmt"

	"github.com/llmvoy/llmvoy/config"
)

// OpenAI's media and moderation endpoints, which LiteLLM's proxy serves
// too. Only deployments that speak OpenAI's API take them (see Serves): the
// request goes as the client sent it, with the deployment's model.
const (
	ImageGenerations Endpoint = "/images/generations"
	// ImageEdits takes a multipart/form-data body (the image or images,
	// a mask, the prompt, the model...), as AudioTranscriptions does.
	ImageEdits  Endpoint = "/images/edits"
	Moderations Endpoint = "/moderations"
	// AudioSpeech answers with audio bytes, not JSON.
	AudioSpeech Endpoint = "/audio/speech"
	// AudioTranscriptions takes a multipart/form-data body (the audio
	// file and the form fields, model among them); see FormModel.
	AudioTranscriptions Endpoint = "/audio/transcriptions"
)

// MediaEndpoints are the endpoints of this file and Rerank (rerank.go),
// for whoever lists the endpoints llmvoy routes.
var MediaEndpoints = []Endpoint{ImageGenerations, ImageEdits, Moderations, AudioSpeech, AudioTranscriptions, Rerank}

// IsForm reports whether ep's requests are multipart/form-data, not JSON.
func IsForm(ep Endpoint) bool { return ep == AudioTranscriptions || ep == ImageEdits }

// Serves reports whether deployment d can be called on ep. Chat, text
// completions and embeddings are every translator's to map (or refuse for
// a model); the media endpoints have no mapping to another provider's API
// in llmvoy: OpenAI-compatible servers take them as they are, and Azure
// OpenAI under its deployment path (it has no moderations endpoint, nor a
// rerank one).
func Serves(d *config.Deployment, ep Endpoint) error {
	switch ep {
	case ImageGenerations, ImageEdits, AudioSpeech, AudioTranscriptions:
		if d.API == config.APIOpenAI || d.API == config.APIAzure {
			return nil
		}
	case Moderations, Rerank:
		if d.API == config.APIOpenAI {
			return nil
		}
	default:
		return nil
	}
	takers := "OpenAI-compatible and Azure OpenAI deployments"
	switch ep {
	case Moderations:
		takers = "OpenAI-compatible deployments"
	case Rerank:
		takers = rerankTakers
	}
	return &endpointError{msg: fmt.Sprintf("llmvoy sends /v1%s only to %s, not to provider %q", ep, takers, d.Provider)}
}

// endpointError is an ErrUnsupported that says which endpoint and provider.
type endpointError struct{ msg string }

func (e *endpointError) Error() string { return e.msg }
func (e *endpointError) Unwrap() error { return ErrUnsupported }

// FormBody is the multipart/form-data body of a request to ep, a form
// endpoint (IsForm), of content type contentType, for deployment d: an
// OpenAI-compatible server gets its model in the "model" field; Azure
// OpenAI reads the deployment from the path and gets the form unchanged
// (nil). The form is never read as JSON.
func FormBody(d *config.Deployment, ep Endpoint, contentType string, body []byte) ([]byte, error) {
	if err := Serves(d, ep); err != nil {
		return nil, err
	}
	if d.API == config.APIAzure {
		return nil, nil
	}
	out, err := SetFormModel(contentType, body, d.UpstreamModel)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	return out, nil
}
