package router

import (
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
