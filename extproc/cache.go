package extproc

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/llmvoy/llmvoy/cache"
	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/internal/jsonscan"
	"github.com/llmvoy/llmvoy/keys"
	"github.com/llmvoy/llmvoy/metrics"
	"github.com/llmvoy/llmvoy/translate"
)

// The response cache (package cache; litellm_settings.cache): the gateway
// looks a request up once it is admitted (the same authentication, model
// access and key limits as any request), and answers a hit itself; on a
// miss it routes the request where the upstream processor runs, whose
// attempt keeps a 200 answer as the client gets it.

// CacheKeyHeader is LiteLLM's response header naming the answer's cache
// key, the key /cache/delete takes.
const CacheKeyHeader = "x-litellm-cache-key"

// maxCachedAnswer bounds what one attempt holds to store: a larger answer
// is passed on and not cached.
const maxCachedAnswer = 8 << 20

// cacheWait bounds a lookup (the store bounds its own calls tighter).
const cacheWait = time.Second

// SetCache makes store the response cache's store; call it before serving.
// Without one (or without litellm_settings.cache) nothing is cached.
func (s *Server) SetCache(store cache.Store) { s.cache = store }

// cacheWrite is what an attempt of a request that missed the cache needs
// to keep its answer.
type cacheWrite struct {
	store cache.Store
	key   string
	// ttl is the request's cache.ttl, else cache_params.ttl; 0: the
	// store's default.
	ttl time.Duration
	// stream: the client asked for a stream (part of the key, as in
	// LiteLLM), so only an event stream is kept.
	stream bool
}

// cacheControls are a request's cache field, LiteLLM's dynamic cache
// controls, and its older caching flag.
type cacheControls struct {
	use, noCache, noStore bool
	ttl, maxAge           time.Duration
	namespace             string
	// off: caching: false.
	off bool
}

func readCacheControls(fields []jsonscan.Field) cacheControls {
	var c cacheControls
	if f, ok := jsonscan.Get(fields, "caching"); ok {
		if on, ok := jsonscan.Bool(f.Value); ok && !on {
			c.off = true
		}
	}
	f, ok := jsonscan.Get(fields, "cache")
	if !ok {
		return c
	}
	var raw map[string]any
	if json.Unmarshal(f.Value, &raw) != nil {
		return c
	}
	c.use, c.noCache, c.noStore = raw["use-cache"] == true, raw["no-cache"] == true, raw["no-store"] == true
	c.ttl = seconds(raw["ttl"])
	if c.maxAge = seconds(raw["s-maxage"]); c.maxAge == 0 {
		c.maxAge = seconds(raw["s-max-age"])
	}
	c.namespace, _ = raw["namespace"].(string)
	return c
}

// seconds reads a positive number of seconds; 0 for anything else.
func seconds(v any) time.Duration {
	f, ok := v.(float64)
	if !ok || f <= 0 || f > math.MaxInt64/float64(time.Second) {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

// cacheCall is LiteLLM's call type of an endpoint, "" for one the cache
// does not serve.
func cacheCall(ep translate.Endpoint) string {
	switch ep {
	case translate.ChatCompletions:
		return config.CallCompletion
	case translate.Completions:
		return config.CallTextCompletion
	case translate.Embeddings:
		return config.CallEmbedding
	}
	return ""
}

// cacheLookup looks an admitted request for model (the name the client
// asked for; group is the model group it resolved to) up in the cache.
// hit is the answer to send on a hit; write is what its attempts keep on a
// miss; both nil when the request is not cached. fields are the body's as
// the client sent it.
func (g *gateway) cacheLookup(model, group string, fields []jsonscan.Field) (hit *extprocv3.ProcessingResponse, write *cacheWrite) {
	settings, store := g.state.cfg.Cache, g.server.cache
	if settings == nil || store == nil || g.isRedirect || !settings.Calls[cacheCall(g.endpoint)] {
		return nil, nil
	}
	c := readCacheControls(fields)
	if c.off || (settings.DefaultOff && !c.use) {
		return nil, nil
	}
	namespace := c.namespace
	if namespace == "" {
		namespace = settings.Namespace
	}
	key, err := cache.Key(model, fields, namespace)
	if err != nil {
		return nil, nil
	}
	stream := isStream(fields)
	if !c.noCache {
		ctx, cancel := context.WithTimeout(context.Background(), cacheWait)
		e, ok := store.Get(ctx, key)
		cancel()
		if ok && (c.maxAge == 0 || e.Age(time.Now()) <= c.maxAge) {
			g.server.metrics.CacheLookup(group, metrics.CacheHit)
			g.server.recordCacheHit(g, model, group)
			hit := cachedAnswer(key, e, stream)
			// The access log's: which group's answer this is.
			hit.DynamicMetadata = answeredMetadata(g.path, group)
			return hit, nil
		}
		g.server.metrics.CacheLookup(group, metrics.CacheMiss)
	}
	if c.noStore {
		return nil, nil
	}
	ttl := c.ttl
	if ttl == 0 {
		ttl = settings.TTL
	}
	return nil, &cacheWrite{store: store, key: key, ttl: ttl, stream: stream}
}

// cachedAnswer is a hit as the client's answer: the kept body, or the kept
// event stream replayed at once, with the key, and no cost.
func cachedAnswer(key string, e cache.Entry, stream bool) *extprocv3.ProcessingResponse {
	contentType := "application/json"
	if stream {
		contentType = "text/event-stream"
	}
	headers := append(costHeaders(0), setHeader(CacheKeyHeader, key))
	return reply(200, contentType, []byte(e.Response), headers...)
}

// cacheKeyHeader is the key header of an attempt's answer: a 200 of a
// request the cache looked up (LiteLLM names the key of answers, not of
// errors).
func (u *upstream) cacheKeyHeader() []*corev3.HeaderValueOption {
	if !u.collectsAnswer() {
		return nil
	}
	return []*corev3.HeaderValueOption{setHeader(CacheKeyHeader, u.cacheWrite.key)}
}

// collectsAnswer reports whether this attempt's answer is read to be kept:
// a 200 of a request that missed the cache.
func (u *upstream) collectsAnswer() bool {
	return u.cacheWrite != nil && u.status == 200
}

// cacheAnswer reads the answer as the client gets it (out is its next
// piece; end: the last) and keeps it once complete: a body that is not an
// error, or an event stream that reached its [DONE].
func (u *upstream) cacheAnswer(out []byte, end bool) {
	if !u.collectsAnswer() || u.cacheDropped {
		return
	}
	if len(u.cached)+len(out) > maxCachedAnswer {
		u.cached, u.cacheDropped = nil, true
		return
	}
	u.cached = append(u.cached, out...)
	if !end {
		return
	}
	answer := u.cached
	u.cached, u.cacheDropped = nil, true
	if !completeAnswer(answer, u.cacheWrite.stream) {
		return
	}
	w := u.cacheWrite
	w.store.Set(w.key, cache.Entry{Timestamp: float64(time.Now().UnixMicro()) / 1e6, Response: string(answer)}, w.ttl)
}

// completeAnswer reports whether answer is one to keep: an event stream
// that ended with [DONE] for a stream, a JSON object without an error
// otherwise.
func completeAnswer(answer []byte, stream bool) bool {
	if stream {
		return bytes.HasSuffix(bytes.TrimRight(answer, "\r\n "), []byte("[DONE]"))
	}
	fields, err := jsonscan.Fields(answer)
	if err != nil {
		return false
	}
	_, failed := jsonscan.Get(fields, "error")
	return !failed
}

// recordCacheHit records a hit of a virtual key's request in the spend
// logs, as LiteLLM does: no cost, no deployment, cache_hit set. It counts
// toward no deployment's rpm or tpm: no deployment was called. The
// callbacks' record of any hit says so too.
func (s *Server) recordCacheHit(g *gateway, model, group string) {
	sum := summary{ModelGroup: group, CacheHit: true}
	if g.caller.key != nil && s.keys != nil {
		now := time.Now()
		l := keys.SpendLog{
			RequestID: g.requestID, APIKey: g.caller.key.Token, KeyAlias: g.caller.key.KeyAlias, CallType: callType(g.endpoint),
			ModelGroup: group, Model: model, StartTime: now, EndTime: now, CacheHit: "True",
		}
		s.keys.Record(l)
		sum.KeyHash, sum.KeyAlias, sum.KeyName = g.caller.key.Token, l.KeyAlias, g.caller.key.KeyName
	} else if s.callbacks == nil {
		return
	}
	s.summaries.put(g.requestID, sum)
}
