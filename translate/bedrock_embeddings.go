package translate

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// OpenAI embeddings → Bedrock's InvokeModel (POST /model/{modelId}/invoke)
// in the model family's own body, as LiteLLM's bedrock/embed handlers build
// it:
//
//   - Amazon Titan Text Embeddings (amazon.titan-embed-text-v1,
//     amazon.titan-embed-g1-text-02, amazon.titan-embed-text-v2:0):
//     {"inputText", "dimensions" (v2), "normalize" (v2)} →
//     {"embedding", "inputTextTokenCount"}. One text per call: LiteLLM
//     makes a call per input, which an attempt (one upstream request)
//     cannot, so a list of more than one text is a 400.
//   - Cohere Embed (cohere.embed-english-v3, cohere.embed-multilingual-v3,
//     cohere.embed-v4:0): {"texts", "input_type", "truncate",
//     "output_dimension" (v4)} → {"embeddings": [[...]] or {"float":
//     [[...]]}, ...}. input_type defaults to search_document, LiteLLM's
//     COHERE_DEFAULT_EMBEDDING_INPUT_TYPE.
//
// encoding_format base64 is produced here from the floats (LiteLLM asks
// Titan for its "binary" embeddings instead, which are not OpenAI's
// base64 floats).

// bedrockInvoke is InvokeModel's operation, the last segment of its path.
const bedrockInvoke = "invoke"

type bedrockEmbedFamily int

const (
	bedrockTitanV1 bedrockEmbedFamily = iota + 1
	bedrockTitanV2
	bedrockCohere
)

// bedrockEmbeddingFamily tells the model family from the model id, which
// may carry a cross-region prefix (us., eu., ...) or be a foundation model
// ARN. An application inference profile's ARN names no model: llmvoy
// cannot tell its body format.
func bedrockEmbeddingFamily(modelID string) bedrockEmbedFamily {
	switch {
	case strings.Contains(modelID, "amazon.titan-embed-text-v2"):
		return bedrockTitanV2
	case strings.Contains(modelID, "amazon.titan-embed-text-v1"), strings.Contains(modelID, "amazon.titan-embed-g1-text"):
		return bedrockTitanV1
	case strings.Contains(modelID, "cohere.embed"):
		return bedrockCohere
	}
	return 0
}

type bedrockTitanEmbedRequest struct {
	InputText  string `json:"inputText"`
	Dimensions *int64 `json:"dimensions,omitempty"`
	Normalize  *bool  `json:"normalize,omitempty"`
}

type bedrockCohereEmbedRequest struct {
	Texts           []string `json:"texts"`
	InputType       string   `json:"input_type"`
	Truncate        string   `json:"truncate,omitempty"`
	OutputDimension *int64   `json:"output_dimension,omitempty"`
}

// bedrockEmbeddingsRequest translates an embeddings request for d and
// signs it.
func bedrockEmbeddingsRequest(d *config.Deployment, body []byte) ([]byte, ResponseTranslator, error) {
	modelID := bedrockModelID(d.UpstreamModel)
	family := bedrockEmbeddingFamily(modelID)
	if family == 0 {
		return nil, nil, fmt.Errorf("%w: deployment %s: llmvoy sends /v1/embeddings to Bedrock's Amazon Titan Text Embeddings (amazon.titan-embed-text-*) and Cohere Embed (cohere.embed-*) models only, and cannot tell the family of %q", ErrBadRequest, d.ID, modelID)
	}
	req, err := parseEmbeddingsRequest(body, "Bedrock")
	if err != nil {
		return nil, nil, err
	}
	r := &bedrockEmbeddingsResponse{
		family: family,
		model:  d.UpstreamModel,
		base64: req.EncodingFormat == "base64",
		texts:  len(req.inputs),
		path:   bedrockPath(d, bedrockInvoke),
	}
	var payload any
	switch family {
	case bedrockTitanV1, bedrockTitanV2:
		if len(req.inputs) != 1 {
			return nil, nil, fmt.Errorf("%w: input: Amazon Titan embeddings take one text per request (Bedrock's InvokeModel embeds one inputText), got %d; send one request per text, or use a Cohere Embed deployment for batches", ErrBadRequest, len(req.inputs))
		}
		t := bedrockTitanEmbedRequest{InputText: req.inputs[0]}
		if family == bedrockTitanV1 && (req.Dimensions != nil || req.Normalize != nil) {
			return nil, nil, fmt.Errorf("%w: dimensions and normalize are not supported by %s (Titan Text Embeddings v1 has 1536 fixed dimensions); use amazon.titan-embed-text-v2:0", ErrBadRequest, modelID)
		}
		t.Dimensions, t.Normalize = req.Dimensions, req.Normalize
		payload = t
	case bedrockCohere:
		c := bedrockCohereEmbedRequest{Texts: req.inputs, InputType: req.InputType, Truncate: req.Truncate}
		if c.InputType == "" {
			c.InputType = "search_document"
		}
		if req.Dimensions != nil {
			if strings.Contains(modelID, "-v3") {
				return nil, nil, fmt.Errorf("%w: dimensions: Cohere Embed v3 (%s) has 1024 fixed dimensions; output_dimension needs Cohere Embed v4", ErrBadRequest, modelID)
			}
			c.OutputDimension = req.Dimensions
		}
		r.promptEstimate = estimateTokens(req.inputs)
		payload = c
	}
	out, err := jsonscan.Marshal(payload)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if r.headers, err = bedrockSign(d, r.path, out, bedrockNow()); err != nil {
		return nil, nil, fmt.Errorf("deployment %s: sign the request: %w", d.ID, err)
	}
	return out, r, nil
}

// bedrockEmbeddingsResponse is one embeddings attempt on a Bedrock
// deployment: the signed request's path and headers, and the translation
// of its answer.
type bedrockEmbeddingsResponse struct {
	family bedrockEmbedFamily
	model  string
	base64 bool
	texts  int // how many embeddings the answer must carry
	// promptEstimate is the prompt tokens for Cohere, whose answer on
	// Bedrock counts none (Bedrock puts them in a header, which
	// translators do not see).
	promptEstimate int64

	path    string
	headers []Header
	status  int // a status the body says the client must see instead; 0: keep
}

var (
	_ ResponseTranslator = (*bedrockEmbeddingsResponse)(nil)
	_ PathOverrider      = (*bedrockEmbeddingsResponse)(nil)
	_ HeaderOverrider    = (*bedrockEmbeddingsResponse)(nil)
	_ StatusOverrider    = (*bedrockEmbeddingsResponse)(nil)
)

func (r *bedrockEmbeddingsResponse) UpstreamPath() string      { return r.path }
func (r *bedrockEmbeddingsResponse) UpstreamHeaders() []Header { return r.headers }
func (r *bedrockEmbeddingsResponse) BodyStatus() int           { return r.status }

func (r *bedrockEmbeddingsResponse) Headers(status int, _ string) (bool, []Header) {
	set := []Header{{Key: "content-type", Value: "application/json"}}
	if status == http.StatusFailedDependency {
		// ModelErrorException, a server error as for chat.
		set = append(set, Header{Key: ":status", Value: "500"})
	}
	return false, set
}

func (r *bedrockEmbeddingsResponse) Body(status int, body []byte) ([]byte, error) {
	if status < 200 || status >= 300 {
		out, st := bedrockError(status, "", body)
		if st != status {
			r.status = st
		}
		return out, nil
	}
	if r.family == bedrockCohere {
		return r.cohere(body)
	}
	return r.titan(body)
}

func (r *bedrockEmbeddingsResponse) titan(body []byte) ([]byte, error) {
	var resp struct {
		Embedding           []json.Number `json:"embedding"`
		InputTextTokenCount *json.Number  `json:"inputTextTokenCount"`
		EmbeddingsByType    struct {
			Float []json.Number `json:"float"`
		} `json:"embeddingsByType"`
	}
	if err := decodeNumbers(body, &resp); err != nil {
		return nil, fmt.Errorf("bedrock titan embeddings response: %v", err)
	}
	v := resp.Embedding
	if v == nil {
		v = resp.EmbeddingsByType.Float
	}
	if v == nil {
		return nil, fmt.Errorf("bedrock titan embeddings response: no embedding")
	}
	tokens, err := bedrockTokenCount(resp.InputTextTokenCount)
	if err != nil {
		return nil, fmt.Errorf("bedrock titan embeddings response: inputTextTokenCount: %v", err)
	}
	return openAIEmbeddingList(r.model, [][]json.Number{v}, r.base64, tokens)
}

func (r *bedrockEmbeddingsResponse) cohere(body []byte) ([]byte, error) {
	var resp struct {
		Embeddings json.RawMessage `json:"embeddings"`
		Meta       struct {
			BilledUnits struct {
				InputTokens *json.Number `json:"input_tokens"`
			} `json:"billed_units"`
		} `json:"meta"`
	}
	if err := decodeNumbers(body, &resp); err != nil {
		return nil, fmt.Errorf("bedrock cohere embeddings response: %v", err)
	}
	// embeddings_floats: a list of vectors; embeddings_by_type: vectors
	// by type, of which llmvoy asks for and reads float.
	var vectors [][]json.Number
	var byType struct {
		Float [][]json.Number `json:"float"`
	}
	switch {
	case decodeNumbers(resp.Embeddings, &vectors) == nil && vectors != nil:
	case decodeNumbers(resp.Embeddings, &byType) == nil && byType.Float != nil:
		vectors = byType.Float
	default:
		return nil, fmt.Errorf("bedrock cohere embeddings response: embeddings: want a list of float vectors or {\"float\": [...]}")
	}
	if len(vectors) != r.texts {
		return nil, fmt.Errorf("bedrock cohere embeddings response: %d embeddings for %d texts", len(vectors), r.texts)
	}
	tokens := r.promptEstimate
	if n := resp.Meta.BilledUnits.InputTokens; n != nil {
		var err error
		if tokens, err = bedrockTokenCount(n); err != nil {
			return nil, fmt.Errorf("bedrock cohere embeddings response: meta.billed_units.input_tokens: %v", err)
		}
	}
	return openAIEmbeddingList(r.model, vectors, r.base64, tokens)
}

func (r *bedrockEmbeddingsResponse) Chunk(data []byte, _ bool) ([]byte, error) { return data, nil }

// bedrockTokenCount reads a count that must be a non-negative integer (0
// when absent).
func bedrockTokenCount(n *json.Number) (int64, error) {
	if n == nil {
		return 0, nil
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f != math.Trunc(f) || f > 1<<53 {
		return 0, fmt.Errorf("want a non-negative integer, got %s", *n)
	}
	return int64(f), nil
}
