package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/mock"
)

// TestTwoEnvoysShareOneControlPlane runs the exact bootstrap `llmvoy
// bootstrap` prints with the real Envoy binary, twice, against one `llmvoy
// run --no-envoy`: each Envoy listens on the port its bootstrap asked for,
// one reaches ext_proc over a unix socket and the other over TCP.
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

	xdsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	procTCP := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	// Unix socket paths are limited to ~100 bytes; t.TempDir() can be long.
	sockDir, err := os.MkdirTemp("", "llmvoy")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	procUnix := "unix://" + filepath.Join(sockDir, "ext_proc.sock")

	// Two edge Envoys share one control plane (ext_proc over TCP); a
	// sidecar-style Envoy reaches a second one over a unix socket.
	startControlPlane(t, bin, "--config", cfg, "--xds-address", xdsAddr, "--extproc-address", procTCP, "--port", fmt.Sprint(freePort(t)))
	xdsAddr2 := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startControlPlane(t, bin, "--config", cfg, "--xds-address", xdsAddr2, "--extproc-address", procUnix)

	ports := []int{freePort(t), freePort(t), freePort(t)}
	startEnvoy(t, bin, envoyBin, dir, "edge-1", xdsAddr, procTCP, ports[0])
	startEnvoy(t, bin, envoyBin, dir, "edge-2", xdsAddr, procTCP, ports[1])
	startEnvoy(t, bin, envoyBin, dir, "sidecar-unix", xdsAddr2, procUnix, ports[2])

	for _, port := range ports {
		waitHealthy(t, port)
		status, body := chat(t, port, "gpt-4o-mini")
		require.Equal(t, 200, status, body)
		require.Contains(t, body, "mock:shared-provider")
	}
}

func startControlPlane(t *testing.T, bin string, args ...string) {
	var out syncBuffer
	cmd := exec.Command(bin, append([]string{"run", "--no-envoy"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	stopOnCleanup(t, cmd, "llmvoy --no-envoy", &out)
	waitFor(t, &out, "llmvoy control plane:")
}

func startEnvoy(t *testing.T, bin, envoyBin, dir, node, xdsAddr, procAddr string, port int) {
	boot, err := exec.Command(bin, "bootstrap", "--xds", xdsAddr, "--extproc", procAddr,
		"--port", fmt.Sprint(port), "--node-id", node, "--admin-port", fmt.Sprint(freePort(t))).Output()
	require.NoError(t, err)
	file := filepath.Join(dir, node+".yaml")
	require.NoError(t, os.WriteFile(file, boot, 0o600))
	var out syncBuffer
	cmd := exec.Command(envoyBin, "-c", file, "--disable-hot-restart", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	stopOnCleanup(t, cmd, "envoy "+node, &out)
}

func stopOnCleanup(t *testing.T, cmd *exec.Cmd, name string, out *syncBuffer) {
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

func waitFor(t *testing.T, out *syncBuffer, text string) {
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
