package translate

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/llmvoy/llmvoy/config"
)

// vertex speaks Gemini on Google Cloud's Vertex AI (LiteLLM's "vertex_ai/"
// prefix): the body, the answer and the stream are the Gemini API's
// (gemini_request.go, gemini_response.go), embeddings are Vertex AI's
// text embeddings API (vertex_embeddings.go); the model lives under the
// deployment's project and location, and the credential is an OAuth access
// token of the deployment's Google credentials in Authorization: Bearer,
// which the caller gets from package credentials (RequestHead.Token).
type vertex struct{}

var _ Translator = vertex{}

func init() { register(config.APIVertex, vertex{}) }

func (vertex) RequestHead(d *config.Deployment, ep Endpoint, _ string) (RequestHead, error) {
	if d.APIBase == nil {
		return RequestHead{}, fmt.Errorf("deployment %s has no api_base", d.ID)
	}
	if ep == geminiModels {
		// The health probe is a GET; Vertex AI's generateContent models
		// have nothing to GET under the project.
		return RequestHead{}, fmt.Errorf("health probes of Vertex AI deployments are not supported yet")
	}
	// Chat asks for the SSE stream until the body says the client does not
	// stream (UpstreamPath), as for Gemini; embeddings go to :predict;
	// other endpoints are refused with a 400 in RequestBody and only need
	// a valid path (and no token). The client's query string means nothing
	// to Google and is dropped.
	h := RequestHead{Path: vertexPath(d, geminiStreamGenerate), Authority: d.APIBase.Host}
	switch ep {
	case ChatCompletions:
	case Embeddings:
		h.Path = vertexPath(d, vertexPredict)
	default:
		return h, nil
	}
	h.Token = GoogleToken
	return h, nil
}

func (vertex) RequestBody(d *config.Deployment, ep Endpoint, body []byte) ([]byte, ResponseTranslator, error) {
	switch ep {
	case ChatCompletions:
		return geminiChatRequest(d, body, vertexPath)
	case Embeddings:
		return vertexEmbeddingsRequest(d, body)
	}
	return nil, nil, fmt.Errorf("%w: %s is not supported for Vertex AI deployments yet (deployment %s); use /v1/chat/completions or /v1/embeddings", ErrBadRequest, "/v1"+string(ep), d.ID)
}

// TranslatesResponses is true: Vertex AI answers in Gemini's format.
func (vertex) TranslatesResponses(*config.Deployment) bool { return true }

// vertexPath is where a method of d's model is:
// {api_base}/v1/projects/{project}/locations/{location}/publishers/google/
// models/{model}:{method}, with alt=sse for the streaming method. A model
// id of digits is a deployed endpoint (a tuned Gemini model), under
// .../endpoints/{id}, as in LiteLLM. An api_base that already names a
// model (".../models/{model}" or ".../endpoints/{id}", LiteLLM's form of a
// custom api_base) gets only ":{method}".
func vertexPath(d *config.Deployment, method string) string {
	return vertexPublisherPath(d, "google", method)
}

// vertexPublisherPath is vertexPath for a model of any publisher (google,
// anthropic).
func vertexPublisherPath(d *config.Deployment, publisher, method string) string {
	base := strings.TrimSuffix(d.APIBase.EscapedPath(), "/")
	p := base
	if !vertexNamesModel(d.APIBase.Path) {
		p += "/v1/projects/" + url.PathEscape(d.Vertex.Project) + "/locations/" + url.PathEscape(d.Vertex.Location)
		model := strings.TrimPrefix(d.UpstreamModel, "gemini/") // LiteLLM's route for tuned models
		if vertexIsEndpoint(model) {
			p += "/endpoints/" + model
		} else {
			p += "/publishers/" + publisher + "/models/" + url.PathEscape(model)
		}
	}
	p += ":" + method
	q := d.APIBase.RawQuery
	if method == geminiStreamGenerate {
		q = joinQuery(q, "alt=sse")
	}
	if q != "" {
		p += "?" + q
	}
	return p
}

// vertexNamesModel reports whether an api_base path ends in a model or an
// endpoint.
func vertexNamesModel(path string) bool {
	path = strings.TrimSuffix(path, "/")
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return false
	}
	parent := path[:i]
	return path[i+1:] != "" && (strings.HasSuffix(parent, "/models") || strings.HasSuffix(parent, "/endpoints"))
}

func vertexIsEndpoint(model string) bool {
	if model == "" {
		return false
	}
	for _, c := range model {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
