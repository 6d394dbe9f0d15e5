package router

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/counters"
	"github.com/llmvoy/llmvoy/counters/counterstest"
	"github.com/llmvoy/llmvoy/internal/syncbuf"
)

// atomicClock is a test clock the sharing goroutines may read.
type atomicClock struct{ t atomic.Int64 }

func newAtomicClock() *atomicClock {
	c := &atomicClock{}
	c.t.Store(time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC).UnixNano())
	return c
}

func (c *atomicClock) now() time.Time          { return time.Unix(0, c.t.Load()).UTC() }
func (c *atomicClock) advance(d time.Duration) { c.t.Add(int64(d)) }

// replica is a Cooldowns on cfg sharing store, as a gateway replica's.
func replica(t *testing.T, cfg *config.Config, clk *atomicClock, store CooldownStore) *Cooldowns {
	t.Helper()
	c := NewCooldowns(cfg)
	c.now = clk.now
	<-c.Changed() // the initial publication
	c.Share(store)
	t.Cleanup(c.unshare)
	return c
}

func failCount(t *testing.T, store counters.Store, id string, now time.Time) int64 {
	n, err := store.Get(context.Background(), counters.PerMinute("deployment", id, "fails", counters.Minute(now)))
	require.NoError(t, err)
	return n
}

func signalled(c *Cooldowns) bool {
	select {
	case <-c.Changed():
		return true
	default:
		return false
	}
}

// Two replicas' failures add up against allowed_fails, and the cooldown
// one starts holds on both until the same end, learnt within a poll.
func TestSharedFailuresAddUpAndCooldownsReachEveryReplica(t *testing.T) {
	clk := newAtomicClock()
	store := counters.NewLocal()
	cfg := groupConfig(config.RouterSettings{AllowedFails: 2, CooldownTime: 30 * time.Second})
	a, b := replica(t, cfg, clk, store), replica(t, cfg, clk, store)
	fail := Outcome{Deployment: "a", Status: 500}

	a.Record(fail)
	a.Record(fail)
	require.Eventually(t, func() bool { return failCount(t, store, "a", clk.now()) == 2 }, time.Second, time.Millisecond)
	require.Empty(t, a.Active(), "2 of allowed_fails 2")
	b.Record(fail)
	want := map[string]time.Time{"a": clk.now().Add(30 * time.Second)}
	require.Eventually(t, func() bool { return len(b.Active()) == 1 }, time.Second, time.Millisecond,
		"the third failure of the minute, counted by b, cools the deployment down")
	require.Equal(t, want, b.Active())
	require.Eventually(t, func() bool { return failCount(t, store, "a", clk.now()) == 0 }, time.Second, time.Millisecond,
		"counting starts afresh")

	require.Eventually(t, func() bool { return len(a.Active()) == 1 }, 3*sharedPollEvery, 10*time.Millisecond)
	require.Equal(t, want, a.Active(), "the same end")
	require.True(t, signalled(a), "a learnt cooldown is signalled, for EDS")

	clk.advance(30 * time.Second)
	require.Empty(t, a.Active())
	require.Empty(t, b.Active())
	a.Record(fail)
	b.Record(fail)
	require.Eventually(t, func() bool { return failCount(t, store, "a", clk.now()) == 2 }, time.Second, time.Millisecond)
	a.pull()
	b.pull()
	require.Empty(t, a.Active(), "afresh: 2 of 2")
	require.Empty(t, b.Active())
}

// A replica's own failures still cool a deployment at once; the others
// follow it, and a 429's Retry-After lengthens the cooldown everywhere.
func TestSharedRetryAfterLengthensTheCooldownEverywhere(t *testing.T) {
	clk := newAtomicClock()
	store := counters.NewLocal()
	cfg := groupConfig(config.RouterSettings{AllowedFails: 0, CooldownTime: 5 * time.Second})
	a, b := replica(t, cfg, clk, store), replica(t, cfg, clk, store)
	start := clk.now()

	a.Record(Outcome{Deployment: "a", Status: 500})
	require.Equal(t, start.Add(5*time.Second), a.Active()["a"], "at once, on the replica that saw it")
	// b, before it learns of it, is told to retry after 20 s.
	b.Record(Outcome{Deployment: "a", Status: 429, RetryAfter: 20 * time.Second})
	require.Equal(t, start.Add(20*time.Second), b.Active()["a"])
	require.Eventually(t, func() bool { return a.Active()["a"].Equal(start.Add(20 * time.Second)) }, 3*sharedPollEvery, 10*time.Millisecond,
		"the later end wins on every replica")
	b.pull()
	require.Equal(t, start.Add(20*time.Second), b.Active()["a"], "and is never shortened")

	// A Retry-After learnt from the store, for a replica that saw nothing.
	c := replica(t, cfg, clk, store)
	c.pull()
	require.Equal(t, map[string]time.Time{"a": start.Add(20 * time.Second)}, c.Active())
}

// The only deployment of a group never cools down, whatever the replicas'
// failures, and a cooldown of it in the store (a replica on another
// config) is ignored; so are cooldowns when disabled.
func TestSharedSoleDeploymentNeverCoolsDown(t *testing.T) {
	clk := newAtomicClock()
	store := counters.NewLocal()
	cfg := &config.Config{Router: config.RouterSettings{CooldownTime: time.Minute}, Deployments: []*config.Deployment{
		{ID: "alone", ModelName: "solo"}, {ID: "x", ModelName: "pair"}, {ID: "y", ModelName: "pair"},
	}}
	a, b := replica(t, cfg, clk, store), replica(t, cfg, clk, store)
	for range 5 {
		a.Record(Outcome{Deployment: "alone", Status: 500})
		b.Record(Outcome{Deployment: "alone", Status: 500})
	}
	store.Extend(context.Background(), coolingSet, "alone", clk.now().Add(time.Minute), clk.now())
	a.pull()
	require.Empty(t, a.Active())
	require.Zero(t, failCount(t, store, "alone", clk.now()), "never counted")

	b.SetConfig(&config.Config{Router: config.RouterSettings{DisableCooldowns: true}, Deployments: cfg.Deployments})
	store.Extend(context.Background(), coolingSet, "x", clk.now().Add(time.Minute), clk.now())
	b.pull()
	require.Empty(t, b.Active(), "disable_cooldowns")
	a.pull()
	require.Contains(t, a.Active(), "x")
}

// allowed_fails_policy counts each class apart in the store too.
func TestSharedAllowedFailsPolicyCountsPerClass(t *testing.T) {
	clk := newAtomicClock()
	store := counters.NewLocal()
	cfg := groupConfig(config.RouterSettings{AllowedFails: 0, CooldownTime: time.Minute,
		AllowedFailsPolicy: map[config.ErrorClass]int{config.ErrRateLimit: 2}})
	a, b := replica(t, cfg, clk, store), replica(t, cfg, clk, store)
	key := counters.PerMinute("deployment", "a", "fails-RateLimitError", counters.Minute(clk.now()))
	a.Record(Outcome{Deployment: "a", Status: 429})
	b.Record(Outcome{Deployment: "a", Status: 429})
	require.Eventually(t, func() bool { n, _ := store.Get(context.Background(), key); return n == 2 }, time.Second, time.Millisecond)
	require.Empty(t, a.Active())
	b.Record(Outcome{Deployment: "a", Status: 429})
	require.Eventually(t, func() bool { return len(b.Active()) == 1 }, time.Second, time.Millisecond)
}

func redisStore(t *testing.T, port int) (*counters.Redis, *syncbuf.Buffer) {
	t.Helper()
	logs := &syncbuf.Buffer{}
	s, err := counters.NewRedis(config.RedisSettings{Host: "127.0.0.1", Port: port}, slog.New(slog.NewTextHandler(logs, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, logs
}

// Through a real Redis: shared; with Redis gone, each replica cools on its
// own failures, never erring and saying so once; with Redis back, shared
// again.
func TestSharedCooldownsThroughRedis(t *testing.T) {
	port := counterstest.FreePort(t)
	srv := counterstest.RedisServer(t, port)
	storeA, logsA := redisStore(t, port)
	storeB, logsB := redisStore(t, port)
	clk := newAtomicClock()
	cfg := groupConfig(config.RouterSettings{AllowedFails: 1, CooldownTime: 30 * time.Second})
	a, b := replica(t, cfg, clk, storeA), replica(t, cfg, clk, storeB)
	fail := Outcome{Deployment: "a", Status: 500}
	bothCool := func(want time.Time) func() bool {
		return func() bool { return a.Active()["a"].Equal(want) && b.Active()["a"].Equal(want) }
	}

	a.Record(fail)
	require.Eventually(t, func() bool { return failCount(t, storeB, "a", clk.now()) == 1 }, time.Second, time.Millisecond)
	b.Record(fail)
	require.Eventually(t, bothCool(clk.now().Add(30*time.Second)), 3*sharedPollEvery, 10*time.Millisecond,
		"one failure on each replica passes allowed_fails 1 together")
	require.True(t, signalled(a))

	counterstest.Stop(srv)
	require.Eventually(t, func() bool { return !storeA.Healthy() && !storeB.Healthy() }, 3*time.Second, 10*time.Millisecond)
	clk.advance(time.Minute) // the cooldown ends; a new minute
	require.Empty(t, a.Active())
	a.Record(fail)
	b.Record(fail)
	time.Sleep(100 * time.Millisecond) // the pushes, to the replicas' own stores
	a.pull()
	b.pull()
	require.Empty(t, a.Active(), "per replica: 1 of allowed_fails 1 each")
	require.Empty(t, b.Active())
	a.Record(fail)
	require.Contains(t, a.Active(), "a", "a's own failures still cool it down")
	time.Sleep(100 * time.Millisecond)
	b.pull()
	require.Empty(t, b.Active(), "b does not hear of it")
	for _, logs := range []*syncbuf.Buffer{logsA, logsB} {
		require.Equal(t, 1, strings.Count(logs.String(), "Redis unreachable"), "said once: %s", logs.String())
	}

	counterstest.RedisServer(t, port) // a fresh, empty Redis
	require.Eventually(t, func() bool { return storeA.Healthy() && storeB.Healthy() }, 3*time.Second, 10*time.Millisecond)
	clk.advance(time.Minute)
	require.Empty(t, a.Active())
	a.Record(fail)
	require.Eventually(t, func() bool { return failCount(t, storeB, "a", clk.now()) == 1 }, time.Second, time.Millisecond)
	b.Record(fail)
	require.Eventually(t, bothCool(clk.now().Add(30*time.Second)), 3*sharedPollEvery, 10*time.Millisecond, "shared again")
	for _, logs := range []*syncbuf.Buffer{logsA, logsB} {
		require.Equal(t, 1, strings.Count(logs.String(), "Redis reachable again"), logs.String())
	}
}

// Without Share, cooldowns keep no store and start no goroutine.
func TestUnsharedCooldownsKeepNoStore(t *testing.T) {
	c, _ := newTestCooldowns(0, time.Minute)
	require.Nil(t, c.shared)
	require.Nil(t, c.events)
	c.Record(Outcome{Deployment: "a", Status: 500})
	require.Contains(t, c.Active(), "a")
}
