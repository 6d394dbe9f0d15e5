package plan

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWildcardMatchAndUpstreamModel(t *testing.T) {
	p := build(t,
		dep(`"*"`, "model: openai/*, api_base: http://h:1/v1")+
			dep(`"openai/*"`, "model: openai/*, api_base: http://h:2/v1")+
			dep(`"openai/gpt-4o-*"`, "model: openai/fixed, api_base: http://h:3/v1")+
			dep(`"fo::*:static::*"`, "model: openai/fo::*:static::*, api_base: http://h:4/v1")+
			dep(`"two/*/*"`, "model: openai/*, api_base: http://h:5/v1")+
			dep(`"claude-*"`, "model: anthropic/claude-*, api_key: k")+
			dep("gpt-4o", "model: openai/gpt-4o, api_base: http://h:6/v1"), "")
	for _, tc := range []struct {
		requested, group, upstream string
	}{
		{"gpt-4o-mini", "*", "gpt-4o-mini"},
		{"openai/gpt-4o-mini", "openai/gpt-4o-*", "fixed"}, // the longer pattern
		{"openai/o3", "openai/*", "o3"},
		{"fo::hi:static::there", "fo::*:static::*", "fo::hi:static::there"},
		{"two/a/b", "two/*/*", "two/a/b"}, // more "*" in the pattern than in the model: the requested name
		{"claude-sonnet-4-5", "claude-*", "claude-sonnet-4-5"},
		{"anything at all", "*", "anything at all"},
	} {
		t.Run(tc.requested, func(t *testing.T) {
			g := p.Match(tc.requested)
			require.NotNil(t, g)
			require.Equal(t, tc.group, g.Name)
			require.True(t, g.IsPattern())
			require.Equal(t, tc.upstream, g.UpstreamModel(g.Deployments[0], tc.requested))
		})
	}
	// An exact group is not a pattern: its model is its own.
	exact := p.Group("gpt-4o")
	require.False(t, exact.IsPattern())
	require.Equal(t, "gpt-4o", exact.UpstreamModel(exact.Deployments[0], "gpt-4o"))
	// A name the pattern does not match (a fallback's pass) keeps the model.
	require.Equal(t, "claude-*", p.Group("claude-*").UpstreamModel(p.Group("claude-*").Deployments[0], "gpt-4o"))
}

func TestWildcardNoMatch(t *testing.T) {
	p := build(t, dep(`"openai/*"`, "model: openai/*, api_base: http://h:2/v1")+dep(`"*-mini"`, "model: openai/*-mini, api_base: http://h:2/v1"), "")
	require.Nil(t, p.Match("gpt-4o"))
	// Anchored at both ends, unlike LiteLLM's re.match.
	require.Nil(t, p.Match("gpt-4o-mini-tts"))
	require.Equal(t, "gpt-4o-mini", p.Match("gpt-4o-mini").UpstreamModel(p.Group("*-mini").Deployments[0], "gpt-4o-mini"))
}
