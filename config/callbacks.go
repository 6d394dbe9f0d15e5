package config

import (
	"fmt"
	"net/url"
	"strings"
)

// Callback names llmvoy exports to (litellm_settings.success_callback,
// failure_callback, callbacks).
const (
	CallbackOTel     = "otel"
	CallbackLangfuse = "langfuse"
	// CallbackWebhook is LiteLLM's generic_api: LiteLLM's standard logging
	// payload POSTed to any HTTP endpoint.
	CallbackWebhook = "generic_api"
	// CallbackPrometheus is served as /metrics whether named or not.
	CallbackPrometheus = "prometheus"
)

// Callbacks is where llmvoy sends a record of each client request, and
// the settings each destination reads from the environment (the file's
// environment_variables first, as for providers), as LiteLLM does.
type Callbacks struct {
	// On maps each configured callback to the requests it is told about:
	// success_callback's get the answered ones, failure_callback's the
	// failed ones, callbacks' both.
	On map[string]CallbackEvents

	OTel     OTelSettings
	Langfuse LangfuseSettings
	// Webhooks are the generic_api callbacks by name: "generic_api" from
	// its variables, and callback_settings' entries.
	Webhooks map[string]WebhookSettings
}

// CallbackEvents says which requests a callback is told about.
type CallbackEvents struct {
	Success, Failure bool
}

// OTelSettings are LiteLLM's OTEL_EXPORTER, OTEL_ENDPOINT and OTEL_HEADERS,
// or the standard OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_ENDPOINT
// (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) and OTEL_EXPORTER_OTLP_HEADERS.
type OTelSettings struct {
	// Exporter is "otlp_http" (protobuf), "otlp_http_json", "otlp_grpc" or
	// "console".
	Exporter string
	// Endpoint is the traces URL for otlp_http (/v1/traces added to a
	// base URL), the collector's URL for otlp_grpc; "" for the SDK's
	// default (localhost).
	Endpoint string
	Headers  map[string]Secret
	// ServiceName is OTEL_SERVICE_NAME, "llmvoy" when unset.
	ServiceName string
}

// LangfuseSettings are LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY and
// LANGFUSE_HOST (Langfuse's cloud when unset).
type LangfuseSettings struct {
	PublicKey, SecretKey Secret
	Host                 string
}

// WebhookSettings are GENERIC_LOGGER_ENDPOINT and GENERIC_LOGGER_HEADERS,
// or a callback_settings entry's endpoint, headers and log_format.
type WebhookSettings struct {
	Endpoint string
	Headers  map[string]Secret
	// Format is log_format: "json_array" (the default), "ndjson" or
	// "single" (a request per record).
	Format string
}

// ReadsAnswers reports whether a callback needs every answer's usage and
// cost, so every answer is read as a priced one is.
func (c Callbacks) ReadsAnswers() bool {
	for name := range c.On {
		if name != CallbackPrometheus {
			return true
		}
	}
	return false
}

// LangfuseCloud is LANGFUSE_HOST's default, as in Langfuse's SDKs.
const LangfuseCloud = "https://cloud.langfuse.com"

// callbackList reads one of litellm_settings' callback lists into
// p.cfg.Callbacks.On.
func (p *parser) callbackList(path string, v *value, ev CallbackEvents) {
	if v.isNull() {
		return
	}
	if v.kind != kindList {
		p.errorf(v.line, path, "want a list of callback names, got %s", v.kind)
		return
	}
	for i, item := range v.items {
		ipath := fmt.Sprintf("%s[%d]", path, i)
		name, _, ok := p.str(ipath, item)
		if !ok {
			continue
		}
		_, named := p.cfg.Callbacks.Webhooks[name]
		switch {
		case named:
			p.enableCallback(name, ev)
			continue
		case name == CallbackOTel, name == CallbackLangfuse, name == CallbackWebhook, name == CallbackPrometheus:
		default:
			p.warnf(item.line, ipath, "callback %q not supported yet, ignored", name)
			continue
		}
		if p.callbackSettings(ipath, item.line, name) {
			p.enableCallback(name, ev)
		}
	}
}

// enableCallback tells callback name about ev's requests too.
func (p *parser) enableCallback(name string, ev CallbackEvents) {
	if p.cfg.Callbacks.On == nil {
		p.cfg.Callbacks.On = make(map[string]CallbackEvents)
	}
	on := p.cfg.Callbacks.On[name]
	on.Success, on.Failure = on.Success || ev.Success, on.Failure || ev.Failure
	p.cfg.Callbacks.On[name] = on
}

// callbackSettingsSection reads the top-level callback_settings: named
// generic_api webhooks, enabled by being there (as in LiteLLM), for the
// events their event_types name (both by default).
func (p *parser) callbackSettingsSection(v *value) {
	for _, kv := range p.section("callback_settings", v) {
		name := keyName(kv.key)
		path := joinPath("callback_settings", name)
		w := WebhookSettings{Format: "json_array"}
		ev := CallbackEvents{Success: true, Failure: true}
		typ := ""
		for _, f := range p.section(path, kv.val) {
			fpath := joinPath(path, keyName(f.key))
			switch keyName(f.key) {
			case "callback_type":
				typ, _, _ = p.str(fpath, f.val)
			case "endpoint":
				w.Endpoint, _, _ = p.str(fpath, f.val)
			case "headers":
				w.Headers = make(map[string]Secret)
				for _, h := range p.section(fpath, f.val) {
					hv, _, _ := p.str(joinPath(fpath, keyName(h.key)), h.val)
					w.Headers[keyName(h.key)] = Secret(hv)
				}
			case "event_types":
				ev = p.eventTypes(fpath, f.val)
			case "log_format":
				format, _, _ := p.str(fpath, f.val)
				switch format {
				case "json_array", "ndjson", "single":
					w.Format = format
				default:
					p.errorf(f.val.line, fpath, "want json_array, ndjson or single, got %q", format)
				}
			default:
				p.unsupported(f.key, fpath)
			}
		}
		switch {
		case typ != CallbackWebhook:
			p.warnf(kv.key.line, path, "callback_type %q not supported yet (generic_api is), ignored", typ)
		case w.Endpoint == "":
			p.errorf(kv.key.line, path, "a generic_api callback needs an endpoint")
		case p.callbackURL(path, kv.key.line, "endpoint", w.Endpoint):
			if p.cfg.Callbacks.Webhooks == nil {
				p.cfg.Callbacks.Webhooks = make(map[string]WebhookSettings)
			}
			p.cfg.Callbacks.Webhooks[name] = w
			p.enableCallback(name, ev)
		}
	}
}

// eventTypes reads event_types: llm_api_success, llm_api_failure.
func (p *parser) eventTypes(path string, v *value) CallbackEvents {
	var ev CallbackEvents
	if v.kind != kindList {
		p.errorf(v.line, path, "want a list of llm_api_success, llm_api_failure, got %s", v.kind)
		return CallbackEvents{Success: true, Failure: true}
	}
	for i, item := range v.items {
		s, _, _ := p.str(fmt.Sprintf("%s[%d]", path, i), item)
		switch s {
		case "llm_api_success":
			ev.Success = true
		case "llm_api_failure":
			ev.Failure = true
		default:
			p.warnf(item.line, fmt.Sprintf("%s[%d]", path, i), "event type %q not supported (llm_api_success, llm_api_failure), ignored", s)
		}
	}
	return ev
}

// callbackSettings reads the variables of callback name; false (with a
// warning) when a required one is missing.
func (p *parser) callbackSettings(path string, line int, name string) bool {
	env := func(names ...string) string {
		_, s := p.fromEnv(names)
		return s
	}
	c := &p.cfg.Callbacks
	switch name {
	case CallbackOTel:
		// LiteLLM's variables first, then the standard ones.
		c.OTel.Exporter = strings.ToLower(env("OTEL_EXPORTER", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"))
		switch c.OTel.Exporter {
		case "otlp_http", "http/protobuf", "http":
			c.OTel.Exporter = "otlp_http"
		case "http/json", "otlp_http_json":
			c.OTel.Exporter = "otlp_http_json"
		case "otlp_grpc", "grpc":
			c.OTel.Exporter = "otlp_grpc"
		case "", "console":
			c.OTel.Exporter = "console"
		default:
			p.warnf(line, path, "OTEL_EXPORTER %q not supported (otlp_http, otlp_grpc, console, or the protocols http/protobuf, http/json, grpc); ignored", c.OTel.Exporter)
			return false
		}
		if e := env("OTEL_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); e != "" {
			c.OTel.Endpoint = e
		} else if e := env("OTEL_EXPORTER_OTLP_ENDPOINT"); e != "" {
			c.OTel.Endpoint = e
		}
		if strings.HasPrefix(c.OTel.Exporter, "otlp_http") && c.OTel.Endpoint != "" && !strings.HasSuffix(strings.TrimRight(c.OTel.Endpoint, "/"), "/v1/traces") {
			// A collector's base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is.
			c.OTel.Endpoint = strings.TrimRight(c.OTel.Endpoint, "/") + "/v1/traces"
		}
		c.OTel.Headers = p.headerList(path, line, "OTEL_HEADERS", env("OTEL_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"))
		c.OTel.ServiceName = env("OTEL_SERVICE_NAME")
		if c.OTel.ServiceName == "" {
			c.OTel.ServiceName = "llmvoy"
		}
	case CallbackLangfuse:
		c.Langfuse.PublicKey, c.Langfuse.SecretKey = Secret(env("LANGFUSE_PUBLIC_KEY")), Secret(env("LANGFUSE_SECRET_KEY"))
		if c.Langfuse.PublicKey == "" || c.Langfuse.SecretKey == "" {
			p.warnf(line, path, "langfuse needs LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY; ignored")
			return false
		}
		c.Langfuse.Host = strings.TrimRight(env("LANGFUSE_HOST"), "/")
		if c.Langfuse.Host == "" {
			c.Langfuse.Host = LangfuseCloud
		}
		if !p.callbackURL(path, line, "LANGFUSE_HOST", c.Langfuse.Host) {
			return false
		}
	case CallbackWebhook:
		w := WebhookSettings{Endpoint: env("GENERIC_LOGGER_ENDPOINT"), Format: "json_array"}
		if w.Endpoint == "" {
			p.warnf(line, path, "generic_api needs GENERIC_LOGGER_ENDPOINT (or an entry in callback_settings); ignored")
			return false
		}
		if !p.callbackURL(path, line, "GENERIC_LOGGER_ENDPOINT", w.Endpoint) {
			return false
		}
		w.Headers = p.headerList(path, line, "GENERIC_LOGGER_HEADERS", env("GENERIC_LOGGER_HEADERS"))
		if c.Webhooks == nil {
			c.Webhooks = make(map[string]WebhookSettings)
		}
		c.Webhooks[name] = w
	}
	return true
}

// callbackURL checks an http(s) URL read from variable name.
func (p *parser) callbackURL(path string, line int, name, s string) bool {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.warnf(line, path, "%s is not an http(s) URL; ignored", name)
		return false
	}
	return true
}

// headerList reads "name=value,name2=value2" (values URL-encoded, as
// OpenTelemetry's OTEL_EXPORTER_OTLP_HEADERS are). Values are never
// quoted in warnings: they are credentials.
func (p *parser) headerList(path string, line int, name, s string) map[string]Secret {
	if s == "" {
		return nil
	}
	out := make(map[string]Secret)
	for _, pair := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			p.warnf(line, path, "%s: an entry is not name=value; skipped", name)
			continue
		}
		if dv, err := url.PathUnescape(strings.TrimSpace(v)); err == nil {
			v = dv
		}
		out[k] = Secret(v)
	}
	return out
}
