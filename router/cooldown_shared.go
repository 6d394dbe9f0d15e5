package router

import (
	"context"
	"time"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/counters"
)

// CooldownStore is where replicas share cooldowns: per-minute failure
// counters and the set of cooling deployments. counters.Redis is one.
type CooldownStore interface {
	counters.Store
	counters.DeadlineStore
}

// coolingSet names the shared set of cooling deployments: a Redis hash of
// deployment id → the end of its cooldown, in Unix milliseconds.
var coolingSet = counters.Key("cooldowns")

// sharedPollEvery is how often a replica reads the cooldowns the others
// started.
const sharedPollEvery = time.Second

// sharedFailKey names a deployment's failures in the minute of now:
// llmvoy:deployment:<id>:fails:<minute>, or fails-<class> for a class
// allowed_fails_policy counts apart.
func sharedFailKey(id string, perClass bool, class config.ErrorClass, now time.Time) string {
	what := "fails"
	if perClass {
		what += "-" + string(class)
	}
	return counters.PerMinute("deployment", id, what, counters.Minute(now))
}

// cooldownEvent is a failure to count in the shared store, or (cool) a
// cooldown this replica started, to share.
type cooldownEvent struct {
	id string

	// A failure: its counter, what it may reach, and the outcome's
	// status and Retry-After for the cooldown it may start.
	key        string
	allowed    int
	status     int
	retryAfter time.Duration

	cool   bool
	until  time.Time
	minute int64
}

// Share makes the cooldowns those of every replica sharing store, as
// LiteLLM's are with Redis. A replica counts each failure in the store's
// per-minute counter of its deployment (and class) as well as its own, so
// the replicas' failures add up against allowed_fails; whichever replica
// sees the total pass it cools the deployment down and adds the cooldown's
// end to the store's set of cooling deployments, which every replica reads
// every sharedPollEvery and follows until that same end, signalling
// Changed. Record and Active never wait for the store: failures and
// cooldowns reach it from a goroutine of their own. While the store cannot
// reach Redis it answers from the replica's own state, so each replica
// cools on what it sees, and shares again when Redis is back. Call it
// once, before recording.
func (c *Cooldowns) Share(store CooldownStore) {
	c.shared = store
	c.events = make(chan cooldownEvent, 4096)
	c.stop = make(chan struct{})
	go c.pushLoop()
	go c.pollLoop()
}

// unshare stops sharing (tests).
func (c *Cooldowns) unshare() {
	close(c.stop)
}

// enqueueLocked hands an event to pushLoop; c.mu is held.
func (c *Cooldowns) enqueueLocked(e cooldownEvent) {
	if c.shared == nil {
		return
	}
	select {
	case c.events <- e:
	default: // the store is far behind: the replica's own count still holds
	}
}

func (c *Cooldowns) pushLoop() {
	for {
		select {
		case <-c.stop:
			return
		case e := <-c.events:
			if e.cool {
				c.shareCooldown(e.id, e.until, e.minute)
			} else {
				c.pushFailure(e)
			}
		}
	}
}

// pushFailure counts a failure in the shared store, and cools its
// deployment down when the replicas' total passes allowed_fails.
func (c *Cooldowns) pushFailure(e cooldownEvent) {
	total, err := c.shared.Add(context.Background(), e.key, 1, counters.PerMinuteTTL)
	if err != nil || total <= int64(e.allowed) {
		return
	}
	c.mu.Lock()
	now := c.now()
	if c.settings.DisableCooldowns || c.sole[e.id] || !c.deployed[e.id] || c.until[e.id].After(now) {
		c.mu.Unlock()
		return
	}
	until := c.coolLocked(e.id, e.status, e.retryAfter, now)
	c.mu.Unlock()
	c.shareCooldown(e.id, until, counters.Minute(now))
}

// shareCooldown adds a cooldown this replica started to the shared set,
// follows a later end another replica set, and starts the replicas'
// failure counts of the deployment afresh.
func (c *Cooldowns) shareCooldown(id string, until time.Time, minute int64) {
	ctx := context.Background()
	if held, err := c.shared.Extend(ctx, coolingSet, id, until, c.now()); err == nil && held.After(until) {
		c.follow(map[string]time.Time{id: held})
	}
	c.mu.Lock()
	keys := []string{counters.PerMinute("deployment", id, "fails", minute)}
	for class := range c.settings.AllowedFailsPolicy {
		keys = append(keys, counters.PerMinute("deployment", id, "fails-"+string(class), minute))
	}
	c.mu.Unlock()
	for _, k := range keys {
		// Take away what was counted so far; failures counted meanwhile by
		// replicas not yet aware of the cooldown stay.
		if n, err := c.shared.Get(ctx, k); err == nil && n > 0 {
			c.shared.Add(ctx, k, -n, counters.PerMinuteTTL)
		}
	}
}

func (c *Cooldowns) pollLoop() {
	t := time.NewTicker(sharedPollEvery)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.pull()
		}
	}
}

// pull follows the cooldowns in the shared set.
func (c *Cooldowns) pull() {
	if m, err := c.shared.Deadlines(context.Background(), coolingSet, c.now()); err == nil {
		c.follow(m)
	}
}

// follow cools down the deployments of m until their ends, unless they
// cool longer already, and signals the change.
func (c *Cooldowns) follow(m map[string]time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	changed := false
	for id, until := range m {
		if c.settings.DisableCooldowns || c.sole[id] || !c.deployed[id] {
			continue
		}
		if until.After(now) && until.After(c.until[id]) {
			c.forgetFailsLocked(id)
			c.until[id] = until
			changed = true
		}
	}
	if changed {
		c.publishLocked()
	}
}
