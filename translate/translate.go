// Package translate adapts OpenAI-format requests (what clients send) to the
// wire format of each provider, and provider responses back. One file per
// provider API; bytes in, bytes out; no Envoy types. The upstream processor
// picks a Translator per attempt, so one fallback chain can cross providers.
package translate

import (
	"errors"
	"fmt"

	"github.com/llmvoy/llmvoy/config"
)

// Endpoint is the OpenAI API a client called, without the /v1 prefix.
type Endpoint string

// Endpoints llmvoy routes to deployments.
const (
	ChatCompletions Endpoint = "/chat/completions"
	Completions     Endpoint = "/completions"
	Embeddings      Endpoint = "/embeddings"
)

// Header is one header to set on the upstream request.
type Header struct{ Key, Value string }

// RequestHead is how the upstream request's headers change for a deployment.
type RequestHead struct {
	// Path is the upstream :path, query included.
	Path string
	// Authority is the upstream :authority (host[:port] of the api_base).
	Authority string
	// Set are headers to set (credentials, api versions).
	Set []Header
}

// ClientCredentialHeaders are the headers a client may put its gateway key
// in. The upstream request never carries them: the deployment's own
// credentials replace them.
var ClientCredentialHeaders = []string{"authorization", "api-key", "x-api-key"}

// Translator adapts requests for one provider API.
type Translator interface {
	// RequestHead computes path, authority and credentials for deployment d.
	// rawQuery is the client's query string (without '?').
	RequestHead(d *config.Deployment, ep Endpoint, rawQuery string) (RequestHead, error)
	// RequestBody returns the body to send to d, or nil when the client's
	// body can be sent unchanged.
	RequestBody(d *config.Deployment, ep Endpoint, body []byte) ([]byte, error)
}

// ErrUnsupported is returned for a provider API llmvoy cannot speak yet.
var ErrUnsupported = errors.New("provider not supported yet")

// ErrBadRequest marks a client body that cannot be translated; the client
// gets a 400 with the wrapped message.
var ErrBadRequest = errors.New("bad request")

// For returns the translator for a deployment's API.
func For(d *config.Deployment) (Translator, error) {
	switch d.API {
	case config.APIOpenAI:
		return openAI{}, nil
	}
	return nil, fmt.Errorf("provider %q: %w", d.Provider, ErrUnsupported)
}
