package envoy

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/bootstrap/internal_listener/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/resource_monitors/downstream_connections/v3"
	heapv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/resource_monitors/fixed_heap/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/llmvoy/llmvoy/internal/pki"
	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// testAdminSocket is the admin socket of bootstraps whose admin is not
// what a test is about.
const testAdminSocket = "/run/envoy/admin.sock"

// goldenOptions are the bootstraps kept in testdata: a local TCP setup, one
// with everything on unix sockets (llmvoy run's), one with mutual TLS and
// one with the admin interface on loopback TCP (the insecure flag).
var goldenOptions = map[string]BootstrapOptions{
	"bootstrap.golden.yaml": {
		AdminSocket: testAdminSocket,
		XDSPort:     18000,
		ExtProcPort: 18001,
	},
	"bootstrap_unix.golden.yaml": {
		NodeID:         "sidecar-1",
		NodeCluster:    "payments",
		AdminSocket:    "/run/llmvoy/admin.sock",
		XDSAddress:     "unix:///run/llmvoy/xds.sock",
		ExtProcAddress: "unix:///run/llmvoy/extproc.sock",
		MaxHeapBytes:   192 << 20,
	},
	"bootstrap_insecure_tcp_admin.golden.yaml": {
		InsecureTCPAdmin: true,
		AdminAddress:     "::1",
		AdminPort:        9901,
		XDSPort:          18000,
		ExtProcPort:      18001,
	},
	"bootstrap_mtls.golden.yaml": {
		AdminSocket:    testAdminSocket,
		XDSAddress:     "llmvoy",
		XDSPort:        18000,
		ExtProcAddress: "10.0.0.7",
		ExtProcPort:    18001,
		TLS: &ClientTLS{
			CertFile: "/etc/envoy/tls/envoy.pem",
			KeyFile:  "/etc/envoy/tls/envoy-key.pem",
			CAFile:   "/etc/envoy/tls/ca.pem",
		},
	},
}

func TestRenderBootstrapGolden(t *testing.T) {
	for name, o := range goldenOptions {
		t.Run(name, func(t *testing.T) {
			got, err := RenderBootstrap(o)
			require.NoError(t, err)
			path := filepath.Join("testdata", name)
			if *update {
				require.NoError(t, os.MkdirAll("testdata", 0o755))
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./envoy -run TestRenderBootstrapGolden -update")
			require.Equal(t, string(want), string(got), "rendered bootstrap differs from %s; run with -update if intended", path)
		})
	}
}

// TestRenderBootstrapIsValidProto checks the rendered YAML without Envoy:
// it must decode strictly into the Bootstrap proto and pass its validation
// rules.
func TestRenderBootstrapIsValidProto(t *testing.T) {
	for name, o := range goldenOptions {
		t.Run(name, func(t *testing.T) {
			b := renderProto(t, o)
			require.Equal(t, XDSClusterName, b.GetDynamicResources().GetAdsConfig().GetGrpcServices()[0].GetEnvoyGrpc().GetClusterName())
			require.True(t, b.GetDynamicResources().GetAdsConfig().GetSetNodeOnFirstMessageOnly())
			require.NotNil(t, b.GetDynamicResources().GetLdsConfig().GetAds())
			require.NotNil(t, b.GetDynamicResources().GetCdsConfig().GetAds())
			clusters := b.GetStaticResources().GetClusters()
			require.Len(t, clusters, 2)
			require.Equal(t, XDSClusterName, clusters[0].GetName())
			require.Equal(t, ExtProcClusterName, clusters[1].GetName())
			require.EqualValues(t, 64<<20, clusters[1].GetPerConnectionBufferLimitBytes().GetValue())
			require.EqualValues(t, 100000, clusters[1].GetCircuitBreakers().GetThresholds()[0].GetMaxRequests().GetValue())
			require.Empty(t, b.GetStaticResources().GetListeners(), "listeners come over ADS")
			om := b.GetOverloadManager()
			require.Len(t, om.GetResourceMonitors(), 2, "the connection limit and the heap")
			require.Len(t, om.GetActions(), 2)
			for _, c := range clusters {
				require.Equal(t, o.TLS != nil, c.GetTransportSocket() != nil, "cluster %s: TLS exactly when asked for", c.GetName())
			}
		})
	}
}

// TestRenderBootstrapHeapLimit: the fixed-heap monitor gets the limit (or
// the 1 GiB default) and both actions trigger on it.
func TestRenderBootstrapHeapLimit(t *testing.T) {
	for _, tt := range []struct {
		set, want uint64
	}{{0, DefaultMaxHeapBytes}, {192 << 20, 192 << 20}} {
		b := renderProto(t, BootstrapOptions{AdminSocket: testAdminSocket, XDSPort: 1, ExtProcPort: 2, MaxHeapBytes: tt.set})
		om := b.GetOverloadManager()
		var heap *heapv3.FixedHeapConfig
		for _, m := range om.GetResourceMonitors() {
			if m.GetName() == "envoy.resource_monitors.fixed_heap" {
				heap = &heapv3.FixedHeapConfig{}
				require.NoError(t, m.GetTypedConfig().UnmarshalTo(heap))
			}
		}
		require.NotNil(t, heap)
		require.Equal(t, tt.want, heap.GetMaxHeapSizeBytes())
		thresholds := map[string]float64{}
		for _, a := range om.GetActions() {
			require.Equal(t, "envoy.resource_monitors.fixed_heap", a.GetTriggers()[0].GetName())
			thresholds[a.GetName()] = a.GetTriggers()[0].GetThreshold().GetValue()
		}
		require.Equal(t, map[string]float64{
			"envoy.overload_actions.shrink_heap":             0.90,
			"envoy.overload_actions.stop_accepting_requests": 0.95,
		}, thresholds)
	}
	_, err := RenderBootstrap(BootstrapOptions{AdminSocket: testAdminSocket, XDSPort: 1, ExtProcPort: 2, MaxHeapBytes: 1 << 20})
	require.ErrorIs(t, err, ErrInvalidHeap)
}

// TestRenderBootstrapMutualTLS: each static cluster presents Envoy's client
// certificate and verifies llmvoy's against the CA and the name it dialled.
func TestRenderBootstrapMutualTLS(t *testing.T) {
	files := ClientTLS{CertFile: "/t/envoy.pem", KeyFile: "/t/envoy-key.pem", CAFile: "/t/ca.pem"}
	tests := []struct {
		name              string
		o                 BootstrapOptions
		sni, sanType, san string
	}{
		{"host name", BootstrapOptions{AdminSocket: testAdminSocket, XDSAddress: "llmvoy", XDSPort: 1, ExtProcAddress: "llmvoy", ExtProcPort: 2}, "llmvoy", "DNS", "llmvoy"},
		{"ip", BootstrapOptions{AdminSocket: testAdminSocket, XDSAddress: "10.0.0.7", XDSPort: 1, ExtProcAddress: "10.0.0.7", ExtProcPort: 2}, "", "IP_ADDRESS", "10.0.0.7"},
		{"localhost dials 127.0.0.1", BootstrapOptions{AdminSocket: testAdminSocket, XDSAddress: "localhost", XDSPort: 1, ExtProcAddress: "localhost", ExtProcPort: 2}, "", "IP_ADDRESS", "127.0.0.1"},
		{"server name overrides", BootstrapOptions{AdminSocket: testAdminSocket, XDSAddress: "10.0.0.7", XDSPort: 1, ExtProcAddress: "10.0.0.7", ExtProcPort: 2, TLS: &ClientTLS{ServerName: "llmvoy.prod"}}, "llmvoy.prod", "DNS", "llmvoy.prod"},
		{"unix socket with a server name", BootstrapOptions{AdminSocket: testAdminSocket, XDSAddress: "unix:///run/x.sock", ExtProcAddress: "unix:///run/e.sock", TLS: &ClientTLS{ServerName: "llmvoy"}}, "llmvoy", "DNS", "llmvoy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			tlsOpts := files
			if o.TLS != nil {
				tlsOpts.ServerName = o.TLS.ServerName
			}
			o.TLS = &tlsOpts
			b := renderProto(t, o)
			for _, c := range b.GetStaticResources().GetClusters() {
				require.Equal(t, "envoy.transport_sockets.tls", c.GetTransportSocket().GetName())
				var ctx tlsv3.UpstreamTlsContext
				require.NoError(t, c.GetTransportSocket().GetTypedConfig().UnmarshalTo(&ctx))
				require.Equal(t, tt.sni, ctx.GetSni())
				common := ctx.GetCommonTlsContext()
				require.Equal(t, []string{"h2"}, common.GetAlpnProtocols())
				require.Equal(t, tlsv3.TlsParameters_TLSv1_3, common.GetTlsParams().GetTlsMinimumProtocolVersion())
				require.Equal(t, files.CertFile, common.GetTlsCertificates()[0].GetCertificateChain().GetFilename())
				require.Equal(t, files.KeyFile, common.GetTlsCertificates()[0].GetPrivateKey().GetFilename())
				v := common.GetValidationContext()
				require.Equal(t, files.CAFile, v.GetTrustedCa().GetFilename())
				require.Len(t, v.GetMatchTypedSubjectAltNames(), 1)
				require.Equal(t, tt.sanType, v.GetMatchTypedSubjectAltNames()[0].GetSanType().String())
				require.Equal(t, tt.san, v.GetMatchTypedSubjectAltNames()[0].GetMatcher().GetExact())
			}
		})
	}

	for name, o := range map[string]BootstrapOptions{
		"unix socket without a server name": {AdminSocket: testAdminSocket, XDSAddress: "unix:///run/x.sock", ExtProcAddress: "unix:///run/e.sock", TLS: &files},
		"no key":                            {AdminSocket: testAdminSocket, XDSPort: 1, ExtProcPort: 2, TLS: &ClientTLS{CertFile: "/t/c.pem", CAFile: "/t/ca.pem"}},
		"relative path":                     {AdminSocket: testAdminSocket, XDSPort: 1, ExtProcPort: 2, TLS: &ClientTLS{CertFile: "c.pem", KeyFile: "/t/k.pem", CAFile: "/t/ca.pem"}},
		"bad name":                          {AdminSocket: testAdminSocket, XDSPort: 1, ExtProcPort: 2, TLS: &ClientTLS{CertFile: "/t/c.pem", KeyFile: "/t/k.pem", CAFile: "/t/ca.pem", ServerName: "a b"}},
	} {
		_, err := RenderBootstrap(o)
		require.ErrorIs(t, err, ErrInvalidTLS, name)
	}
}

func TestRenderBootstrapAddresses(t *testing.T) {
	tests := []struct {
		name     string
		o        BootstrapOptions
		admin    string // the admin socket's path, or its TCP address
		xds      string // socket address or pipe path
		xdsDNS   bool
		extProcP string // pipe path, if any
	}{
		{
			name:  "defaults",
			o:     BootstrapOptions{AdminSocket: testAdminSocket, XDSPort: 1, ExtProcPort: 2},
			admin: testAdminSocket, xds: "127.0.0.1",
		},
		{
			name:  "insecure tcp admin on 127.0.0.1 by default",
			o:     BootstrapOptions{InsecureTCPAdmin: true, XDSPort: 1, ExtProcPort: 2},
			admin: "127.0.0.1", xds: "127.0.0.1",
		},
		{
			name:  "localhost means 127.0.0.1",
			o:     BootstrapOptions{InsecureTCPAdmin: true, AdminAddress: "localhost", XDSAddress: "localhost", XDSPort: 1, ExtProcPort: 2},
			admin: "127.0.0.1", xds: "127.0.0.1",
		},
		{
			name:  "ipv6",
			o:     BootstrapOptions{InsecureTCPAdmin: true, AdminAddress: "[::1]", XDSAddress: "[::1]", XDSPort: 1, ExtProcAddress: "::1", ExtProcPort: 2},
			admin: "::1", xds: "::1",
		},
		{
			name:  "host name resolved by envoy",
			o:     BootstrapOptions{AdminSocket: testAdminSocket, XDSAddress: "llmvoy.internal", XDSPort: 1, ExtProcPort: 2},
			admin: testAdminSocket, xds: "llmvoy.internal", xdsDNS: true,
		},
		{
			name:  "unix sockets ignore ports",
			o:     BootstrapOptions{AdminSocket: "/tmp/a.sock", XDSAddress: "unix:///tmp/x.sock", ExtProcAddress: "unix:///tmp/e.sock"},
			admin: "/tmp/a.sock", xds: "/tmp/x.sock", extProcP: "/tmp/e.sock",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := renderProto(t, tt.o)
			if pipe := b.GetAdmin().GetAddress().GetPipe(); tt.o.AdminSocket != "" {
				require.Equal(t, tt.admin, pipe.GetPath())
				require.Equal(t, uint32(0o600), pipe.GetMode(), "only Envoy's user may connect")
				require.Nil(t, b.GetAdmin().GetAddress().GetSocketAddress(), "no TCP admin")
			} else {
				require.Nil(t, pipe)
				require.Equal(t, tt.admin, b.GetAdmin().GetAddress().GetSocketAddress().GetAddress())
			}
			xds := b.GetStaticResources().GetClusters()[0]
			addr := xds.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress()
			if addr.GetPipe() != nil {
				require.Equal(t, tt.xds, addr.GetPipe().GetPath())
			} else {
				require.Equal(t, tt.xds, addr.GetSocketAddress().GetAddress())
			}
			if tt.xdsDNS {
				require.Equal(t, "STRICT_DNS", xds.GetType().String())
			} else {
				require.Equal(t, "STATIC", xds.GetType().String())
			}
			if tt.extProcP != "" {
				ep := b.GetStaticResources().GetClusters()[1].GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress()
				require.Equal(t, tt.extProcP, ep.GetPipe().GetPath())
			}
		})
	}
}

func TestRenderBootstrapRejects(t *testing.T) {
	ok := BootstrapOptions{AdminSocket: testAdminSocket, XDSPort: 18000, ExtProcPort: 18001}
	// tcpAdmin asks for the admin interface on addr by name.
	tcpAdmin := func(addr string) func(*BootstrapOptions) {
		return func(o *BootstrapOptions) { o.AdminSocket, o.InsecureTCPAdmin, o.AdminAddress = "", true, addr }
	}
	tests := []struct {
		name   string
		modify func(*BootstrapOptions)
		want   error
	}{
		{"no admin", func(o *BootstrapOptions) { o.AdminSocket = "" }, ErrInsecureAdmin},
		{"tcp admin without the insecure flag", func(o *BootstrapOptions) { o.AdminSocket, o.AdminAddress, o.AdminPort = "", "127.0.0.1", 9901 }, ErrInsecureAdmin},
		{"admin socket and tcp", func(o *BootstrapOptions) { o.AdminPort = 9901 }, ErrInvalidAddress},
		{"admin socket and the insecure flag", func(o *BootstrapOptions) { o.InsecureTCPAdmin = true }, ErrInvalidAddress},
		{"relative admin socket", func(o *BootstrapOptions) { o.AdminSocket = "admin.sock" }, ErrInvalidAddress},
		{"abstract admin socket", func(o *BootstrapOptions) { o.AdminSocket = "@envoy-admin" }, ErrInvalidAddress},
		{"admin socket with a scheme", func(o *BootstrapOptions) { o.AdminSocket = "unix:///run/envoy/admin.sock" }, ErrInvalidAddress},
		{"admin socket path too long", func(o *BootstrapOptions) { o.AdminSocket = "/" + strings.Repeat("a", 107) }, ErrInvalidAddress},
		{"admin on all interfaces", tcpAdmin("0.0.0.0"), ErrAdminNotLoopback},
		{"admin on ipv6 any", tcpAdmin("::"), ErrAdminNotLoopback},
		{"admin on a LAN address", tcpAdmin("10.1.2.3"), ErrAdminNotLoopback},
		{"admin on a host name", tcpAdmin("envoy.example.com"), ErrAdminNotLoopback},
		{"admin port out of range", func(o *BootstrapOptions) { tcpAdmin("")(o); o.AdminPort = 70000 }, ErrInvalidPort},
		{"xds port missing", func(o *BootstrapOptions) { o.XDSPort = 0 }, ErrInvalidPort},
		{"ext_proc port out of range", func(o *BootstrapOptions) { o.ExtProcPort = 65536 }, ErrInvalidPort},
		{"relative unix path", func(o *BootstrapOptions) { o.XDSAddress = "unix:xds.sock" }, ErrInvalidAddress},
		{"unix without a path", func(o *BootstrapOptions) { o.ExtProcAddress = "unix://" }, ErrInvalidAddress},
		{"url", func(o *BootstrapOptions) { o.XDSAddress = "http://127.0.0.1" }, ErrInvalidAddress},
		{"host:port", func(o *BootstrapOptions) { o.ExtProcAddress = "127.0.0.1:18001" }, ErrInvalidAddress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.modify(&o)
			_, err := RenderBootstrap(o)
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func TestRenderBootstrapQuotesValues(t *testing.T) {
	b := renderProto(t, BootstrapOptions{
		AdminSocket: testAdminSocket,
		NodeID:      "a: b\n  injected: true",
		NodeCluster: `"quoted"`,
		XDSPort:     1, ExtProcPort: 2,
	})
	require.Equal(t, "a: b\n  injected: true", b.GetNode().GetId())
	require.Equal(t, `"quoted"`, b.GetNode().GetCluster())
}

// TestValidateWithEnvoy runs `envoy --mode validate` on rendered bootstraps.
func TestValidateWithEnvoy(t *testing.T) {
	bin := envoyBin(t)
	variants := map[string]BootstrapOptions{
		"tcp":                   {AdminSocket: testAdminSocket, XDSPort: 18000, ExtProcPort: 18001},
		"insecure tcp admin":    {InsecureTCPAdmin: true, AdminPort: 9901, XDSPort: 18000, ExtProcPort: 18001},
		"insecure admin port 0": {InsecureTCPAdmin: true, XDSPort: 18000, ExtProcPort: 18001},
		"unix": {
			AdminSocket:    "/run/llmvoy/admin.sock",
			XDSAddress:     "unix:///run/llmvoy/xds.sock",
			ExtProcAddress: "unix:///run/llmvoy/extproc.sock",
		},
		"host name":  {AdminSocket: testAdminSocket, XDSAddress: "llmvoy.internal", XDSPort: 18000, ExtProcAddress: "llmvoy.internal", ExtProcPort: 18001},
		"ipv6":       {InsecureTCPAdmin: true, AdminAddress: "::1", XDSAddress: "::1", XDSPort: 18000, ExtProcAddress: "::1", ExtProcPort: 18001},
		"small heap": {AdminSocket: testAdminSocket, XDSPort: 18000, ExtProcPort: 18001, MaxHeapBytes: MinMaxHeapBytes},
	}
	// Envoy reads the certificate files while validating: real ones.
	pkiDir := t.TempDir()
	bundle, err := pki.Issue([]string{"llmvoy", "127.0.0.1"}, time.Hour, time.Now())
	require.NoError(t, err)
	require.NoError(t, bundle.Write(pkiDir))
	files := ClientTLS{
		CertFile: filepath.Join(pkiDir, pki.ClientCertFile),
		KeyFile:  filepath.Join(pkiDir, pki.ClientKeyFile),
		CAFile:   filepath.Join(pkiDir, pki.CAFile),
	}
	variants["mtls host name"] = BootstrapOptions{AdminSocket: testAdminSocket, XDSAddress: "llmvoy", XDSPort: 18000, ExtProcAddress: "llmvoy", ExtProcPort: 18001, TLS: &files}
	variants["mtls ip"] = BootstrapOptions{AdminSocket: testAdminSocket, XDSPort: 18000, ExtProcPort: 18001, TLS: &files}
	for name, o := range variants {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := RenderBootstrap(o)
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			require.NoError(t, Validate(ctx, bin, b))
		})
	}

	t.Run("rejected", func(t *testing.T) {
		t.Parallel()
		bad := []byte("admin:\n  bogus_field: 1\n")
		err := Validate(context.Background(), bin, bad)
		var verr *ValidationError
		require.ErrorAs(t, err, &verr)
		require.Contains(t, verr.Message, "bogus_field")
		require.NotContains(t, verr.Message, "llmvoy-validate-", "temp file names are noise")
	})
}

// renderProto renders o and decodes it strictly into a validated Bootstrap.
func renderProto(t *testing.T, o BootstrapOptions) *bootstrapv3.Bootstrap {
	t.Helper()
	out, err := RenderBootstrap(o)
	require.NoError(t, err)
	var doc any
	require.NoError(t, yaml.Unmarshal(out, &doc))
	j, err := json.Marshal(doc)
	require.NoError(t, err)
	var b bootstrapv3.Bootstrap
	require.NoError(t, protojson.Unmarshal(j, &b))
	require.NoError(t, b.ValidateAll())
	return &b
}
