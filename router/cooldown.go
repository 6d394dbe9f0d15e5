// Package router holds the routing state llmvoy keeps in Go, beside what
// Envoy executes: which deployments are cooling down. It learns the outcome
// of every upstream attempt (from Envoy's upstream access log, and from the
// upstream processor when it turns a failure into a fallback), applies
// LiteLLM's cooldown rules, and says when the set of cooling deployments
// changed so the control plane can mark them unhealthy over EDS. Replicas
// sharing a Redis share their cooldowns (see Cooldowns.Share).
package router

import (
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/counters"
)

// failureWindow is how far back failures count toward allowed_fails:
// LiteLLM counts them per minute.
const failureWindow = time.Minute

// maxRetryAfterCooldown caps how long a provider's Retry-After may keep a
// deployment cooling down, so one odd header cannot take it out for a day.
const maxRetryAfterCooldown = 10 * time.Minute

// Outcome is how one upstream attempt on a deployment ended.
type Outcome struct {
	Deployment string
	// Status is the deployment's HTTP status; 0 when it gave none
	// (connection failure, reset, timeout).
	Status int
	// RetryAfter is the deployment's Retry-After, if it sent one.
	RetryAfter time.Duration
	// Latency is the time from the start of the attempt to the first byte
	// of the deployment's answer (for a stream, its first token); 0 if
	// unknown. It does not grow with the length of the answer, so a
	// deployment is not penalised for long completions.
	Latency time.Duration
}

// Failed reports whether the outcome counts toward a cooldown. As in
// LiteLLM, 5xx, 429, 401, 404 and 408 do, and so do attempts without an
// answer; other 4xx are the request's fault, not the deployment's.
func (o Outcome) Failed() bool {
	switch s := o.Status; {
	case s == 0, s >= 500:
		return true
	case s == 429, s == 401, s == 404, s == 408:
		return true
	}
	return false
}

// Class is the outcome's LiteLLM error class; "" for a success or a status
// no class covers (404).
func (o Outcome) Class() config.ErrorClass { return config.ClassOf(o.Status) }

// Cooldowns applies allowed_fails and cooldown_time: a deployment that fails
// more than allowed_fails times within a minute gets no traffic for
// cooldown_time (or for its Retry-After, when that is longer). As in
// LiteLLM, the only deployment of a model group is never cooled down:
// taking it out would turn every request into an error without sparing
// anyone a failure. Replicas share their cooldowns through Share. Safe for
// concurrent use; reads are lock-free.
type Cooldowns struct {
	now func() time.Time

	mu       sync.Mutex
	settings config.RouterSettings
	deployed map[string]bool        // the config's deployments
	sole     map[string]bool        // deployments alone in their group
	hedged   map[string]bool        // deployments of groups that hedge
	fails    map[string][]time.Time // recent failure times per deployment
	until    map[string]time.Time   // cooldown end per cooling deployment
	timer    *time.Timer            // fires at the next cooldown end

	// active is an immutable copy of until for readers.
	active  atomic.Pointer[map[string]time.Time]
	changed chan struct{}

	// shared holds the failure counts and cooldowns of all replicas
	// (Redis); nil when this replica keeps its own. Failures and
	// cooldowns reach it off the request path, through events.
	shared CooldownStore
	events chan cooldownEvent
	stop   chan struct{}
}

// NewCooldowns returns cooldown state for cfg.
func NewCooldowns(cfg *config.Config) *Cooldowns {
	c := &Cooldowns{
		now:      time.Now,
		settings: cfg.Router,
		deployed: deployments(cfg),
		sole:     soleDeployments(cfg),
		hedged:   hedgedDeployments(cfg),
		fails:    make(map[string][]time.Time),
		until:    make(map[string]time.Time),
		changed:  make(chan struct{}, 1),
	}
	c.publishLocked()
	return c
}

// SetConfig applies a reloaded config. Cooldowns in progress run to their
// end, unless their deployment is gone or cooldowns were disabled.
func (c *Cooldowns) SetConfig(cfg *config.Config) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.settings, c.deployed, c.sole, c.hedged = cfg.Router, deployments(cfg), soleDeployments(cfg), hedgedDeployments(cfg)
	gone := func(id string) bool { return cfg.Deployment(id) == nil || cfg.Router.DisableCooldowns }
	maps.DeleteFunc(c.fails, func(key string, _ []time.Time) bool {
		id, _, _ := strings.Cut(key, "\x00") // per-class keys: id NUL class
		return gone(id)
	})
	n := len(c.until)
	maps.DeleteFunc(c.until, func(id string, _ time.Time) bool { return gone(id) })
	if len(c.until) != n {
		c.publishLocked()
	}
}

func deployments(cfg *config.Config) map[string]bool {
	m := make(map[string]bool, len(cfg.Deployments))
	for _, d := range cfg.Deployments {
		m[d.ID] = true
	}
	return m
}

func soleDeployments(cfg *config.Config) map[string]bool {
	sole := make(map[string]bool)
	for _, g := range cfg.Groups() {
		if ds := cfg.Group(g); len(ds) == 1 {
			sole[ds[0].ID] = true
		}
	}
	return sole
}

// Changed receives a value whenever the set of cooling deployments changed.
func (c *Cooldowns) Changed() <-chan struct{} { return c.changed }

// Active returns the cooling deployments and when each cooldown ends. The
// map is shared: do not modify it.
func (c *Cooldowns) Active() map[string]time.Time {
	m := *c.active.Load()
	now := c.now()
	for _, until := range m {
		if !until.After(now) {
			// A cooldown ended and its timer has not fired yet.
			return c.pruned(now)
		}
	}
	return m
}

func (c *Cooldowns) pruned(now time.Time) map[string]time.Time {
	m := maps.Clone(*c.active.Load())
	maps.DeleteFunc(m, func(_ string, until time.Time) bool { return !until.After(now) })
	return m
}

// Record counts one attempt's outcome.
func (c *Cooldowns) Record(o Outcome) {
	if o.Deployment == "" || !o.Failed() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.settings.DisableCooldowns || c.sole[o.Deployment] {
		return
	}
	now := c.now()
	if until, ok := c.until[o.Deployment]; ok && until.After(now) {
		return // already cooling down
	}
	// Keep the failures of the last minute, at most allowed_fails+1 of
	// them, per error class when allowed_fails_policy names the class.
	allowed := c.settings.AllowedFails
	key := o.Deployment
	if n, ok := c.settings.AllowedFailsPolicy[o.Class()]; ok {
		allowed, key = n, o.Deployment+"\x00"+string(o.Class())
	}
	if c.shared != nil {
		c.enqueueLocked(cooldownEvent{id: o.Deployment, key: sharedFailKey(o.Deployment, key != o.Deployment, o.Class(), now),
			allowed: allowed, status: o.Status, retryAfter: o.RetryAfter})
	}
	limit := allowed + 1
	recent := c.fails[key]
	for len(recent) > 0 && now.Sub(recent[0]) >= failureWindow {
		recent = recent[1:]
	}
	recent = append(recent, now)
	if len(recent) > limit {
		recent = recent[len(recent)-limit:]
	}
	if len(recent) <= allowed {
		c.fails[key] = recent
		return
	}
	// More than allowed in a minute: cool down.
	until := c.coolLocked(o.Deployment, o.Status, o.RetryAfter, now)
	c.enqueueLocked(cooldownEvent{id: o.Deployment, cool: true, until: until, minute: counters.Minute(now)})
}

// coolLocked cools deployment id down from now, for cooldown_time or the
// Retry-After of a 429 when that is longer, and starts counting its
// failures afresh for when the cooldown ends.
func (c *Cooldowns) coolLocked(id string, status int, retryAfter time.Duration, now time.Time) time.Time {
	c.forgetFailsLocked(id)
	d := c.settings.CooldownTime
	if status == 429 && retryAfter > d {
		d = min(retryAfter, maxRetryAfterCooldown)
	}
	c.until[id] = now.Add(d)
	c.publishLocked()
	return c.until[id]
}

// forgetFailsLocked drops the failures counted against deployment id.
func (c *Cooldowns) forgetFailsLocked(id string) {
	maps.DeleteFunc(c.fails, func(k string, _ []time.Time) bool {
		return k == id || strings.HasPrefix(k, id+"\x00")
	})
}

// publishLocked drops ended cooldowns, publishes the rest to readers,
// signals the change and arms the timer for the next end.
func (c *Cooldowns) publishLocked() {
	now := c.now()
	maps.DeleteFunc(c.until, func(_ string, until time.Time) bool { return !until.After(now) })
	snapshot := maps.Clone(c.until)
	c.active.Store(&snapshot)
	select {
	case c.changed <- struct{}{}:
	default: // a change is already pending; the reader sees the latest
	}
	var next time.Time
	for _, until := range c.until {
		if next.IsZero() || until.Before(next) {
			next = until
		}
	}
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if !next.IsZero() {
		c.timer = time.AfterFunc(next.Sub(now), c.expire)
	}
}

func (c *Cooldowns) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.publishLocked()
}
