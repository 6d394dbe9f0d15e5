package translate

import (
	"fmt"

	"github.com/llmvoy/llmvoy/config"
)

// vertexAnthropic speaks Anthropic's Claude on Vertex AI (LiteLLM's
// vertex_ai/claude-*, VertexAIAnthropicConfig): the request, answer and
// stream are Anthropic's Messages API (anthropic*.go), sent to the model
// under the deployment's project and location, publisher anthropic, with
// the model in the path instead of the body, "anthropic_version":
// "vertex-2023-10-16" in the body instead of a header, and the same
// Google access token as Gemini on Vertex AI (vertex.go).
type vertexAnthropic struct{}

var _ Translator = vertexAnthropic{}

func init() { register(config.APIVertexAnthropic, vertexAnthropic{}) }

// vertexAnthropicVersion is the Messages API version Vertex AI takes.
const vertexAnthropicVersion = "vertex-2023-10-16"

// Vertex AI's methods for Claude: one answer, or its SSE stream.
const (
	vertexRawPredict       = "rawPredict"
	vertexStreamRawPredict = "streamRawPredict"
)

func (vertexAnthropic) RequestHead(d *config.Deployment, ep Endpoint, _ string) (RequestHead, error) {
	if d.APIBase == nil {
		return RequestHead{}, fmt.Errorf("deployment %s has no api_base", d.ID)
	}
	if ep == geminiModels {
		return RequestHead{}, fmt.Errorf("health probes of Vertex AI deployments are not supported yet")
	}
	// The stream method until the body says the client does not stream
	// (UpstreamPath), as for Gemini on Vertex AI.
	h := RequestHead{Path: vertexPublisherPath(d, "anthropic", vertexStreamRawPredict), Authority: d.APIBase.Host}
	if ep != ChatCompletions {
		return h, nil // refused with a 400 by RequestBody, without a token
	}
	h.Set = []Header{
		{Key: "content-type", Value: "application/json"},
		// llmvoy reads and rewrites the answer (see anthropic).
		{Key: "accept-encoding", Value: "identity"},
	}
	h.Token = GoogleToken
	return h, nil
}

func (vertexAnthropic) RequestBody(d *config.Deployment, ep Endpoint, body []byte) ([]byte, ResponseTranslator, error) {
	out, resp, stream, err := anthropicChatBody(d, ep, body, "", vertexAnthropicVersion)
	if err != nil {
		return nil, nil, err
	}
	method := vertexStreamRawPredict
	if !stream {
		method = vertexRawPredict
	}
	return out, &vertexAnthropicResponse{anthropicResponse: resp, path: vertexPublisherPath(d, "anthropic", method)}, nil
}

// TranslatesResponses is true: every answer is Anthropic's.
func (vertexAnthropic) TranslatesResponses(*config.Deployment) bool { return true }

// vertexAnthropicResponse is an Anthropic answer that came by Vertex AI's
// method for the request.
type vertexAnthropicResponse struct {
	*anthropicResponse
	path string
}

var _ PathOverrider = (*vertexAnthropicResponse)(nil)

func (r *vertexAnthropicResponse) UpstreamPath() string { return r.path }
