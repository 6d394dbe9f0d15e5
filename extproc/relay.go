package extproc

import (
	"slices"
	"sync"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/keys"
	"github.com/llmvoy/llmvoy/plan"
	"github.com/llmvoy/llmvoy/relay"
)

// SetRelay says llmvoy's relay serves (package relay): from now on the
// streaming chat completions of groups with stream continuation on are
// routed to it. Off when the control plane shares no directory with Envoy.
func (s *Server) SetRelay(on bool) { s.relayOn.Store(on) }

// relayState is what the relay and a relayed request's attempts share:
// the deployments a continuation must not go to, whether the next
// attempt continues an answer, and the request's spend, held until the
// relay is done so a continued answer is charged once.
type relayState struct {
	// group is the model group serving the request (a fallback's pass has
	// a state of its own).
	group string
	// stored: the answer is a Responses answer to keep, which the store
	// reads from one attempt: a continued one would be kept in part, under
	// an id the client never sees. Not continued.
	stored     bool
	mu         sync.Mutex
	excluded   []string
	continuing bool
	done       bool
	pending    *keys.SpendLog
	server     *Server
}

var _ relay.Request = (*relayState)(nil)

// Relayed is the relay's handle on a request the gateway routed to it.
func (s *Server) Relayed(requestID string) relay.Request {
	if r, ok := s.requests.get(requestID); ok && r.relay != nil {
		return r.relay
	}
	// Not routed here (llmvoy restarted in between): nothing to share.
	return &relayState{done: true, server: s}
}

// Continue picks the deployment that continues the answer deployment cut:
// in the group, the first by order, then config order, that has not cut it
// and is neither cooling down nor past its limits; when the group has none,
// the same in the next groups of its fallback chain, as LiteLLM falls back
// after a group fails.
func (rs *relayState) Continue(deployment string) (route string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.excluded = append(rs.excluded, deployment)
	if rs.stored {
		return ""
	}
	rs.continuing = true
	st := rs.server.state.Load()
	cooling, over := rs.server.cooldowns.Active(), rs.server.balance.OverLimit()
	for _, name := range append([]string{rs.group}, st.plan.Chain(config.FallbackGeneric, rs.group)...) {
		name = st.resolve(name)
		g, ok := st.groups[name]
		if !ok || g.relayRoute == "" {
			continue
		}
		var best *config.Deployment
		for _, id := range g.Routable {
			d := st.deployment(id)
			if _, cool := cooling[id]; d == nil || cool || over[id] || slices.Contains(rs.excluded, id) {
				continue
			}
			if best == nil || d.Order < best.Order {
				best = d
			}
		}
		if best != nil {
			return plan.RelayContinueRouteName(name, best.ID)
		}
	}
	return ""
}

// Done records the spend held for the answer, once.
func (rs *relayState) Done() {
	rs.mu.Lock()
	pending := rs.pending
	rs.done, rs.pending = true, nil
	rs.mu.Unlock()
	if pending != nil && rs.server.keys != nil {
		rs.server.keys.Record(*pending)
	}
}

// continues says whether an attempt continues a cut answer.
func (rs *relayState) continues() bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.continuing
}

// hold keeps an attempt's spend record until Done, adding it to the ones
// before (a cut answer and its continuation are one answer); false when
// the relay is done already, and the record is for the caller to write.
func (rs *relayState) hold(l keys.SpendLog) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.done {
		return false
	}
	if rs.pending == nil {
		rs.pending = &l
		return true
	}
	p := rs.pending
	p.PromptTokens += l.PromptTokens
	p.CompletionTokens += l.CompletionTokens
	p.TotalTokens += l.TotalTokens
	p.Spend += l.Spend
	// Named after the deployment that finished the answer.
	p.Model, p.ModelID, p.APIBase, p.EndTime = l.Model, l.ModelID, l.APIBase, l.EndTime
	if l.Response != "" {
		p.Response = l.Response
	}
	return true
}

// toRelay routes a streaming chat completion to the group's relay route:
// set are the gateway's headers for the group's route (the route first).
// The relay listener's route has the stream's per-try timeout, so the
// header that would set it here (bounding the relay's whole answer) goes.
func toRelay(set []*corev3.HeaderValueOption, target group) []*corev3.HeaderValueOption {
	set = withoutHeader(set, perTryTimeoutHeader)
	set[0] = setHeader(plan.RouteHeader, target.relayRoute)
	return set
}
