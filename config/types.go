// Package config is the in-memory model of a LiteLLM proxy config.yaml: it parses
// the file strictly, resolves os.environ/ references, derives each deployment's
// provider, upstream model, api_base and id, and validates the result with errors
// that name the file and the path to the offending key.
//
// It is a leaf package: xds and extproc both read a *Config and nothing here
// imports them.
package config

import (
	"net/url"
	"slices"
	"time"
)

// Config is one loaded, validated config file. Treat it as immutable once Load
// returns: readers share it across goroutines and a reload builds a new one.
type Config struct {
	// Path is the file the config was read from ("" when parsed from bytes).
	Path string

	// Deployments in file order. Several deployments share one ModelName
	// (a model group).
	Deployments []*Deployment

	Router  RouterSettings
	General GeneralSettings
	// Callbacks are litellm_settings' success_callback, failure_callback
	// and callbacks, with their variables.
	Callbacks Callbacks
	// Cache is the response cache (config/cache.go); nil when off.
	Cache *CacheSettings
	// Environment holds environment_variables from the file, as LiteLLM
	// exports them (str() of each value). They resolve os.environ/ references
	// ahead of the process environment. Secret, because they often are API keys.
	Environment map[string]Secret
	// PassThrough are the pass-through routes: the provider routes
	// (/anthropic, /gemini, ...) that have a deployment, then
	// general_settings.pass_through_endpoints (see passthrough.go).
	PassThrough []*PassThrough

	// DeploymentGroups are the deployment ids a fallback chain names:
	// LiteLLM lets a fallback name one deployment by its model_info.id.
	// Each is a model group of that one deployment too (Group), not a name
	// Groups lists (nor /v1/models).
	DeploymentGroups []string

	// byID maps an id to its index in Deployments, built by index(). Not
	// pointers: fmt prints unexported fields without their methods, and a
	// Deployment holds a Secret.
	byID map[string]int
}

// Wire APIs a provider can speak.
const (
	// APIOpenAI is OpenAI's REST API (and every OpenAI-compatible server):
	// POST {api_base}/chat/completions with "Authorization: Bearer KEY".
	APIOpenAI = "openai"
	// APIAnthropic is Anthropic's Messages API: POST {api_base}/v1/messages
	// with "x-api-key: KEY" and "anthropic-version".
	APIAnthropic = "anthropic"
	// APIGemini is Google's Gemini API (AI Studio): POST {api_base}/v1beta/
	// models/{model}:generateContent (or :streamGenerateContent?alt=sse)
	// with "x-goog-api-key: KEY".
	APIGemini = "gemini"
	// APIAzure is Azure OpenAI: POST {api_base}/openai/deployments/{model}/
	// chat/completions?api-version=V with "api-key: KEY", or the v1 API
	// (api_version v1, latest, preview) under {api_base}/openai/v1.
	APIAzure = "azure"
	// APIAzureAI is Azure AI Foundry and serverless endpoints: OpenAI's
	// format, with "api-key" on *.services.ai.azure.com and
	// *.openai.azure.com hosts and "Authorization: Bearer" elsewhere.
	APIAzureAI = "azure_ai"
	// APIBedrock is Amazon Bedrock's Converse API: POST {api_base}/model/
	// {modelId}/converse (or /converse-stream), signed with AWS SigV4.
	APIBedrock = "bedrock"
	// APIVertex is Gemini on Google Cloud's Vertex AI: POST {api_base}/v1/
	// projects/{project}/locations/{location}/publishers/google/models/
	// {model}:generateContent (or :streamGenerateContent?alt=sse) with
	// "Authorization: Bearer" and an OAuth access token of the deployment's
	// Google credentials. The body is Gemini's.
	APIVertex = "vertex"
	// APIVertexAnthropic is Anthropic's Claude on Vertex AI (vertex_ai/claude-*):
	// POST {api_base}/v1/projects/{project}/locations/{location}/publishers/
	// anthropic/models/{model}:rawPredict (or :streamRawPredict), a Messages
	// body without model and with anthropic_version, authenticated as
	// APIVertex is.
	APIVertexAnthropic = "vertex_anthropic"
)

// Deployment is one entry of model_list: a model served by one provider
// endpoint with one set of credentials.
type Deployment struct {
	// ID is model_info.id, or LiteLLM's hash of model_name and litellm_params
	// when unset, so ids match what LiteLLM reports for the same file.
	// Unique within a Config.
	ID string
	// ModelName is the model group clients ask for.
	ModelName string
	// Provider is custom_llm_provider, else the LiteLLM provider prefix of
	// litellm_params.model ("openai", "deepseek", "mock", ...), else the
	// provider LiteLLM infers from the model name (gpt-4o → openai).
	Provider string
	// API is the wire format the provider speaks (one of the API* constants);
	// the translate package picks its translator by it. Empty for a provider
	// LiteLLM has and llmvoy does not support yet: do not route to it.
	API string
	// UpstreamModel is the model name sent to the provider: litellm_params.model
	// without its provider prefix.
	UpstreamModel string
	// APIBase is litellm_params.api_base (trailing slash trimmed) or the
	// provider's default base; "/chat/completions" is appended to it. Nil
	// only when API is empty and the file sets none.
	APIBase *url.URL
	// APIKey is the resolved credential; empty means send none.
	APIKey Secret
	// APIVersion is litellm_params.api_version (Azure and friends).
	APIVersion string

	// AWS holds the credentials and region AWS providers (Bedrock) sign
	// requests with.
	AWS AWSCredentials

	// Vertex holds the project, location and credentials of Vertex AI
	// deployments.
	Vertex VertexSettings

	Timeout             time.Duration // litellm_params.timeout; 0 = router default
	StreamTimeout       time.Duration // litellm_params.stream_timeout; 0 = Timeout
	Weight              float64       // litellm_params.weight; 0 = unset
	Order               int           // litellm_params.order; 0 = unset
	RPM                 int           // litellm_params.rpm, else rpm beside it; 0 = unset
	TPM                 int           // litellm_params.tpm, else tpm beside it; 0 = unset
	MaxParallelRequests int           // litellm_params.max_parallel_requests; 0 = unset

	// InputCostPerToken and OutputCostPerToken are litellm_params'
	// prices in USD; 0 = unset.
	InputCostPerToken, OutputCostPerToken float64

	// MaxInputTokens is model_info.max_input_tokens; 0 = unknown.
	MaxInputTokens int

	// UseInPassThrough is litellm_params.use_in_pass_through: the
	// provider's pass-through route calls this deployment.
	UseInPassThrough bool
	// Params are the request parameters litellm_params sets (temperature,
	// max_tokens, extra_body's fields, ...): defaults under the request's
	// own, as LiteLLM's Router merges them (config/params.go).
	Params map[string]any
	// DropParams is additional_drop_params: top-level request fields
	// removed before the deployment gets the request.
	DropParams []string
	// Headers are extra_headers (and organization's OpenAI-Organization),
	// names lowercased: added to every request to the deployment.
	Headers map[string]Secret
	// AzureADToken is azure_ad_token: an Azure deployment's Entra ID
	// token, sent as a bearer token (the SDK prefers it to api_key).
	AzureADToken Secret

	// Info is model_info as written (id included, os.environ/ references
	// unresolved), for /model/info.
	Info map[string]any
}

// AWSCredentials are litellm_params' aws_* keys, else the AWS_*
// environment variables.
type AWSCredentials struct {
	// Region is aws_region_name, else the region of an ARN model id, else
	// AWS_REGION_NAME, AWS_REGION or AWS_DEFAULT_REGION, else LiteLLM's
	// default us-west-2. Set for Bedrock deployments only.
	Region          string
	AccessKeyID     Secret
	SecretAccessKey Secret
	// SessionToken is set for temporary credentials (STS).
	SessionToken Secret
}

// VertexSettings are litellm_params' vertex_* keys, else LiteLLM's
// VERTEXAI_* environment variables.
type VertexSettings struct {
	// Project is vertex_project, else VERTEXAI_PROJECT, else the project
	// of the credentials.
	Project string
	// Location is vertex_location, else VERTEXAI_LOCATION, else
	// us-central1.
	Location string
	// Credentials is the JSON of a Google service account key (or of
	// gcloud's authorized user): vertex_credentials (the JSON itself or a
	// file holding it), else VERTEXAI_CREDENTIALS, else the file
	// GOOGLE_APPLICATION_CREDENTIALS names. Empty: Google's application
	// default credentials (gcloud's, or the metadata server's).
	Credentials Secret
}

// RouterSettings is router_settings.
type RouterSettings struct {
	// RoutingStrategy is one of the RoutingStrategy* constants; default
	// simple-shuffle.
	RoutingStrategy string
	// NumRetries is router_settings.num_retries, else litellm_settings.num_retries,
	// else 2: LiteLLM's Router falls back to openai.DEFAULT_MAX_RETRIES.
	NumRetries int
	// Timeout is the whole-request timeout: router_settings.timeout, else
	// litellm_settings.request_timeout. 0 = unset; LiteLLM then uses
	// litellm.request_timeout, 6000s.
	Timeout time.Duration
	// AllowedFails is the failures per minute before a cooldown:
	// router_settings.allowed_fails, else litellm_settings.allowed_fails, else 3.
	AllowedFails int
	// CooldownTime is router_settings.cooldown_time; default 5s (0 also means
	// the default, as in LiteLLM).
	CooldownTime time.Duration
	// DisableCooldowns is disable_cooldowns: failing deployments keep
	// getting traffic.
	DisableCooldowns bool

	// Fallbacks, ContextWindowFallbacks and ContentPolicyFallbacks map a
	// model group ("*" for any) to the groups tried after it failed;
	// DefaultFallbacks serves every group without generic fallbacks. Use
	// FallbackChain to read them.
	Fallbacks              map[string][]string
	ContextWindowFallbacks map[string][]string
	ContentPolicyFallbacks map[string][]string
	DefaultFallbacks       []string
	// MaxFallbacks bounds a chain; default 5.
	MaxFallbacks int

	// Aliases is model_group_alias: names clients may ask for instead of a
	// model group.
	Aliases map[string]Alias

	// StrategyArgs is routing_strategy_args.
	StrategyArgs StrategyArgs

	// Redis is where replicas share rpm/tpm counts and key limits.
	Redis RedisSettings

	// RetryPolicy is retry_policy: retries per error class (see Retries).
	RetryPolicy map[ErrorClass]int
	// AllowedFailsPolicy is allowed_fails_policy: failures per minute per
	// error class before a cooldown; a class it does not name gets
	// AllowedFails.
	AllowedFailsPolicy map[ErrorClass]int
	// RetryAfter is retry_after: the least time before a retry.
	RetryAfter time.Duration
	// EnablePreCallChecks is enable_pre_call_checks: a prompt too long for
	// every deployment of a group (model_info.max_input_tokens) takes the
	// group's context-window fallbacks before any call.
	EnablePreCallChecks bool
	// EnableStreamContinuation is llmvoy's enable_stream_continuation (no
	// LiteLLM equivalent): a chat completion stream cut after it began is
	// continued on another deployment of its group (package relay).
	EnableStreamContinuation bool
	// Hedging is model_group_hedging: the groups whose slow attempts are
	// raced by a second one (see Hedge), by name.
	Hedging map[string]Hedge
}

// ErrorClass is one of LiteLLM's error classes, as retry_policy and
// allowed_fails_policy name them (without their Retries/AllowedFails
// suffix).
type ErrorClass string

// Error classes, and the HTTP outcomes each covers.
const (
	ErrBadRequest             ErrorClass = "BadRequestError"             // 400
	ErrAuthentication         ErrorClass = "AuthenticationError"         // 401
	ErrTimeout                ErrorClass = "TimeoutError"                // 408, 504, no answer in time, connection failures
	ErrRateLimit              ErrorClass = "RateLimitError"              // 429
	ErrContentPolicyViolation ErrorClass = "ContentPolicyViolationError" // a 400 refusing the content
	ErrInternalServer         ErrorClass = "InternalServerError"         // other 5xx
)

// ErrorClasses lists the classes in LiteLLM's order.
var ErrorClasses = []ErrorClass{ErrBadRequest, ErrAuthentication, ErrTimeout, ErrRateLimit, ErrContentPolicyViolation, ErrInternalServer}

// Retries is how many retries an error class gets: retry_policy's count,
// else num_retries, except for the client's own errors (bad request,
// authentication, content policy), which LiteLLM retries only when
// retry_policy asks.
func (r *RouterSettings) Retries(c ErrorClass) int {
	if n, ok := r.RetryPolicy[c]; ok {
		return n
	}
	switch c {
	case ErrBadRequest, ErrAuthentication, ErrContentPolicyViolation:
		return 0
	}
	return r.NumRetries
}

// ClassOf is the error class of an upstream outcome: its HTTP status, 0 when
// the deployment gave none (timeout, reset, connection failure). "" for
// successes and statuses no class covers (404, 422, ...).
func ClassOf(status int) ErrorClass {
	switch {
	case status == 0, status == 408, status == 504:
		return ErrTimeout
	case status == 400:
		return ErrBadRequest
	case status == 401:
		return ErrAuthentication
	case status == 429:
		return ErrRateLimit
	case status >= 500:
		return ErrInternalServer
	}
	return ""
}

// RetriesFor is how many retries Envoy makes after an outcome: without a
// retry_policy, 5xx, 429 and no answer get num_retries (what LiteLLM
// retries); with one, each class its own count. A content-policy refusal
// is a 400 told apart only by its body, so it is never retried.
func (r *RouterSettings) RetriesFor(status int) int {
	if r.RetryPolicy == nil {
		if status == 0 || status >= 500 || status == 429 {
			return r.NumRetries
		}
		return 0
	}
	if c := ClassOf(status); c != "" {
		return r.Retries(c)
	}
	return 0
}

// MaxRetries is the most retries any error class gets: Envoy's retry count
// for a request.
func (r *RouterSettings) MaxRetries() int {
	n := r.NumRetries
	if r.RetryPolicy != nil {
		n = 0
		for _, c := range ErrorClasses {
			n = max(n, r.Retries(c))
		}
	}
	return n
}

// AllowedFailsFor is how many failures of a class a deployment may have in
// a minute before it cools down.
func (r *RouterSettings) AllowedFailsFor(c ErrorClass) int {
	if n, ok := r.AllowedFailsPolicy[c]; ok {
		return n
	}
	return r.AllowedFails
}

// EnforcesLimits reports whether the routing strategy keeps deployments
// within their rpm and tpm (usage- and cost-based routing do).
func (r *RouterSettings) EnforcesLimits() bool {
	switch r.RoutingStrategy {
	case RoutingUsageBased, RoutingUsageBasedV2, RoutingCostBased:
		return true
	}
	return false
}

// CountsTokens reports whether the tokens of a deployment's answers matter:
// it has a tpm limit that the routing strategy enforces.
func (r *RouterSettings) CountsTokens(d *Deployment) bool {
	return d.TPM > 0 && r.EnforcesLimits()
}

// StrategyArgs tune the latency-based strategy.
type StrategyArgs struct {
	// LowestLatencyBuffer: deployments within (1 + buffer) times the lowest
	// latency of their group share its traffic. Default 0.
	LowestLatencyBuffer float64
	// TTL is how long a latency sample counts; default 1h, as in LiteLLM.
	TTL time.Duration
}

// Routing strategies LiteLLM knows.
const (
	RoutingSimpleShuffle = "simple-shuffle"
	RoutingLeastBusy     = "least-busy"
	RoutingLatencyBased  = "latency-based-routing"
	RoutingUsageBased    = "usage-based-routing"
	RoutingUsageBasedV2  = "usage-based-routing-v2"
	RoutingCostBased     = "cost-based-routing"
)

// GeneralSettings is general_settings.
type GeneralSettings struct {
	// MasterKey guards the gateway when non-empty. Virtual keys need it:
	// it is what /key/generate and the other admin endpoints take.
	MasterKey Secret
	// DatabaseURL is general_settings.database_url (else $DATABASE_URL, as
	// LiteLLM reads it): a postgres:// URL for keys and spend. Empty means
	// the embedded SQLite file under the data directory.
	DatabaseURL Secret
	// AllowMockTesting is dangerously_allow_mock_testing_request_params:
	// requests may use LiteLLM's drill knobs (mock_testing_fallbacks,
	// mock_timeout, ...); without it they are refused.
	AllowMockTesting bool
	// DisableSpendLogs is disable_spend_logs: no per-request rows in
	// /spend/logs (key and global spend totals are still kept).
	DisableSpendLogs bool
	// StorePrompts is store_prompts_in_spend_logs: requests and answers
	// are written to the spend logs. Off by default: prompts and
	// completions are never stored or logged unless asked.
	StorePrompts bool
	// ForwardClientHeaders is forward_client_headers_to_llm_api: the
	// client's own x-* headers (and anthropic-beta) reach the providers of
	// every model group. ForwardClientHeadersGroups is LiteLLM's per-group
	// form, litellm_settings.model_group_settings.forward_client_headers_to_llm_api.
	// By default a provider gets only what its API needs (docs/security.md).
	ForwardClientHeaders       bool
	ForwardClientHeadersGroups map[string]bool
	// KeyHeader is litellm_key_header_name, lowercased: a header of the
	// operator's choosing the gateway key is read from first (when
	// Authorization belongs to something in front of the gateway). Never
	// sent to a provider.
	KeyHeader string
}

// ForwardsClientHeaders reports whether the client's own headers are passed
// on to the providers of a model group.
func (g *GeneralSettings) ForwardsClientHeaders(group string) bool {
	return g.ForwardClientHeaders || g.ForwardClientHeadersGroups[group]
}

// RedisSettings are router_settings.redis_*: where replicas share limits
// and usage. Empty Host and URL mean in-process only.
type RedisSettings struct {
	Host     string
	Port     int
	Password Secret
	// URL is redis_url (redis://[:password@]host:port[/db]); it wins over
	// Host, Port and Password, as in LiteLLM.
	URL Secret
}

// Enabled reports whether a Redis server is configured.
func (r RedisSettings) Enabled() bool { return r.Host != "" || r.URL != "" }

// Secret is a credential. Its String and GoString never show the value, so a
// secret that reaches a log line or an error by accident prints redacted.
type Secret string

// Reveal returns the secret's value; call it only where the value is sent.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

func (s Secret) GoString() string { return s.String() }

// Groups returns the model group names in order of first appearance.
func (c *Config) Groups() []string {
	seen := make(map[string]bool)
	var out []string
	for _, d := range c.Deployments {
		if !seen[d.ModelName] {
			seen[d.ModelName] = true
			out = append(out, d.ModelName)
		}
	}
	return out
}

// Group returns the deployments of one model group in file order; for
// one of DeploymentGroups, that deployment.
func (c *Config) Group(name string) []*Deployment {
	var out []*Deployment
	for _, d := range c.Deployments {
		if d.ModelName == name {
			out = append(out, d)
		}
	}
	if d := c.Deployment(name); len(out) == 0 && d != nil && slices.Contains(c.DeploymentGroups, name) {
		out = append(out, d)
	}
	return out
}

// Deployment returns the deployment with the given id, or nil. It is called
// once per upstream attempt, hence the index.
func (c *Config) Deployment(id string) *Deployment {
	if c.byID == nil {
		c.index()
	}
	i, ok := c.byID[id]
	if !ok {
		return nil
	}
	return c.Deployments[i]
}

// index builds the id lookup; Parse calls it before the Config is shared.
func (c *Config) index() {
	c.byID = make(map[string]int, len(c.Deployments))
	for i, d := range c.Deployments {
		c.byID[d.ID] = i
	}
}
