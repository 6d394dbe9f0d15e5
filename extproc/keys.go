package extproc

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/llmvoy/llmvoy/counters"
	"github.com/llmvoy/llmvoy/keys"
	"github.com/llmvoy/llmvoy/plan"
)

// Counters is where per-key rpm and tpm are counted: in process, or in Redis
// shared by the replicas (package counters).
type Counters interface {
	// Add adds n to counter key and returns its new value; a new counter
	// expires ttl after it was created.
	Add(ctx context.Context, key string, n int64, ttl time.Duration) (int64, error)
	// Get returns counter key's value, 0 when absent.
	Get(ctx context.Context, key string) (int64, error)
}

// SetKeys enables virtual keys and spend, with per-key rpm and tpm counted
// in counters; call it before serving.
func (s *Server) SetKeys(k *keys.Keys, counters Counters) {
	s.keys, s.counters = k, counters
	s.parallel = newInFlight(func() time.Duration { return s.state.Load().plan.RouteTimeout })
	s.summaries = newSummaries()
}

// caller is who made a request: the master key, a virtual key, or nobody
// (no master key configured).
type caller struct {
	master bool
	key    *keys.Key // a virtual key
}

// authenticate finds who presented key. The master key is compared in
// constant time; a virtual key is found by its hash.
func (g *gateway) authenticate(presented string) (caller, *apiError) {
	if !g.state.hasKey {
		return caller{}, nil
	}
	if g.state.authorized(presented) {
		return caller{master: true}, nil
	}
	if presented == "" {
		return caller{}, &apiError{Status: 401, Message: "Authentication Error, No api key passed in.", Type: "auth_error", Code: "401"}
	}
	invalid := &apiError{Status: 401, Type: "auth_error", Code: "401",
		Message: "Authentication Error, Invalid proxy server token passed. Pass a valid master key or virtual key in the Authorization header as 'Bearer <key>'."}
	if g.server.keys == nil {
		return caller{}, invalid
	}
	k, err := g.server.keys.Lookup(context.Background(), keys.Hash(presented))
	switch {
	case errors.Is(err, keys.ErrNotFound):
		return caller{}, invalid
	case err != nil:
		g.server.log.Error("key store unreachable: request refused", "err", err)
		return caller{}, &apiError{Status: 503, Type: "service_unavailable", Message: "llmvoy: the key store is unreachable, so the key cannot be checked; try again"}
	case k.Blocked:
		return caller{}, &apiError{Status: 401, Type: "auth_error", Code: "401", Message: "Authentication Error, Key is blocked. Update via `/key/unblock` if you're admin."}
	case k.Expired(time.Now()):
		return caller{}, &apiError{Status: 401, Type: "auth_error", Code: "401",
			Message: fmt.Sprintf("Authentication Error - Expired Key. Key Expiry time %s and current time %s", k.Expires.Format(time.RFC3339), time.Now().UTC().Format(time.RFC3339))}
	}
	return caller{key: k}, nil
}

// modelDenied is LiteLLM's refusal of a model a key may not use, named in
// the body's field param: a 403 (LiteLLM 1.108; older releases answered
// 401), since the key itself is valid.
func modelDenied(k *keys.Key, model, param string) apiError {
	return apiError{Status: 403, Type: "key_model_access_denied", Param: param, Code: "403",
		Message: fmt.Sprintf("Authentication Error, API Key not allowed to access model. This token can only access models=%q. Tried to access %s", k.Models, echoed(model))}
}

// admitKey checks a virtual key's model access, budget and limits for a
// request to model (resolved to group), and counts the request against
// them. It returns the refusal, or nil when the request may go on.
func (g *gateway) admitKey(model, group string) *extprocv3.ProcessingResponse {
	k := g.caller.key
	if !k.Allows(model) && !k.Allows(group) {
		return replyError(modelDenied(k, model, "model"))
	}
	name := keyLabel(k)
	ctx := context.Background()
	if k.MaxBudget != nil {
		// The store's spend lags the other replicas' by their write
		// interval and this cache; the shared counter does not.
		if n, err := g.server.counters.Get(ctx, spendCounter(k)); err == nil {
			k.Spend = max(k.Spend, float64(n)/nanoUSD)
		}
	}
	if k.MaxBudget != nil && k.Spend >= *k.MaxBudget {
		e := apiError{Status: 429, Type: "budget_exceeded", Code: "429",
			Message: fmt.Sprintf("Budget has been exceeded! Key %s: Current cost: %g, Max budget: %g", name, k.Spend, *k.MaxBudget)}
		if k.BudgetResetAt != nil {
			return replyRetryAfter(e, time.Until(*k.BudgetResetAt))
		}
		return replyError(e)
	}
	now := time.Now()
	minute := now.Unix() / 60
	untilNextMinute := time.Unix((minute+1)*60, 0).Sub(now)
	if k.TPMLimit != nil {
		used, err := g.server.counters.Get(ctx, keyCounter(k.Token, "tpm", minute))
		if err == nil && used >= *k.TPMLimit {
			return replyRetryAfter(apiError{Status: 429, Type: "rate_limit_error", Code: "429",
				Message: fmt.Sprintf("Rate limit reached for key %s: %d tokens used this minute, tpm_limit %d.", name, used, *k.TPMLimit)}, untilNextMinute)
		}
	}
	if k.MaxParallel != nil && !g.server.parallel.acquire(k.Token, g.requestID, *k.MaxParallel) {
		return replyRetryAfter(apiError{Status: 429, Type: "rate_limit_error", Code: "429",
			Message: fmt.Sprintf("Rate limit reached for key %s: max_parallel_requests %d requests already in flight.", name, *k.MaxParallel)}, time.Second)
	}
	// Last: a request refused for another reason is not counted.
	if k.RPMLimit != nil {
		c := keyCounter(k.Token, "rpm", minute)
		n, err := g.server.counters.Add(ctx, c, 1, counters.PerMinuteTTL)
		if err == nil && n > *k.RPMLimit {
			g.server.counters.Add(ctx, c, -1, counters.PerMinuteTTL)
			g.server.parallel.release(g.requestID)
			return replyRetryAfter(apiError{Status: 429, Type: "rate_limit_error", Code: "429",
				Message: fmt.Sprintf("Rate limit reached for key %s: rpm_limit %d requests this minute.", name, *k.RPMLimit)}, untilNextMinute)
		}
	}
	return nil
}

// keyCounter names a key's counter for one minute.
func keyCounter(token, what string, minute int64) string {
	return counters.PerMinute("key", token, what, minute)
}

// nanoUSD is the unit of the shared spend counters: integers, fine enough
// for a one-token request.
const nanoUSD = 1e9

// spendCounter names a key's spend in its current budget period, shared by
// the replicas (Redis); the period's end names it, so a new period starts
// from zero.
func spendCounter(k *keys.Key) string {
	period := "all"
	if k.BudgetResetAt != nil {
		period = strconv.FormatInt(k.BudgetResetAt.Unix(), 10)
	}
	return counters.Key("key", k.Token, "spend", period)
}

// spendTTL keeps a spend counter until its period ends (a year without one).
func spendTTL(k *keys.Key) time.Duration {
	if k.BudgetResetAt != nil {
		return max(time.Until(*k.BudgetResetAt)+time.Minute, time.Minute)
	}
	return 366 * 24 * time.Hour
}

// keyLabel names a key in messages and logs: its alias, else its
// abbreviation; never the secret.
func keyLabel(k *keys.Key) string {
	if k.KeyAlias != nil && *k.KeyAlias != "" {
		return *k.KeyAlias
	}
	return k.KeyName
}

// replyRetryAfter is an error with a Retry-After of wait.
func replyRetryAfter(e apiError, wait time.Duration) *extprocv3.ProcessingResponse {
	return reply(e.Status, "application/json", e.body(), setHeader("retry-after", strconv.Itoa(retryAfterSeconds(wait))))
}

// retryAfterSeconds is wait in whole seconds, rounded up, at least one.
func retryAfterSeconds(wait time.Duration) int { return max(1, int(math.Ceil(wait.Seconds()))) }

// inFlight counts each key's requests in flight on this replica, for
// max_parallel_requests. A request is released when Envoy logs its end. An
// access-log entry can be lost (a log stream reset with a batch in it), so
// each slot also expires: a request cannot outlive its route's timeout
// (router_settings.timeout, LiteLLM's 600 s by default), which Envoy
// enforces on every pass, and a fallback's next pass renews its slot. The
// margin covers the access log's flush interval and a slow log stream; an
// expired slot is reclaimed when its key is at its limit.
type inFlight struct {
	mu        sync.Mutex
	slots     map[string]map[string]time.Time // token → request id → expiry
	byRequest map[string]string               // request id → token
	// ttl is how long a slot is held at most: the route timeout plus
	// slotMargin.
	ttl func() time.Duration
	now func() time.Time
	// swept is when expired slots of every key were last dropped, so that
	// a key that never reaches its limit again does not keep them.
	swept time.Time
}

// slotMargin is how long past the route timeout a slot waits for its
// request's access-log entry.
const slotMargin = time.Minute

// routeTTL is how long state kept for a request in flight may wait for its
// end: its route's timeout (plan.Plan.RouteTimeout, the one Envoy has) and
// slotMargin.
func routeTTL(routeTimeout time.Duration) time.Duration {
	if routeTimeout <= 0 {
		routeTimeout = plan.DefaultRouteTimeout
	}
	return routeTimeout + slotMargin
}

func newInFlight(routeTimeout func() time.Duration) *inFlight {
	return &inFlight{
		slots:     make(map[string]map[string]time.Time),
		byRequest: make(map[string]string),
		ttl:       func() time.Duration { return routeTTL(routeTimeout()) },
		now:       time.Now,
	}
}

func (f *inFlight) acquire(token, requestID string, limit int64) bool {
	if requestID == "" {
		return true // no id to release it by: not counted
	}
	now := f.now()
	expires := now.Add(f.ttl())
	f.mu.Lock()
	defer f.mu.Unlock()
	if held, ok := f.byRequest[requestID]; ok {
		// A fallback's next pass: its route timeout starts again.
		f.slots[held][requestID] = expires
		return true
	}
	if now.Sub(f.swept) >= slotMargin {
		f.swept = now
		for id, held := range f.byRequest {
			if !now.Before(f.slots[held][id]) {
				f.dropLocked(held, id)
			}
		}
	}
	s := f.slots[token]
	if int64(len(s)) >= limit {
		// At the limit: slots whose end was never logged are reclaimed.
		for id, exp := range s {
			if !now.Before(exp) {
				f.dropLocked(token, id)
			}
		}
		if s = f.slots[token]; int64(len(s)) >= limit {
			return false
		}
	}
	if s == nil {
		s = make(map[string]time.Time)
		f.slots[token] = s
	}
	s[requestID] = expires
	f.byRequest[requestID] = token
	return true
}

func (f *inFlight) release(requestID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if token, ok := f.byRequest[requestID]; ok {
		f.dropLocked(token, requestID)
	}
}

// dropLocked frees a slot; f.mu is held.
func (f *inFlight) dropLocked(token, requestID string) {
	delete(f.byRequest, requestID)
	s := f.slots[token]
	delete(s, requestID)
	if len(s) == 0 {
		delete(f.slots, token)
	}
}
