package admin

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/pricing"
)

// LiteLLM's model information endpoints, answered from the config and the
// built-in price table. They describe deployments, never their
// credentials: litellm_params are rebuilt from what routing reads (a list
// of fields known to be safe), not copied from the file.

// modelInfo answers /model/info, every deployment or one
// (?litellm_model_id=). A virtual key sees only the deployments of the
// model groups it may call, as in LiteLLM.
func (h *Handler) modelInfo(_ context.Context, r Request) (any, error) {
	cfg := h.Config
	redact := newRedactor(cfg)
	deployments := cfg.Deployments
	if id := r.Query.Get("litellm_model_id"); id != "" {
		d := cfg.Deployment(id)
		if d == nil || !r.Caller.allows(d.ModelName) {
			e := errorf(404, "Model id = %s not found on llmvoy", id)
			e.Param = "litellm_model_id"
			return nil, e
		}
		deployments = []*config.Deployment{d}
	}
	data := []deploymentInfo{}
	for _, d := range deployments {
		if r.Caller.allows(d.ModelName) {
			data = append(data, deploymentEntry(d, redact))
		}
	}
	return map[string]any{"data": data}, nil
}

// modelGroupInfo answers /model_group/info, every model group or one
// (?model_group=, a group or an alias). A virtual key sees only the groups
// it may call.
func (h *Handler) modelGroupInfo(_ context.Context, r Request) (any, error) {
	cfg := h.Config
	redact := newRedactor(cfg)
	names := cfg.Groups()
	if want := r.Query.Get("model_group"); want != "" {
		names = nil
		// A hidden alias is served but never shown.
		if slices.Contains(cfg.Groups(), resolve(cfg, want)) && !cfg.Router.Aliases[want].Hidden {
			names = []string{want}
		}
	}
	data := []modelGroupInfo{}
	for _, name := range names {
		if r.Caller.allows(name) {
			data = append(data, groupInfo(cfg, name, resolve(cfg, name), redact))
		}
	}
	return map[string]any{"data": data}, nil
}

// resolve maps a requested model to its model group: an alias's group, else
// the name itself (as the gateway routes it).
func resolve(cfg *config.Config, model string) string {
	if a, ok := cfg.Router.Aliases[model]; ok {
		return a.Group
	}
	return model
}

// allows reports whether the caller may see a model group: the master key
// (or anyone when there is none) sees all of them, a virtual key those it
// may call.
func (c Caller) allows(group string) bool {
	return c.Key == nil || c.Key.Allows(group)
}

// deploymentInfo is one entry of /model/info, as LiteLLM returns it.
type deploymentInfo struct {
	ModelName     string         `json:"model_name"`
	LiteLLMParams map[string]any `json:"litellm_params"`
	ModelInfo     map[string]any `json:"model_info"`
}

// supportFlags are the capabilities /model/info always reports, false when
// neither the config nor the table says so (LiteLLM's default).
var supportFlags = []string{
	"supports_vision", "supports_function_calling", "supports_parallel_function_calling",
	"supports_tool_choice", "supports_response_schema", "supports_system_messages",
	"supports_prompt_caching", "supports_pdf_input", "supports_assistant_prefill",
	"supports_computer_use", "supports_audio_input", "supports_reasoning", "supports_web_search",
}

// deploymentEntry is a deployment's /model/info entry: the table's fields for its
// model, overridden by the config's model_info (LiteLLM's order), with the
// price llmvoy charges and the id it routes by.
func deploymentEntry(d *config.Deployment, redact redactor) deploymentInfo {
	info := map[string]any{}
	if key, fields, ok := pricing.Model(d); ok {
		maps.Copy(info, fields)
		info["key"] = key
	}
	for k, v := range d.Info {
		if !credentialKeys[k] {
			info[k] = redact.value(v)
		}
	}
	info["id"] = d.ID
	info["db_model"] = false
	if in, out, ok := pricing.Info(d); ok {
		info["input_cost_per_token"], info["output_cost_per_token"] = in, out
	} else {
		info["input_cost_per_token"], info["output_cost_per_token"] = nil, nil
	}
	if d.MaxInputTokens > 0 {
		info["max_input_tokens"] = d.MaxInputTokens
	}
	for _, k := range []string{"max_input_tokens", "max_output_tokens", "max_tokens", "mode"} {
		if _, ok := info[k]; !ok {
			info[k] = nil
		}
	}
	if _, ok := info["litellm_provider"]; !ok {
		info["litellm_provider"] = d.Provider
	}
	for _, k := range supportFlags {
		if _, ok := info[k]; !ok {
			info[k] = false
		}
	}
	return deploymentInfo{ModelName: d.ModelName, LiteLLMParams: liteLLMParams(d, redact), ModelInfo: info}
}

// liteLLMParams are the deployment's litellm_params without credentials
// (api_key, aws_*_key*, aws_session_token, vertex_credentials): only
// fields known to be safe, and api_base without user info or query, where
// some servers take keys.
func liteLLMParams(d *config.Deployment, redact redactor) map[string]any {
	p := map[string]any{"model": d.LiteLLMModel()}
	if base := d.PublicAPIBase(); base != "" {
		p["api_base"] = redact.string(base)
	}
	set := func(key string, v any, isSet bool) {
		if isSet {
			p[key] = v
		}
	}
	set("api_version", d.APIVersion, d.APIVersion != "")
	set("rpm", d.RPM, d.RPM > 0)
	set("tpm", d.TPM, d.TPM > 0)
	set("max_parallel_requests", d.MaxParallelRequests, d.MaxParallelRequests > 0)
	set("timeout", d.Timeout.Seconds(), d.Timeout > 0)
	set("stream_timeout", d.StreamTimeout.Seconds(), d.StreamTimeout > 0)
	set("weight", d.Weight, d.Weight > 0)
	set("order", d.Order, d.Order > 0)
	set("input_cost_per_token", d.InputCostPerToken, d.InputCostPerToken > 0)
	set("output_cost_per_token", d.OutputCostPerToken, d.OutputCostPerToken > 0)
	set("aws_region_name", d.AWS.Region, d.API == config.APIBedrock && d.AWS.Region != "")
	vertex := d.API == config.APIVertex || d.API == config.APIVertexAnthropic
	set("vertex_project", d.Vertex.Project, vertex && d.Vertex.Project != "")
	set("vertex_location", d.Vertex.Location, vertex && d.Vertex.Location != "")
	return p
}

// credentialKeys are litellm_params keys that hold credentials. model_info
// is free-form and shown as written; these never are, should a file put
// one there.
var credentialKeys = map[string]bool{
	"api_key": true, "aws_access_key_id": true, "aws_secret_access_key": true, "aws_session_token": true,
	"vertex_credentials": true, "vertex_ai_credentials": true, "azure_ad_token": true, "client_secret": true,
}

// modelGroupInfo is one entry of /model_group/info: LiteLLM's
// ModelGroupInfo, plus the group's routing strategy and deployment ids.
type modelGroupInfo struct {
	ModelGroup                      string   `json:"model_group"`
	Providers                       []string `json:"providers"`
	MaxInputTokens                  *int64   `json:"max_input_tokens"`
	MaxOutputTokens                 *int64   `json:"max_output_tokens"`
	InputCostPerToken               *float64 `json:"input_cost_per_token"`
	OutputCostPerToken              *float64 `json:"output_cost_per_token"`
	Mode                            string   `json:"mode"`
	TPM                             *int     `json:"tpm"`
	RPM                             *int     `json:"rpm"`
	SupportsParallelFunctionCalling bool     `json:"supports_parallel_function_calling"`
	SupportsVision                  bool     `json:"supports_vision"`
	SupportsWebSearch               bool     `json:"supports_web_search"`
	SupportsReasoning               bool     `json:"supports_reasoning"`
	SupportsFunctionCalling         bool     `json:"supports_function_calling"`
	RoutingStrategy                 string   `json:"routing_strategy"`
	Deployments                     []string `json:"deployments"`
}

// groupInfo sums up a model group the way LiteLLM's Router does: the
// largest limits and prices of its deployments (what a request may be
// charged), a capability when any deployment has it, and the sum of their
// tpm and rpm (null when none sets one). name is what the client asked
// for, group the model group it resolves to.
func groupInfo(cfg *config.Config, name, group string, redact redactor) modelGroupInfo {
	gi := modelGroupInfo{ModelGroup: name, Providers: []string{}, Deployments: []string{}, RoutingStrategy: cfg.Router.RoutingStrategy}
	for _, d := range cfg.Group(group) {
		gi.Deployments = append(gi.Deployments, d.ID)
		if d.Provider != "" && !slices.Contains(gi.Providers, d.Provider) {
			gi.Providers = append(gi.Providers, d.Provider)
		}
		info := deploymentEntry(d, redact).ModelInfo
		gi.MaxInputTokens = maxOf(gi.MaxInputTokens, toInt(info["max_input_tokens"]))
		gi.MaxOutputTokens = maxOf(gi.MaxOutputTokens, toInt(info["max_output_tokens"]))
		gi.InputCostPerToken = maxOf(gi.InputCostPerToken, toFloat(info["input_cost_per_token"]))
		gi.OutputCostPerToken = maxOf(gi.OutputCostPerToken, toFloat(info["output_cost_per_token"]))
		if mode, ok := info["mode"].(string); ok && gi.Mode == "" {
			gi.Mode = mode
		}
		gi.TPM = addTo(gi.TPM, d.TPM)
		gi.RPM = addTo(gi.RPM, d.RPM)
		gi.SupportsParallelFunctionCalling = gi.SupportsParallelFunctionCalling || info["supports_parallel_function_calling"] == true
		gi.SupportsVision = gi.SupportsVision || info["supports_vision"] == true
		gi.SupportsWebSearch = gi.SupportsWebSearch || info["supports_web_search"] == true
		gi.SupportsReasoning = gi.SupportsReasoning || info["supports_reasoning"] == true
		gi.SupportsFunctionCalling = gi.SupportsFunctionCalling || info["supports_function_calling"] == true
	}
	if gi.Mode == "" {
		gi.Mode = "chat" // LiteLLM's default
	}
	return gi
}

func maxOf[T int64 | float64](cur *T, v *T) *T {
	if v == nil || (cur != nil && *cur >= *v) {
		return cur
	}
	return v
}

func addTo(cur *int, n int) *int {
	if n <= 0 {
		return cur
	}
	if cur == nil {
		return &n
	}
	sum := *cur + n
	return &sum
}

// toInt and toFloat read a number from model_info, which holds the
// table's int64s and float64s and the config's values as YAML gave them.
func toInt(v any) *int64 {
	switch n := v.(type) {
	case int:
		i := int64(n)
		return &i
	case int64:
		return &n
	case float64:
		i := int64(n)
		return &i
	}
	return nil
}

func toFloat(v any) *float64 {
	switch n := v.(type) {
	case float64:
		return &n
	case int64:
		f := float64(n)
		return &f
	case int:
		f := float64(n)
		return &f
	}
	return nil
}

// redactor replaces the config's secret values in text a user wrote
// (model_info, api_base): a key pasted into a description must not come
// out of an endpoint any key holder can read.
type redactor []string

// minSecret is the shortest secret redacted: replacing shorter strings
// would mangle ordinary text and hide nothing worth hiding.
const minSecret = 6

func newRedactor(cfg *config.Config) redactor {
	var r redactor
	add := func(secrets ...config.Secret) {
		for _, s := range secrets {
			if v := s.Reveal(); len(v) >= minSecret && !slices.Contains(r, v) {
				r = append(r, v)
			}
		}
	}
	add(cfg.General.MasterKey, cfg.General.DatabaseURL, cfg.Router.Redis.Password, cfg.Router.Redis.URL)
	for _, s := range cfg.Environment {
		add(s)
	}
	for _, d := range cfg.Deployments {
		add(d.APIKey, d.AWS.AccessKeyID, d.AWS.SecretAccessKey, d.AWS.SessionToken, d.Vertex.Credentials)
	}
	// Longest first, so a secret that contains another is replaced whole.
	slices.SortFunc(r, func(a, b string) int { return len(b) - len(a) })
	return r
}

func (r redactor) string(s string) string {
	for _, secret := range r {
		s = strings.ReplaceAll(s, secret, "[redacted]")
	}
	return s
}

// value redacts the strings of a model_info value, however nested.
func (r redactor) value(v any) any {
	switch x := v.(type) {
	case string:
		return r.string(x)
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			out[i] = r.value(item)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, item := range x {
			if !credentialKeys[k] {
				out[r.string(k)] = r.value(item)
			}
		}
		return out
	}
	return v
}
