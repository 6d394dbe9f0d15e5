package router

import (
	"slices"
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"

	"github.com/llmvoy/llmvoy/config"
)

// What Envoy's upstream log says of the attempts of a group with
// router_settings.model_group_hedging. Envoy hedges on its per-try
// timeout: when it fires, the attempt gets the per-try timeout's response
// flag (UT) and goes on, raced by another; the first answer wins and Envoy
// resets the others. So in such a group, UT does not mean the attempt was
// abandoned, and an attempt reset without an answer lost a race.

// hedgedDeployments are the deployments of the groups that hedge.
func hedgedDeployments(cfg *config.Config) map[string]bool {
	m := make(map[string]bool)
	for group := range cfg.Router.Hedging {
		for _, d := range cfg.Group(group) {
			m[d.ID] = true
		}
	}
	return m
}

// Hedges reports whether deployment id is in a group that hedges.
func (c *Cooldowns) Hedges(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hedged[id]
}

// answered reports whether the attempt's deployment began its answer.
func answered(e *accesslogv3.HTTPAccessLogEntry) bool {
	return e.GetCommonProperties().GetTimeToFirstUpstreamRxByte() != nil
}

// lostRace reports whether an attempt of a hedging group was reset by
// Envoy before it answered: it carries no failure of its own, only, when
// its delay had passed, the per-try timeout's flag. Another attempt
// answered first, or the request ended (its timeout, which the request's
// own log entry reports).
func lostRace(e *accesslogv3.HTTPAccessLogEntry) bool {
	if answered(e) {
		return false
	}
	f := e.GetCommonProperties().GetResponseFlags()
	switch failureOf(f) {
	case "":
		return e.GetResponse().GetResponseCode().GetValue() == 0
	case FailureTimeout:
		return f.GetUpstreamRequestTimeout() && !f.GetUpstreamConnectionFailure() && !f.GetUpstreamRemoteReset() &&
			!f.GetUpstreamConnectionTermination() && !f.GetLocalReset() && !f.GetUpstreamProtocolError()
	}
	return false
}

// A `delay: p95` group's hedge delay is the 95th percentile of the times
// to first byte of its last hedgeSamples answered attempts, once it has
// minHedgeSamples of them. The attempts that lost a race are not among
// them (they never answered), so the delay follows the answers clients
// got. A new delay replaces the served one only when it moved by more than
// hedgeHysteresis of it: each change rewrites the group's Envoy routes.
const (
	hedgeSamples    = 100
	minHedgeSamples = 20
	hedgeHysteresis = 0.2
)

// recordFirstByteLocked keeps the time to first byte of an answered
// attempt of a `delay: p95` group.
func (b *Balance) recordFirstByteLocked(o Outcome) {
	if o.Failed() || o.Latency <= 0 {
		return
	}
	d := b.cfg.Deployment(o.Deployment)
	if d == nil || !b.cfg.Router.Hedging[d.ModelName].P95 {
		return
	}
	if b.firstBytes == nil {
		b.firstBytes = make(map[string][]time.Duration)
	}
	s := append(b.firstBytes[d.ModelName], o.Latency)
	if len(s) > hedgeSamples {
		s = s[len(s)-hedgeSamples:]
	}
	b.firstBytes[d.ModelName] = s
}

// hedgeDelaysLocked are the `delay: p95` groups' current delays, in whole
// milliseconds, for the groups measured enough.
func (b *Balance) hedgeDelaysLocked() map[string]time.Duration {
	out := make(map[string]time.Duration)
	for group, s := range b.firstBytes {
		if len(s) < minHedgeSamples || !b.cfg.Router.Hedging[group].P95 {
			continue
		}
		sorted := slices.Sorted(slices.Values(s))
		p95 := max(sorted[(len(sorted)*95+99)/100-1].Round(time.Millisecond), time.Millisecond)
		if served, ok := b.hedgeServed[group]; ok && float64(max(p95-served, served-p95)) <= hedgeHysteresis*float64(served) {
			p95 = served
		}
		out[group] = p95
	}
	b.hedgeServed = out
	return out
}
