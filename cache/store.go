package cache

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/counters"
)

// Entry is a cached answer, stored as LiteLLM stores one: JSON with the
// time it was stored (Unix seconds, for a request's s-maxage) and the
// answer as the client got it (a JSON body, or a stream's events).
type Entry struct {
	Timestamp float64 `json:"timestamp"`
	Response  string  `json:"response"`
}

// Age is how old the entry is at now.
func (e Entry) Age(now time.Time) time.Duration {
	return now.Sub(time.UnixMicro(int64(e.Timestamp * 1e6)))
}

// Store keeps answers by key. Safe for concurrent use. A store that cannot
// answer reports a miss and keeps nothing: the cache never fails a request.
type Store interface {
	// Get returns the entry under key; ok is false on a miss.
	Get(ctx context.Context, key string) (e Entry, ok bool)
	// Set keeps e under key for ttl (0: the store's default). It never
	// waits on a server: a remote store writes in the background, bounded
	// by its own timeout, so a Get right after may not find e yet.
	Set(key string, e Entry, ttl time.Duration)
	// Delete removes keys.
	Delete(ctx context.Context, keys []string) error
	// Ping checks that the store answers.
	Ping(ctx context.Context) error
	// Type is LiteLLM's name for the store: "local" or "redis".
	Type() string
}

var (
	_ Store = (*Local)(nil)
	_ Store = (*Redis)(nil)
)

// Open returns the store for s, and what closes it. A Redis cache uses
// shared's client when both name the same Redis (the limits' store of
// router_settings.redis_*, which closes it), else a client of its own with
// the same connection settings.
func Open(s *config.CacheSettings, shared *counters.Redis, limits config.RedisSettings, log *slog.Logger) (Store, func(), error) {
	if s.Type != config.CacheRedis {
		ttl := s.TTL
		if ttl == 0 {
			ttl = config.DefaultLocalCacheTTL
		}
		return NewLocal(LocalMaxEntries, ttl), func() {}, nil
	}
	if shared != nil && s.Redis == limits {
		return NewRedis(shared.Client(), log), func() {}, nil
	}
	opts, err := counters.RedisOptions(s.Redis, log)
	if err != nil {
		return nil, nil, err
	}
	client := redis.NewClient(opts)
	return NewRedis(client, log), func() { client.Close() }, nil
}

// LocalMaxEntries is LiteLLM's InMemoryCache max_size_in_memory.
const LocalMaxEntries = 200

// Local keeps answers in process, at most max of them; the one closest to
// its expiry goes first when it is full.
type Local struct {
	mu  sync.Mutex
	m   map[string]localEntry
	max int
	// ttl is the expiry of an entry set without one.
	ttl time.Duration
	now func() time.Time
}

type localEntry struct {
	e       Entry
	expires time.Time
}

// NewLocal returns an empty in-process store.
func NewLocal(max int, ttl time.Duration) *Local {
	return &Local{m: make(map[string]localEntry), max: max, ttl: ttl, now: time.Now}
}

func (l *Local) Get(_ context.Context, key string) (Entry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.m[key]
	if !ok || l.now().After(v.expires) {
		return Entry{}, false
	}
	return v.e, true
}

func (l *Local) Set(key string, e Entry, ttl time.Duration) {
	if ttl <= 0 {
		ttl = l.ttl
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.m[key]; !ok && len(l.m) >= l.max {
		oldest := ""
		for k, v := range l.m {
			if oldest == "" || v.expires.Before(l.m[oldest].expires) {
				oldest = k
			}
		}
		delete(l.m, oldest)
	}
	l.m[key] = localEntry{e: e, expires: now.Add(ttl)}
}

func (l *Local) Delete(_ context.Context, keys []string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.m, k)
	}
	return nil
}

func (l *Local) Ping(context.Context) error { return nil }

func (l *Local) Type() string { return config.CacheLocal }

// Redis keeps answers in Redis, shared by every replica using it. After a
// failed call it is skipped (every request a miss) for retryAfter, then
// tried again: an outage costs one bounded call a second, not one per
// request, and is logged once when it starts and once when it ends.
type Redis struct {
	client *redis.Client
	log    *slog.Logger
	// downUntil is when to try Redis again (Unix nanoseconds); 0 while it
	// answers.
	downUntil atomic.Int64
	now       func() time.Time
}

// retryAfter is how long a failed Redis is left alone.
const retryAfter = time.Second

// NewRedis returns a store on client.
func NewRedis(client *redis.Client, log *slog.Logger) *Redis {
	return &Redis{client: client, log: log, now: time.Now}
}

// usable reports whether to call Redis now.
func (r *Redis) usable() bool {
	until := r.downUntil.Load()
	return until == 0 || r.now().UnixNano() >= until
}

// result records how a call under ctx went: err nil marks Redis up again;
// a failure (not the caller giving up) marks it down for retryAfter.
func (r *Redis) result(ctx context.Context, err error) {
	switch {
	case err == nil || errors.Is(err, redis.Nil):
		if r.downUntil.Swap(0) != 0 {
			r.log.Info("Redis reachable again: the response cache is back")
		}
	case ctx.Err() != nil:
	default:
		if r.downUntil.Swap(r.now().Add(retryAfter).UnixNano()) == 0 {
			r.log.Error("Redis unreachable: the response cache misses until it answers", "err", err)
		}
	}
}

func (r *Redis) Get(ctx context.Context, key string) (Entry, bool) {
	if !r.usable() {
		return Entry{}, false
	}
	rctx, cancel := context.WithTimeout(ctx, counters.Timeout)
	defer cancel()
	b, err := r.client.Get(rctx, key).Bytes()
	r.result(ctx, err)
	if err != nil {
		return Entry{}, false
	}
	var e Entry
	if json.Unmarshal(b, &e) != nil {
		// Not an answer llmvoy (or LiteLLM) stored.
		return Entry{}, false
	}
	return e, true
}

func (r *Redis) Set(key string, e Entry, ttl time.Duration) {
	if !r.usable() {
		return
	}
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), counters.Timeout)
		defer cancel()
		r.result(context.Background(), r.client.Set(ctx, key, b, ttl).Err())
	}()
}

func (r *Redis) Delete(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, counters.Timeout)
	defer cancel()
	err := r.client.Del(rctx, keys...).Err()
	r.result(ctx, err)
	return err
}

func (r *Redis) Ping(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, counters.Timeout)
	defer cancel()
	err := r.client.Ping(rctx).Err()
	r.result(ctx, err)
	return err
}

func (r *Redis) Type() string { return config.CacheRedis }
