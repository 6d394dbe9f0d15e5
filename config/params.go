package config

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// requestParams are the litellm_params keys LiteLLM's Router hands to the
// provider call with the request: OpenAI's request parameters, and the
// provider-specific ones LiteLLM passes on in the body (top_k, Ollama's
// keep_alive). The Router merges {**litellm_params, **request}, so they
// are defaults: a request's own value wins.
var requestParams = setOf(
	"temperature", "top_p", "n", "stop", "max_tokens", "max_completion_tokens",
	"presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs",
	"seed", "response_format", "tools", "tool_choice", "parallel_tool_calls", "user",
	"reasoning_effort", "modalities", "audio", "prediction", "service_tier", "store",
	"top_k", "keep_alive",
)

// requestParam reads a litellm_params key that shapes the deployment's
// requests (a default parameter, extra_body, additional_drop_params,
// extra_headers, organization, azure_ad_token, drop_params, max_retries).
// It reports false for a key it does not know.
func (p *parser) requestParam(key, path string, val *value, d *Deployment) bool {
	switch {
	case requestParams[key]:
		if !val.isNull() {
			setParam(d, key, p.resolved(path, val))
		}
	case key == "extra_body":
		// LiteLLM sends extra_body's keys as top-level body fields.
		if val.isNull() {
			return true
		}
		if val.kind != kindDict {
			p.errorf(val.line, path, "want a mapping of body fields, got %s", val.kind)
			return true
		}
		for _, kv := range val.pairs {
			setParam(d, pyStr(kv.key), p.resolved(joinPath(path, keyName(kv.key)), kv.val))
		}
	case key == "additional_drop_params":
		p.stringList(path, val, "request fields", func(ipath string, item *value, s string) {
			switch {
			case s == "":
			case strings.ContainsAny(s, ".[]"):
				// LiteLLM's newer nested paths ("tools[*].input_examples").
				p.warnf(item.line, ipath, "a nested path is not supported yet; only top-level request fields are dropped")
			default:
				d.DropParams = append(d.DropParams, s)
			}
		})
	case key == "extra_headers":
		if val.isNull() {
			return true
		}
		if val.kind != kindDict {
			p.errorf(val.line, path, "want a mapping of header names to values, got %s", val.kind)
			return true
		}
		for _, kv := range val.pairs {
			hpath := joinPath(path, keyName(kv.key))
			if name := strings.ToLower(pyStr(kv.key)); !headerToken.MatchString(name) || reservedHeaders[name] {
				// Warned, not refused: LiteLLM's own example has one ("AI-Resource Group").
				p.warnf(kv.val.line, hpath, "not a header a deployment may set (a token, not host, content-length, transfer-encoding or connection): not sent")
				continue
			}
			switch kv.val.kind {
			case kindInt, kindFloat, kindBool:
				setHeader(d, pyStr(kv.key), pyStr(kv.val)) // as Python's str() writes it
			default:
				if s, _, ok := p.str(hpath, kv.val); ok {
					setHeader(d, pyStr(kv.key), s)
				}
			}
		}
	case key == "organization":
		// The OpenAI SDK LiteLLM calls with sends it as this header.
		if s, _, ok := p.str(path, val); ok && s != "" {
			setHeader(d, "OpenAI-Organization", s)
		}
	case key == "azure_ad_token":
		if s, _, ok := p.str(path, val); ok {
			d.AzureADToken = Secret(s)
		}
	case key == "drop_params":
		p.dropParams(path, val)
	case key == "max_retries":
		if p.count(path, val) != nil {
			p.warnf(val.line, path, "not used: it is the provider SDK's own retries inside one LiteLLM attempt; llmvoy's retries are the group's num_retries (router_settings)")
		}
	default:
		return false
	}
	return true
}

// headerToken is an HTTP header name (RFC 9110's token).
var headerToken = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9a-z-]+$")

// reservedHeaders are the headers Envoy owns for a request's framing and
// routing: a deployment's extra_headers must not replace them.
var reservedHeaders = setOf("host", "content-length", "transfer-encoding", "connection", "te", "upgrade")

// stringList reads a list of strings (os.environ/ references resolved),
// calling each for every one: null is an empty list, anything but a list
// an error wanting a list of what.
func (p *parser) stringList(path string, v *value, what string, each func(ipath string, item *value, s string)) {
	if v.isNull() {
		return
	}
	if v.kind != kindList {
		p.errorf(v.line, path, "want a list of %s, got %s", what, v.kind)
		return
	}
	for i, item := range v.items {
		ipath := fmt.Sprintf("%s[%d]", path, i)
		if s, _, ok := p.str(ipath, item); ok {
			each(ipath, item, s)
		}
	}
}

// dropParams reads drop_params (litellm_settings', or a deployment's):
// llmvoy's translators always drop what a provider cannot take
// (docs/providers.md), as LiteLLM does with drop_params: true.
func (p *parser) dropParams(path string, val *value) {
	if on, ok := p.boolean(path, val); ok && !on {
		p.warnf(val.line, path, "false has no effect: llmvoy always drops the parameters a provider cannot take (LiteLLM would answer 400)")
	}
}

// resolved is a value as the provider gets it: an os.environ/ string
// resolved, anything else as written.
func (p *parser) resolved(path string, v *value) any {
	if v.kind == kindStr {
		s, _, _ := p.str(path, v)
		return s
	}
	return toGo(v)
}

func setParam(d *Deployment, key string, v any) {
	if d.Params == nil {
		d.Params = make(map[string]any)
	}
	d.Params[key] = v
}

func setHeader(d *Deployment, name, value string) {
	if d.Headers == nil {
		d.Headers = make(map[string]Secret)
	}
	d.Headers[strings.ToLower(name)] = Secret(value)
}

// ShapesRequest reports whether d changes the body of its requests beyond
// the model: parameters of its own, or fields it drops.
func (d *Deployment) ShapesRequest() bool {
	return len(d.Params) > 0 || len(d.DropParams) > 0
}

// HeaderNames are the names of d's extra headers, sorted.
func (d *Deployment) HeaderNames() []string {
	names := make([]string, 0, len(d.Headers))
	for name := range d.Headers {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
