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

func init() { register(config.APIOpenAI, openAI{}) }

func (openAI) RequestHead(d *config.Deployment, ep Endpoint, rawQuery string) (RequestHead, error) {
	h := RequestHead{
		// EscapedPath: a :path must stay percent-encoded.
		Path:      strings.TrimSuffix(d.APIBase.EscapedPath(), "/") + string(ep),
		Authority: d.APIBase.Host,
	}
	if ep == Rerank {
		h.Path = rerankPath(d, strings.TrimSuffix(d.APIBase.EscapedPath(), "/"))
	}
	// A query in the api_base (a tenant, an api-version) rides along with
	// the client's.
	if q := joinQuery(d.APIBase.RawQuery, rawQuery); q != "" {
		h.Path += "?" + q
	}
	if key := d.APIKey.Reveal(); key != "" {
		h.Set = append(h.Set, Header{Key: "authorization", Value: "Bearer " + key})
	}
	return h, nil
}

func (openAI) RequestBody(d *config.Deployment, _ Endpoint, body []byte) ([]byte, ResponseTranslator, error) {
	out, err := rewriteModel(d, body)
	return out, nil, err
}

// TranslatesResponses is false: OpenAI-compatible responses pass through.
func (openAI) TranslatesResponses(*config.Deployment) bool { return false }

// rewriteModel sets the body's "model" to the deployment's upstream model;
// nil means the body is already right.
func rewriteModel(d *config.Deployment, body []byte) ([]byte, error) {
	fields, err := jsonscan.Fields(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	return SetModel(body, fields, d.UpstreamModel), nil
}

// SetModel is body (whose top-level fields are fields) with "model" set to
// model; nil when it already is. All an OpenAI-compatible deployment needs
// of a request, so the gateway can do it once for a group whose deployments
// all want the same model.
func SetModel(body []byte, fields []jsonscan.Field, upstreamModel string) []byte {
	model := jsonscan.QuoteString(upstreamModel)
	// Unchanged only if "model" appears once with the right value: Set also
	// drops duplicate keys, which a first-wins upstream parser would read.
	count := 0
	for _, f := range fields {
		if f.Key == "model" {
			count++
		}
	}
	if f, ok := jsonscan.Get(fields, "model"); ok && count == 1 && string(f.Value) == string(model) {
		return nil
	}
	return jsonscan.Set(body, fields, "model", model)
}

func joinQuery(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "&" + b
}

// IncludeStreamUsage returns a streaming chat or text completion request
// with stream_options.include_usage set, so that an OpenAI-compatible
// deployment ends the stream with a chunk carrying its usage (choices
// empty): what llmvoy charges and counts for tpm, instead of an estimate
// from the streamed text. It returns nil when the body needs no change:
// not a stream, the client asked for usage already, or stream_options is
// not an object (the deployment will say what is wrong with it). A non-nil
// result means the client did not ask, so the usage chunk is llmvoy's and
// not the client's.
func IncludeStreamUsage(body []byte) ([]byte, error) {
	fields, err := jsonscan.Fields(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	stream, ok := jsonscan.Get(fields, "stream")
	if !ok {
		return nil, nil
	}
	if on, _ := jsonscan.Bool(stream.Value); !on {
		return nil, nil
	}
	opts, ok := jsonscan.Get(fields, "stream_options")
	if !ok || string(opts.Value) == "null" {
		return jsonscan.Set(body, fields, "stream_options", []byte(`{"include_usage":true}`)), nil
	}
	inner, err := jsonscan.Fields(opts.Value)
	if err != nil {
		return nil, nil // not an object
	}
	if f, ok := jsonscan.Get(inner, "include_usage"); ok {
		if on, _ := jsonscan.Bool(f.Value); on {
			return nil, nil
		}
	}
	return jsonscan.Set(body, fields, "stream_options", jsonscan.Set(opts.Value, inner, "include_usage", []byte("true"))), nil
}
