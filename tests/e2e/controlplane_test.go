package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/envoy"
	"github.com/llmvoy/llmvoy/internal/syncbuf"
	"github.com/llmvoy/llmvoy/mock"
)

// TestTwoEnvoysShareOneControlPlane runs the exact bootstrap `llmvoy
// bootstrap` prints with the real Envoy binary against `llmvoy run
// --no-envoy`, both ways the control plane can be private: two edge Envoys
// share one control plane over TCP with mutual TLS (certificates from
// `llmvoy certs`), and a sidecar-style Envoy reaches another over unix
// sockets in a --control-dir. Each listens on the port its bootstrap asked
// for and serves a request through ext_proc.
func TestTwoEnvoysShareOneControlPlane(t *testing.T) {
	bin := llmvoyBinary(t)
	envoyBin := envoyBinary(t)
	dir := t.TempDir()

	provider := httptest.NewServer(mock.New(mock.Options{Name: "shared-provider"}))
	t.Cleanup(provider.Close)

	cfg := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
model_list:
  - model_name: gpt-4o-mini
    litellm_params: {model: openai/gpt-4o-mini, api_base: "%s/v1"}
`, provider.URL)), 0o600))

	pki := filepath.Join(dir, "pki")
	out, err := exec.Command(bin, "certs", "--dir", pki, "--hosts", "localhost,127.0.0.1").CombinedOutput()
	require.NoError(t, err, string(out))
	file := func(name string) string { return filepath.Join(pki, name) }

	xdsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	procTCP := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	// Unix socket paths are limited to ~100 bytes; t.TempDir() can be long.
	sockDir, err := os.MkdirTemp("", "llmvoy")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	controlDir := filepath.Join(sockDir, "control")

	tlsOut := startControlPlane(t, bin, "--config", cfg, "--xds-address", xdsAddr, "--extproc-address", procTCP, "--port", fmt.Sprint(freePort(t)),
		"--tls-cert", file("server.pem"), "--tls-key", file("server-key.pem"), "--tls-ca", file("ca.pem"))
	startControlPlane(t, bin, "--config", cfg, "--control-dir", controlDir)

	envoyTLS := []string{"--tls-cert", file("envoy.pem"), "--tls-key", file("envoy-key.pem"), "--tls-ca", file("ca.pem")}
	ports := []int{freePort(t), freePort(t), freePort(t)}
	startEnvoy(t, bin, envoyBin, dir, "edge-1", ports[0], append([]string{"--xds", xdsAddr, "--extproc", procTCP}, envoyTLS...)...)
	// By name: the SAN Envoy checks is localhost, which the certificate has.
	startEnvoy(t, bin, envoyBin, dir, "edge-2", ports[1], append([]string{"--xds", xdsAddr, "--extproc", procTCP, "--tls-server-name", "localhost"}, envoyTLS...)...)
	startEnvoy(t, bin, envoyBin, dir, "sidecar-unix", ports[2], "--control-dir", controlDir)

	for _, port := range ports {
		waitHealthy(t, port)
		status, body := chat(t, port, "gpt-4o-mini")
		require.Equal(t, 200, status, body)
		require.Contains(t, body, "mock:shared-provider")
	}
	require.NotContains(t, tlsOut.String(), "INSECURE")
}

// TestEnvoyWithoutClientCertificateGetsNothing: an Envoy whose bootstrap
// trusts llmvoy's CA but has no client certificate of its own (a neighbour
// with a stolen CA file, say) never gets a listener: the TLS handshake is
// refused, so no configuration and no credential reaches it.
func TestEnvoyWithoutClientCertificateGetsNothing(t *testing.T) {
	bin := llmvoyBinary(t)
	envoyBin := envoyBinary(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`
model_list:
  - model_name: gpt-4o-mini
    litellm_params: {model: openai/gpt-4o-mini, api_base: "http://127.0.0.1:9/v1", api_key: sk-provider-secret}
`), 0o600))
	pki, other := filepath.Join(dir, "pki"), filepath.Join(dir, "other")
	for _, d := range []string{pki, other} {
		out, err := exec.Command(bin, "certs", "--dir", d, "--hosts", "127.0.0.1").CombinedOutput()
		require.NoError(t, err, string(out))
	}
	xdsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	procAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cp := startControlPlane(t, bin, "--config", cfg, "--xds-address", xdsAddr, "--extproc-address", procAddr,
		"--tls-cert", filepath.Join(pki, "server.pem"), "--tls-key", filepath.Join(pki, "server-key.pem"), "--tls-ca", filepath.Join(pki, "ca.pem"))

	// Another deployment's client certificate, with this deployment's CA
	// to check llmvoy: the closest a neighbour gets.
	port := freePort(t)
	admin := startEnvoy(t, bin, envoyBin, dir, "intruder", port, "--xds", xdsAddr, "--extproc", procAddr,
		"--tls-cert", filepath.Join(other, "envoy.pem"), "--tls-key", filepath.Join(other, "envoy-key.pem"), "--tls-ca", filepath.Join(pki, "ca.pem"))

	// Envoy keeps retrying; give it a few seconds, then look at what it has.
	time.Sleep(3 * time.Second)
	ctx := context.Background()
	body, err := admin.Get(ctx, "/config_dump?resource=dynamic_active_clusters")
	require.NoError(t, err)
	require.NotContains(t, string(body), "group_", "no model-group cluster reached the intruder")
	all, err := admin.Get(ctx, "/config_dump?include_eds&mask=")
	require.NoError(t, err)
	require.NotContains(t, string(all), "sk-provider-secret")
	st, err := admin.Get(ctx, "/stats?filter=llmvoy_xds.*ssl")
	require.NoError(t, err)
	require.Regexp(t, `cluster\.llmvoy_xds\.ssl\.connection_error: [1-9]`, string(st), "Envoy's handshakes were refused")
	_, err = http.Get(fmt.Sprintf("http://127.0.0.1:%d/health/liveliness", port))
	require.Error(t, err, "no listener: the intruder got no configuration")
	require.NotContains(t, cp.String(), "sk-provider-secret")
}

// TestSupervisedControlPlaneIsPrivate: under `llmvoy run` xDS, ext_proc and
// Envoy's admin interface are unix sockets in a new 0700 directory (sockets
// 0600), llmvoy itself listens on no TCP port and Envoy on the gateway port
// only, and the directory is gone after it stops.
func TestSupervisedControlPlaneIsPrivate(t *testing.T) {
	bin := llmvoyBinary(t)
	dir := t.TempDir()
	provider := httptest.NewServer(mock.New(mock.Options{Name: "p"}))
	t.Cleanup(provider.Close)
	cfg := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
model_list:
  - model_name: gpt-4o-mini
    litellm_params: {model: openai/gpt-4o-mini, api_base: "%s/v1"}
`, provider.URL)), 0o600))
	port := freePort(t)
	var out syncbuf.Buffer
	cmd := exec.Command(bin, "run", "--config", cfg, "--host", "127.0.0.1", "--port", fmt.Sprint(port), "--data-dir", dir)
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	stopOnCleanup(t, cmd, "llmvoy", &out)
	waitFor(t, &out, "llmvoy is listening")
	status, body := chat(t, port, "gpt-4o-mini")
	require.Equal(t, 200, status, body)

	m := regexp.MustCompile(`xds=unix://(\S+) ext_proc=unix://(\S+)`).FindStringSubmatch(out.String())
	require.NotNil(t, m, "the log names the control sockets:\n%s", out.String())
	controlDir := filepath.Dir(m[1])
	require.Equal(t, controlDir, filepath.Dir(m[2]))
	a := regexp.MustCompile(`envoy_admin=unix://(\S+)`).FindStringSubmatch(out.String())
	require.NotNil(t, a, "the log names Envoy's admin socket:\n%s", out.String())
	require.Equal(t, filepath.Join(controlDir, "admin.sock"), a[1])
	m = append(m, a[1])
	st, err := os.Stat(controlDir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	for _, sock := range m[1:] {
		st, err := os.Lstat(sock)
		require.NoError(t, err)
		require.Equal(t, os.ModeSocket, st.Mode().Type())
		require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	}
	require.Empty(t, listeningTCPPorts(t, cmd.Process.Pid), "llmvoy listens on no TCP port (the gateway port is Envoy's)")

	// The socket is Envoy's admin interface, and Envoy has no other: its
	// only TCP port is the gateway's.
	admin, err := envoy.NewAdminClient("unix://"+a[1], 5*time.Second)
	require.NoError(t, err)
	ready, err := admin.Get(context.Background(), "/ready")
	require.NoError(t, err)
	require.Equal(t, "LIVE", strings.TrimSpace(string(ready)))
	envoyPid := childNamed(t, cmd.Process.Pid, "envoy")
	gateway := fmt.Sprintf(":%04X", port)
	for _, local := range listeningTCPPorts(t, envoyPid) {
		require.True(t, strings.HasSuffix(local, gateway), "Envoy listens on %s, not only on the gateway port %d", local, port)
	}
	require.NotEmpty(t, listeningTCPPorts(t, envoyPid), "Envoy listens on the gateway port")

	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(controlDir); os.IsNotExist(err) {
			break
		}
		require.True(t, time.Now().Before(deadline), "%s still exists after llmvoy stopped", controlDir)
		time.Sleep(50 * time.Millisecond)
	}
}

// childNamed is the pid of the child of ppid whose command is comm.
func childNamed(t *testing.T, ppid int, comm string) int {
	t.Helper()
	// Each thread lists the children it forked: Go forks from any thread.
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", ppid))
	require.NoError(t, err)
	var b []byte
	for _, task := range tasks {
		c, _ := os.ReadFile(task) // a thread that exited meanwhile has none
		b = append(append(b, c...), ' ')
	}
	for _, f := range strings.Fields(string(b)) {
		name, _ := os.ReadFile("/proc/" + f + "/comm")
		if strings.TrimSpace(string(name)) == comm {
			pid, err := strconv.Atoi(f)
			require.NoError(t, err)
			return pid
		}
	}
	t.Fatalf("process %d has no %s child (children: %s)", ppid, comm, b)
	return 0
}

// listeningTCPPorts are the local addresses (/proc/net/tcp's hex
// "ADDR:PORT") process pid itself listens on: its socket inodes
// (/proc/PID/fd) matched against the listening sockets of /proc/net/tcp and
// tcp6.
func listeningTCPPorts(t *testing.T, pid int) []string {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	require.NoError(t, err)
	inodes := map[string]bool{}
	for _, fd := range fds {
		// A descriptor closed meanwhile reads as "", no socket.
		link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if inode, ok := strings.CutPrefix(link, "socket:["); ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	require.NotEmpty(t, inodes, "process %d has sockets (its unix listeners at least)", pid)
	var ports []string
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		require.NoError(t, err)
		for line := range strings.Lines(string(b)) {
			f := strings.Fields(line)
			// sl local_address rem_address st ... inode (10th field)
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] {
				continue
			}
			ports = append(ports, f[1])
		}
	}
	return ports
}

func startControlPlane(t *testing.T, bin string, args ...string) *syncbuf.Buffer {
	var out syncbuf.Buffer
	cmd := exec.Command(bin, append([]string{"run", "--no-envoy"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	stopOnCleanup(t, cmd, "llmvoy --no-envoy", &out)
	waitFor(t, &out, "llmvoy control plane:")
	return &out
}

// startEnvoy runs the bootstrap `llmvoy bootstrap` prints for bootstrapArgs
// with its admin interface on a socket in a private directory of its own,
// as the examples mount one, and returns a client of that admin interface.
func startEnvoy(t *testing.T, bin, envoyBin, dir, node string, port int, bootstrapArgs ...string) *envoy.AdminClient {
	// Unix socket paths are limited to ~100 bytes; t.TempDir() can be long.
	adminDir, err := os.MkdirTemp("", "llmvoy-envoy")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(adminDir) })
	adminSocket := filepath.Join(adminDir, "admin.sock")
	args := append([]string{"bootstrap", "--port", fmt.Sprint(port), "--node-id", node, "--admin-socket", adminSocket}, bootstrapArgs...)
	boot, err := exec.Command(bin, args...).Output()
	require.NoError(t, err, "llmvoy %v", args)
	file := filepath.Join(dir, node+".yaml")
	require.NoError(t, os.WriteFile(file, boot, 0o600))
	var out syncbuf.Buffer
	cmd := exec.Command(envoyBin, "-c", file, "--disable-hot-restart", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	stopOnCleanup(t, cmd, "envoy "+node, &out)
	admin, err := envoy.NewAdminClient("unix://"+adminSocket, 5*time.Second)
	require.NoError(t, err)
	return admin
}

func stopOnCleanup(t *testing.T, cmd *exec.Cmd, name string, out *syncbuf.Buffer) {
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
}

func waitFor(t *testing.T, out *syncbuf.Buffer, text string) {
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in:\n%s", text, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitHealthy(t *testing.T, port int) {
	url := fmt.Sprintf("http://127.0.0.1:%d/health/readiness", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Envoy on port %d not ready: %v", port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// envoyBinary is the Envoy the Makefile exports, or the one `make envoy`
// installs.
func envoyBinary(t *testing.T) string {
	if bin := os.Getenv("ENVOY_BIN"); bin != "" {
		return bin
	}
	bin, err := filepath.Abs("../../.venv/bin/envoy")
	require.NoError(t, err)
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no Envoy: set ENVOY_BIN or run `make envoy`")
	}
	return bin
}
