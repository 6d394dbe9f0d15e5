package router

import (
	"maps"
	"slices"
	"testing"
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/plan"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// groupConfig is one model group of deployments "a", "b" and "c".
func groupConfig(r config.RouterSettings) *config.Config {
	cfg := &config.Config{Router: r}
	for _, id := range []string{"a", "b", "c"} {
		cfg.Deployments = append(cfg.Deployments, &config.Deployment{ID: id, ModelName: "g"})
	}
	return cfg
}

func newTestCooldowns(allowedFails int, cooldown time.Duration) (*Cooldowns, *clock) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := NewCooldowns(groupConfig(config.RouterSettings{AllowedFails: allowedFails, CooldownTime: cooldown}))
	c.now = clk.now
	<-c.Changed() // the initial publication
	return c, clk
}

func TestCooldownAfterMoreThanAllowedFailsInAMinute(t *testing.T) {
	c, clk := newTestCooldowns(2, 30*time.Second)
	fail := Outcome{Deployment: "a", Status: 500}
	c.Record(fail)
	c.Record(fail)
	require.Empty(t, c.Active(), "allowed_fails failures are allowed")
	c.Record(Outcome{Deployment: "a", Status: 400}) // the request's fault
	c.Record(Outcome{Deployment: "a", Status: 200})
	require.Empty(t, c.Active())
	c.Record(fail)
	require.Equal(t, map[string]time.Time{"a": clk.t.Add(30 * time.Second)}, c.Active())
	select {
	case <-c.Changed():
	default:
		t.Fatal("no change signalled")
	}
	clk.advance(30 * time.Second)
	require.Empty(t, c.Active(), "the cooldown ends after cooldown_time")
	// Counting starts afresh after a cooldown.
	c.Record(fail)
	require.Empty(t, c.Active())
}

func TestFailuresOlderThanAMinuteDoNotCount(t *testing.T) {
	c, clk := newTestCooldowns(1, time.Second)
	c.Record(Outcome{Deployment: "a", Status: 0})
	clk.advance(61 * time.Second)
	c.Record(Outcome{Deployment: "a", Status: 503})
	require.Empty(t, c.Active())
	clk.advance(10 * time.Second)
	c.Record(Outcome{Deployment: "a", Status: 429})
	require.Contains(t, c.Active(), "a")
}

func TestRetryAfterLengthensA429Cooldown(t *testing.T) {
	c, clk := newTestCooldowns(0, 5*time.Second)
	c.Record(Outcome{Deployment: "a", Status: 429, RetryAfter: 20 * time.Second})
	require.Equal(t, clk.t.Add(20*time.Second), c.Active()["a"])
	c.Record(Outcome{Deployment: "b", Status: 429, RetryAfter: time.Second})
	require.Equal(t, clk.t.Add(5*time.Second), c.Active()["b"], "never shorter than cooldown_time")
}

func TestDisableCooldowns(t *testing.T) {
	c, _ := newTestCooldowns(0, time.Minute)
	c.Record(Outcome{Deployment: "a", Status: 500})
	require.Contains(t, c.Active(), "a")
	c.SetConfig(groupConfig(config.RouterSettings{DisableCooldowns: true}))
	require.Empty(t, c.Active(), "disabling cooldowns ends them")
	c.Record(Outcome{Deployment: "a", Status: 500})
	require.Empty(t, c.Active())
}

func TestCooldownEndIsSignalled(t *testing.T) {
	c := NewCooldowns(groupConfig(config.RouterSettings{CooldownTime: 50 * time.Millisecond}))
	<-c.Changed()
	c.Record(Outcome{Deployment: "a", Status: 500})
	<-c.Changed()
	require.Contains(t, c.Active(), "a")
	select {
	case <-c.Changed():
		require.Empty(t, c.Active())
	case <-time.After(5 * time.Second):
		t.Fatal("the end of the cooldown was not signalled")
	}
}

func TestFailedClassification(t *testing.T) {
	for status, want := range map[int]bool{0: true, 500: true, 503: true, 429: true, 401: true, 404: true, 408: true, 400: false, 413: false, 422: false, 200: false} {
		require.Equal(t, want, Outcome{Status: status}.Failed(), "status %d", status)
	}
}

func TestOutcomeOfAccessLogEntry(t *testing.T) {
	entry := func(code uint32, flags *accesslogv3.ResponseFlags, headers map[string]string) *accesslogv3.HTTPAccessLogEntry {
		return &accesslogv3.HTTPAccessLogEntry{
			CommonProperties: &accesslogv3.AccessLogCommon{CustomTags: map[string]string{plan.DeploymentTag: "a"}, ResponseFlags: flags},
			Response:         &accesslogv3.HTTPResponseProperties{ResponseCode: wrapperspb.UInt32(code), ResponseHeaders: headers},
		}
	}
	o, ok := outcomeOf(entry(429, nil, map[string]string{"retry-after": "7"}), false)
	require.True(t, ok)
	require.Equal(t, Outcome{Deployment: "a", Status: 429, RetryAfter: 7 * time.Second}, o)

	o, ok = outcomeOf(entry(503, &accesslogv3.ResponseFlags{UpstreamConnectionFailure: true}, nil), false)
	require.True(t, ok)
	require.Equal(t, 0, o.Status, "no answer from the deployment")

	_, ok = outcomeOf(entry(0, &accesslogv3.ResponseFlags{DownstreamConnectionTermination: true}, nil), false)
	require.False(t, ok, "the client left")
	_, ok = outcomeOf(entry(307, nil, nil), false)
	require.False(t, ok, "a fallback redirect")
	_, ok = outcomeOf(&accesslogv3.HTTPAccessLogEntry{}, false)
	require.False(t, ok, "no deployment")
}

func TestParseRetryAfter(t *testing.T) {
	require.Equal(t, 2*time.Second, ParseRetryAfter("2"))
	require.Equal(t, 1500*time.Millisecond, ParseRetryAfter(" 1.5 "))
	require.Equal(t, time.Duration(0), ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT"))
	require.Equal(t, maxRetryAfterCooldown, ParseRetryAfter("999999"))
}

// LiteLLM never cools down the only deployment of a group.
func TestSoleDeploymentNeverCoolsDown(t *testing.T) {
	cfg := &config.Config{Router: config.RouterSettings{CooldownTime: time.Minute}, Deployments: []*config.Deployment{
		{ID: "alone", ModelName: "solo"}, {ID: "x", ModelName: "pair"}, {ID: "y", ModelName: "pair"},
	}}
	c := NewCooldowns(cfg)
	for range 10 {
		c.Record(Outcome{Deployment: "alone", Status: 500})
	}
	c.Record(Outcome{Deployment: "x", Status: 500})
	require.Equal(t, []string{"x"}, slices.Collect(maps.Keys(c.Active())))

	// A reload that drops x ends its cooldown.
	c.SetConfig(&config.Config{Router: cfg.Router, Deployments: cfg.Deployments[:1]})
	require.Empty(t, c.Active())
}

func TestAllowedFailsPolicyCountsPerClass(t *testing.T) {
	cfg := groupConfig(config.RouterSettings{AllowedFails: 0, CooldownTime: time.Minute,
		AllowedFailsPolicy: map[config.ErrorClass]int{config.ErrRateLimit: 2}})
	c := NewCooldowns(cfg)
	c.Record(Outcome{Deployment: "a", Status: 429})
	c.Record(Outcome{Deployment: "a", Status: 429})
	require.Empty(t, c.Active(), "two rate-limit errors are allowed")
	c.Record(Outcome{Deployment: "b", Status: 500})
	require.Contains(t, c.Active(), "b", "other classes keep allowed_fails (0)")
	c.Record(Outcome{Deployment: "a", Status: 429})
	require.Contains(t, c.Active(), "a")
}
