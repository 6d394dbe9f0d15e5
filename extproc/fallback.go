package extproc

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/plan"
)

// fallback is a request's place in a fallback chain, carried in
// plan.FallbackHeader from the gateway processor to the upstream processor,
// and through Envoy's internal redirect back to the gateway processor.
type fallback struct {
	// origin is the model group the client asked for (after aliases); the
	// chain is origin's.
	origin string
	// kind is the chain (config.Fallback*); empty before the first fallback.
	kind string
	// step is how many groups of the chain were used: 0 is origin itself,
	// n is chain[n-1].
	step int
	// caller is the token (hash) of the virtual key the request was
	// authenticated with on its first pass, empty for the master key or a
	// gateway without one. A redirected pass is not authenticated again
	// (its credential headers hold the failed deployment's key by then), so
	// the signed header carries who the request is for: a header minted for
	// one caller cannot serve another.
	caller string
	// chain is the request's own generic chain (the body's "fallbacks",
	// model names as requested), which replaces the group's for this
	// request as in LiteLLM; nil when it sent none.
	chain []string
	// disabled: the request asked for no fallbacks (LiteLLM's
	// disable_fallbacks), so it has no chain at all. Never encoded: such a
	// request gets no fallback header.
	disabled bool
}

// newFallbackToken is a per-process secret that signs fallback headers: a
// client cannot jump into a chain by sending one.
func newFallbackToken() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

// fallbackTTL bounds how long a signed header is good for. A redirect is
// replayed at once; the bound only matters if a header ever leaked.
const fallbackTTL = time.Minute

// encode signs f for one request: the header is
// kind;step;expiry;caller;signature;origin[,chain...] (each name
// query-escaped, so "," separates them). The signature covers the
// request id too, because a valid header also vouches for the request's
// authentication (see gateway.RequestHeaders): the id is Envoy's own for
// each request (a client cannot choose it), so even a leaked header serves
// only the request it was made for, for a minute, and only its caller.
func (f fallback) encode(token []byte, requestID string, now time.Time) string {
	head := f.kind + ";" + strconv.Itoa(f.step) + ";" + strconv.FormatInt(now.Add(fallbackTTL).Unix(), 10) + ";" + f.caller
	origin := url.QueryEscape(f.origin)
	for _, name := range f.chain {
		origin += "," + url.QueryEscape(name)
	}
	return head + ";" + fallbackMAC(token, requestID, head, origin) + ";" + origin
}

func fallbackMAC(token []byte, requestID, head, origin string) string {
	m := hmac.New(sha256.New, token)
	m.Write([]byte(requestID + "\x00" + head + "\x00" + origin))
	return hex.EncodeToString(m.Sum(nil))
}

// parseFallback reads a header encode wrote for this request, unexpired.
func parseFallback(v string, token []byte, requestID string, now time.Time) (fallback, bool) {
	parts := strings.SplitN(v, ";", 6)
	if len(parts) != 6 || requestID == "" {
		return fallback{}, false
	}
	head := strings.Join(parts[:4], ";")
	if !hmac.Equal([]byte(parts[4]), []byte(fallbackMAC(token, requestID, head, parts[5]))) {
		return fallback{}, false
	}
	step, err := strconv.Atoi(parts[1])
	expiry, eerr := strconv.ParseInt(parts[2], 10, 64)
	names := strings.Split(parts[5], ",")
	for i, n := range names {
		var uerr error
		if names[i], uerr = url.QueryUnescape(n); uerr != nil {
			return fallback{}, false
		}
	}
	if err != nil || eerr != nil || step < 0 || now.Unix() > expiry {
		return fallback{}, false
	}
	switch parts[0] {
	case "", config.FallbackGeneric, config.FallbackContextWindow, config.FallbackContentPolicy:
	default:
		return fallback{}, false
	}
	f := fallback{origin: names[0], kind: parts[0], step: step, caller: parts[3]}
	if len(names) > 1 {
		f.chain = names[1:]
	}
	return f, true
}

// next is the fallback after an error of the given kind, if origin's chains
// have one left. A chain, once entered, is followed to its end whatever the
// later errors are, as LiteLLM does.
func (f fallback) next(p *plan.Plan, kind string) (fallback, bool) {
	if f.disabled {
		return fallback{}, false
	}
	if f.step > 0 {
		kind = f.kind
	}
	if f.step >= len(f.chainFor(p, kind)) {
		return fallback{}, false
	}
	return fallback{origin: f.origin, kind: kind, step: f.step + 1, caller: f.caller, chain: f.chain}, true
}

// chainFor is the chain for errors of kind: the request's own generic
// chain, else origin's.
func (f fallback) chainFor(p *plan.Plan, kind string) []string {
	if kind == config.FallbackGeneric && f.chain != nil {
		return f.chain
	}
	return p.Chain(kind, f.origin)
}

// hasChains reports whether the request can fall back at all.
func (f fallback) hasChains(p *plan.Plan) bool {
	if f.disabled {
		return false
	}
	g := p.Group(f.origin)
	return f.chain != nil || (g != nil && g.HasFallbacks())
}

// group is the model this step routes to: a group's name, or a name of
// the request's own chain, which the gateway resolves like a requested
// model (state.route).
func (f fallback) group(p *plan.Plan) string {
	chain := f.chainFor(p, f.kind)
	switch {
	case f.step == 0:
		return f.origin
	case f.step > len(chain): // the chain shrank in a reload
		return ""
	}
	return chain[f.step-1]
}

// attempts follows each request's upstream attempts at its current step of
// a fallback chain, by request id. The upstream processor must know which
// attempt is the last one Envoy will make (x-envoy-attempt-count is added
// after the upstream filters run, so it never sees it), and a retry does not
// carry the fallback header: upstream filters share the router's request
// headers, so the first attempt's removal of it sticks.
type attempts struct {
	mu      sync.Mutex
	byID    map[string]attemptState
	inserts int
}

type attemptState struct {
	fallback fallback
	n        int
	start    time.Time
}

// attemptTTL bounds how long state is kept for a request that never
// reported its end (the client left, no deployment answered).
const attemptTTL = 15 * time.Minute

// first records the first attempt of a request at a step of its chain.
func (a *attempts) first(id string, fb fallback) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	if a.byID == nil {
		a.byID = make(map[string]attemptState)
	}
	if a.inserts++; a.inserts%1024 == 0 {
		maps.DeleteFunc(a.byID, func(_ string, s attemptState) bool { return now.Sub(s.start) > attemptTTL })
	}
	a.byID[id] = attemptState{fallback: fb, n: 1, start: now}
}

// retry records one more attempt of a request seen before, returning its
// place in the chain and the attempt's number (2 for the first retry).
func (a *attempts) retry(id string) (fallback, int, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.byID[id]
	if !ok {
		return fallback{}, 0, false
	}
	s.n++
	a.byID[id] = s
	return s.fallback, s.n, true
}

// done forgets a request: it got its answer, or fell back.
func (a *attempts) done(id string) {
	a.mu.Lock()
	delete(a.byID, id)
	a.mu.Unlock()
}
