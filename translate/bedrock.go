package translate

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/credentials"
	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// bedrock speaks Amazon Bedrock's Converse API (LiteLLM's "bedrock/"
// prefix): a chat completion becomes POST {api_base}/model/{modelId}/converse,
// or /converse-stream for a client that streams, whose answer is AWS's
// binary event stream; embeddings become POST .../model/{modelId}/invoke
// in the model family's body (bedrock_embeddings.go). Every attempt is signed with AWS SigV4 over the body
// actually sent, so the signature is made in the body phase and reaches the
// upstream processor through HeaderOverrider, with the stream path through
// PathOverrider.
type bedrock struct{}

var _ Translator = bedrock{}

func init() { register(config.APIBedrock, bedrock{}) }

// bedrockService is the SigV4 signing name of the Bedrock runtime.
const bedrockService = "bedrock"

// Converse API operations, the last segment of the path.
const (
	bedrockConverse       = "converse"
	bedrockConverseStream = "converse-stream"
)

// bedrockNow is the clock for signatures and the "created" of translated
// responses; tests fix it.
var bedrockNow = time.Now

// bedrockNewID makes the id of a translated response: Converse answers
// carry none, so llmvoy makes one up in OpenAI's form, as LiteLLM does.
// Tests fix it.
var bedrockNewID = func() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "chatcmpl-" + hex.EncodeToString(b[:])
}

func (bedrock) RequestHead(d *config.Deployment, ep Endpoint, _ string) (RequestHead, error) {
	if d.APIBase == nil {
		return RequestHead{}, fmt.Errorf("deployment %s has no api_base", d.ID)
	}
	if ep == "/models" {
		// The health probe is a GET without a body; the runtime API has
		// nothing to GET (listing models is the control plane's, on
		// another host with another IAM action).
		return RequestHead{}, fmt.Errorf("health probes of Bedrock deployments are not supported yet")
	}
	// The path is the non-streaming one until the body says otherwise
	// (UpstreamPath); the client's query string means nothing to AWS.
	op := bedrockConverse
	if ep == Embeddings {
		op = bedrockInvoke
	}
	return RequestHead{
		Path:      bedrockPath(d, op),
		Authority: bedrockAuthority(d.APIBase),
		Set: []Header{
			{Key: "content-type", Value: "application/json"},
			// llmvoy reads and rewrites the answer: it must not come
			// back compressed.
			{Key: "accept-encoding", Value: "identity"},
		},
	}, nil
}

// TranslatesResponses is true: Bedrock never answers in OpenAI's format.
func (bedrock) TranslatesResponses(*config.Deployment) bool { return true }

// RequestBody translates a chat completion into a Converse request, or
// embeddings into an InvokeModel request (bedrock_embeddings.go), and
// signs it for d.
func (bedrock) RequestBody(d *config.Deployment, ep Endpoint, body []byte) ([]byte, ResponseTranslator, error) {
	if d.APIBase == nil {
		return nil, nil, fmt.Errorf("deployment %s has no api_base", d.ID)
	}
	switch ep {
	case ChatCompletions:
	case Embeddings:
		return bedrockEmbeddingsRequest(d, body)
	default:
		return nil, nil, fmt.Errorf("%w: deployment %s speaks Amazon Bedrock's Converse and InvokeModel APIs, which serve /chat/completions and /embeddings only, not %s", ErrBadRequest, d.ID, ep)
	}
	req, err := bedrockTranslateRequest(body, bedrockModelID(d.UpstreamModel))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	out, err := jsonscan.Marshal(req.out)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	op := bedrockConverse
	if req.stream {
		op = bedrockConverseStream
	}
	now := bedrockNow()
	r := &bedrockResponse{
		includeUsage: req.includeUsage,
		jsonMode:     req.jsonMode,
		id:           bedrockNewID(),
		model:        d.UpstreamModel,
		created:      now.Unix(),
		path:         bedrockPath(d, op),
	}
	if r.headers, err = bedrockSign(d, r.path, out, now); err != nil {
		return nil, nil, fmt.Errorf("deployment %s: sign the request: %w", d.ID, err)
	}
	return out, r, nil
}

// bedrockModelID is the model id to put in the path: LiteLLM's routing
// prefixes (bedrock/converse/..., bedrock/invoke/...) pick an API in
// LiteLLM and are not part of it. llmvoy always speaks Converse.
func bedrockModelID(model string) string {
	for _, route := range []string{"converse/", "invoke/"} {
		model = strings.TrimPrefix(model, route)
	}
	return model
}

// bedrockPath is {api_base path}/model/{modelId}/{op}. The model id is
// escaped whole, ':' and '/' included (inference profile ARNs have both),
// as AWS's SDKs escape a path label.
func bedrockPath(d *config.Deployment, op string) string {
	return strings.TrimSuffix(d.APIBase.EscapedPath(), "/") + "/model/" + bedrockEscape(bedrockModelID(d.UpstreamModel)) + "/" + op
}

// bedrockEscape percent-encodes every byte but RFC 3986's unreserved ones.
func bedrockEscape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// bedrockAuthority is the host[:port] llmvoy sends and signs: the
// api_base's, without a port that is the scheme's default (the signer
// leaves such a port out of the signed host, so the request must too).
func bedrockAuthority(u *url.URL) string {
	host, port := u.Host, u.Port()
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		host = strings.TrimSuffix(host, ":"+port)
	}
	return host
}

// bedrockSign returns the headers of a signed POST of body to path: the
// authority signed for, then the SigV4 headers (none without credentials).
func bedrockSign(d *config.Deployment, path string, body []byte, now time.Time) ([]Header, error) {
	authority := bedrockAuthority(d.APIBase)
	signed, err := credentials.SigV4(d.AWS, bedrockService, d.APIBase.Scheme, authority, path, body, now)
	if err != nil {
		return nil, err
	}
	headers := make([]Header, 0, 1+len(signed))
	headers = append(headers, Header{Key: ":authority", Value: authority})
	for _, h := range signed {
		headers = append(headers, Header(h))
	}
	return headers, nil
}
