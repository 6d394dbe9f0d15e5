package xds

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	credentialinjectorv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/credential_injector/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	genericv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/http/injected_credentials/generic/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/llmvoy/llmvoy/plan"
)

// A model group is direct (plan.Group.Direct) when Envoy alone can send its
// attempts: every deployment takes OpenAI's format as is, wants the same
// model, the same path and the same credential, and nothing needs the
// answer (no fallback chain to redirect into, no tokens to count). Such a
// group has a second route, to the same cluster, on which the upstream
// processor is off: the gateway writes the model into the body and the
// path, Envoy puts the picked deployment's host in :authority
// (auto_host_rewrite, per attempt), and a credential_injector filter adds
// the key from an SDS secret, which Envoy's config_dump redacts. One gRPC
// stream per request instead of one per attempt more.
//
// The gateway takes the direct route only for requests nothing in the
// upstream processor is needed for: not a fallback's pass into the group,
// not a virtual key's request (its spend is read from the answer).

// credentialSecretName is the SDS secret holding a direct group's key.
func credentialSecretName(g *plan.Group) string { return g.Cluster + "/credential" }

// makeDirectRoute is the group's route with the upstream processor off.
func makeDirectRoute(g *plan.Group, p *plan.Plan, st State) *routev3.Route {
	r := makeGroupRoute(g, p, st)
	r.Name = plan.DirectRouteName(g.Name)
	r.GetMatch().GetHeaders()[0].GetStringMatch().MatchPattern = &matcherv3.StringMatcher_Exact{Exact: r.Name}
	action := r.GetRoute()
	action.HostRewriteSpecifier = &routev3.RouteAction_AutoHostRewrite{AutoHostRewrite: wrapperspb.Bool(true)}
	// No answer of this route is a fallback's redirect.
	action.InternalRedirectPolicy = nil
	r.TypedPerFilterConfig = map[string]*anypb.Any{
		plan.UpstreamFilterName: mustAny(&extprocv3.ExtProcPerRoute{Override: &extprocv3.ExtProcPerRoute_Disabled{Disabled: true}}),
	}
	return r
}

// credentialFilter is the upstream filter that adds a direct group's key.
func credentialFilter(g *plan.Group) *hcmv3.HttpFilter {
	return &hcmv3.HttpFilter{
		Name: "envoy.filters.http.credential_injector",
		ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&credentialinjectorv3.CredentialInjector{
			// The client's own credential header never reaches the provider.
			Overwrite: true,
			Credential: &corev3.TypedExtensionConfig{
				Name: "envoy.http.injected_credentials.generic",
				TypedConfig: mustAny(&genericv3.Generic{
					Credential: &tlsv3.SdsSecretConfig{Name: credentialSecretName(g), SdsConfig: adsSource()},
					Header:     g.Direct.Credential.Key,
				}),
			},
		})},
	}
}

// makeCredentialSecret is the SDS secret behind credentialFilter.
func makeCredentialSecret(g *plan.Group) *tlsv3.Secret {
	return &tlsv3.Secret{
		Name: credentialSecretName(g),
		Type: &tlsv3.Secret_GenericSecret{GenericSecret: &tlsv3.GenericSecret{
			Secret: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: g.Direct.Credential.Value}},
		}},
	}
}
