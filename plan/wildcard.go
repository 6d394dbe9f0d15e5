package plan

import (
	"cmp"
	"regexp"
	"slices"
	"strings"

	"github.com/llmvoy/llmvoy/config"
)

// Wildcard routes: LiteLLM's model_name patterns ("*", "openai/*",
// "claude-*", "fo::*:static::*"). A pattern group is a model group like any
// other (a cluster, its deployments, retries, fallbacks); what differs is
// that it serves the requested names that match it and no group names
// exactly, and that a "*" in a deployment's model is filled with what the
// pattern's "*" matched.

// IsPattern reports whether a model_name is a wildcard pattern.
func IsPattern(name string) bool { return strings.Contains(name, "*") }

// patternRegexp is the pattern as LiteLLM matches it: each "*" any text
// (captured), the rest literally. Unlike LiteLLM's re.match, the whole
// name must match: "*-mini" does not serve "gpt-4o-mini-tts".
func patternRegexp(name string) *regexp.Regexp {
	parts := strings.Split(name, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`^(?s)` + strings.Join(parts, "(.*)") + `$`)
}

// sortPatterns orders the pattern groups most specific first, as LiteLLM
// tries them: the longer pattern first, then the one with more wildcards,
// then config order.
func sortPatterns(groups []*Group) {
	slices.SortStableFunc(groups, func(a, b *Group) int {
		return cmp.Or(cmp.Compare(len(b.Name), len(a.Name)), cmp.Compare(strings.Count(b.Name, "*"), strings.Count(a.Name, "*")))
	})
}

// Match is the pattern group that serves a requested model no group names
// exactly: the most specific pattern that matches it; nil when none does.
func (p *Plan) Match(model string) *Group {
	for _, g := range p.patterns {
		if g.pattern.MatchString(model) {
			return g
		}
	}
	return nil
}

// UpstreamModel is the model a deployment of the group is asked for when a
// client asked for requested: for a pattern group, each "*" of the
// deployment's model replaced, in order, by what the pattern's "*" matched
// ("openai/*" asked for "openai/gpt-4o" sends "gpt-4o"; "*" with
// "openai/*" asked for "gpt-4o" sends "gpt-4o"), else the deployment's
// model. As in LiteLLM, when the pattern has more "*" than the model, the
// model is the requested name (without the deployment's provider prefix).
func (g *Group) UpstreamModel(d *config.Deployment, requested string) string {
	if g == nil || g.pattern == nil || !strings.Contains(d.UpstreamModel, "*") {
		return d.UpstreamModel
	}
	m := g.pattern.FindStringSubmatch(requested)
	if m == nil {
		return d.UpstreamModel
	}
	segments := m[1:]
	if len(segments) > strings.Count(d.UpstreamModel, "*") {
		return strings.TrimPrefix(requested, d.Provider+"/")
	}
	model := d.UpstreamModel
	for _, s := range segments {
		model = strings.Replace(model, "*", s, 1)
	}
	return model
}

// IsPattern reports whether the group is a wildcard route.
func (g *Group) IsPattern() bool { return g.pattern != nil }
