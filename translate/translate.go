// Package translate adapts OpenAI-format requests (what clients send) to the
// wire format of each provider, and provider responses back. A provider's
// files carry its name and hold only its mapping; what every translator
// reads or writes alike is shared: the OpenAI request (openai_request.go),
// the stream chunks (openai_chunk.go), Anthropic's Messages format that
// Bedrock's Converse shares (messages_format.go); JSON helpers are
// internal/jsonscan's, the event-stream reader internal/sse's.
// Bytes in, bytes out, and no I/O: a request head names the access token
// it needs (RequestHead.Token), which the caller gets; a signature over the
// body (SigV4) is computed by package credentials from the deployment's
// keys and the time. No Envoy types. The upstream processor picks a
// Translator per attempt, so one fallback chain can cross providers.
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
	// Messages (Anthropic's) and Responses (OpenAI's) are the agent
	// clients' APIs. A translator sees them only for a deployment that
	// speaks them natively (see NativeAPI); every other deployment gets
	// the request as ChatCompletions, bridged by the gateway.
	Messages  Endpoint = "/messages"
	Responses Endpoint = "/responses"
	// CountTokens is Anthropic's token counting, for Messages clients.
	CountTokens Endpoint = "/messages/count_tokens"
)

// NativeAPI reports whether a deployment speaks a client API as it is, so
// the request passes through unbridged: Messages to Anthropic's API,
// Responses to OpenAI's own (not every OpenAI-compatible server has it, as
// LiteLLM assumes too).
func NativeAPI(d *config.Deployment, ep Endpoint) bool {
	switch ep {
	case Messages, CountTokens:
		return d.API == config.APIAnthropic
	case Responses:
		return d.API == config.APIOpenAI && d.Provider == "openai"
	}
	return true
}

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
	// Token is an access token the request also needs, which the caller
	// gets from package credentials and sets as authorization: Bearer:
	// a translator does no I/O.
	Token Token
}

// Token names an access token a deployment's requests carry.
type Token int

const (
	// NoToken: the deployment's credential, if any, is in Set.
	NoToken Token = iota
	// GoogleToken: an OAuth access token of the deployment's Google
	// credentials (Vertex AI), credentials.GoogleTokens.
	GoogleToken
)

// ClientCredentialHeaders are the headers a client may put its gateway key
// in, and the AWS signature headers an earlier attempt may have left (Envoy
// gives a retry the previous attempt's headers; a session token must not
// follow a fallback to another provider). The upstream request never
// carries them: the deployment's own credentials replace them.
var ClientCredentialHeaders = []string{"authorization", "api-key", "x-api-key", "x-litellm-api-key", "x-goog-api-key", "ocp-apim-subscription-key", "x-amz-security-token", "x-amz-date", "x-amz-content-sha256"}

// PathOverrider is implemented by a response translator whose request must
// go to another path than RequestHead said, known only once the body is
// read (Gemini: :generateContent for a client that does not stream).
type PathOverrider interface{ UpstreamPath() string }

// HeaderOverrider is implemented by a response translator whose request
// needs headers computed from the final body (AWS SigV4 signs a hash of
// it), set with the body. An ":authority" among them replaces the one
// RequestHead chose (a signature covers the host).
type HeaderOverrider interface{ UpstreamHeaders() []Header }

// StatusOverrider is implemented by a response translator that learns from
// the whole body that the status must change (Gemini answers a prompt its
// safety filter blocked with 200; the client must get a 400). Zero keeps
// the provider's status.
type StatusOverrider interface{ BodyStatus() int }

// Translator adapts requests for one provider API.
type Translator interface {
	// RequestHead computes path, authority and credentials for deployment d.
	// rawQuery is the client's query string (without '?').
	RequestHead(d *config.Deployment, ep Endpoint, rawQuery string) (RequestHead, error)
	// RequestBody returns the body to send to d (nil: the client's body
	// unchanged) and, when d's answer needs translating, a translator for
	// this attempt's response; it sees the whole request (stream,
	// stream_options, tools), so the response translator can too.
	RequestBody(d *config.Deployment, ep Endpoint, body []byte) (out []byte, resp ResponseTranslator, err error)
	// TranslatesResponses reports whether RequestBody may return a response
	// translator for d. Only then is Envoy asked for the response phases:
	// OpenAI-compatible deployments pay no round trip for them.
	TranslatesResponses(d *config.Deployment) bool
}

// ResponseTranslator turns one provider response (one attempt) into OpenAI's
// format. It is used by one goroutine, in order: Headers, then either Body
// once or Chunk until end.
type ResponseTranslator interface {
	// Headers sees the provider's status and content type. It reports
	// whether the body is a stream (translated chunk by chunk with Chunk)
	// or whole (translated with Body), and the headers to set on the
	// client's response (its content type at least). A ":status" header in
	// set changes the status the client sees (e.g. Anthropic's 529
	// overloaded → 500, as LiteLLM maps it); Envoy applies it before its
	// retry policy looks at the status.
	Headers(status int, contentType string) (stream bool, set []Header)
	// Body translates a whole response body, success or error.
	Body(status int, body []byte) ([]byte, error)
	// Chunk translates the next piece of a stream as it arrived from the
	// provider. A piece may end mid-event: the translator keeps the rest
	// for the next call. end marks the last piece.
	Chunk(data []byte, end bool) ([]byte, error)
}

// ErrUnsupported is returned for a provider API llmvoy cannot speak yet.
var ErrUnsupported = errors.New("provider not supported yet")

// ErrBadRequest marks a client body that cannot be translated; the client
// gets a 400 with the wrapped message.
var ErrBadRequest = errors.New("bad request")

// translators maps a wire API (config.API*) to its translator. Each
// provider file registers its own in init, so adding a provider touches one
// file here.
var translators = map[string]Translator{}

func register(api string, t Translator) {
	if _, dup := translators[api]; dup {
		panic("translate: two translators for API " + api)
	}
	translators[api] = t
}

// For returns the translator for a deployment's API.
func For(d *config.Deployment) (Translator, error) {
	if t, ok := translators[d.API]; ok && d.API != "" {
		return t, nil
	}
	return nil, fmt.Errorf("provider %q: %w", d.Provider, ErrUnsupported)
}
