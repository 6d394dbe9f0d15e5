package config

import (
	"slices"
	"strings"
	"time"
)

// Hedge is one model group's entry of router_settings.model_group_hedging:
// an attempt that has not begun to answer after Delay is raced by a second
// attempt on another deployment of the group, and the first answer wins.
// LiteLLM has no such setting; its name follows model_group_retry_policy
// and model_group_alias.
type Hedge struct {
	// Delay is how long the first attempt may take to begin its answer
	// before the hedge is sent, in seconds in the file; 0 with P95.
	Delay time.Duration
	// P95 is `delay: p95`: the delay is the 95th percentile of the
	// group's recent times to first byte, as llmvoy measures them.
	P95 bool

	line int
}

// hedging reads model_group_hedging: {"group": {"delay": 0.5}}, or
// {"group": {"delay": "p95"}}.
func (p *parser) hedging(path string, v *value) map[string]Hedge {
	out := make(map[string]Hedge)
	for _, kv := range p.section(path, v) {
		group := keyName(kv.key)
		gpath := joinPath(path, group)
		h := Hedge{line: kv.key.line}
		delay := false
		for _, f := range p.section(gpath, kv.val) {
			fpath := joinPath(gpath, keyName(f.key))
			switch keyName(f.key) {
			case "delay":
				delay = true
				if f.val.kind == kindStr && strings.EqualFold(f.val.s, "p95") {
					h.P95 = true
					continue
				}
				h.Delay, _ = p.seconds(fpath, f.val, false)
			default:
				p.unsupported(f.key, fpath)
			}
		}
		switch {
		case h.Delay > 0 || h.P95:
			out[group] = h
		case !delay:
			p.errorf(kv.key.line, gpath, `want a delay in seconds, e.g. {delay: 0.5}, or {delay: "p95"}`)
		}
	}
	return out
}

// checkHedging checks what hedging needs from the rest of the file: Envoy
// sends the hedge as one of the request's retries, and only when the delay
// is shorter than the request's timeout.
func (p *parser) checkHedging() {
	r := &p.cfg.Router
	for group, h := range r.Hedging {
		path := joinPath("router_settings.model_group_hedging", group)
		switch groups := p.cfg.Groups(); {
		case !slices.Contains(groups, group):
			p.errorf(h.line, path, "unknown model group %q; model groups: %s", group, strings.Join(groups, ", "))
		case r.MaxRetries() == 0:
			p.errorf(h.line, path, "hedging sends the second attempt as a retry: it needs num_retries >= 1")
		case r.Timeout > 0 && h.Delay >= r.Timeout:
			p.errorf(h.line, path, "the delay (%s) must be shorter than router_settings.timeout (%s)", h.Delay, r.Timeout)
		case len(p.cfg.Group(group)) == 1:
			p.warnf(h.line, path, "the group has one deployment: the hedge goes to that same deployment")
		}
	}
}
