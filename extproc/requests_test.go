package extproc

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A request's routing is kept until its end is logged, or until it expires
// when that log entry never comes; put sweeps the expired ones.
func TestRequestsKeepRoutingUntilTheEnd(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	r := newRequests(func() time.Duration { return time.Hour })
	r.now = func() time.Time { return now }

	r.put("a", routed{clientPath: "/v1/chat/completions", keyToken: "tok"})
	r.put("", routed{clientPath: "/ignored"}) // no id: nothing to find it by
	got, ok := r.get("a")
	require.True(t, ok)
	require.Equal(t, "tok", got.keyToken)
	_, ok = r.get("")
	require.False(t, ok)

	// A fallback's next pass replaces it.
	r.put("a", routed{clientPath: "/v1/chat/completions", bodyModel: "m"})
	got, _ = r.get("a")
	require.Equal(t, "m", got.bodyModel)

	r.drop("a")
	_, ok = r.get("a")
	require.False(t, ok)

	// A request whose end was never logged is dropped once expired.
	r.put("lost", routed{})
	now = now.Add(time.Hour + sweepEvery + time.Second)
	r.put("b", routed{})
	_, ok = r.get("lost")
	require.False(t, ok, "an expired entry is swept")
	_, ok = r.get("b")
	require.True(t, ok)
}

// The fallback header names its caller under the MAC: a header minted for
// one key cannot be turned into another's, or into the master key's.
func TestFallbackHeaderBindsCallerAndRequest(t *testing.T) {
	token := []byte("0123456789abcdef0123456789abcdef")
	now := time.Unix(1_000_000, 0)
	fb := fallback{origin: "gpt 4o;x", kind: "generic", step: 1, caller: strings.Repeat("ab", 32)}
	v := fb.encode(token, "req-1", now)

	got, ok := parseFallback(v, token, "req-1", now)
	require.True(t, ok)
	require.Equal(t, fb, got)

	parts := strings.SplitN(v, ";", 6)
	for name, tampered := range map[string]string{
		"another caller": strings.Join(append(append([]string{}, parts[:3]...), strings.Repeat("cd", 32), parts[4], parts[5]), ";"),
		"no caller":      strings.Join(append(append([]string{}, parts[:3]...), "", parts[4], parts[5]), ";"),
		"another origin": strings.Join(append(append([]string{}, parts[:5]...), "claude"), ";"),
		"a later step":   strings.Join(append([]string{parts[0], "2"}, parts[2:]...), ";"),
		"the old format": strings.Join([]string{parts[0], parts[1], parts[2], parts[4], parts[5]}, ";"),
		"not a header":   "generic",
	} {
		_, ok := parseFallback(tampered, token, "req-1", now)
		require.False(t, ok, name)
	}
	_, ok = parseFallback(v, token, "req-2", now)
	require.False(t, ok, "another request's header")
	_, ok = parseFallback(v, token, "", now)
	require.False(t, ok, "a request without an id")
	_, ok = parseFallback(v, token, "req-1", now.Add(fallbackTTL+time.Second))
	require.False(t, ok, "an expired header")
}
