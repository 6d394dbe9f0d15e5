package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// LiteLLM's defaults, which apply when the file sets nothing.
const (
	// Router.__init__ falls back to openai.DEFAULT_MAX_RETRIES, which is 2,
	// when neither router_settings nor litellm_settings set num_retries.
	defaultNumRetries = 2
	// litellm.allowed_fails, DEFAULT_ALLOWED_FAILS in litellm/constants.py.
	defaultAllowedFails = 3
	// DEFAULT_COOLDOWN_TIME_SECONDS in litellm/constants.py.
	defaultCooldownTime = 5 * time.Second
)

// Load reads a LiteLLM proxy config file, resolving os.environ/ references
// from the process environment.
func Load(path string) (*Config, []Warning, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, path, os.LookupEnv)
}

// Parse parses and validates a LiteLLM proxy config. path names the file in
// messages and may be "". lookupEnv resolves os.environ/NAME references after
// the file's own environment_variables; nil means an empty environment.
//
// Keys llmvoy does not act on yet are warnings, not errors. On error the
// Config is nil and the error joins one *Error per problem found.
func Parse(data []byte, path string, lookupEnv func(string) (string, bool)) (*Config, []Warning, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	p := &parser{file: path, files: []string{path}, lookupEnv: lookupEnv, fileEnv: make(map[string]string)}
	if root := p.read(data, 0); root != nil {
		p.config(root)
	}
	warnings := p.sortedWarnings()
	if len(p.errs) > 0 {
		return nil, warnings, p.joinedErrors()
	}
	p.cfg.index()
	return p.cfg, warnings, nil
}

type parser struct {
	file        string
	files       []string // file, then the files it includes (see lineStride)
	lookupEnv   func(string) (string, bool)
	fileEnv     map[string]string     // environment_variables, resolved
	credentials map[string]credential // credential_list, by name
	cfg         *Config
	groupRefs   []groupRef
	errs        []*Error
	warns       []Warning
}

func (p *parser) errorf(line int, path, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) warnf(line int, path, format string, args ...any) {
	p.warns = append(p.warns, Warning{File: p.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// unsupported warns about a key llmvoy reads past.
func (p *parser) unsupported(k *value, path string) {
	p.warnf(k.line, path, "not supported yet, ignored")
}

func (p *parser) sortedWarnings() []Warning {
	slices.SortStableFunc(p.warns, func(a, b Warning) int { return a.Line - b.Line })
	for i := range p.warns {
		p.warns[i].File, p.warns[i].Line = p.locate(p.warns[i].Line)
	}
	return p.warns
}

func (p *parser) joinedErrors() error {
	slices.SortStableFunc(p.errs, func(a, b *Error) int { return a.Line - b.Line })
	errs := make([]error, len(p.errs))
	for i, e := range p.errs {
		e.File, e.Line = p.locate(e.Line)
		errs[i] = e
	}
	return errors.Join(errs...)
}

// read decodes the single YAML document in data into a mapping, or reports
// why it cannot. base is added to every line (see lineStride).
func (p *parser) read(data []byte, base int) *value {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errorf(base, "", "the file is empty; want a mapping with a model_list")
		} else {
			p.yamlError(err, base)
		}
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		p.errorf(base+next.Line, "", "more than one YAML document; want one")
		return nil
	case !errors.Is(err, io.EOF):
		p.yamlError(err, base)
		return nil
	}
	if len(doc.Content) == 0 {
		p.errorf(base+doc.Line, "", "the file is empty; want a mapping with a model_list")
		return nil
	}
	d := decoder{left: maxValues, warn: func(line int, path, msg string) { p.warnf(base+line, path, "%s", msg) }}
	root, err := d.decode(doc.Content[0], "", 0)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.File, e.Line = p.file, base+e.Line
			p.errs = append(p.errs, e)
		}
		return nil
	}
	shiftLines(root, base, make(map[*value]bool))
	switch {
	case root.isNull():
		p.errorf(root.line, "", "the file is empty; want a mapping with a model_list")
		return nil
	case root.kind != kindDict:
		p.errorf(root.line, "", "want a mapping at the top of the file, got %s", root.kind)
		return nil
	}
	return root
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns yaml.v3's "yaml: line 7: ..." into an Error with a line.
func (p *parser) yamlError(err error, base int) {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.errorf(base+line, "", "invalid YAML: %s", m[2])
		return
	}
	p.errorf(base, "", "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

// shiftLines adds by to the line of v and everything under it, once each.
func shiftLines(v *value, by int, seen map[*value]bool) {
	if by == 0 || v == nil || seen[v] {
		return
	}
	seen[v] = true
	v.line += by
	for _, item := range v.items {
		shiftLines(item, by, seen)
	}
	for _, kv := range v.pairs {
		shiftLines(kv.key, by, seen)
		shiftLines(kv.val, by, seen)
	}
}

// config walks the top level. environment_variables go first: the other
// sections resolve os.environ/ references against them.
func (p *parser) config(root *value) {
	p.cfg = &Config{Path: p.file}
	p.includes(root)
	for _, kv := range root.pairs {
		switch keyName(kv.key) {
		case "model_list", "router_settings", "litellm_settings", "general_settings", "environment_variables", "credential_list", "callback_settings":
		default:
			p.unsupported(kv.key, keyName(kv.key))
		}
	}
	p.cfg.Environment = p.environment(root.get("environment_variables"))
	p.cfg.General = p.general(root.get("general_settings"))
	// Before litellm_settings, whose callback lists may name its entries.
	p.callbackSettingsSection(root.get("callback_settings"))
	fallback := p.liteLLMSettings(root.get("litellm_settings"))
	p.cfg.Router = p.router(root.get("router_settings"), fallback)
	p.credentials = p.credentialList(root.get("credential_list"))
	p.cfg.Deployments = p.modelList(root)
	p.cfg.PassThrough = p.passThrough(p.cfg.Deployments, root.get("general_settings"))
	p.checkGroupRefs(p.cfg.Groups())
	p.checkHedging()
}

// section returns the entries of a mapping section; null is an empty one.
func (p *parser) section(path string, v *value) []pair {
	if v.isNull() {
		return nil
	}
	if v.kind != kindDict {
		p.errorf(v.line, path, "want a mapping, got %s", v.kind)
		return nil
	}
	return v.pairs
}

// environment reads environment_variables. LiteLLM exports each value as
// str(value) (6379 → "6379", true → "True"); an os.environ/ value copies a
// variable of the process environment.
func (p *parser) environment(v *value) map[string]Secret {
	env := make(map[string]Secret)
	for _, kv := range p.section("environment_variables", v) {
		name := keyName(kv.key)
		path := joinPath("environment_variables", name)
		val := kv.val
		switch {
		case !val.isScalar():
			p.errorf(val.line, path, "want a scalar value, got %s", val.kind)
			continue
		case val.isNull():
			p.warnf(val.line, path, "no value, not set")
			continue
		}
		s := pyStr(val)
		if ref, ok := envRef(s); ok && val.kind == kindStr {
			var set bool
			switch s, set = p.lookupEnv(ref); {
			case ref == "":
				p.errorf(val.line, path, "%s names no environment variable", val.s)
				continue
			case !set:
				p.warnf(val.line, path, "environment variable %s is not set", ref)
				continue
			}
		}
		p.fileEnv[name] = s
		env[name] = Secret(s)
	}
	return env
}

func (p *parser) general(v *value) GeneralSettings {
	var g GeneralSettings
	configured := false
	for _, kv := range p.section("general_settings", v) {
		path := joinPath("general_settings", keyName(kv.key))
		switch keyName(kv.key) {
		case "master_key":
			s, ref, ok := p.str(path, kv.val)
			if !ok {
				continue
			}
			configured = true
			g.MasterKey = Secret(s)
			// A key that resolves to nothing would serve everyone: the
			// operator asked for a key, so a typo or a missing secret must
			// not open the gateway. Running without a key means leaving
			// master_key out.
			switch {
			case s == "" && ref != "":
				p.errorf(kv.val.line, path, "environment variable %s is unset or empty: refusing to start a gateway that would accept every request (set it, or remove master_key to run without authentication)", ref)
			case s == "":
				p.errorf(kv.val.line, path, "empty: refusing to start a gateway that would accept every request (set a key, or remove master_key to run without authentication)")
			}
		case "database_url":
			if s, _, ok := p.str(path, kv.val); ok {
				g.DatabaseURL = Secret(s)
				if s != "" && !strings.HasPrefix(s, "postgres://") && !strings.HasPrefix(s, "postgresql://") {
					p.errorf(kv.val.line, path, "want a postgres:// or postgresql:// URL (leave it unset for the embedded SQLite store)")
				}
			}
		case "dangerously_allow_mock_testing_request_params":
			g.AllowMockTesting, _ = p.boolean(path, kv.val)
			if g.AllowMockTesting {
				// As LiteLLM warns at start: a drill setting left on.
				p.warnf(kv.val.line, path, "on: any caller with a valid key can make its requests fail on purpose (mock_testing_*); turn it off after the drill")
			}
		case "disable_spend_logs":
			g.DisableSpendLogs, _ = p.boolean(path, kv.val)
		case "store_prompts_in_spend_logs":
			g.StorePrompts, _ = p.boolean(path, kv.val)
		case "forward_client_headers_to_llm_api":
			g.ForwardClientHeaders, _ = p.boolean(path, kv.val)
		case "pass_through_endpoints":
			// Read with the provider routes (passthrough.go).
		case "host", "port":
			// Where to listen is the command line's: one file serves
			// replicas on several addresses.
			p.warnf(kv.key.line, path, "ignored: llmvoy listens where `llmvoy run --host` and `--port` say (0.0.0.0 and 4000 unless given)")
		case "litellm_key_header_name":
			if s, _, ok := p.str(path, kv.val); ok {
				g.KeyHeader = strings.ToLower(strings.TrimSpace(s))
				if g.KeyHeader == "" || strings.HasPrefix(g.KeyHeader, ":") || strings.ContainsAny(g.KeyHeader, " \t:") {
					p.errorf(kv.val.line, path, "want a header name")
				}
			}
		default:
			p.unsupported(kv.key, path)
		}
	}
	if g.DatabaseURL == "" {
		if s, ok := p.lookup("DATABASE_URL"); ok && (strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")) {
			g.DatabaseURL = Secret(s)
		}
	}
	// LiteLLM's documented alternative to general_settings.master_key. A
	// gateway that was protected by it must stay protected.
	if !configured {
		if s, ok := p.lookup("LITELLM_MASTER_KEY"); ok {
			g.MasterKey = Secret(s)
			if s == "" {
				p.errorf(0, "LITELLM_MASTER_KEY", "set but empty: refusing to start a gateway that would accept every request (set a key, or unset the variable to run without authentication)")
			}
		}
	}
	return g
}

// routerFallback holds the litellm_settings LiteLLM's Router falls back to
// when router_settings leaves them unset (they set module globals of the
// litellm package that Router.__init__ reads).
type routerFallback struct {
	numRetries, allowedFails *int
	timeout, cooldownTime    *time.Duration
	// routing holds fallbacks and cooldown switches set here.
	routing RouterSettings
	set     map[string]bool
}

func (p *parser) liteLLMSettings(v *value) routerFallback {
	f := routerFallback{set: make(map[string]bool)}
	for _, kv := range p.section("litellm_settings", v) {
		path := joinPath("litellm_settings", keyName(kv.key))
		switch keyName(kv.key) {
		case "num_retries":
			f.numRetries = p.count(path, kv.val)
		case "allowed_fails":
			f.allowedFails = p.count(path, kv.val)
		case "request_timeout":
			if d, ok := p.seconds(path, kv.val, false); ok {
				f.timeout = &d
			}
		case "cooldown_time":
			// LiteLLM's docs set it here (proxy/reliability); its Router
			// reads only router_settings', so the module value it sets is
			// never used. llmvoy follows the docs.
			f.cooldownTime = p.cooldownTime(path, kv.val)
		case "fallbacks", "context_window_fallbacks", "content_policy_fallbacks", "default_fallbacks", "disable_cooldowns":
			p.routingKey(&f.routing, keyName(kv.key), path, kv.val)
			f.set[keyName(kv.key)] = true
		case "model_group_settings":
			p.modelGroupSettings(path, kv.val)
		case "drop_params":
			p.dropParams(path, kv.val)
		case "success_callback":
			p.callbackList(path, kv.val, CallbackEvents{Success: true})
		case "failure_callback":
			p.callbackList(path, kv.val, CallbackEvents{Failure: true})
		case "callbacks":
			p.callbackList(path, kv.val, CallbackEvents{Success: true, Failure: true})
		case "cache", "cache_params":
			// Read together, below.
		case "return_response_headers":
			// llmvoy always passes a provider's response headers on
			// (docs/routing.md); false asks for less.
			if on, ok := p.boolean(path, kv.val); ok && !on {
				p.warnf(kv.val.line, path, "false has no effect: llmvoy always passes the provider's response headers on")
			}
		case "turn_off_message_logging":
			// llmvoy never logs prompts or answers; true asks for what
			// already holds.
			if on, ok := p.boolean(path, kv.val); ok && !on {
				p.warnf(kv.val.line, path, "false has no effect: llmvoy logs no messages (general_settings.store_prompts_in_spend_logs stores them in the spend logs and sends them to callbacks)")
			}
		default:
			p.unsupported(kv.key, path)
		}
	}
	p.cfg.Cache = p.cache(v)
	return f
}

// modelGroupSettings reads litellm_settings.model_group_settings: for now
// forward_client_headers_to_llm_api, the model groups whose providers get
// the client's own headers.
func (p *parser) modelGroupSettings(path string, v *value) {
	for _, kv := range p.section(path, v) {
		kpath := joinPath(path, keyName(kv.key))
		if keyName(kv.key) != "forward_client_headers_to_llm_api" {
			p.unsupported(kv.key, kpath)
			continue
		}
		if kv.val.isNull() {
			continue
		}
		if kv.val.kind != kindList {
			p.errorf(kv.val.line, kpath, "want a list of model group names, got %s", kv.val.kind)
			continue
		}
		groups := make(map[string]bool)
		for i, item := range kv.val.items {
			if s, _, ok := p.str(fmt.Sprintf("%s[%d]", kpath, i), item); ok && s != "" {
				groups[s] = true
			}
		}
		p.cfg.General.ForwardClientHeadersGroups = groups
	}
}

var routingStrategies = []string{
	RoutingSimpleShuffle, RoutingLeastBusy, RoutingLatencyBased,
	RoutingUsageBased, RoutingUsageBasedV2, RoutingCostBased,
}

func (p *parser) router(v *value, fallback routerFallback) RouterSettings {
	r := RouterSettings{
		RoutingStrategy: RoutingSimpleShuffle,
		NumRetries:      defaultNumRetries,
		AllowedFails:    defaultAllowedFails,
		CooldownTime:    defaultCooldownTime,
		MaxFallbacks:    defaultMaxFallbacks,
		// litellm_settings values; router_settings ones override them.
		Fallbacks:              fallback.routing.Fallbacks,
		ContextWindowFallbacks: fallback.routing.ContextWindowFallbacks,
		ContentPolicyFallbacks: fallback.routing.ContentPolicyFallbacks,
		DefaultFallbacks:       fallback.routing.DefaultFallbacks,
		DisableCooldowns:       fallback.routing.DisableCooldowns,
	}
	if fallback.numRetries != nil {
		r.NumRetries = *fallback.numRetries
	}
	if fallback.allowedFails != nil {
		r.AllowedFails = *fallback.allowedFails
	}
	if fallback.timeout != nil {
		r.Timeout = *fallback.timeout
	}
	if fallback.cooldownTime != nil {
		r.CooldownTime = *fallback.cooldownTime
	}
	for _, kv := range p.section("router_settings", v) {
		path := joinPath("router_settings", keyName(kv.key))
		switch keyName(kv.key) {
		case "routing_strategy":
			s, _, ok := p.str(path, kv.val)
			switch {
			case !ok:
			case slices.Contains(routingStrategies, s):
				r.RoutingStrategy = s
			case s == providerBudgetRouting:
				p.warnProviderBudgetRouting(kv.val, path)
			default:
				p.errorf(kv.val.line, path, "unknown routing strategy %q; want one of %s", s, strings.Join(routingStrategies, ", "))
			}
		case "num_retries":
			if n := p.count(path, kv.val); n != nil {
				r.NumRetries = *n
			}
		case "allowed_fails":
			if n := p.count(path, kv.val); n != nil {
				r.AllowedFails = *n
			}
		case "timeout":
			if d, ok := p.seconds(path, kv.val, false); ok {
				r.Timeout = d
			}
		case "cooldown_time":
			if d := p.cooldownTime(path, kv.val); d != nil {
				r.CooldownTime = *d
			}
		case "provider_budget_config":
			p.warnProviderBudgets(path, kv.val)
		case "redis_host":
			r.Redis.Host, _, _ = p.str(path, kv.val)
		case "redis_port":
			if n, ok := p.integer(path, kv.val); ok {
				if n <= 0 || n > 65535 {
					p.errorf(kv.val.line, path, "want a port from 1 to 65535, got %d", n)
				} else {
					r.Redis.Port = n
				}
			}
		case "redis_password":
			s, _, _ := p.str(path, kv.val)
			r.Redis.Password = Secret(s)
		case "redis_url":
			r.Redis.URL = p.redisURL(path, kv.val)
		default:
			if !p.routingKey(&r, keyName(kv.key), path, kv.val) {
				p.unsupported(kv.key, path)
			}
		}
	}
	if r.Redis.Host != "" && r.Redis.Port == 0 {
		r.Redis.Port = 6379
	}
	return r
}

// cooldownTime reads a cooldown_time; nil when wrong or 0, which means
// LiteLLM's default (Router.__init__: cooldown_time or
// DEFAULT_COOLDOWN_TIME_SECONDS).
func (p *parser) cooldownTime(path string, v *value) *time.Duration {
	d, ok := p.seconds(path, v, true)
	switch {
	case !ok:
		return nil
	case d == 0:
		p.warnf(v.line, path, "0 means LiteLLM's default of %s", defaultCooldownTime)
		return nil
	}
	return &d
}

// count reads an integer >= 0; nil when unset or wrong.
func (p *parser) count(path string, v *value) *int {
	n, ok := p.integer(path, v)
	if !ok {
		return nil
	}
	if n < 0 {
		p.errorf(v.line, path, "want an integer >= 0, got %d", n)
		return nil
	}
	return &n
}
