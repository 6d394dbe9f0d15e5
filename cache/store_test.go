package cache

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/counters/counterstest"
)

func TestLocalExpiresAndEvicts(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	l := NewLocal(2, time.Minute)
	l.now = func() time.Time { return now }
	l.Set("a", Entry{Response: "A"}, 0)           // the default ttl
	l.Set("b", Entry{Response: "B"}, time.Second) // its own
	e, ok := l.Get(ctx, "b")
	require.True(t, ok)
	require.Equal(t, "B", e.Response)
	now = now.Add(2 * time.Second)
	_, ok = l.Get(ctx, "b")
	require.False(t, ok, "expired")
	_, ok = l.Get(ctx, "a")
	require.True(t, ok)
	// Full: the entry closest to its expiry goes.
	l.Set("c", Entry{Response: "C"}, time.Hour)
	_, ok = l.Get(ctx, "b")
	require.False(t, ok)
	_, ok = l.Get(ctx, "a")
	require.True(t, ok)
	_, ok = l.Get(ctx, "c")
	require.True(t, ok)
}

func TestEntryAge(t *testing.T) {
	now := time.Unix(2000, 500_000_000)
	require.Equal(t, 1500*time.Millisecond, Entry{Timestamp: 1999}.Age(now))
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// A Redis outage is a miss, bounded, said once; Redis back is used again.
func TestRedisOutageMeansMisses(t *testing.T) {
	port := freePort(t)
	srv := counterstest.RedisServer(t, port)
	logs := &bytes.Buffer{}
	client := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), DialTimeout: 100 * time.Millisecond,
		ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	r := NewRedis(client, slog.New(slog.NewTextHandler(logs, nil)))
	ctx := context.Background()

	r.Set("k", Entry{Timestamp: 1, Response: `{"id":"x"}`}, time.Minute)
	e := stored(t, r, "k") // written in the background
	require.Equal(t, Entry{Timestamp: 1, Response: `{"id":"x"}`}, e)
	ttl, err := client.PTTL(ctx, "k").Result()
	require.NoError(t, err)
	require.InDelta(t, time.Minute.Seconds(), ttl.Seconds(), 1)
	// Stored as LiteLLM stores it.
	raw, _ := client.Get(ctx, "k").Result()
	require.JSONEq(t, `{"timestamp": 1, "response": "{\"id\":\"x\"}"}`, raw)

	srv.Process.Kill()
	srv.Wait()
	for range 5 {
		start := time.Now()
		_, ok := r.Get(ctx, "k")
		require.False(t, ok)
		r.Set("k2", Entry{}, 0)
		require.Less(t, time.Since(start), time.Second)
	}
	require.Equal(t, 1, strings.Count(logs.String(), "Redis unreachable"), logs.String())

	counterstest.RedisServer(t, port)
	r.now = func() time.Time { return time.Now().Add(retryAfter) }
	require.NoError(t, r.Ping(ctx))
	r.Set("k", Entry{Response: "again"}, 0)
	require.Equal(t, "again", stored(t, r, "k").Response)
	require.Contains(t, logs.String(), "Redis reachable again")
}

// stored waits for a background write of key.
func stored(t *testing.T, r *Redis, key string) Entry {
	t.Helper()
	var e Entry
	require.Eventually(t, func() bool {
		var ok bool
		e, ok = r.Get(context.Background(), key)
		return ok
	}, 5*time.Second, 5*time.Millisecond)
	return e
}
