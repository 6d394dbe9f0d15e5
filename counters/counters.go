// Package counters counts what must agree across gateway replicas (per-key
// and per-deployment rpm and tpm, budgets, requests in flight) in windowed
// integer counters: in process, or in Redis when router_settings.redis_* is
// set.
//
// When Redis cannot be reached the gateway keeps serving: the Redis store
// counts in process, from the last values it saw, says so once in its log,
// reports it through Healthy (llmvoy_redis_up), probes Redis in the
// background, and goes back to it (saying so once) as soon as it answers.
// What a replica counted during an outage stays with that replica.
package counters

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/llmvoy/llmvoy/config"
)

// Store counts named counters, in process or in Redis shared by replicas.
// Safe for concurrent use.
type Store interface {
	// Add adds n (which may be negative) to counter key and returns its new
	// value; a counter that did not exist expires ttl after it was
	// created.
	Add(ctx context.Context, key string, n int64, ttl time.Duration) (int64, error)
	// Get returns counter key's value, 0 when absent or expired.
	Get(ctx context.Context, key string) (int64, error)
}

var (
	_ Store = (*Local)(nil)
	_ Store = (*Redis)(nil)
)

// Open returns the store for r: a Redis store when r is enabled, else an
// in-process one. A redis_url that cannot be used is logged, and counting
// stays in process.
func Open(r config.RedisSettings, log *slog.Logger) Store {
	if !r.Enabled() {
		return NewLocal()
	}
	s, err := NewRedis(r, log)
	if err != nil {
		log.Error("router_settings.redis_url cannot be used; limits are counted per replica", "err", err)
		return NewLocal()
	}
	return s
}

// Counter names. Every counter is "llmvoy:" and colon-separated parts, so a
// Redis database shared with other software shows whose keys these are.
// Two llmvoy fleets that must not share counts need two Redis databases.

// PerMinuteTTL is the ttl of a PerMinute counter: its minute and one more,
// so that a replica whose clock is a little behind still reads it.
const PerMinuteTTL = 2 * time.Minute

// Key names a counter: "llmvoy:" and parts joined by ":".
func Key(parts ...string) string { return "llmvoy:" + strings.Join(parts, ":") }

// Minute is the window of a per-minute counter: Unix minutes. Each replica
// computes it from its own clock; replicas agree on when a minute ends only
// as well as their clocks agree.
func Minute(t time.Time) int64 { return t.Unix() / 60 }

// PerMinute names a per-minute counter of one subject:
// "llmvoy:<kind>:<id>:<what>:<minute>", e.g.
// "llmvoy:deployment:<id>:rpm:29512345" or "llmvoy:key:<hash>:tpm:29512345".
// Counter names are visible to anyone who can read Redis: pass a key's
// hash as id, never the key.
func PerMinute(kind, id, what string, minute int64) string {
	return Key(kind, id, what, strconv.FormatInt(minute, 10))
}

// Local counts in this process.
type Local struct {
	mu    sync.Mutex
	m     map[string]*local
	swept time.Time
	now   func() time.Time
	// sets holds the DeadlineStore's sets, made on first use.
	sets map[string]map[string]time.Time
}

type local struct {
	n       int64
	expires time.Time
}

// sweepEvery is how often Local drops expired counters (on an Add).
const sweepEvery = time.Minute

// NewLocal returns an empty in-process store.
func NewLocal() *Local { return &Local{m: make(map[string]*local), now: time.Now} }

// Add implements Store; it never fails.
func (l *Local) Add(_ context.Context, key string, n int64, ttl time.Duration) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.liveLocked(key, ttl)
	c.n += n
	return c.n, nil
}

// Get implements Store; it never fails.
func (l *Local) Get(_ context.Context, key string) (int64, error) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if c := l.m[key]; c != nil && now.Before(c.expires) {
		return c.n, nil
	}
	return 0, nil
}

// set makes key's value n, creating it with ttl when absent.
func (l *Local) set(key string, n int64, ttl time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.liveLocked(key, ttl).n = n
}

// update makes key's value n when it is there.
func (l *Local) update(key string, n int64) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if c := l.m[key]; c != nil && now.Before(c.expires) {
		c.n = n
	}
}

// liveLocked returns key's counter, new (expiring after ttl) when it is
// absent or expired; it sweeps expired counters now and then.
func (l *Local) liveLocked(key string, ttl time.Duration) *local {
	now := l.now()
	if now.Sub(l.swept) >= sweepEvery {
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
	return c
}

// addScript adds to a counter and sets its expiry only when it creates it,
// in one step: INCRBY then EXPIRE from the client would leave a counter that
// never expires if the client died between them.
var addScript = redis.NewScript(`
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return v`)

// Redis counts in Redis, shared by the replicas that use the same server and
// database, and in process while Redis does not answer.
type Redis struct {
	client *redis.Client
	// mirror holds the last value this replica saw of each counter it
	// added to (and what it added since, while Redis is down): an outage
	// continues the counts instead of starting them again at zero.
	mirror *Local
	log    *slog.Logger
	up     atomic.Bool
	stop   context.CancelFunc
	done   chan struct{}
}

// Timeout bounds one Redis call. Redis answers in well under a
// millisecond; a dead one costs the calls in flight this much once, then
// nothing until the background probe sees it back.
const Timeout = 100 * time.Millisecond

// probeEvery is how often the background probe pings Redis: it finds an
// outage when no call does, and the end of one.
const probeEvery = time.Second

// NewRedis returns a store on the Redis of r, which it pings once before it
// returns (at most Timeout), and then every probeEvery in the background
// until Close.
func NewRedis(r config.RedisSettings, log *slog.Logger) (*Redis, error) {
	opts, err := RedisOptions(r, log)
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Redis{client: redis.NewClient(opts), mirror: NewLocal(), log: log, stop: stop, done: make(chan struct{})}
	if err := s.ping(ctx); err != nil {
		log.Error("Redis unreachable: limits are counted per replica until it answers", "redis", opts.Addr, "err", err)
	} else {
		s.up.Store(true)
		log.Info("limits are counted in Redis, shared by the replicas using it", "redis", opts.Addr, "db", opts.DB)
	}
	go s.probe(ctx)
	return s, nil
}

// RedisOptions are the go-redis options for r: its URL when set (which
// wins, as in LiteLLM), else host, port and password; every call bounded
// by Timeout and never retried, so that a dead Redis costs a caller one
// Timeout. Errors never show the URL, which holds the password.
func RedisOptions(r config.RedisSettings, log *slog.Logger) (*redis.Options, error) {
	opts := &redis.Options{Addr: net.JoinHostPort(r.Host, strconv.Itoa(r.Port)), Password: r.Password.Reveal()}
	if r.URL != "" {
		u, err := redis.ParseURL(r.URL.Reveal())
		if err != nil {
			return nil, redactURLError(err)
		}
		opts = u
	}
	// Fail fast and fall back rather than retry: the callers' probes retry.
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout, opts.PoolTimeout = Timeout, Timeout, Timeout, Timeout
	opts.MaxRetries, opts.DialerRetries = -1, 1
	quietClient.Do(func() { redis.SetLogger(debugLog{log}) })
	return opts, nil
}

// Client is the store's Redis client, for other users of the same Redis
// (the response cache) to share its connections.
func (s *Redis) Client() *redis.Client { return s.client }

// Healthy reports whether Redis answered the last call or probe: false
// while this replica counts on its own.
func (s *Redis) Healthy() bool { return s.up.Load() }

// Close stops the probe and closes the Redis connections.
func (s *Redis) Close() error {
	s.stop()
	<-s.done
	return s.client.Close()
}

// Add implements Store. A Redis failure is not returned: the count goes on
// in process.
func (s *Redis) Add(ctx context.Context, key string, n int64, ttl time.Duration) (int64, error) {
	if !s.up.Load() {
		return s.mirror.Add(ctx, key, n, ttl)
	}
	rctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	v, err := addScript.Run(rctx, s.client, []string{key}, n, max(ttl.Milliseconds(), 1)).Int64()
	if err != nil {
		s.failed(ctx, err)
		return s.mirror.Add(ctx, key, n, ttl)
	}
	s.mirror.set(key, v, ttl)
	return v, nil
}

// Get implements Store. A Redis failure is not returned: the value is the
// one counted in process.
func (s *Redis) Get(ctx context.Context, key string) (int64, error) {
	if !s.up.Load() {
		return s.mirror.Get(ctx, key)
	}
	rctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	v, err := s.client.Get(rctx, key).Int64()
	switch {
	case errors.Is(err, redis.Nil):
		v, err = 0, nil
	case err != nil:
		s.failed(ctx, err)
		return s.mirror.Get(ctx, key)
	}
	s.mirror.update(key, v)
	return v, nil
}

func (s *Redis) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	return s.client.Ping(ctx).Err()
}

func (s *Redis) probe(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(probeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.ping(ctx); err != nil {
			s.failed(ctx, err)
		} else if !s.up.Swap(true) {
			s.log.Info("Redis reachable again: limits are shared across replicas")
		}
	}
}

// failed marks Redis down after a call under ctx failed with err, unless
// the caller gave up first (its request ended): that says nothing about
// Redis.
func (s *Redis) failed(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	if s.up.Swap(false) {
		s.log.Error("Redis unreachable: limits are counted per replica until it answers", "err", err)
	}
}

// quietClient keeps go-redis from writing a line to stderr per failed dial
// (one a second while Redis is down): its messages go to the first store's
// log at debug level. go-redis has one logger per process.
var quietClient sync.Once

type debugLog struct{ log *slog.Logger }

func (d debugLog) Printf(ctx context.Context, format string, v ...any) {
	d.log.DebugContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}

// redactURLError drops the URL, which holds the password, from a parse
// error.
func redactURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}
