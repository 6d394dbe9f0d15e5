package config

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// PassThroughRoutes are LiteLLM's provider pass-through routes llmvoy
// serves: /<route>/... goes to that provider's API as the client wrote it,
// with the caller's gateway key swapped for the provider's credential. Each
// maps to the provider (Deployment.Provider) whose deployments it may use.
var PassThroughRoutes = map[string]string{
	"anthropic": "anthropic",
	"gemini":    "gemini",
	"openai":    "openai",
	"azure":     "azure",
	"bedrock":   "bedrock",
}

// PassThrough is one pass-through route: a provider's (/anthropic, ...),
// or one of general_settings.pass_through_endpoints.
type PassThrough struct {
	// Name names the route's cluster: the provider route's name, or
	// "endpoint_N" for pass_through_endpoints[N].
	Name string
	// Path is what the client calls: "/anthropic", or the endpoint's path.
	// Subpaths: the paths under it are routed too (a provider route's
	// always; an endpoint's with include_subpath).
	Path     string
	Subpaths bool
	// Deployment is where the requests go: for a provider route, its
	// deployment (API, api_base and credential); for an endpoint, its
	// target (APIBase only: its path is the one the provider gets, and
	// Headers carry any credential).
	Deployment *Deployment
	// Endpoint is set for a pass_through_endpoints entry.
	Endpoint bool
	// Headers are set on every request (an endpoint's headers).
	Headers map[string]Secret
	// ForwardHeaders: the client's headers go on (but its credential and
	// llmvoy's own). Always for a provider route; forward_headers for an
	// endpoint, else only its content type.
	ForwardHeaders bool
}

// passThrough reads the pass-through routes. A provider route's deployment
// is found the way LiteLLM's PassthroughEndpointRouter finds its
// credential: the first deployment of the route's provider with
// use_in_pass_through: true, else the provider's environment variables
// (ANTHROPIC_API_KEY, GEMINI_API_KEY or GOOGLE_API_KEY, OPENAI_API_KEY,
// AZURE_API_KEY with AZURE_API_BASE, the AWS_* credentials), with the
// provider's default api_base or its *_API_BASE variable. A route with
// neither is left out: llmvoy answers it 503. Then the endpoints of
// general_settings.pass_through_endpoints, in file order.
func (p *parser) passThrough(deployments []*Deployment, general *value) []*PassThrough {
	var out []*PassThrough
	for _, route := range slices.Sorted(maps.Keys(PassThroughRoutes)) {
		provider := PassThroughRoutes[route]
		i := slices.IndexFunc(deployments, func(d *Deployment) bool {
			return d.UseInPassThrough && d.Provider == provider && d.API != "" && d.APIBase != nil
		})
		var d *Deployment
		if i >= 0 {
			d = deployments[i]
		} else {
			d = p.passThroughFromEnv(route, provider)
		}
		if d != nil {
			out = append(out, &PassThrough{Name: route, Path: "/" + route, Subpaths: true, Deployment: d, ForwardHeaders: true})
		}
	}
	if general != nil && general.kind == kindDict {
		out = append(out, p.passThroughEndpoints(general.get("pass_through_endpoints"))...)
	}
	return out
}

// passThroughFromEnv is the deployment a route takes from the provider's
// variables, or nil when they name no credential. It is read as a
// model_list entry without api_key or api_base would be, so the variables,
// their order and the defaults are the ones the provider's deployments use.
func (p *parser) passThroughFromEnv(route, provider string) *Deployment {
	env := providerEnv[provider]
	switch {
	case provider == "bedrock":
		if s, ok := p.lookup("AWS_ACCESS_KEY_ID"); !ok || s == "" {
			return nil
		}
	case len(env.key) == 0:
		return nil
	default:
		if name, _ := p.fromEnv(env.key); name == "" {
			return nil
		}
		if name, _ := p.fromEnv(env.base); provider == "azure" && name == "" {
			return nil // Azure has no default api_base
		}
	}
	params := &value{kind: kindDict, pairs: []pair{{key: str("model"), val: str(provider + "/pass-through")}}}
	d := &Deployment{ID: "pass-through-" + route, ModelName: "/" + route}
	path := "pass-through /" + route
	errs, warns := len(p.errs), len(p.warns)
	p.route(path, p.liteLLMParams(path, params, d), d)
	// Variables the config does not name cannot make it fail to load, nor
	// fill its warnings: a bad one leaves the route out (its requests get a
	// 503 that names the variables).
	bad := len(p.errs) > errs
	p.errs, p.warns = p.errs[:errs], p.warns[:warns]
	if bad || d.API == "" || d.APIBase == nil {
		return nil
	}
	return d
}

// passThroughEndpoints reads general_settings.pass_through_endpoints:
// path, target, headers (values may name os.environ/ variables, inside a
// value too: "Bearer os.environ/COHERE_API_KEY"), forward_headers,
// include_subpath. llmvoy authenticates every request to them as to any
// route (LiteLLM's auth: false, its default, leaves them open).
func (p *parser) passThroughEndpoints(v *value) []*PassThrough {
	const base = "general_settings.pass_through_endpoints"
	if v.isNull() {
		return nil
	}
	if v.kind != kindList {
		p.errorf(v.line, base, "want a list of endpoints (path, target, headers), got %s", v.kind)
		return nil
	}
	var out []*PassThrough
	for i, item := range v.items {
		path := fmt.Sprintf("%s[%d]", base, i)
		if item.kind != kindDict {
			p.errorf(item.line, path, "want a mapping with path and target, got %s", item.kind)
			continue
		}
		e := &PassThrough{Name: fmt.Sprintf("endpoint_%d", i), Endpoint: true, Headers: map[string]Secret{}}
		for _, kv := range item.pairs {
			key, kpath := keyName(kv.key), joinPath(path, keyName(kv.key))
			switch key {
			case "path":
				e.Path, _, _ = p.str(kpath, kv.val)
			case "target":
				e.Deployment = p.passThroughTarget(kpath, kv.val)
			case "headers":
				p.passThroughHeaders(kpath, kv.val, e.Headers)
			case "forward_headers":
				e.ForwardHeaders, _ = p.boolean(kpath, kv.val)
			case "include_subpath":
				e.Subpaths, _ = p.boolean(kpath, kv.val)
			case "auth":
				if on, ok := p.boolean(kpath, kv.val); ok && !on {
					p.warnf(kv.val.line, kpath, "false is not supported: llmvoy authenticates every request to a pass-through endpoint")
				}
			default:
				p.unsupported(kv.key, kpath)
			}
		}
		e.Path = strings.TrimSuffix(e.Path, "/")
		switch route, _, _ := strings.Cut(strings.TrimPrefix(e.Path, "/"), "/"); {
		case !strings.HasPrefix(e.Path, "/"):
			p.errorf(item.line, joinPath(path, "path"), "want a path beginning with /, got %q", e.Path)
		case PassThroughRoutes[route] != "":
			p.errorf(item.line, joinPath(path, "path"), "%s is under llmvoy's /%s pass-through route", e.Path, route)
		case e.Deployment == nil:
			p.errorf(item.line, joinPath(path, "target"), "missing; want the URL requests are forwarded to")
		default:
			e.Deployment.ID, e.Deployment.ModelName = "pass-through-"+e.Name, e.Path
			out = append(out, e)
		}
	}
	return out
}

// passThroughTarget reads an endpoint's target URL.
func (p *parser) passThroughTarget(path string, v *value) *Deployment {
	s, _, ok := p.str(path, v)
	if !ok {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		p.errorf(v.line, path, "want an http:// or https:// URL without credentials, got %q", s)
		return nil
	}
	return &Deployment{APIBase: u}
}

// embeddedEnvRef is an os.environ/ reference inside a header value.
var embeddedEnvRef = regexp.MustCompile(`os\.environ/([A-Za-z_][A-Za-z0-9_]*)`)

// passThroughHeaders reads an endpoint's headers into dst. An unset
// variable is an error: the header would go out without its credential.
func (p *parser) passThroughHeaders(path string, v *value, dst map[string]Secret) {
	if v.isNull() {
		return
	}
	if v.kind != kindDict {
		p.errorf(v.line, path, "want a mapping of header names to values, got %s", v.kind)
		return
	}
	for _, kv := range v.pairs {
		name, hpath := strings.ToLower(keyName(kv.key)), joinPath(path, keyName(kv.key))
		if kv.val.kind != kindStr {
			p.errorf(kv.val.line, hpath, "want a string, got %s", kv.val.kind)
			continue
		}
		val := embeddedEnvRef.ReplaceAllStringFunc(kv.val.s, func(ref string) string {
			s, ok := p.lookup(strings.TrimPrefix(ref, envPrefix))
			if !ok {
				p.errorf(kv.val.line, hpath, "environment variable %s is not set", strings.TrimPrefix(ref, envPrefix))
			}
			return s
		})
		if strings.HasPrefix(name, ":") || strings.ContainsAny(name, " \t:") || strings.ContainsAny(val, "\r\n") {
			p.errorf(kv.val.line, hpath, "not a valid header")
			continue
		}
		dst[name] = Secret(val)
	}
}

func str(s string) *value { return &value{kind: kindStr, s: s, text: s} }
