package translate

import (
	"net/url"
	"slices"
	"strings"

	"github.com/llmvoy/llmvoy/config"
)

// azureAI speaks Azure AI Foundry and the serverless (MaaS) endpoints, which
// take OpenAI's body as is. It follows LiteLLM's AzureAIStudioConfig for chat
// completions:
//
//   - the key goes in "api-key" when the api_base host ends in
//     .services.ai.azure.com or .openai.azure.com, else in
//     "Authorization: Bearer";
//   - a *.services.ai.azure.com base gets the model inference route
//     /models/chat/completions, any other base /chat/completions; a path the
//     base already ends with is not repeated (LiteLLM's
//     _add_path_to_api_base);
//   - api-version is added only when litellm_params.api_version is set.
//
// Embeddings and text completions go, as in LiteLLM's azure_ai embedding
// handler, through the plain OpenAI client: {api_base}/embeddings with a
// bearer token.
type azureAI struct{}

var _ Translator = azureAI{}

func init() { register(config.APIAzureAI, azureAI{}) }

func (azureAI) RequestHead(d *config.Deployment, ep Endpoint, rawQuery string) (RequestHead, error) {
	if ep != ChatCompletions {
		return openAI{}.RequestHead(d, ep, rawQuery)
	}
	host := strings.ToLower(d.APIBase.Hostname())
	route := string(ep)
	if strings.HasSuffix(host, ".services.ai.azure.com") {
		route = "/models" + route
	}
	h := RequestHead{Path: addPathOnce(d.APIBase.EscapedPath(), route), Authority: d.APIBase.Host}

	baseQuery := d.APIBase.RawQuery
	var q string
	if d.APIVersion != "" && !hasQueryKey(baseQuery, "api-version") {
		q = "api-version=" + url.QueryEscape(d.APIVersion)
	}
	if q = joinQuery(q, baseQuery); hasQueryKey(q, "api-version") {
		rawQuery = dropQueryKey(rawQuery, "api-version")
	}
	if q = joinQuery(q, rawQuery); q != "" {
		h.Path += "?" + q
	}

	if key := d.APIKey.Reveal(); key != "" {
		if strings.HasSuffix(host, ".services.ai.azure.com") || strings.HasSuffix(host, ".openai.azure.com") {
			h.Set = append(h.Set, Header{Key: "api-key", Value: key})
		} else {
			h.Set = append(h.Set, Header{Key: "authorization", Value: "Bearer " + key})
		}
	}
	return h, nil
}

func (azureAI) RequestBody(d *config.Deployment, _ Endpoint, body []byte) ([]byte, ResponseTranslator, error) {
	out, err := rewriteModel(d, body)
	return out, nil, err
}

// TranslatesResponses is false: Foundry answers in OpenAI's format.
func (azureAI) TranslatesResponses(*config.Deployment) bool { return false }

// addPathOnce appends route to an escaped base path, except for the part of
// route the base already ends with: "/models" + "/models/chat/completions"
// is "/models/chat/completions". The longest overlap wins, as in LiteLLM's
// _add_path_to_api_base.
func addPathOnce(base, route string) string {
	bs := pathSegments(base)
	rs := pathSegments(route)
	for i := range bs {
		tail := bs[i:]
		if len(tail) <= len(rs) && slices.Equal(tail, rs[:len(tail)]) {
			return "/" + strings.Join(append(bs[:i:i], rs...), "/")
		}
	}
	return "/" + strings.Join(append(bs, rs...), "/")
}

func pathSegments(p string) []string {
	var out []string
	for s := range strings.SplitSeq(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
