package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
)

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestCheckControlFlags(t *testing.T) {
	tests := []struct {
		name    string
		c       controlFlags
		noEnvoy bool
		wantErr string
	}{
		{name: "supervised default", c: controlFlags{}},
		{name: "supervised plaintext tcp", c: controlFlags{xdsAddr: "127.0.0.1:0", extprocAddr: "127.0.0.1:0"}, wantErr: "plaintext TCP"},
		{name: "supervised plaintext tcp, said so", c: controlFlags{xdsAddr: "127.0.0.1:0", extprocAddr: "127.0.0.1:0", insecurePlaintext: true}},
		{name: "supervised tls", c: controlFlags{tlsCert: "c", tlsKey: "k", tlsCA: "ca"}, wantErr: "are for --no-envoy"},
		{name: "no-envoy needs a place", noEnvoy: true, wantErr: "--no-envoy needs --control-dir"},
		{name: "no-envoy control dir", noEnvoy: true, c: controlFlags{dir: "/run/llmvoy"}},
		{name: "no-envoy relative control dir", noEnvoy: true, c: controlFlags{dir: "run/llmvoy"}, wantErr: "absolute"},
		{name: "no-envoy loopback tcp is not private", noEnvoy: true, c: controlFlags{xdsAddr: "127.0.0.1:18000", extprocAddr: "127.0.0.1:18001"}, wantErr: "--insecure-plaintext-control-plane"},
		{name: "no-envoy any-address tcp", noEnvoy: true, c: controlFlags{xdsAddr: "0.0.0.0:18000", extprocAddr: "unix:///run/e.sock"}, wantErr: "0.0.0.0:18000 is plaintext"},
		{name: "no-envoy mtls", noEnvoy: true, c: controlFlags{xdsAddr: "0.0.0.0:18000", extprocAddr: "0.0.0.0:18001", tlsCert: "c", tlsKey: "k", tlsCA: "ca"}},
		{name: "no-envoy half tls", noEnvoy: true, c: controlFlags{xdsAddr: "0.0.0.0:18000", extprocAddr: "0.0.0.0:18001", tlsCert: "c", tlsKey: "k"}, wantErr: "go together"},
		{name: "no-envoy unix addresses", noEnvoy: true, c: controlFlags{xdsAddr: "unix:///a/x.sock", extprocAddr: "unix:///a/e.sock"}},
		{name: "no-envoy one address and the dir", noEnvoy: true, c: controlFlags{dir: "/run/llmvoy", extprocAddr: "unix:///a/e.sock"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkControlFlags(&tt.c, tt.noEnvoy)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	st, err := os.Lstat(path)
	require.NoError(t, err)
	return st.Mode().Perm()
}

func unixPath(ln net.Listener) string { return ln.Addr().String() }

// A supervised Envoy's sockets are in a new directory only llmvoy's user
// can enter, and gone when llmvoy stops.
func TestOpenControlPlaneSupervised(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	cp, err := openControlPlane(controlFlags{}, true, discardLog())
	require.NoError(t, err)
	require.Equal(t, "unix", cp.xds.Addr().Network())
	require.Equal(t, "unix", cp.extproc.Addr().Network())
	require.Nil(t, cp.creds)
	dir := filepath.Dir(unixPath(cp.xds))
	require.Equal(t, dir, filepath.Dir(unixPath(cp.extproc)))
	require.Equal(t, os.Getenv("XDG_RUNTIME_DIR"), filepath.Dir(dir), "under $XDG_RUNTIME_DIR")
	require.Equal(t, fs.FileMode(0o700), mode(t, dir))
	require.Equal(t, fs.FileMode(0o600), mode(t, unixPath(cp.xds)))
	require.Equal(t, fs.FileMode(0o600), mode(t, unixPath(cp.extproc)))
	require.Less(t, len(unixPath(cp.extproc)), 100, "unix socket paths are short")
	require.Equal(t, dir, cp.dir, "Envoy's admin socket goes there too")

	cp.xds.Close()
	cp.extproc.Close()
	cp.cleanup()
	_, err = os.Stat(dir)
	require.ErrorIs(t, err, fs.ErrNotExist, "the directory is removed on exit")
}

// A supervised Envoy's admin socket needs the private directory even when
// both of llmvoy's servers have addresses of their own.
func TestOpenControlPlaneSupervisedAlwaysHasADir(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	sockDir := t.TempDir()
	cp, err := openControlPlane(controlFlags{
		xdsAddr:     "unix://" + filepath.Join(sockDir, "x.sock"),
		extprocAddr: "unix://" + filepath.Join(sockDir, "e.sock"),
	}, true, discardLog())
	require.NoError(t, err)
	defer cp.cleanup()
	defer cp.xds.Close()
	defer cp.extproc.Close()
	require.NotEmpty(t, cp.dir)
	require.Equal(t, os.Getenv("XDG_RUNTIME_DIR"), filepath.Dir(cp.dir))
	require.Equal(t, fs.FileMode(0o700), mode(t, cp.dir))
}

// With --no-envoy the directory (a shared volume's subdirectory) is made or
// tightened to 0750 and the sockets to 0660: Envoy enters through
// llmvoy's group, nobody else at all.
func TestOpenControlPlaneSharedDir(t *testing.T) {
	vol := t.TempDir()
	require.NoError(t, os.Chmod(vol, 0o777))

	dir := filepath.Join(vol, "control")
	cp, err := openControlPlane(controlFlags{dir: dir}, false, discardLog())
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o750), mode(t, dir))
	require.Equal(t, filepath.Join(dir, "xds.sock"), unixPath(cp.xds))
	require.Equal(t, filepath.Join(dir, "extproc.sock"), unixPath(cp.extproc))
	require.Equal(t, fs.FileMode(0o660), mode(t, unixPath(cp.xds)))
	require.Equal(t, fs.FileMode(0o660), mode(t, unixPath(cp.extproc)))
	cp.xds.Close()
	cp.extproc.Close()
	cp.cleanup()
	_, err = os.Stat(filepath.Join(dir, "xds.sock"))
	require.ErrorIs(t, err, fs.ErrNotExist, "sockets are removed on exit")
	_, err = os.Stat(dir)
	require.NoError(t, err, "an operator's directory stays")

	// An existing directory of llmvoy's user, open to all: tightened.
	require.NoError(t, os.Chmod(dir, 0o777))
	cp, err = openControlPlane(controlFlags{dir: dir}, false, discardLog())
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o750), mode(t, dir))
	cp.xds.Close()
	cp.extproc.Close()

	// A symlink is not followed.
	link := filepath.Join(vol, "link")
	require.NoError(t, os.Symlink(dir, link))
	_, err = openControlPlane(controlFlags{dir: link}, false, discardLog())
	require.ErrorIs(t, err, errUnsafeControlDir)

	// A file in a socket's place is left alone.
	busy := filepath.Join(vol, "busy")
	require.NoError(t, os.Mkdir(busy, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(busy, "xds.sock"), []byte("data"), 0o600))
	_, err = openControlPlane(controlFlags{dir: busy}, false, discardLog())
	require.Error(t, err)
	b, err := os.ReadFile(filepath.Join(busy, "xds.sock"))
	require.NoError(t, err)
	require.Equal(t, "data", string(b))
}

func TestControlDirOfAnotherUserIsRefused(t *testing.T) {
	if os.Getuid() != 0 {
		// Only root can make a directory owned by someone else.
		t.Log("running as a regular user: checking against /, owned by root")
		err := ensureControlDir("/", 0o750)
		require.ErrorIs(t, err, errUnsafeControlDir)
		return
	}
	dir := filepath.Join(t.TempDir(), "theirs")
	require.NoError(t, os.Mkdir(dir, 0o777))
	require.NoError(t, os.Chmod(dir, 0o777))
	require.NoError(t, os.Chown(dir, 65534, 65534))
	err := ensureControlDir(dir, 0o750)
	require.ErrorIs(t, err, errUnsafeControlDir)
	require.Equal(t, fs.FileMode(0o777), mode(t, dir), "left as it was")
}

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

// syncBuffer is an io.Writer the test reads while run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startNoEnvoy runs `llmvoy run --no-envoy` in-process until the test ends
// and returns its output once it serves.
func startNoEnvoy(t *testing.T, args ...string) *syncBuffer {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`
model_list:
  - model_name: direct
    litellm_params: {model: openai/gpt-4o, api_base: "http://127.0.0.1:9/v1", api_key: sk-provider-secret}
`), 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
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

// removeSocket clears the admin socket Envoy leaves behind, and nothing
// else that might stand at its path.
func TestRemoveSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "llmvoy")
	require.NoError(t, err)
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "admin.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	removeSocket(sock)
	_, err = os.Lstat(sock)
	require.ErrorIs(t, err, fs.ErrNotExist)

	file := filepath.Join(dir, "not-a-socket")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	removeSocket(file)
	_, err = os.Lstat(file)
	require.NoError(t, err)
	removeSocket(filepath.Join(dir, "missing"))
}
