package keys

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Defaults of Options.
const (
	// DefaultFlushEvery is how often spend is written: what a crash can
	// lose at most.
	DefaultFlushEvery = time.Second
	// DefaultCacheTTL is how long a key read from the store is trusted:
	// how long an update or delete on another replica takes to apply here.
	DefaultCacheTTL = 5 * time.Second
	// DefaultLookupTimeout bounds a key lookup on the request path: past
	// it the request is refused (503) or served from the cache, rather
	// than held by a database that does not answer.
	DefaultLookupTimeout = 2 * time.Second
	// DefaultFlushTimeout bounds the write of one batch of spend; what is
	// not written is kept for the next flush.
	DefaultFlushTimeout = 10 * time.Second
	// maxPending bounds the spend kept while the store cannot be written.
	maxPending = 100_000
	// flushBatch is the most spend logs written in one transaction, so
	// that the backlog of an outage is written in pieces that each fit in
	// the flush timeout.
	flushBatch = 1000
)

// Options configure Keys.
type Options struct {
	FlushEvery    time.Duration
	CacheTTL      time.Duration
	LookupTimeout time.Duration
	FlushTimeout  time.Duration
	// KeepLogs stores a row per request (off: disable_spend_logs).
	KeepLogs bool
	Log      *slog.Logger
}

// Keys serves the request path: key lookups from a cache in front of the
// store, and spend recorded in memory and written in batches.
type Keys struct {
	store *Store
	opts  Options
	now   func() time.Time

	mu    sync.Mutex
	cache map[string]*entry
	// pending is spend not yet written; unflushed is its sum per key.
	pending   []SpendLog
	unflushed map[string]float64
	flushMu   sync.Mutex // one flush at a time
}

type entry struct {
	key     *Key // nil: no such key
	fetched time.Time
	// added is the spend recorded here since the key was read.
	added float64
}

// negativeTTL is how long an unknown key is remembered as unknown, so a
// client retrying a wrong key does not reach the database each time.
const negativeTTL = time.Second

// New serves keys from store.
func New(store *Store, opts Options) *Keys {
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = DefaultFlushEvery
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = DefaultCacheTTL
	}
	if opts.LookupTimeout <= 0 {
		opts.LookupTimeout = DefaultLookupTimeout
	}
	if opts.FlushTimeout <= 0 {
		opts.FlushTimeout = DefaultFlushTimeout
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Keys{store: store, opts: opts, now: time.Now, cache: make(map[string]*entry), unflushed: make(map[string]float64)}
}

// Store is the store behind the cache, for the admin endpoints.
func (k *Keys) Store() *Store { return k.store }

// Lookup returns the key with token (the secret's hash) as of at most the
// cache TTL ago, with its spend including what this process recorded
// since. The result is a copy. ErrNotFound when there is no such key.
func (k *Keys) Lookup(ctx context.Context, token string) (*Key, error) {
	now := k.now()
	k.mu.Lock()
	e := k.cache[token]
	if e != nil && (e.key != nil && now.Sub(e.fetched) < k.opts.CacheTTL || e.key == nil && now.Sub(e.fetched) < negativeTTL) {
		defer k.mu.Unlock()
		return e.snapshot()
	}
	k.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, k.opts.LookupTimeout)
	defer cancel()
	key, err := k.store.Get(ctx, token)
	if err != nil && !errors.Is(err, ErrNotFound) {
		// The store is down: a key read before keeps working as it was
		// (its spend still counts what this replica records).
		k.mu.Lock()
		defer k.mu.Unlock()
		if e := k.cache[token]; e != nil && e.key != nil {
			return e.snapshot()
		}
		return nil, err
	}
	if key != nil {
		k.resetBudget(ctx, key, now)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	// What is recorded but not yet written is not in the store's spend.
	e = &entry{key: key, fetched: now, added: k.unflushed[token]}
	k.cache[token] = e
	if len(k.cache) > 100_000 {
		k.sweep(now)
	}
	return e.snapshot()
}

func (e *entry) snapshot() (*Key, error) {
	if e.key == nil {
		return nil, ErrNotFound
	}
	c := *e.key
	c.Spend += e.added
	return &c, nil
}

// sweep drops stale cache entries; k.mu is held.
func (k *Keys) sweep(now time.Time) {
	for t, e := range k.cache {
		if now.Sub(e.fetched) >= k.opts.CacheTTL {
			delete(k.cache, t)
		}
	}
}

// resetBudget starts the key's next budget period when the current one has
// ended: LiteLLM's budget_duration.
func (k *Keys) resetBudget(ctx context.Context, key *Key, now time.Time) {
	if key.BudgetResetAt == nil || key.BudgetDuration == "" || now.Before(*key.BudgetResetAt) {
		return
	}
	next := *key.BudgetResetAt
	for !next.After(now) {
		n, err := AddDuration(next, key.BudgetDuration)
		if err != nil || !n.After(next) {
			return
		}
		next = n
	}
	if err := k.store.ResetBudget(ctx, key.Token, *key.BudgetResetAt, next); err != nil {
		k.opts.Log.Warn("key budget not reset; will try again", "key_name", key.KeyName, "err", err)
		return
	}
	k.opts.Log.Info("key budget period ended: spend reset", "key_name", key.KeyName, "next_reset", next.Format(time.RFC3339))
	key.Spend, key.BudgetResetAt = 0, &next
}

// Invalidate forgets a cached key after it changed here.
func (k *Keys) Invalidate(token string) {
	k.mu.Lock()
	delete(k.cache, token)
	k.mu.Unlock()
}

// Record adds a request's spend; it is written with the next batch. It
// never blocks on the store.
func (k *Keys) Record(l SpendLog) {
	if !k.opts.KeepLogs {
		l.Messages, l.Response = "", ""
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.pending) >= maxPending {
		// The store has been failing for a long while: keep the newest.
		dropped := k.pending[0]
		k.pending = k.pending[1:]
		k.unflushed[dropped.APIKey] -= dropped.Spend
		k.opts.Log.Error("spend log dropped: the store has not been writable for a long time", "request_id", dropped.RequestID)
	}
	k.pending = append(k.pending, l)
	k.unflushed[l.APIKey] += l.Spend
	if e := k.cache[l.APIKey]; e != nil {
		e.added += l.Spend
	}
}

// Run writes recorded spend every FlushEvery until ctx ends, then once more.
func (k *Keys) Run(ctx context.Context) {
	t := time.NewTicker(k.opts.FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := k.Flush(fctx); err != nil {
				k.opts.Log.Error("spend not written at shutdown", "err", err)
			}
			cancel()
			return
		case <-t.C:
			if err := k.Flush(ctx); err != nil {
				k.opts.Log.Warn("spend not written; will try again", "store", k.store.Where, "err", err)
			}
		}
	}
}

// Flush writes the recorded spend now, in transactions of at most
// flushBatch logs, each bounded by FlushTimeout. What is not written stays
// pending for the next flush.
func (k *Keys) Flush(ctx context.Context) error {
	k.flushMu.Lock()
	defer k.flushMu.Unlock()
	for {
		k.mu.Lock()
		n := min(len(k.pending), flushBatch)
		batch := k.pending[:n:n]
		if k.pending = k.pending[n:]; len(k.pending) == 0 {
			k.pending = nil
		}
		k.mu.Unlock()
		if len(batch) == 0 {
			return nil
		}
		if err := k.write(ctx, batch); err != nil {
			k.mu.Lock()
			k.pending = append(batch, k.pending...)
			k.mu.Unlock()
			return err
		}
	}
}

// write stores one batch, then makes the cache agree with the store.
func (k *Keys) write(ctx context.Context, batch []SpendLog) error {
	wctx, cancel := context.WithTimeout(ctx, k.opts.FlushTimeout)
	defer cancel()
	if err := k.store.Write(wctx, batch, k.opts.KeepLogs); err != nil {
		return err
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, l := range batch {
		k.unflushed[l.APIKey] -= l.Spend
		if k.unflushed[l.APIKey] <= 1e-12 {
			delete(k.unflushed, l.APIKey)
		}
		// The store now holds this spend: a cached copy read before the
		// write must not count it twice, so it is read again (and kept
		// meanwhile, for when the store cannot be read).
		if e := k.cache[l.APIKey]; e != nil && e.key != nil && e.fetched.Before(now) && !e.fetched.IsZero() {
			e.key.Spend += e.added
			e.added, e.fetched = 0, time.Time{}
		}
	}
	return nil
}
