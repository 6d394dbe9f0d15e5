package admin_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/cache"
)

func TestCachePingAndDelete(t *testing.T) {
	e := newEnv(t, adminConfig)
	// No cache configured: LiteLLM's 503.
	requireError(t, call(t, e.h, master, "GET", "/cache/ping", ""), 503, "")
	requireError(t, call(t, e.h, master, "POST", "/cache/delete", `{"keys": ["k"]}`), 503, "")

	e = newEnv(t, adminConfig+"litellm_settings:\n  cache: true\n  cache_params: {type: local, namespace: ns}\n")
	store := cache.NewLocal(10, time.Minute)
	e.h.Cache = store
	a := call(t, e.h, master, "GET", "/cache/ping", "")
	require.Equal(t, 200, a.status)
	require.JSONEq(t, `{"status": "healthy", "cache_type": "local", "litellm_cache_params": {"type": "local", "namespace": "ns",
		"mode": "default_on", "supported_call_types": ["completion", "embedding", "text_completion"]}}`, string(a.body))

	ctx := context.Background()
	store.Set("ns:a", cache.Entry{Response: "{}"}, 0)
	store.Set("ns:b", cache.Entry{Response: "{}"}, 0)
	a = call(t, e.h, master, "POST", "/cache/delete", `{"keys": ["ns:a"]}`)
	require.Equal(t, 200, a.status)
	require.JSONEq(t, `{"status": "success"}`, string(a.body))
	_, ok := store.Get(ctx, "ns:a")
	require.False(t, ok)
	_, ok = store.Get(ctx, "ns:b")
	require.True(t, ok)
	requireError(t, call(t, e.h, master, "POST", "/cache/delete", `["ns:b"]`), 400, "invalid_request_error")
}
