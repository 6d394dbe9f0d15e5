package extproc

import extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

// Version is llmvoy's version, reported by the readiness probe.
var Version = "dev"

// probe answers LiteLLM's liveness and readiness probes, which need no key
// (orchestrators call them, often); ok is false for any other path. /health,
// which calls every deployment, is an admin endpoint (package admin).
func probe(path string) (resp *extprocv3.ProcessingResponse, ok bool) {
	switch path {
	case "/health/liveliness", "/health/liveness":
		return replyJSON(200, "I'm alive!"), true
	case "/health/readiness":
		return replyJSON(200, map[string]any{"status": "healthy", "db": "Not connected", "cache": nil, "llmvoy_version": Version}), true
	}
	return nil, false
}
