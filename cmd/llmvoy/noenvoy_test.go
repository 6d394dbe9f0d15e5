package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/llmvoy/llmvoy/envoy"
	"github.com/llmvoy/llmvoy/internal/pki"
	"github.com/llmvoy/llmvoy/internal/syncbuf"
)

func TestByteSize(t *testing.T) {
	for in, want := range map[string]uint64{
		"1GiB": 1 << 30, "512MiB": 512 << 20, "768Mi": 768 << 20, "64 MiB": 64 << 20, "1073741824": 1 << 30, "2Gi": 2 << 30, "10KiB": 10 << 10, "7B": 7,
	} {
		got, err := parseByteSize(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "1GB", "-1", "1.5GiB", "lots", "99999999999GiB"} {
		_, err := parseByteSize(bad)
		require.Error(t, err, bad)
	}
	require.Equal(t, "1GiB", byteSize(1<<30).String())
	require.Equal(t, "192MiB", byteSize(192<<20).String())
	require.Equal(t, "1000", byteSize(1000).String())
}

// startNoEnvoy runs `llmvoy run --no-envoy` in-process until the test ends
// and returns its output once it serves.
func startNoEnvoy(t *testing.T, args ...string) *syncbuf.Buffer {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`
model_list:
  - model_name: direct
    litellm_params: {model: openai/gpt-4o, api_base: "http://127.0.0.1:9/v1", api_key: sk-provider-secret}
`), 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncbuf.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"run", "--no-envoy", "--config", cfg, "--data-dir", t.TempDir(), "--reload-interval", "0"}, args...), out, out)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("run did not stop")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "llmvoy control plane:") {
		select {
		case err := <-done:
			t.Fatalf("run exited: %v\n%s", err, out.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), out.String())
		time.Sleep(20 * time.Millisecond)
	}
	return out
}

// fetchClusters asks over ADS for clusters the way Envoy does.
func fetchClusters(conn *grpc.ClientConn) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: &corev3.Node{Id: "neighbour"}, TypeUrl: resource.ClusterType}); err != nil {
		return nil, err
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, r := range resp.GetResources() {
		var c clusterv3.Cluster
		if err := r.UnmarshalTo(&c); err != nil {
			return nil, err
		}
		names = append(names, c.GetName())
	}
	return names, nil
}

// Over TCP the control plane answers only a client with the deployment's
// client certificate; a plain gRPC client, one without a certificate and
// one of another CA get nothing.
func TestNoEnvoyMutualTLS(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	var certsOut bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"certs", "--dir", dir, "--hosts", "llmvoy,127.0.0.1"}, &certsOut, io.Discard))
	require.Contains(t, certsOut.String(), "--tls-cert "+filepath.Join(dir, "server.pem"))
	other := filepath.Join(t.TempDir(), "other")
	require.NoError(t, run(context.Background(), []string{"certs", "--dir", other}, io.Discard, io.Discard))

	xdsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	procAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	out := startNoEnvoy(t, "--xds-address", xdsAddr, "--extproc-address", procAddr,
		"--tls-cert", filepath.Join(dir, "server.pem"), "--tls-key", filepath.Join(dir, "server-key.pem"), "--tls-ca", filepath.Join(dir, "ca.pem"))
	require.NotContains(t, out.String(), "INSECURE")

	dial := func(creds credentials.TransportCredentials) ([]string, error) {
		conn, err := grpc.NewClient(xdsAddr, grpc.WithTransportCredentials(creds))
		require.NoError(t, err)
		defer conn.Close()
		return fetchClusters(conn)
	}
	clientTLS := func(pkiDir string, withCert bool) credentials.TransportCredentials {
		roots := x509.NewCertPool()
		ca, err := os.ReadFile(filepath.Join(dir, pki.CAFile))
		require.NoError(t, err)
		require.True(t, roots.AppendCertsFromPEM(ca))
		c := &tls.Config{RootCAs: roots, ServerName: "llmvoy"}
		if withCert {
			pair, err := tls.LoadX509KeyPair(filepath.Join(pkiDir, pki.ClientCertFile), filepath.Join(pkiDir, pki.ClientKeyFile))
			require.NoError(t, err)
			c.Certificates = []tls.Certificate{pair}
		}
		return credentials.NewTLS(c)
	}

	names, err := dial(clientTLS(dir, true))
	require.NoError(t, err, "Envoy's certificate")
	require.NotEmpty(t, names)

	for name, creds := range map[string]credentials.TransportCredentials{
		"plaintext":                 insecure.NewCredentials(),
		"tls without a certificate": clientTLS(dir, false),
		"another deployment's cert": clientTLS(other, true),
	} {
		_, err := dial(creds)
		require.Error(t, err, name)
	}
	// The ext_proc port (and the access-log service on it) is closed the
	// same way: a plain client cannot even finish a call.
	conn, err := grpc.NewClient(procAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err = conn.Invoke(ctx, "/envoy.service.ext_proc.v3.ExternalProcessor/Process", &discoveryv3.DiscoveryRequest{}, &discoveryv3.DiscoveryResponse{})
	require.Error(t, err)
}

func TestNoEnvoyPlaintextNeedsTheLoudFlag(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("model_list: []\n"), 0o600))
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"run", "--no-envoy", "--config", cfg, "--xds-address", "127.0.0.1:0", "--extproc-address", "127.0.0.1:0"}, io.Discard, &stderr)
	require.ErrorIs(t, err, errUsage)
	require.Contains(t, stderr.String(), "--insecure-plaintext-control-plane")

	out := startNoEnvoy(t, "--xds-address", "127.0.0.1:0", "--extproc-address", "127.0.0.1:0", "--insecure-plaintext-control-plane")
	require.Contains(t, out.String(), "INSECURE")
}

func TestBootstrapCommandRefusesPlaintextTCP(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"bootstrap", "--xds", "llmvoy:18000", "--extproc", "llmvoy:18001", "--admin-socket", "/run/envoy/admin.sock"}, io.Discard, &stderr)
	require.ErrorIs(t, err, errUsage)
	require.Contains(t, stderr.String(), "--insecure-plaintext-control-plane")

	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"bootstrap", "--control-dir", "/run/llmvoy/control", "--admin-socket", "/run/envoy/admin.sock", "--max-heap", "192MiB"}, &out, io.Discard))
	require.Contains(t, out.String(), `path: "/run/llmvoy/control/xds.sock"`)
	require.Contains(t, out.String(), `path: "/run/llmvoy/control/extproc.sock"`)
	require.Contains(t, out.String(), "max_heap_size_bytes: 201326592")
}

// TestBootstrapCommandAdmin: a platform-started Envoy's admin interface is
// a unix socket the operator names, outside llmvoy's control directory;
// loopback TCP only by the loud flag; --admin-port is gone.
func TestBootstrapCommandAdmin(t *testing.T) {
	bootstrap := func(args ...string) (string, string, error) {
		var out, stderr bytes.Buffer
		err := run(context.Background(), append([]string{"bootstrap", "--control-dir", "/run/llmvoy/control"}, args...), &out, &stderr)
		return out.String(), stderr.String(), err
	}
	out, _, err := bootstrap("--admin-socket", "/run/envoy/admin.sock")
	require.NoError(t, err)
	require.Contains(t, out, "pipe:\n      path: \"/run/envoy/admin.sock\"\n      mode: 384\n")
	require.NotContains(t, out, "port_value", "no TCP anywhere")

	for name, tt := range map[string]struct {
		args []string
		want string
	}{
		"no admin":                  {nil, "--admin-socket PATH is required"},
		"in the control directory":  {[]string{"--admin-socket", "/run/llmvoy/control/admin.sock"}, "not in --control-dir"},
		"tcp without the loud flag": {[]string{"--admin-address", "127.0.0.1:9901"}, "--insecure-tcp-admin"},
		"both":                      {[]string{"--admin-socket", "/run/envoy/admin.sock", "--admin-address", "127.0.0.1:9901", "--insecure-tcp-admin"}, "exclusive"},
		"the loud flag alone":       {[]string{"--admin-socket", "/run/envoy/admin.sock", "--insecure-tcp-admin"}, "goes with --admin-address"},
		"the old port flag":         {[]string{"--admin-port", "9901"}, "removed"},
	} {
		_, stderr, err := bootstrap(tt.args...)
		require.ErrorIs(t, err, errUsage, name)
		require.Contains(t, stderr, tt.want, name)
	}

	out, _, err = bootstrap("--admin-address", "127.0.0.1:9901", "--insecure-tcp-admin")
	require.NoError(t, err)
	require.Contains(t, out, "socket_address:\n      address: \"127.0.0.1\"\n      port_value: 9901\n")
	_, _, err = bootstrap("--admin-address", "0.0.0.0:9901", "--insecure-tcp-admin")
	require.ErrorIs(t, err, envoy.ErrAdminNotLoopback)
}

func TestRunRefusesAdminPort(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"run", "--config", "x.yaml", "--admin-port", "9901"}, io.Discard, &stderr)
	require.ErrorIs(t, err, errUsage)
	require.Contains(t, stderr.String(), "Envoy's admin interface is a unix socket now")
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
