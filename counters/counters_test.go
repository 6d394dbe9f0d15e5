package counters

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/counters/counterstest"
	"github.com/llmvoy/llmvoy/internal/syncbuf"
)

func TestLocalCountsAndExpires(t *testing.T) {
	l := NewLocal()
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	ctx := context.Background()
	n, _ := l.Add(ctx, "a", 2, time.Minute)
	require.EqualValues(t, 2, n)
	n, _ = l.Add(ctx, "a", -1, time.Hour) // the ttl is the creator's
	require.EqualValues(t, 1, n)
	now = now.Add(time.Minute - time.Nanosecond)
	got, _ := l.Get(ctx, "a")
	require.EqualValues(t, 1, got)
	now = now.Add(time.Nanosecond)
	got, _ = l.Get(ctx, "a")
	require.EqualValues(t, 0, got)
	n, _ = l.Add(ctx, "a", 5, time.Minute)
	require.EqualValues(t, 5, n, "an expired counter starts again")
}

func TestLocalSweepsExpiredCounters(t *testing.T) {
	l := NewLocal()
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	ctx := context.Background()
	for i := range 100 {
		l.Add(ctx, fmt.Sprint(i), 1, time.Second)
	}
	l.Add(ctx, "long", 1, time.Hour)
	now = now.Add(sweepEvery)
	l.Add(ctx, "new", 1, time.Second)
	require.Len(t, l.m, 2, "only the live counters are kept")
}

func TestKeyNames(t *testing.T) {
	require.Equal(t, "llmvoy:deployment:dep-1:rpm:29512345", PerMinute("deployment", "dep-1", "rpm", 29512345))
	require.Equal(t, "llmvoy:key:abc:budget", Key("key", "abc", "budget"))
	require.EqualValues(t, 16, Minute(time.Unix(16*60+59, 0)))
}

func TestOpenWithoutRedisIsLocal(t *testing.T) {
	_, ok := Open(config.RedisSettings{}, slog.Default()).(*Local)
	require.True(t, ok)
}

func TestOpenWithBadURLIsLocalAndHidesThePassword(t *testing.T) {
	var logs bytes.Buffer
	s := Open(config.RedisSettings{URL: "redis://:hunter2@127.0.0.1:notaport/0"}, slog.New(slog.NewTextHandler(&logs, nil)))
	_, ok := s.(*Local)
	require.True(t, ok)
	require.Contains(t, logs.String(), "redis_url cannot be used")
	require.NotContains(t, logs.String(), "hunter2")
}

// redisServer starts a throwaway redis-server on port (counterstest).
func redisServer(t *testing.T, port int) *exec.Cmd { return counterstest.RedisServer(t, port) }

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func newRedis(t *testing.T, port int) (*Redis, *syncbuf.Buffer) {
	t.Helper()
	logs := &syncbuf.Buffer{}
	s, err := NewRedis(config.RedisSettings{Host: "127.0.0.1", Port: port}, slog.New(slog.NewTextHandler(logs, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, logs
}

// Two stores on one Redis are two replicas: each sees the other's counts.
func TestRedisIsSharedByReplicas(t *testing.T) {
	port := freePort(t)
	redisServer(t, port)
	a, logs := newRedis(t, port)
	b, _ := newRedis(t, port)
	require.True(t, a.Healthy())
	require.Contains(t, logs.String(), "limits are counted in Redis")
	ctx := context.Background()

	n, err := a.Add(ctx, "llmvoy:test:rpm", 1, time.Minute)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	n, _ = b.Add(ctx, "llmvoy:test:rpm", 1, time.Minute)
	require.EqualValues(t, 2, n)
	got, _ := a.Get(ctx, "llmvoy:test:rpm")
	require.EqualValues(t, 2, got)
	got, _ = a.Get(ctx, "llmvoy:test:absent")
	require.EqualValues(t, 0, got)

	// Concurrent adds from both replicas: none is lost, and each total is
	// returned to exactly one caller.
	var mu sync.Mutex
	seen := make(map[int64]bool)
	var wg sync.WaitGroup
	for _, s := range []*Redis{a, b, a, b} {
		wg.Go(func() {
			for range 50 {
				v, err := s.Add(ctx, "llmvoy:test:burst", 1, time.Minute)
				require.NoError(t, err)
				mu.Lock()
				require.False(t, seen[v], "total %d returned twice", v)
				seen[v] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	got, _ = b.Get(ctx, "llmvoy:test:burst")
	require.EqualValues(t, 200, got)
	require.Len(t, seen, 200)
}

// The expiry is the creator's: a later Add does not extend it.
func TestRedisExpirySetOnCreation(t *testing.T) {
	port := freePort(t)
	redisServer(t, port)
	a, _ := newRedis(t, port)
	ctx := context.Background()
	a.Add(ctx, "llmvoy:test:short", 1, 300*time.Millisecond)
	n, _ := a.Add(ctx, "llmvoy:test:short", 1, time.Hour)
	require.EqualValues(t, 2, n)
	ttl, err := a.client.PTTL(ctx, "llmvoy:test:short").Result()
	require.NoError(t, err)
	require.LessOrEqual(t, ttl, 300*time.Millisecond)
	require.Greater(t, ttl, time.Duration(0))
	time.Sleep(400 * time.Millisecond)
	got, _ := a.Get(ctx, "llmvoy:test:short")
	require.EqualValues(t, 0, got)
	// A counter created by a decrement expires too.
	a.Add(ctx, "llmvoy:test:neg", -1, time.Minute)
	ttl, _ = a.client.PTTL(ctx, "llmvoy:test:neg").Result()
	require.Greater(t, ttl, time.Duration(0))
}

// With Redis gone, the replicas keep counting, each on its own from the
// last totals it saw, fast, and say so once; the probe finds Redis back
// without any call, and the replicas share again.
func TestRedisOutage(t *testing.T) {
	port := freePort(t)
	srv := redisServer(t, port)
	a, logsA := newRedis(t, port)
	b, logsB := newRedis(t, port)
	ctx := context.Background()
	a.Add(ctx, "llmvoy:test:rpm", 1, time.Minute)
	a.Add(ctx, "llmvoy:test:rpm", 1, time.Minute)
	b.Add(ctx, "llmvoy:test:rpm", 1, time.Minute)
	a.Get(ctx, "llmvoy:test:rpm") // a saw 3

	srv.Process.Kill()
	srv.Wait()
	start := time.Now()
	n, err := a.Add(ctx, "llmvoy:test:rpm", 1, time.Minute)
	require.NoError(t, err, "an outage is not the caller's error")
	require.Less(t, time.Since(start), 2*Timeout)
	require.EqualValues(t, 4, n, "counted in process from the last total a saw")
	require.False(t, a.Healthy())
	// From now on calls do not wait for Redis at all.
	start = time.Now()
	for range 1000 {
		a.Add(ctx, "llmvoy:test:rpm", 1, time.Minute)
		a.Get(ctx, "llmvoy:test:rpm")
	}
	require.Less(t, time.Since(start), 50*time.Millisecond)
	got, _ := a.Get(ctx, "llmvoy:test:rpm")
	require.EqualValues(t, 1004, got)
	require.Equal(t, 1, strings.Count(logsA.String(), "Redis unreachable"), logsA.String())
	// b made no call: its probe finds the outage.
	require.Eventually(t, func() bool { return !b.Healthy() }, 3*probeEvery, 20*time.Millisecond)
	require.Contains(t, logsB.String(), "Redis unreachable")
	n, _ = b.Add(ctx, "llmvoy:test:rpm", 1, time.Minute)
	require.EqualValues(t, 4, n, "b counts from the last total it saw")

	redisServer(t, port) // a fresh, empty Redis
	require.Eventually(t, func() bool { return a.Healthy() && b.Healthy() }, 3*probeEvery, 20*time.Millisecond)
	require.Equal(t, 1, strings.Count(logsA.String(), "Redis reachable again"), logsA.String())
	n, _ = a.Add(ctx, "llmvoy:test:rpm", 1, time.Minute)
	require.EqualValues(t, 1, n)
	n, _ = b.Add(ctx, "llmvoy:test:rpm", 1, time.Minute)
	require.EqualValues(t, 2, n, "shared again")
}

// A Redis that accepts connections and never answers (hung, or a network
// that drops replies) costs a call at most the Timeout, once.
func TestRedisHungCostsMilliseconds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, answer nothing
		}
	}()
	start := time.Now()
	s, logs := newRedis(t, ln.Addr().(*net.TCPAddr).Port)
	require.Less(t, time.Since(start), 3*Timeout, "opening pings once, bounded")
	require.False(t, s.Healthy())
	require.Contains(t, logs.String(), "Redis unreachable")
	start = time.Now()
	n, err := s.Add(context.Background(), "llmvoy:test:rpm", 1, time.Minute)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	require.Less(t, time.Since(start), 10*time.Millisecond)
}

// A caller that gives up (its request ended) does not mark Redis down.
func TestRedisCallerCancelIsNotAnOutage(t *testing.T) {
	port := freePort(t)
	redisServer(t, port)
	s, _ := newRedis(t, port)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.Add(ctx, "llmvoy:test:rpm", 1, time.Minute)
	require.True(t, s.Healthy())
}
