package xds

import (
	"net/url"

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

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/translate"
)

// A model group is direct when Envoy alone can send its attempts: every
// deployment takes OpenAI's format as is, wants the same model, the same
// path and the same credential, and nothing needs the answer (no fallback
// chain to redirect into, no tokens to count). Such a group has a second
// route, to the same cluster, on which the upstream processor is off: the
// gateway writes the model into the body and the path, Envoy puts the
// picked deployment's host in :authority (auto_host_rewrite, per attempt),
// and a credential_injector filter adds the key from an SDS secret, which
// Envoy's config_dump redacts. One gRPC stream per request instead of one
// per attempt more.
//
// The gateway takes the direct route only for requests nothing in the
// upstream processor is needed for: not a fallback's pass into the group,
// not a virtual key's request (its spend is read from the answer).

// directEndpoints are the endpoints whose upstream requests must agree for
// a group to be direct.
var directEndpoints = []translate.Endpoint{translate.ChatCompletions, translate.Completions, translate.Embeddings}

// Direct is what the attempts of a direct group share.
type Direct struct {
	// Deployment stands for all of the group's deployments: each gets the
	// request the way it would.
	Deployment *config.Deployment
	// Credential is the header that carries their key; zero when they have
	// none.
	Credential translate.Header
}

// DirectGroup reports whether group is direct, and what its attempts share.
func DirectGroup(cfg *config.Config, group string) (Direct, bool) {
	ds := cfg.Group(group)
	if len(ds) == 0 || cfg.Router.HasFallbacks(group) || UniformModel(ds) == "" {
		return Direct{}, false
	}
	var heads []translate.RequestHead
	for _, d := range ds {
		if !servable(d) || cfg.Router.CountsTokens(d) {
			return Direct{}, false
		}
		tr, err := translate.For(d)
		if err != nil || tr.TranslatesResponses(d) {
			return Direct{}, false
		}
		for i, ep := range directEndpoints {
			h, err := tr.RequestHead(d, ep, "")
			// The authority must be what auto_host_rewrite puts there.
			if err != nil || len(h.Set) > 1 || h.Authority != endpointHostname(d.APIBase) {
				return Direct{}, false
			}
			if len(heads) <= i {
				heads = append(heads, h)
				continue
			}
			if h.Path != heads[i].Path || !sameHeaders(h.Set, heads[i].Set) {
				return Direct{}, false
			}
		}
	}
	out := Direct{Deployment: ds[0]}
	if set := heads[0].Set; len(set) == 1 {
		out.Credential = set[0]
	}
	return out, true
}

// UniformModel is the upstream model every deployment wants when they all
// take OpenAI's format as is; "" otherwise.
func UniformModel(ds []*config.Deployment) string {
	model := ""
	for _, d := range ds {
		if d.API != config.APIOpenAI || d.UpstreamModel == "" || (model != "" && d.UpstreamModel != model) {
			return ""
		}
		model = d.UpstreamModel
	}
	return model
}

func sameHeaders(a, b []translate.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// endpointHostname is the hostname of a deployment's endpoint: the host of
// its api_base, with the port for plaintext ones (auto_host_rewrite puts it
// in :authority). An https endpoint's hostname is also its SNI and the name
// its certificate is checked against, so it never carries a port.
func endpointHostname(base *url.URL) string {
	if base.Scheme == "https" {
		return base.Hostname()
	}
	return base.Host
}

// DirectRouteName is the route of a direct group's requests that skip the
// upstream processor; the gateway names it in RouteHeader.
func DirectRouteName(group string) string { return ClusterName(group) + "/direct" }

// credentialSecretName is the SDS secret holding a direct group's key.
func credentialSecretName(group string) string { return ClusterName(group) + "/credential" }

// makeDirectRoute is the group's route with the upstream processor off.
func makeDirectRoute(group string, cfg *config.Config, st State) *routev3.Route {
	r := makeGroupRoute(group, cfg, st)
	r.Name = DirectRouteName(group)
	r.GetMatch().GetHeaders()[0].GetStringMatch().MatchPattern = &matcherv3.StringMatcher_Exact{Exact: r.Name}
	action := r.GetRoute()
	action.HostRewriteSpecifier = &routev3.RouteAction_AutoHostRewrite{AutoHostRewrite: wrapperspb.Bool(true)}
	// No answer of this route is a fallback's redirect.
	action.InternalRedirectPolicy = nil
	r.TypedPerFilterConfig = map[string]*anypb.Any{
		UpstreamFilterName: mustAny(&extprocv3.ExtProcPerRoute{Override: &extprocv3.ExtProcPerRoute_Disabled{Disabled: true}}),
	}
	return r
}

// credentialFilter is the upstream filter that adds a direct group's key.
func credentialFilter(group string, h translate.Header) *hcmv3.HttpFilter {
	return &hcmv3.HttpFilter{
		Name: "envoy.filters.http.credential_injector",
		ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&credentialinjectorv3.CredentialInjector{
			// The client's own credential header never reaches the provider.
			Overwrite: true,
			Credential: &corev3.TypedExtensionConfig{
				Name: "envoy.http.injected_credentials.generic",
				TypedConfig: mustAny(&genericv3.Generic{
					Credential: &tlsv3.SdsSecretConfig{Name: credentialSecretName(group), SdsConfig: adsSource()},
					Header:     h.Key,
				}),
			},
		})},
	}
}

// makeCredentialSecret is the SDS secret behind credentialFilter.
func makeCredentialSecret(group string, h translate.Header) *tlsv3.Secret {
	return &tlsv3.Secret{
		Name: credentialSecretName(group),
		Type: &tlsv3.Secret_GenericSecret{GenericSecret: &tlsv3.GenericSecret{
			Secret: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: h.Value}},
		}},
	}
}
