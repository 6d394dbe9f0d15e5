package config

import (
	"fmt"
	"slices"
	"strings"
)

// Fallback chains, aliases and cooldown switches. LiteLLM reads them from
// router_settings, and fallbacks and disable_cooldowns also from
// litellm_settings (module globals its Router falls back to).

// Kinds of fallback chain. A chain is tried once a request has failed on
// every retry in its group; which chain depends on the error.
const (
	// FallbackGeneric is `fallbacks` (then `default_fallbacks`): any error
	// that is not the client's fault.
	FallbackGeneric = "generic"
	// FallbackContextWindow is `context_window_fallbacks`: the prompt does
	// not fit the model's context window.
	FallbackContextWindow = "context_window"
	// FallbackContentPolicy is `content_policy_fallbacks`: the provider
	// refused the content.
	FallbackContentPolicy = "content_policy"
)

// defaultMaxFallbacks is LiteLLM's Router default for max_fallbacks.
const defaultMaxFallbacks = 5

// Alias is one model_group_alias entry: clients ask for the alias and are
// served by Group. Hidden aliases are left out of /v1/models.
type Alias struct {
	Group  string
	Hidden bool
}

// FallbackChain returns the groups to try, in order, after group failed with
// an error of the given kind, at most MaxFallbacks of them. A group's own
// entry wins over the "*" entry; generic errors fall back to
// default_fallbacks last, as in LiteLLM. A context-window or content-policy
// error takes the generic chain when its own setting is absent or empty:
// LiteLLM's Router then "defaults to fallbacks" (an empty list reads as
// none there), while a setting that merely lacks the group means no
// fallback.
func (r *RouterSettings) FallbackChain(kind, group string) []string {
	var chains map[string][]string
	switch kind {
	case FallbackGeneric:
		chains = r.Fallbacks
	case FallbackContextWindow:
		chains = r.ContextWindowFallbacks
	case FallbackContentPolicy:
		chains = r.ContentPolicyFallbacks
	}
	if len(chains) == 0 && kind != FallbackGeneric {
		return r.FallbackChain(FallbackGeneric, group)
	}
	chain, ok := chains[group]
	if !ok {
		chain = chains["*"]
	}
	if len(chain) == 0 && kind == FallbackGeneric {
		chain = r.DefaultFallbacks
	}
	var out []string
	for _, g := range chain {
		if g != group && len(out) < r.MaxFallbacks {
			out = append(out, g)
		}
	}
	return out
}

// HasFallbacks reports whether any chain starts at group.
func (r *RouterSettings) HasFallbacks(group string) bool {
	for _, kind := range []string{FallbackGeneric, FallbackContextWindow, FallbackContentPolicy} {
		if len(r.FallbackChain(kind, group)) > 0 {
			return true
		}
	}
	return false
}

// unknownTokenCost is what cost-based routing assumes a token costs when the
// deployment sets no price: LiteLLM's default for models missing from its
// price table.
const unknownTokenCost = 5.0

// RoutingCost is the price cost-based routing compares: input plus output
// cost per token, each LiteLLM's default when unset.
func (d *Deployment) RoutingCost() float64 {
	in, out := d.InputCostPerToken, d.OutputCostPerToken
	if in == 0 {
		in = unknownTokenCost
	}
	if out == 0 {
		out = unknownTokenCost
	}
	return in + out
}

// routingKey parses one of the keys above into r; false when key is not
// one of them.
func (p *parser) routingKey(r *RouterSettings, key string, path string, v *value) bool {
	switch key {
	case "fallbacks":
		r.Fallbacks = p.fallbacks(path, v)
	case "context_window_fallbacks":
		r.ContextWindowFallbacks = p.fallbacks(path, v)
	case "content_policy_fallbacks":
		r.ContentPolicyFallbacks = p.fallbacks(path, v)
	case "default_fallbacks":
		r.DefaultFallbacks = p.groupList(path, v)
	case "max_fallbacks":
		if n := p.count(path, v); n != nil {
			r.MaxFallbacks = *n
		}
	case "enable_pre_call_checks":
		if b, ok := p.boolean(path, v); ok {
			r.EnablePreCallChecks = b
		}
	case "enable_stream_continuation":
		if b, ok := p.boolean(path, v); ok {
			r.EnableStreamContinuation = b
		}
	case "disable_cooldowns":
		if b, ok := p.boolean(path, v); ok {
			r.DisableCooldowns = b
		}
	case "model_group_alias":
		r.Aliases = p.aliases(path, v)
	case "routing_strategy_args":
		p.strategyArgs(&r.StrategyArgs, path, v)
	case "retry_policy":
		r.RetryPolicy = p.classCounts(path, v, "Retries")
	case "allowed_fails_policy":
		r.AllowedFailsPolicy = p.classCounts(path, v, "AllowedFails")
	case "retry_after":
		if d, ok := p.seconds(path, v, true); ok {
			r.RetryAfter = d
		}
	case "model_group_hedging":
		r.Hedging = p.hedging(path, v)
	default:
		return false
	}
	return true
}

// fallbacks reads LiteLLM's list of one-key mappings,
// [{"gpt-3.5-turbo": ["gpt-4o"]}, {"*": ["claude"]}], into group → chain.
func (p *parser) fallbacks(path string, v *value) map[string][]string {
	if v.isNull() {
		return nil
	}
	if v.kind != kindList {
		p.errorf(v.line, path, `want a list of mappings like [{"model-group": ["fallback-group"]}], got %s`, v.kind)
		return nil
	}
	out := make(map[string][]string)
	for i, item := range v.items {
		ipath := indexPath(path, i)
		if item.kind != kindDict {
			p.errorf(item.line, ipath, `want a mapping like {"model-group": ["fallback-group"]}, got %s`, item.kind)
			continue
		}
		for _, kv := range item.pairs {
			group := keyName(kv.key)
			if _, dup := out[group]; dup {
				p.errorf(kv.key.line, joinPath(ipath, group), "fallbacks for %q are listed twice", group)
				continue
			}
			p.refGroup(kv.key, joinPath(ipath, group), group)
			out[group] = p.groupList(joinPath(ipath, group), kv.val)
		}
	}
	return out
}

// groupList reads a list of model group names (a single name counts too).
func (p *parser) groupList(path string, v *value) []string {
	if v.isNull() {
		return nil
	}
	if v.kind == kindStr {
		p.refStep(v, path, v.s)
		return []string{v.s}
	}
	if v.kind != kindList {
		p.errorf(v.line, path, "want a list of model group names, got %s", v.kind)
		return nil
	}
	var out []string
	for i, item := range v.items {
		if item.kind != kindStr || item.s == "" {
			p.errorf(item.line, indexPath(path, i), "want a model group name, got %s", describe(item, "", ""))
			continue
		}
		p.refStep(item, indexPath(path, i), item.s)
		out = append(out, item.s)
	}
	return out
}

// aliases reads model_group_alias: {"alias": "group"} or
// {"alias": {"model": "group", "hidden": true}}.
func (p *parser) aliases(path string, v *value) map[string]Alias {
	out := make(map[string]Alias)
	for _, kv := range p.section(path, v) {
		name := keyName(kv.key)
		apath := joinPath(path, name)
		switch val := kv.val; val.kind {
		case kindStr:
			p.refGroup(val, apath, val.s)
			out[name] = Alias{Group: val.s}
		case kindDict:
			var a Alias
			for _, f := range val.pairs {
				fpath := joinPath(apath, keyName(f.key))
				switch keyName(f.key) {
				case "model":
					a.Group, _, _ = p.str(fpath, f.val)
				case "hidden":
					a.Hidden, _ = p.boolean(fpath, f.val)
				default:
					p.unsupported(f.key, fpath)
				}
			}
			if a.Group == "" {
				p.errorf(val.line, apath, "want a model group in model")
				continue
			}
			p.refGroup(val, apath, a.Group)
			out[name] = a
		default:
			p.errorf(val.line, apath, `want a model group name or {"model": ..., "hidden": ...}, got %s`, val.kind)
		}
	}
	return out
}

// strategyArgs reads routing_strategy_args: the latency-based strategy's
// knobs (the only ones LiteLLM documents).
func (p *parser) strategyArgs(a *StrategyArgs, path string, v *value) {
	for _, kv := range p.section(path, v) {
		kpath := joinPath(path, keyName(kv.key))
		switch keyName(kv.key) {
		case "lowest_latency_buffer":
			if f, ok := p.number(kpath, kv.val); ok {
				if f < 0 {
					p.errorf(kv.val.line, kpath, "want a number >= 0, got %s", formatNumber(f))
					continue
				}
				a.LowestLatencyBuffer = f
			}
		case "ttl":
			if d, ok := p.seconds(kpath, kv.val, false); ok {
				a.TTL = d
			}
		default:
			p.unsupported(kv.key, kpath)
		}
	}
}

// classCounts reads retry_policy or allowed_fails_policy: counts keyed by
// error class plus suffix ("RateLimitErrorRetries": 3).
func (p *parser) classCounts(path string, v *value, suffix string) map[ErrorClass]int {
	out := make(map[ErrorClass]int)
	for _, kv := range p.section(path, v) {
		key := keyName(kv.key)
		kpath := joinPath(path, key)
		class := ErrorClass(strings.TrimSuffix(key, suffix))
		if !strings.HasSuffix(key, suffix) || !slices.Contains(ErrorClasses, class) {
			var names []string
			for _, c := range ErrorClasses {
				names = append(names, string(c)+suffix)
			}
			p.errorf(kv.key.line, kpath, "unknown key; want one of %s", strings.Join(names, ", "))
			continue
		}
		if n := p.count(kpath, kv.val); n != nil {
			out[class] = *n
		}
	}
	return out
}

// boolean reads a YAML boolean (LiteLLM also takes "true"/"false" strings).
func (p *parser) boolean(path string, v *value) (bool, bool) {
	if v.isNull() {
		return false, false
	}
	if v.kind == kindBool {
		return v.b, true
	}
	if v.kind == kindStr {
		switch strings.ToLower(v.s) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	p.errorf(v.line, path, "want true or false, got %s", describe(v, "", ""))
	return false, false
}

// groupRef is a model group named by a fallback or an alias, checked once
// the model list is read.
type groupRef struct {
	line        int
	path, group string
	// fallback: a step of a fallback chain, which may name a deployment.
	fallback bool
}

func (p *parser) refGroup(v *value, path, group string) {
	p.groupRefs = append(p.groupRefs, groupRef{line: v.line, path: path, group: group})
}

// refStep is refGroup for a step of a fallback chain.
func (p *parser) refStep(v *value, path, group string) {
	p.groupRefs = append(p.groupRefs, groupRef{line: v.line, path: path, group: group, fallback: true})
}

// checkGroupRefs names every fallback or alias that points at no model
// group: LiteLLM only finds out when a request needs it.
func (p *parser) checkGroupRefs(groups []string) {
	for _, ref := range p.groupRefs {
		switch {
		case ref.group == "*" || slices.Contains(groups, ref.group):
		case p.cfg.Deployment(ref.group) != nil && ref.fallback:
			// LiteLLM lets a fallback name one deployment by its id: a
			// group of that deployment.
			if !slices.Contains(p.cfg.DeploymentGroups, ref.group) {
				p.cfg.DeploymentGroups = append(p.cfg.DeploymentGroups, ref.group)
			}
		case p.cfg.Deployment(ref.group) != nil:
			p.warnf(ref.line, ref.path, "%q is a deployment's id, not a model group: only a fallback step may name one deployment, so it is skipped", ref.group)
		default:
			p.errorf(ref.line, ref.path, "unknown model group %q; model groups: %s", ref.group, strings.Join(groups, ", "))
		}
	}
	groups = append(groups, p.cfg.DeploymentGroups...)
	r := &p.cfg.Router
	for _, chains := range []map[string][]string{r.Fallbacks, r.ContextWindowFallbacks, r.ContentPolicyFallbacks} {
		for from, chain := range chains {
			chains[from] = slices.DeleteFunc(chain, func(g string) bool { return !slices.Contains(groups, g) })
		}
	}
	r.DefaultFallbacks = slices.DeleteFunc(r.DefaultFallbacks, func(g string) bool { return !slices.Contains(groups, g) })
	for name := range p.cfg.Router.Aliases {
		if slices.Contains(groups, name) {
			p.warnf(0, "router_settings.model_group_alias."+name, "%q is also a model group; requests for it go to the alias's group", name)
		}
	}
}

func indexPath(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }
