package counters

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// deadlineStoreContract is what either store does with deadlines.
func deadlineStoreContract(t *testing.T, a, b DeadlineStore) {
	t.Helper()
	ctx := context.Background()
	now := time.UnixMilli(time.Now().UnixMilli())
	set := "llmvoy:test:cooldowns"

	held, err := a.Extend(ctx, set, "x", now.Add(10*time.Second), now)
	require.NoError(t, err)
	require.Equal(t, now.Add(10*time.Second), held)
	held, _ = b.Extend(ctx, set, "x", now.Add(5*time.Second), now)
	require.Equal(t, now.Add(10*time.Second), held, "never shortened")
	held, _ = b.Extend(ctx, set, "x", now.Add(20*time.Second), now)
	require.Equal(t, now.Add(20*time.Second), held, "lengthened")
	b.Extend(ctx, set, "y", now.Add(time.Second), now)

	got, err := a.Deadlines(ctx, set, now)
	require.NoError(t, err)
	require.Equal(t, map[string]time.Time{"x": now.Add(20 * time.Second), "y": now.Add(time.Second)}, got)
	got, _ = a.Deadlines(ctx, set, now.Add(time.Second))
	require.Equal(t, map[string]time.Time{"x": now.Add(20 * time.Second)}, got, "a deadline passed is gone")
	held, _ = a.Extend(ctx, set, "z", now, now)
	require.True(t, held.IsZero(), "a deadline already passed is not kept")
	got, _ = b.Deadlines(ctx, "llmvoy:test:empty", now)
	require.Empty(t, got)
}

func TestLocalDeadlines(t *testing.T) {
	l := NewLocal()
	deadlineStoreContract(t, l, l)
}

func TestRedisDeadlinesAreShared(t *testing.T) {
	port := freePort(t)
	redisServer(t, port)
	a, _ := newRedis(t, port)
	b, _ := newRedis(t, port)
	deadlineStoreContract(t, a, b)

	// The hash expires after its last deadline (and the slack).
	ctx := context.Background()
	now := time.Now()
	a.Extend(ctx, "llmvoy:test:expiring", "x", now.Add(time.Second), now)
	ttl, err := a.client.PTTL(ctx, "llmvoy:test:expiring").Result()
	require.NoError(t, err)
	require.Greater(t, ttl, deadlineSlack)
	require.LessOrEqual(t, ttl, deadlineSlack+time.Second)
}

// With Redis gone, each replica keeps the deadlines it last saw and those
// it sets itself; with Redis back, they share again.
func TestRedisDeadlinesOutage(t *testing.T) {
	port := freePort(t)
	srv := redisServer(t, port)
	a, logs := newRedis(t, port)
	b, _ := newRedis(t, port)
	ctx := context.Background()
	now := time.UnixMilli(time.Now().UnixMilli())
	set := "llmvoy:test:cooldowns"
	a.Extend(ctx, set, "x", now.Add(time.Minute), now)
	b.Deadlines(ctx, set, now) // b saw x

	srv.Process.Kill()
	srv.Wait()
	start := time.Now()
	held, err := a.Extend(ctx, set, "y", now.Add(time.Minute), now)
	require.NoError(t, err)
	require.Equal(t, now.Add(time.Minute), held)
	require.Less(t, time.Since(start), 2*Timeout)
	require.False(t, a.Healthy())
	got, err := a.Deadlines(ctx, set, now)
	require.NoError(t, err)
	require.Equal(t, map[string]time.Time{"x": now.Add(time.Minute), "y": now.Add(time.Minute)}, got)
	got, err = b.Deadlines(ctx, set, now)
	require.NoError(t, err, "an outage is not the caller's error")
	require.Equal(t, map[string]time.Time{"x": now.Add(time.Minute)}, got, "b keeps what it saw, not a's")
	require.Contains(t, logs.String(), "Redis unreachable")

	redisServer(t, port) // a fresh, empty Redis
	require.Eventually(t, func() bool { return a.Healthy() && b.Healthy() }, 3*probeEvery, 20*time.Millisecond)
	b.Extend(ctx, set, "z", now.Add(time.Minute), now)
	got, _ = a.Deadlines(ctx, set, now)
	require.Equal(t, map[string]time.Time{"z": now.Add(time.Minute)}, got, "shared again, from Redis' own set")
}
