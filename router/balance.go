package router

import (
	"context"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/counters"
)

// latencySamples is how many recent latencies per deployment count, as in
// LiteLLM's lowest-latency strategy.
const latencySamples = 10

// defaultLatencyTTL is how long a latency sample counts when
// routing_strategy_args.ttl is unset (LiteLLM: one hour).
const defaultLatencyTTL = time.Hour

// Balance drives the strategies Envoy cannot compute alone. For
// latency-based-routing it keeps each deployment's recent latencies and
// marks the slower ones of a group (they get traffic only when no faster one
// is available); for usage-based-routing it counts each deployment's
// requests in the current minute and takes a deployment past its rpm out of
// rotation until the minute ends, and likewise past its tpm, counted from
// the usage of its answers (cost-based-routing skips those too). Safe for concurrent use.
type Balance struct {
	now func() time.Time

	mu       sync.Mutex
	cfg      *config.Config
	latency  map[string][]sample
	minute   int64 // the minute (Unix time / 60) requests are counted for
	requests map[string]int
	tokens   map[string]int

	// firstBytes and hedgeServed are the `delay: p95` hedging groups'
	// recent times to first byte and last delays (hedging.go).
	firstBytes  map[string][]time.Duration
	hedgeServed map[string]time.Duration

	// sharedLatency are the replicas' average latencies per deployment
	// (Share), read from the store by pull: they replace this replica's
	// own samples in Decide.
	sharedLatency map[string]time.Duration

	overLimit atomic.Pointer[map[string]bool]
	changed   chan struct{}

	// shared holds the counts of all replicas (Redis); nil when this
	// replica counts alone. Increments reach it off the request path,
	// through pushes.
	shared counters.Store
	pushes chan push
}

// push is an increment of a deployment's count for a minute: what is
// one of the counts below.
type push struct {
	id     string
	what   string
	n      int64
	minute int64
}

// The per-minute counts of a deployment replicas share: requests and
// tokens (usage-based routing), and the sum and number of its latencies
// (latency-based routing), in microseconds.
const (
	countRequests   = "rpm"
	countTokens     = "tpm"
	countLatencyUS  = "latency-us"
	countLatencyNum = "latency-n"
)

type sample struct {
	d  time.Duration
	at time.Time
}

// NewBalance returns balancing state for cfg.
func NewBalance(cfg *config.Config) *Balance {
	b := &Balance{now: time.Now, cfg: cfg, latency: make(map[string][]sample), requests: make(map[string]int), tokens: make(map[string]int), changed: make(chan struct{}, 1)}
	b.overLimit.Store(&map[string]bool{})
	return b
}

// Share makes the rpm and tpm counts of usage-based routing, and the
// latencies of latency-based routing, those of every replica sharing
// store. Each replica adds its own counts to the store off
// the request path (Record and RecordTokens only queue them) and takes the
// total each addition returns; Decide reads the totals of the other
// replicas' traffic. So a replica takes a deployment out of rotation as soon
// as its own traffic reaches the limit, and within a Decide period (a
// second) of the others' reaching it. A deployment's latency is then the
// average of every replica's in the current and the previous minute
// (LiteLLM shares its deployments' latency lists through Redis too), read
// every Decide. Call it before recording.
func (b *Balance) Share(store counters.Store) {
	b.shared = store
	b.pushes = make(chan push, 4096)
	go b.pushLoop()
}

// sharedKey names a deployment's count for a minute in the shared store:
// llmvoy:deployment:<id>:<what>:<minute>.
func sharedKey(id, what string, minute int64) string {
	return counters.PerMinute("deployment", id, what, minute)
}

// pushLoop adds this replica's increments to the shared counts and takes
// the totals they return.
func (b *Balance) pushLoop() {
	for p := range b.pushes {
		total, err := b.shared.Add(context.Background(), sharedKey(p.id, p.what, p.minute), p.n, counters.PerMinuteTTL)
		if err != nil || (p.what != countRequests && p.what != countTokens) {
			continue
		}
		b.mu.Lock()
		b.takeTotalLocked(p.id, p.what == countTokens, p.minute, int(total))
		b.mu.Unlock()
	}
}

// takeTotalLocked raises a count to the shared total of its minute.
func (b *Balance) takeTotalLocked(id string, tokens bool, minute int64, total int) {
	if minute != b.minute {
		return
	}
	m := b.requests
	if tokens {
		m = b.tokens
	}
	if total > m[id] {
		m[id] = total
		b.publishLocked()
	}
}

// enqueue hands an increment to pushLoop; b.mu is held.
func (b *Balance) enqueue(id, what string, n int64, minute int64) {
	if b.shared == nil {
		return
	}
	select {
	case b.pushes <- push{id: id, what: what, n: n, minute: minute}:
	default: // the store is far behind: the local count still holds
	}
}

// pull reads the shared totals of the deployments with limits.
func (b *Balance) pull() {
	if b.shared == nil {
		return
	}
	b.mu.Lock()
	cfg, minute := b.cfg, counters.Minute(b.now())
	enforced := cfg.Router.EnforcesLimits()
	b.mu.Unlock()
	if cfg.Router.RoutingStrategy == config.RoutingLatencyBased {
		b.pullLatency(cfg, minute)
	}
	if !enforced {
		return
	}
	type total struct {
		id     string
		tokens bool
		n      int64
	}
	var totals []total
	read := func(id string, tokens bool) {
		what := countRequests
		if tokens {
			what = countTokens
		}
		if n, err := b.shared.Get(context.Background(), sharedKey(id, what, minute)); err == nil {
			totals = append(totals, total{id, tokens, n})
		}
	}
	for _, d := range cfg.Deployments {
		if d.RPM > 0 {
			read(d.ID, false)
		}
		if d.TPM > 0 {
			read(d.ID, true)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rollLocked(b.now())
	for _, t := range totals {
		b.takeTotalLocked(t.id, t.tokens, minute, int(t.n))
	}
}

// pullLatency reads every replica's latencies of the current and the
// previous minute: the averages Decide uses.
func (b *Balance) pullLatency(cfg *config.Config, minute int64) {
	avg := make(map[string]time.Duration)
	ctx := context.Background()
	for _, d := range cfg.Deployments {
		var us, n int64
		for _, m := range []int64{minute - 1, minute} {
			sum, err1 := b.shared.Get(ctx, sharedKey(d.ID, countLatencyUS, m))
			num, err2 := b.shared.Get(ctx, sharedKey(d.ID, countLatencyNum, m))
			if err1 != nil || err2 != nil {
				continue
			}
			us, n = us+sum, n+num
		}
		if n > 0 {
			avg[d.ID] = time.Duration(us/n) * time.Microsecond
		}
	}
	b.mu.Lock()
	b.sharedLatency = avg
	b.mu.Unlock()
}

// SetConfig applies a reloaded config.
func (b *Balance) SetConfig(cfg *config.Config) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cfg = cfg
	maps.DeleteFunc(b.latency, func(id string, _ []sample) bool { return cfg.Deployment(id) == nil })
	b.signal()
}

// Changed receives a value when a deployment reached its rpm; the minute
// rolling over and latencies moving are seen by calling Decide periodically.
func (b *Balance) Changed() <-chan struct{} { return b.changed }

// OverLimit returns the deployments past their rpm or tpm this minute. Shared: do
// not modify it.
func (b *Balance) OverLimit() map[string]bool { return *b.overLimit.Load() }

// Record counts one attempt.
func (b *Balance) Record(o Outcome) {
	if o.Deployment == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.recordFirstByteLocked(o)
	now := b.now()
	switch b.cfg.Router.RoutingStrategy {
	case config.RoutingLatencyBased:
		if o.Failed() || o.Latency <= 0 {
			return
		}
		s := append(b.latency[o.Deployment], sample{o.Latency, now})
		if len(s) > latencySamples {
			s = s[len(s)-latencySamples:]
		}
		b.latency[o.Deployment] = s
		minute := counters.Minute(now)
		b.enqueue(o.Deployment, countLatencyUS, o.Latency.Microseconds(), minute)
		b.enqueue(o.Deployment, countLatencyNum, 1, minute)
	case config.RoutingUsageBased, config.RoutingUsageBasedV2, config.RoutingCostBased:
		b.rollLocked(now)
		b.requests[o.Deployment]++
		b.enqueue(o.Deployment, countRequests, 1, b.minute)
		if d := b.cfg.Deployment(o.Deployment); d != nil && d.RPM > 0 && b.requests[o.Deployment] == d.RPM {
			b.publishLocked()
		}
	}
}

// CountsTokens reports whether the tokens answers of a deployment use
// matter: it has a tpm limit that usage- or cost-based routing enforces.
func (b *Balance) CountsTokens(d *config.Deployment) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cfg.Router.CountsTokens(d)
}

// RecordTokens counts the tokens one answer of a deployment used.
func (b *Balance) RecordTokens(id string, n int) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.cfg.Router.EnforcesLimits() {
		return
	}
	b.rollLocked(b.now())
	was := b.tokens[id]
	b.tokens[id] += n
	b.enqueue(id, countTokens, int64(n), b.minute)
	if d := b.cfg.Deployment(id); d != nil && d.TPM > 0 && was < d.TPM && b.tokens[id] >= d.TPM {
		b.publishLocked()
	}
}

// rollLocked starts a new minute's counts.
func (b *Balance) rollLocked(now time.Time) {
	if m := counters.Minute(now); m != b.minute {
		b.minute = m
		clear(b.requests)
		clear(b.tokens)
		b.publishLocked()
	}
}

func (b *Balance) publishLocked() {
	over := make(map[string]bool)
	for id, n := range b.requests {
		if d := b.cfg.Deployment(id); d != nil && d.RPM > 0 && n >= d.RPM {
			over[id] = true
		}
	}
	for id, n := range b.tokens {
		if d := b.cfg.Deployment(id); d != nil && d.TPM > 0 && n >= d.TPM {
			over[id] = true
		}
	}
	if !maps.Equal(over, *b.overLimit.Load()) {
		b.overLimit.Store(&over)
		b.signal()
	}
}

func (b *Balance) signal() {
	select {
	case b.changed <- struct{}{}:
	default:
	}
}

// Decision is what Envoy should know: deployments to keep out of rotation
// (past their rpm or tpm) and deployments to prefer less (slower than the fastest of
// their group by more than lowest_latency_buffer).
type Decision struct {
	OverLimit map[string]bool
	Slow      map[string]bool
	// HedgeDelays are the measured hedge delays of the groups with
	// `delay: p95`, by group, once measured.
	HedgeDelays map[string]time.Duration
}

// Decide computes the current decision, with the other replicas' counts
// when they are shared.
func (b *Balance) Decide() Decision {
	b.pull()
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	b.rollLocked(now)
	d := Decision{OverLimit: b.OverLimit(), Slow: make(map[string]bool), HedgeDelays: b.hedgeDelaysLocked()}
	if b.cfg.Router.RoutingStrategy != config.RoutingLatencyBased {
		return d
	}
	ttl := b.cfg.Router.StrategyArgs.TTL
	if ttl <= 0 {
		ttl = defaultLatencyTTL
	}
	buffer := b.cfg.Router.StrategyArgs.LowestLatencyBuffer
	for _, group := range b.cfg.Groups() {
		avg := make(map[string]time.Duration)
		for _, dep := range b.cfg.Group(group) {
			s := slices.DeleteFunc(b.latency[dep.ID], func(s sample) bool { return now.Sub(s.at) > ttl })
			b.latency[dep.ID] = s
			if a, ok := b.sharedLatency[dep.ID]; ok {
				avg[dep.ID] = a // every replica's
				continue
			}
			if len(s) == 0 {
				continue // unmeasured: it gets traffic until it is measured
			}
			var sum time.Duration
			for _, x := range s {
				sum += x.d
			}
			avg[dep.ID] = sum / time.Duration(len(s))
		}
		if len(avg) == 0 {
			continue
		}
		fastest := slices.Min(slices.Collect(maps.Values(avg)))
		for id, a := range avg {
			if float64(a) > float64(fastest)*(1+buffer) {
				d.Slow[id] = true
			}
		}
	}
	return d
}
