// Package counters counts per-key rpm and tpm (and whatever else must agree
// across gateway replicas): in process, or in Redis when
// router_settings.redis_* is set. When Redis cannot be reached the gateway
// keeps serving, counting in process, and says so in its log and in
// llmvoy_redis_up; it goes back to Redis as soon as Redis answers again.
package counters

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/llmvoy/llmvoy/config"
)

// Store counts named counters.
type Store interface {
	// Add adds n (which may be negative) to counter key and returns its new
	// value; a counter that did not exist expires ttl after it was
	// created.
	Add(ctx context.Context, key string, n int64, ttl time.Duration) (int64, error)
	// Get returns counter key's value, 0 when absent or expired.
	Get(ctx context.Context, key string) (int64, error)
}

// Open returns the store for r: Redis with an in-process fallback when r is
// enabled, else in process only.
func Open(r config.RedisSettings, log *slog.Logger) Store {
	if !r.Enabled() {
		return NewLocal()
	}
	return NewShared(r, log)
}

// Local counts in this process.
type Local struct {
	mu    sync.Mutex
	m     map[string]*local
	swept time.Time
	now   func() time.Time
}

type local struct {
	n       int64
	expires time.Time
}

// NewLocal returns an empty in-process store.
func NewLocal() *Local { return &Local{m: make(map[string]*local), now: time.Now} }

func (l *Local) Add(_ context.Context, key string, n int64, ttl time.Duration) (int64, error) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		l.swept = now
		for k, c := range l.m {
			if !now.Before(c.expires) {
				delete(l.m, k)
			}
		}
	}
	c := l.m[key]
	if c == nil || !now.Before(c.expires) {
		c = &local{expires: now.Add(ttl)}
		l.m[key] = c
	}
	c.n += n
	return c.n, nil
}

func (l *Local) Get(_ context.Context, key string) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c := l.m[key]; c != nil && l.now().Before(c.expires) {
		return c.n, nil
	}
	return 0, nil
}

// addScript adds to a counter and sets its expiry only when it creates it,
// in one step (INCRBY then PEXPIRE would leave a counter without expiry if
// the client died between them).
var addScript = redis.NewScript(`
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return v`)

// Shared counts in Redis, and in process while Redis is unreachable.
type Shared struct {
	client   *redis.Client
	fallback *Local
	log      *slog.Logger
	up       atomic.Bool
	// retryAt is when to try Redis again after a failure (Unix nanos):
	// while it is down, requests do not each wait for a timeout.
	retryAt atomic.Int64
}

// timeout bounds one Redis call: a dead Redis costs a request this much
// once, then nothing until the next retry.
const timeout = 100 * time.Millisecond

// retryEvery is how often a request tries Redis again while it is down.
const retryEvery = time.Second

// NewShared returns a store on the Redis of r.
func NewShared(r config.RedisSettings, log *slog.Logger) *Shared {
	opts := &redis.Options{
		Addr: net.JoinHostPort(r.Host, strconv.Itoa(r.Port)), Password: r.Password.Reveal(),
		DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout,
		MaxRetries: -1, // a failure falls back at once; the next retry is ours
	}
	if r.URL != "" {
		if u, err := redis.ParseURL(r.URL.Reveal()); err == nil {
			opts.Addr, opts.Password, opts.Username, opts.DB, opts.TLSConfig = u.Addr, u.Password, u.Username, u.DB, u.TLSConfig
		} else {
			log.Error("router_settings.redis_url cannot be parsed; counting in process", "err", redactErr(err))
		}
	}
	s := &Shared{client: redis.NewClient(opts), fallback: NewLocal(), log: log}
	s.up.Store(true)
	return s
}

// Healthy reports whether Redis answered the last call.
func (s *Shared) Healthy() bool { return s.up.Load() }

// Close closes the Redis connections.
func (s *Shared) Close() error { return s.client.Close() }

func (s *Shared) Add(ctx context.Context, key string, n int64, ttl time.Duration) (int64, error) {
	if s.skip() {
		return s.fallback.Add(ctx, key, n, ttl)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	v, err := addScript.Run(ctx, s.client, []string{key}, n, max(ttl.Milliseconds(), 1)).Int64()
	if err != nil {
		s.failed(err)
		return s.fallback.Add(ctx, key, n, ttl)
	}
	s.recovered()
	return v, nil
}

func (s *Shared) Get(ctx context.Context, key string) (int64, error) {
	if s.skip() {
		return s.fallback.Get(ctx, key)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	v, err := s.client.Get(ctx, key).Int64()
	if errors.Is(err, redis.Nil) {
		s.recovered()
		return 0, nil
	}
	if err != nil {
		s.failed(err)
		return s.fallback.Get(ctx, key)
	}
	s.recovered()
	return v, nil
}

// skip reports whether Redis is down and not yet due for another try.
func (s *Shared) skip() bool {
	return !s.up.Load() && time.Now().UnixNano() < s.retryAt.Load()
}

func (s *Shared) failed(err error) {
	s.retryAt.Store(time.Now().Add(retryEvery).UnixNano())
	if s.up.Swap(false) {
		s.log.Error("Redis unreachable: limits are counted per replica until it is back", "err", redactErr(err))
	}
}

func (s *Shared) recovered() {
	if !s.up.Swap(true) {
		s.log.Info("Redis reachable again: limits are shared across replicas")
	}
}

// redactErr keeps a password that a URL parse error may quote out of logs.
func redactErr(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		return errors.New("invalid Redis URL")
	}
	return err
}
