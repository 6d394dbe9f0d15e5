package xds

import (
	"fmt"
	"net/netip"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/llmvoy/llmvoy/plan"
)

// Options are the facts about this llmvoy instance that the config file does
// not hold.
type Options struct {
	// ListenAddress and ListenPort are where Envoy accepts client traffic.
	ListenAddress string
	ListenPort    uint32
	// ExtProcCluster is the bootstrap's static cluster that reaches llmvoy's
	// ext_proc server.
	ExtProcCluster string
	// CAFile is the trust bundle used to verify https api_bases. Required when
	// any deployment is https: Envoy has no default trust store.
	CAFile string
	// MaxRequestBytes is the largest request body accepted; larger bodies get
	// a 413. Vision requests carry megabytes of base64, so it is generous.
	MaxRequestBytes uint32
	// RelaySocket is where llmvoy's relay listens, and RelayListenSocket
	// where Envoy's relay listener does (unix socket paths, in the control
	// directory), with RelaySocketMode its mode; empty when the control
	// plane has no directory shared with Envoy: then no group's streams
	// go through the relay (package relay).
	RelaySocket, RelayListenSocket string
	RelaySocketMode                uint32
}

// Resources is one complete, self-consistent set of Envoy resources.
type Resources struct {
	Listeners []types.Resource
	Routes    []types.Resource
	Clusters  []types.Resource
	Endpoints []types.Resource
	// Secrets hold the keys of direct groups (see direct.go).
	Secrets []types.Resource
}

// State is what llmvoy learned at run time that decides where traffic goes.
type State struct {
	// Addrs maps deployment ids to their resolved upstream addresses; a
	// deployment without an address gets no endpoint (its DNS name did not
	// resolve) and the caller is expected to have said so in its logs.
	Addrs map[string]netip.AddrPort
	// Unavailable holds the deployments that get no traffic for now
	// (cooling down, past their rpm); their endpoints are served as
	// unhealthy.
	Unavailable map[string]bool
	// Slow holds the deployments that get traffic only when no other
	// deployment of their priority is available (latency-based routing);
	// their endpoints are served one priority level down (see levels).
	Slow map[string]bool
	// HedgeDelays are the measured hedge delays of the groups with
	// `delay: p95`, by group; such a group not in it hedges after
	// plan.Group.HedgeDelay.
	HedgeDelays map[string]time.Duration
}

// Translate compiles a plan, with the live endpoint state, into Envoy
// resources. Translate is pure: same inputs, same output.
func Translate(p *plan.Plan, st State, o Options) (*Resources, error) {
	if o.MaxRequestBytes == 0 {
		o.MaxRequestBytes = plan.DefaultMaxRequestBytes
	}
	if o.ExtProcCluster == "" {
		return nil, fmt.Errorf("xds: no ext_proc cluster name")
	}
	for _, d := range p.Config.Deployments {
		if plan.Servable(d) && d.APIBase.Scheme == "https" && o.CAFile == "" {
			return nil, fmt.Errorf("xds: deployment %q uses https but no CA bundle was found to verify it", d.ID)
		}
	}
	for _, t := range p.Config.PassThrough {
		if _, err := portOf(t.Deployment); err != nil {
			return nil, fmt.Errorf("xds: pass-through route %s: %w", t.Path, err)
		}
		if t.Deployment.APIBase.Scheme == "https" && o.CAFile == "" {
			return nil, fmt.Errorf("xds: pass-through route %s uses https but no CA bundle was found to verify it", t.Path)
		}
	}
	r := &Resources{
		Listeners: []types.Resource{makeListener(o)},
		Routes:    []types.Resource{makeRouteConfig(p, st, o)},
	}
	seen := make(map[string]bool)
	for _, g := range p.Groups {
		cla, egresses := makeLoadAssignment(g, p.Config.Router.RoutingStrategy, st)
		r.Clusters = append(r.Clusters, makeCluster(g, p, o))
		r.Endpoints = append(r.Endpoints, cla)
		if g.Direct != nil && g.Direct.Credential.Key != "" {
			r.Secrets = append(r.Secrets, makeCredentialSecret(g))
		}
		r.Clusters = append(r.Clusters, makeHopCluster(g, o))
		for _, e := range egresses {
			if !seen[e.name] {
				seen[e.name] = true
				r.Listeners = append(r.Listeners, makeEgressListener(e))
				r.Clusters = append(r.Clusters, makeEgressCluster(e, o))
			}
		}
	}
	for _, t := range p.Config.PassThrough {
		r.Clusters = append(r.Clusters, makePassThroughCluster(t, o))
	}
	if relay := relayGroups(p, o); len(relay) > 0 {
		for _, g := range relay {
			r.Clusters = append(r.Clusters, makeRelayCluster(g, o))
		}
		r.Listeners = append(r.Listeners, makeRelayListener(o))
		r.Routes = append(r.Routes, makeRelayRouteConfig(relay, p, st))
	}
	if len(p.Groups) > 0 {
		r.Listeners = append(r.Listeners, makeHopListener(o))
		r.Routes = append(r.Routes, makeHopRouteConfig(p, st))
	}
	return r, nil
}

// All returns every resource, for validation and golden files.
func (r *Resources) All() []types.Resource {
	var all []types.Resource
	for _, set := range [][]types.Resource{r.Listeners, r.Routes, r.Clusters, r.Endpoints, r.Secrets} {
		all = append(all, set...)
	}
	return all
}

// Validate runs protoc-gen-validate rules on every resource, so a resource
// Envoy would reject is caught before it is served, and checks that every
// cluster a route names exists (the snapshot's own consistency check covers
// listeners → routes and clusters → endpoints only).
func (r *Resources) Validate() error {
	for _, res := range r.All() {
		v, ok := res.(interface{ ValidateAll() error })
		if !ok {
			return fmt.Errorf("xds: %T has no validation", res)
		}
		if err := v.ValidateAll(); err != nil {
			return &InvalidError{Type: fmt.Sprintf("%T", res), Name: cachev3.GetResourceName(res), Err: err}
		}
	}
	clusters := make(map[string]bool, len(r.Clusters))
	for _, c := range r.Clusters {
		clusters[c.(*clusterv3.Cluster).GetName()] = true
	}
	for _, rc := range r.Routes {
		for _, vh := range rc.(*routev3.RouteConfiguration).GetVirtualHosts() {
			for _, route := range vh.GetRoutes() {
				if c := route.GetRoute().GetCluster(); c != "" && c != noRouteCluster && !clusters[c] {
					return fmt.Errorf("xds: inconsistent resources: route %q names missing cluster %q", route.GetName(), c)
				}
			}
		}
	}
	return nil
}

// InvalidError is a resource that breaks its own rules (a priority past
// Envoy's 128, say). Name is the resource's: a cluster's (and its
// endpoints') is a model group's plan.Group.Cluster, which lets a caller
// name the group.
type InvalidError struct {
	Type, Name string
	Err        error
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("xds: invalid %s %q: %v", e.Type, e.Name, e.Err)
}

func (e *InvalidError) Unwrap() error { return e.Err }

// mustAny wraps a message in an Any. Marshalling a well-formed generated
// message cannot fail, so a failure is a programming error.
func mustAny(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		panic(fmt.Sprintf("xds: marshal %T: %v", m, err))
	}
	return a
}
