package metrics

import "github.com/prometheus/client_golang/prometheus"

// Cache results, the result label of llmvoy_cache_lookups_total.
const (
	CacheHit  = "hit"
	CacheMiss = "miss"
)

func newCacheLookups() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "llmvoy_cache_lookups_total",
		Help: "Requests the response cache (litellm_settings.cache) looked up, by the model group asked for and result: hit (answered from the cache, no provider called) or miss (Redis unreachable included).",
	}, []string{"model_group", "result"})
}

// CacheLookup counts a response cache lookup of a request for group;
// result is CacheHit or CacheMiss.
func (m *Metrics) CacheLookup(group, result string) {
	if m == nil {
		return
	}
	m.cacheLookups.WithLabelValues(group, result).Inc()
}
