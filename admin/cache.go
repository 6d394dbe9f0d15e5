package admin

import (
	"context"
	"encoding/json"
	"maps"
	"slices"

	"github.com/llmvoy/llmvoy/config"
)

// The response cache's endpoints, LiteLLM's /cache/ping and /cache/delete
// (its proxy's caching_routes), in its shapes.

type cacheParams struct {
	Type               string   `json:"type"`
	Namespace          string   `json:"namespace,omitempty"`
	TTL                float64  `json:"ttl,omitempty"`
	Mode               string   `json:"mode"`
	SupportedCallTypes []string `json:"supported_call_types"`
}

// cachePing checks the cache's store; 503 when there is no cache or its
// store does not answer. The parameters shown hold no credential.
func (h *Handler) cachePing(ctx context.Context, _ Request) (any, error) {
	c := h.Config.Cache
	if c == nil || h.Cache == nil {
		return nil, errorf(503, "Cache not initialized. litellm.cache is None")
	}
	params := cacheParams{Type: c.Type, Namespace: c.Namespace, TTL: c.TTL.Seconds(), Mode: "default_on",
		SupportedCallTypes: slices.Sorted(maps.Keys(c.Calls))}
	if c.DefaultOff {
		params.Mode = "default_off"
	}
	if err := h.Cache.Ping(ctx); err != nil {
		// The client's error (go-redis names the address, never the
		// password) says why.
		return nil, errorf(503, "Service Unhealthy (%v)", err)
	}
	out := map[string]any{"status": "healthy", "cache_type": h.Cache.Type(), "litellm_cache_params": params}
	if h.Cache.Type() == config.CacheRedis {
		out["ping_response"] = true
	}
	return out, nil
}

// cacheDelete removes the entries {"keys": [...]} names: the keys
// x-litellm-cache-key returned.
func (h *Handler) cacheDelete(ctx context.Context, r Request) (any, error) {
	if h.Config.Cache == nil || h.Cache == nil {
		return nil, errorf(503, "Cache not initialized. litellm.cache is None")
	}
	var req struct {
		Keys []string `json:"keys"`
	}
	if err := json.Unmarshal(r.Body, &req); err != nil {
		return nil, errorf(400, "want a JSON body {\"keys\": [...]}: %v", err)
	}
	if err := h.Cache.Delete(ctx, req.Keys); err != nil {
		return nil, errorf(500, "Cache Delete Failed(%v)", err)
	}
	return map[string]string{"status": "success"}, nil
}
