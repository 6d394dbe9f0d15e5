package plan

import (
	"strings"

	"github.com/llmvoy/llmvoy/config"
)

// ProcessorPassThrough is the ext_proc processor on the pass-through
// clusters: it reads each answer's usage to charge a virtual key.
const ProcessorPassThrough = "passthrough"

// PassThroughCluster is the cluster of a pass-through route
// (config.PassThrough.Name): one endpoint, the route's deployment or
// target. The gateway names it in RouteHeader.
func PassThroughCluster(name string) string { return "passthrough_" + name }

// ProviderRoute reports whether path is under one of the provider
// pass-through routes (config.PassThroughRoutes), whether or not it has a
// deployment, and which.
func ProviderRoute(path string) (route string, ok bool) {
	name, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	_, ok = config.PassThroughRoutes[name]
	return name, ok && strings.HasPrefix(path, "/")
}

// FindPassThrough is the pass-through route of a client path (without its
// query) and the rest of the path after the route's; nil when none has it.
func FindPassThrough(cfg *config.Config, path string) (t *config.PassThrough, rest string) {
	for _, t := range cfg.PassThrough {
		if path == t.Path {
			return t, ""
		}
		if rest, ok := strings.CutPrefix(path, t.Path+"/"); ok && t.Subpaths {
			return t, "/" + rest
		}
	}
	return nil, ""
}

// PassThroughPath is the path (and query) the provider gets for rest, a
// request's path after its route's, and the client's query. A provider
// route joins the deployment's api_base path with rest, unless rest
// already begins with it (an SDK pointed at /openai/v1 rather than
// /openai), so both base URLs work; an endpoint appends rest to its
// target's path, and the client's query to its target's.
func PassThroughPath(t *config.PassThrough, rest, query string) string {
	u := t.Deployment.APIBase
	base := strings.TrimSuffix(u.EscapedPath(), "/")
	path := base + rest
	switch {
	case t.Endpoint:
		if u.RawQuery != "" {
			query = strings.TrimPrefix(u.RawQuery+"&"+query, "&")
			query = strings.TrimSuffix(query, "&")
		}
	case base == "" || rest == base || strings.HasPrefix(rest, base+"/"):
		path = rest
	}
	if path == "" {
		path = "/"
	}
	if query != "" {
		path += "?" + query
	}
	return path
}
