package extproc

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A slot whose access-log entry never came is reclaimed once its request
// cannot be running any more (the route timeout and a margin); a slot that
// is released is free at once; a fallback's next pass renews its slot.
func TestInFlightSlotsExpire(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	routeTimeout := 30 * time.Second
	f := newInFlight(func() time.Duration { return routeTimeout })
	f.now = func() time.Time { return now }

	require.True(t, f.acquire("k", "r1", 2))
	require.True(t, f.acquire("k", "r2", 2))
	require.False(t, f.acquire("k", "r3", 2), "at the limit")
	require.True(t, f.acquire("other", "o1", 2), "limits are per key")

	// r1's entry is lost. Until its route timeout and the margin have
	// passed, it still holds its slot.
	now = now.Add(routeTimeout + slotMargin - time.Second)
	require.True(t, f.acquire("k", "r2", 2), "r2's fallback pass renews its slot")
	require.False(t, f.acquire("k", "r3", 2))
	now = now.Add(time.Second)
	require.True(t, f.acquire("k", "r3", 2), "r1's slot expired and is reclaimed")
	require.Len(t, f.slots["k"], 2)
	require.NotContains(t, f.byRequest, "r1")
	require.False(t, f.acquire("k", "r4", 2), "r2 was renewed: still in flight")

	f.release("r2")
	require.True(t, f.acquire("k", "r4", 2))

	// Keys that never reach their limit again do not keep expired slots.
	now = now.Add(routeTimeout + slotMargin)
	require.True(t, f.acquire("third", "t1", 5))
	require.Equal(t, map[string]string{"t1": "third"}, f.byRequest)
	require.Len(t, f.slots, 1)
}

// Without router_settings.timeout a slot lasts LiteLLM's default request
// timeout and the margin.
func TestInFlightDefaultTTL(t *testing.T) {
	f := newInFlight(func() time.Duration { return 0 })
	require.Equal(t, 600*time.Second+slotMargin, f.ttl())
}
