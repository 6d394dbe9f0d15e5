package translate

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/llmvoy/llmvoy/config"
)

// AzureDefaultAPIVersion is the api-version sent to an Azure OpenAI
// deployment without litellm_params.api_version: LiteLLM's
// litellm.AZURE_DEFAULT_API_VERSION. (LiteLLM reads AZURE_API_VERSION from
// its environment first; in llmvoy write api_version:
// os.environ/AZURE_API_VERSION for that.)
const AzureDefaultAPIVersion = "2025-02-01-preview"

// azure speaks Azure OpenAI. The body is OpenAI's, "model" included (Azure
// ignores it; LiteLLM sends the deployment name there and so does llmvoy),
// and the deployment is picked by the path:
//
//	{api_base}/openai/deployments/{deployment}/chat/completions?api-version=V   "api-key: KEY"
//
// api_version v1, latest or preview selects the v1 API, which LiteLLM calls
// with the plain OpenAI client (no api-version, the key as a bearer token):
//
//	{api_base}/openai/v1/chat/completions   "Authorization: Bearer KEY"
//
// Responses are OpenAI's, except that Azure's content-filter errors are
// rewritten into OpenAI's content_policy_violation (see azureResponse).
type azure struct{}

var _ Translator = azure{}

func init() { register(config.APIAzure, azure{}) }

func (azure) RequestHead(d *config.Deployment, ep Endpoint, rawQuery string) (RequestHead, error) {
	version := azureAPIVersion(d)
	v1 := azureV1(version)
	base := strings.TrimRight(d.APIBase.EscapedPath(), "/")
	var path string
	switch {
	case v1:
		path = azureResourcePath(base) + "/openai/v1" + string(ep)
	case ep == modelsEndpoint:
		// The health probe lists models: a resource's, not a deployment's
		// (Azure's "Models - List", GET /openai/models?api-version=V).
		path = azureResourcePath(base) + "/openai" + string(ep)
	case strings.Contains(base, "/openai/deployments/"):
		// The base already names the deployment; LiteLLM hands such a base
		// to the OpenAI SDK as base_url, which then adds only the endpoint.
		path = base + string(ep)
	default:
		path = azureResourcePath(base) + "/openai/deployments/" + url.PathEscape(azureDeployment(d)) + string(ep)
	}

	baseQuery := d.APIBase.RawQuery
	var q string
	if !v1 && !hasQueryKey(baseQuery, "api-version") {
		q = "api-version=" + url.QueryEscape(version)
	}
	// The deployment decides the api-version: a client's would contradict it.
	q = joinQuery(joinQuery(q, baseQuery), dropQueryKey(rawQuery, "api-version"))
	if q != "" {
		path += "?" + q
	}

	h := RequestHead{Path: path, Authority: d.APIBase.Host}
	// An Entra ID token goes before a key, as the Azure OpenAI SDK sends
	// it when given both.
	switch token, key := d.AzureADToken.Reveal(), d.APIKey.Reveal(); {
	case token != "":
		h.Set = append(h.Set, Header{Key: "authorization", Value: "Bearer " + token})
	case key != "" && v1:
		h.Set = append(h.Set, Header{Key: "authorization", Value: "Bearer " + key})
	case key != "":
		h.Set = append(h.Set, Header{Key: "api-key", Value: key})
	}
	return h, nil
}

func (azure) RequestBody(d *config.Deployment, ep Endpoint, body []byte) ([]byte, ResponseTranslator, error) {
	out, err := rewriteModel(azureBodyDeployment(d), body)
	if err != nil {
		return nil, nil, err
	}
	// Embeddings are not content-filtered: their answer passes through, at
	// the cost of the response-headers round trip already asked for. Nor is
	// speech, whose answer is audio to pass on untouched.
	if ep == Embeddings || ep == AudioSpeech {
		return out, nil, nil
	}
	return out, &azureResponse{}, nil
}

// TranslatesResponses is true: a content-filter error must reach the client
// as OpenAI's content_policy_violation, and which answer is an error shows
// only in the response.
func (azure) TranslatesResponses(*config.Deployment) bool { return true }

func azureAPIVersion(d *config.Deployment) string {
	if d.APIVersion != "" {
		return d.APIVersion
	}
	return AzureDefaultAPIVersion
}

// modelsEndpoint is what the health probe asks RequestHead for.
const modelsEndpoint Endpoint = "/models"

// azureV1 reports whether api_version selects Azure's v1 API. LiteLLM's
// BaseAzureLLM._is_azure_v1_api_version: "v1", "latest" or "preview".
func azureV1(version string) bool {
	return version == "v1" || version == "latest" || version == "preview"
}

// azureResourcePath is the api_base path without the "/openai" part users
// sometimes copy from the portal: "/openai", "/openai/v1" or
// "/openai/deployments/NAME" would otherwise be doubled.
func azureResourcePath(base string) string {
	if i := strings.Index(base, "/openai/deployments/"); i >= 0 {
		return base[:i]
	}
	base = strings.TrimSuffix(base, "/openai/v1")
	return strings.TrimSuffix(base, "/openai")
}

// azureRoutePrefixes are LiteLLM's routing prefixes for Azure deployment
// names ("azure/o_series/my-o3"): they pick a transformation in LiteLLM and
// are not part of the deployment's name.
var azureRoutePrefixes = []string{"o_series/", "gpt5_series/"}

// azureDeployment is the Azure deployment name: the upstream model without
// LiteLLM's routing prefix.
func azureDeployment(d *config.Deployment) string {
	for _, p := range azureRoutePrefixes {
		if name, ok := strings.CutPrefix(d.UpstreamModel, p); ok && name != "" {
			return name
		}
	}
	return d.UpstreamModel
}

// azureBodyDeployment is d, or a copy whose upstream model is the bare
// deployment name, for rewriteModel.
func azureBodyDeployment(d *config.Deployment) *config.Deployment {
	name := azureDeployment(d)
	if name == d.UpstreamModel {
		return d
	}
	c := *d
	c.UpstreamModel = name
	return &c
}

// hasQueryKey reports whether a raw query has key (unescaped, as sent).
func hasQueryKey(rawQuery, key string) bool {
	for part := range strings.SplitSeq(rawQuery, "&") {
		if k, _, _ := strings.Cut(part, "="); k == key {
			return true
		}
	}
	return false
}

// dropQueryKey removes key from a raw query, keeping the rest as sent.
func dropQueryKey(rawQuery, key string) string {
	if !hasQueryKey(rawQuery, key) {
		return rawQuery
	}
	var kept []string
	for part := range strings.SplitSeq(rawQuery, "&") {
		if k, _, _ := strings.Cut(part, "="); k != key && part != "" {
			kept = append(kept, part)
		}
	}
	return strings.Join(kept, "&")
}

// azureResponse passes one Azure answer through unchanged, except a
// content-filter error, which becomes OpenAI's content_policy_violation so
// the OpenAI SDKs and LiteLLM-style content_policy_fallbacks recognize it.
// A completion cut by the filter (200, finish_reason "content_filter") is
// OpenAI's format already and passes through.
type azureResponse struct{}

var _ ResponseTranslator = (*azureResponse)(nil)

func (*azureResponse) Headers(status int, contentType string) (bool, []Header) {
	var set []Header
	if contentType != "" {
		set = []Header{{Key: "content-type", Value: contentType}}
	}
	// An SSE stream goes through chunk by chunk so it is not held back;
	// anything else is read whole (errors are small).
	stream := status < 300 && isEventStream(contentType)
	return stream, set
}

func (*azureResponse) Body(status int, body []byte) ([]byte, error) {
	if status < 400 || status > 499 {
		return body, nil
	}
	if out, ok := azureContentPolicyError(body); ok {
		return out, nil
	}
	return body, nil
}

func (*azureResponse) Chunk(data []byte, _ bool) ([]byte, error) { return data, nil }

func isEventStream(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "text/event-stream")
}

// azureError is the error object of an Azure error body. Azure's content
// filter answers 400 with
//
//	{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy. ...",
//	  "type":null,"param":"prompt","code":"content_filter","status":400,
//	  "innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":true,"severity":"high"},...}}}}
type azureError struct {
	Message    string          `json:"message"`
	Param      json.RawMessage `json:"param"`
	Code       json.RawMessage `json:"code"`
	InnerError json.RawMessage `json:"innererror"`
}

// contentPolicyMessages are the messages LiteLLM's
// ExceptionCheckers.is_azure_content_policy_violation_error recognizes
// (lowercased); the codes below catch the same errors structurally.
var contentPolicyMessages = []string{
	"content_policy_violation",
	"responsibleaipolicyviolation",
	"the response was filtered due to the prompt triggering azure openai's content management",
	"your task failed as a result of our safety system",
	"the model produced invalid content",
	"content_filter_policy",
	"your request was rejected as a result of our safety system",
}

// azureContentPolicyError rewrites an Azure content-filter error into
// OpenAI's shape with code "content_policy_violation" (the code OpenAI uses
// for its own safety rejections), keeping Azure's message, param and
// innererror (which category fired). ok is false for any other body.
func azureContentPolicyError(body []byte) ([]byte, bool) {
	var wire struct {
		Error *azureError `json:"error"`
	}
	if json.Unmarshal(body, &wire) != nil || wire.Error == nil {
		return nil, false
	}
	e := wire.Error
	var code string
	_ = json.Unmarshal(e.Code, &code)
	var inner struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(e.InnerError, &inner)
	switch {
	case code == "content_filter", code == "content_policy_violation",
		inner.Code == "ResponsibleAIPolicyViolation":
	case containsAny(strings.ToLower(e.Message), contentPolicyMessages):
	default:
		return nil, false
	}

	out := openAIError{Message: e.Message, Type: "invalid_request_error", Param: e.Param, Code: "content_policy_violation"}
	if len(out.Param) == 0 {
		out.Param = json.RawMessage("null")
	}
	if len(e.InnerError) > 0 && string(e.InnerError) != "null" {
		out.InnerError = e.InnerError
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(struct {
		Error openAIError `json:"error"`
	}{out}) != nil {
		return nil, false
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), true
}

// openAIError is OpenAI's error object, with Azure's innererror kept.
type openAIError struct {
	Message    string          `json:"message"`
	Type       string          `json:"type"`
	Param      json.RawMessage `json:"param"`
	Code       string          `json:"code"`
	InnerError json.RawMessage `json:"innererror,omitempty"`
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
