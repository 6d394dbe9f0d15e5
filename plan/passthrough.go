package plan

import (
	"slices"
	"strings"

	"github.com/llmvoy/llmvoy/config"
)

// ProcessorPassThrough is the ext_proc processor on the pass-through
// clusters: it reads each answer's usage to charge a virtual key.
const ProcessorPassThrough = "passthrough"

// PassThroughCluster is the cluster of a provider pass-through route
// (config.PassThroughRoutes): one endpoint, the route's deployment. The
// gateway names it in RouteHeader.
func PassThroughCluster(route string) string { return "passthrough_" + route }

// PassThroughRoute splits a client path of a pass-through route
// ("/anthropic/v1/messages") into the route ("anthropic") and the
// provider's path ("/v1/messages"); ok is false for any other path.
func PassThroughRoute(path string) (route, rest string, ok bool) {
	name, rest, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if _, known := config.PassThroughRoutes[name]; !known || !strings.HasPrefix(path, "/") {
		return "", "", false
	}
	return name, "/" + rest, true
}

// PassThroughPath is the path the provider gets for rest, a pass-through
// request's path after its route: the deployment's api_base path joined
// with it, unless rest already begins with it (an SDK pointed at
// /openai/v1 rather than /openai), so both base URLs work.
func PassThroughPath(d *config.Deployment, rest string) string {
	base := strings.TrimSuffix(d.APIBase.EscapedPath(), "/")
	if base == "" || rest == base || strings.HasPrefix(rest, base+"/") {
		return rest
	}
	return base + rest
}

// PassThroughTargets are the routes that have a deployment, sorted.
func PassThroughTargets(cfg *config.Config) []string {
	var routes []string
	for route, d := range cfg.PassThrough {
		if Servable(d) {
			routes = append(routes, route)
		}
	}
	slices.Sort(routes)
	return routes
}
