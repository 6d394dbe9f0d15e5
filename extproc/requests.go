package extproc

import (
	"maps"
	"sync"
	"time"

	"github.com/llmvoy/llmvoy/config"
)

// routed is what the gateway processor decided for a request that its
// upstream attempts need. It cannot travel in request headers: upstream
// filters share the router's request headers, which are also what the
// provider gets, so anything left there for the next attempt would reach
// the provider, and anything removed from there is gone for the next
// attempt too.
type routed struct {
	// clientPath is the client's :path, query included: by a retry, :path
	// is the previous deployment's.
	clientPath string
	// keyToken is the token (hash) of the virtual key to record spend
	// under; empty for the master key or a gateway without one.
	keyToken string
	// bodyModel is the model the gateway already wrote into the body (see
	// group.bodyModel); empty when it did not.
	bodyModel string
	// served is the model name the request's group serves it under (see
	// state.route): what a wildcard group's deployments fill their model
	// from.
	served string
	// anthropicBeta is a Messages client's anthropic-beta header, for a
	// deployment that speaks Messages natively; no other provider gets it.
	anthropicBeta string
	// bridged is an agent API request as a chat completion, for the
	// attempts on deployments that do not speak the client's API.
	bridged *bridged
	// storeResponse: a Responses answer to keep, for keyToken's caller.
	storeResponse bool
	// relay is set for a request routed to llmvoy's relay (package
	// relay): what the relay and the attempts share.
	relay *relayState
	// passThrough is the deployment a pass-through request is charged on,
	// with the model it named (passthrough.go).
	passThrough *config.Deployment
	// retries is the request's own num_retries; nil: the router's.
	retries *int
	// cache keeps the answer of a request that missed the response
	// cache (cache.go); nil when it is not cached.
	cache *cacheWrite
	// traceParent is the client's traceparent, for the callbacks' span
	// (providers do not get it).
	traceParent string
	expires     time.Time
}

// requests holds the routing decision of each request in flight, by the
// request id Envoy generated for it (a client cannot choose it, so one
// client cannot reach another's entry). An entry is dropped when Envoy logs
// the request's end, or at its expiry when that log entry never comes.
type requests struct {
	mu   sync.Mutex
	byID map[string]routed
	// swept is when expired entries were last dropped.
	swept time.Time
	// ttl is how long an entry is kept at most: a request cannot outlive
	// its route's timeout, which Envoy enforces on every pass.
	ttl func() time.Duration
	now func() time.Time
}

// sweepEvery is how often put drops expired entries.
const sweepEvery = time.Minute

func newRequests(ttl func() time.Duration) *requests {
	return &requests{byID: make(map[string]routed), ttl: ttl, now: time.Now}
}

// put records (or, on a fallback's next pass, replaces) a request's routing.
func (r *requests) put(id string, v routed) {
	if id == "" {
		return
	}
	now := r.now()
	v.expires = now.Add(r.ttl())
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.swept) > sweepEvery {
		r.swept = now
		maps.DeleteFunc(r.byID, func(_ string, e routed) bool { return now.After(e.expires) })
	}
	r.byID[id] = v
}

// get returns a request's routing; ok is false for an unknown id.
func (r *requests) get(id string) (routed, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.byID[id]
	return v, ok
}

// drop forgets a request that has ended.
func (r *requests) drop(id string) {
	r.mu.Lock()
	delete(r.byID, id)
	r.mu.Unlock()
}
