package deploy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeAdmin plays Envoy's admin interface for the drain hook: it records the
// drain request and reports in-flight requests from a script of readings.
type fakeAdmin struct {
	mu       sync.Mutex
	calls    []string // "POST /drain_listeners?graceful", "GET stats", ...
	readings []int    // in-flight counts to report, the last one repeated
	filters  []string
}

func (a *fakeAdmin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/drain_listeners":
		a.calls = append(a.calls, "drain "+r.URL.RawQuery)
		fmt.Fprintln(w, "OK")
	case r.Method == http.MethodGet && r.URL.Path == "/stats":
		a.calls = append(a.calls, "stats")
		a.filters = append(a.filters, r.URL.Query().Get("filter"))
		n := a.readings[0]
		if len(a.readings) > 1 {
			a.readings = a.readings[1:]
		}
		// As Envoy does, stream it: chunked, and here with a chunk
		// boundary inside the line, which the hook must put together.
		fmt.Fprint(w, "http.llmvoy.downstream_")
		w.(http.Flusher).Flush()
		fmt.Fprintf(w, "rq_active: %d\n", n)
	default:
		http.Error(w, "unexpected "+r.Method+" "+r.URL.String(), http.StatusNotFound)
	}
}

// serveAdmin serves h on a unix socket in a new 0700 directory, as Envoy's
// admin interface listens, and returns the socket's path.
func serveAdmin(t *testing.T, h http.Handler) string {
	t.Helper()
	// Unix socket paths are limited to ~100 bytes; t.TempDir() can be long.
	dir, err := os.MkdirTemp("", "llmvoy-envoy")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "admin.sock")
	ln, err := net.Listen("unix", path)
	require.NoError(t, err)
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return path
}

// drainTools are what the hook may run besides bash: the official Envoy
// image has perl, sed and sleep but no curl; with curl the hook uses it.
var drainTools = map[string][]string{
	"perl (the Envoy image)": {"perl", "sed", "sleep"},
	"curl":                   {"curl", "sed", "sleep"},
}

// runDrain runs the drain hook, with only tools on its PATH, against an
// admin interface on socket and returns how long it took.
func runDrain(t *testing.T, tools []string, socket string, minSeconds, maxSeconds int) time.Duration {
	t.Helper()
	bash, err := exec.LookPath("bash")
	require.NoError(t, err, "the hook runs in Envoy's image, which has bash")
	bin := t.TempDir()
	for _, tool := range tools {
		p, err := exec.LookPath(tool)
		require.NoError(t, err, "the drain hook test needs %s", tool)
		require.NoError(t, os.Symlink(p, filepath.Join(bin, tool)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, drainScriptPath)
	cmd.Dir = root
	cmd.Env = []string{
		"PATH=" + bin,
		"ENVOY_ADMIN_SOCKET=" + socket,
		"DRAIN_MIN_SECONDS=" + strconv.Itoa(minSeconds),
		"DRAIN_MAX_SECONDS=" + strconv.Itoa(maxSeconds),
	}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s:\n%s", drainScriptPath, out)
	require.Empty(t, strings.TrimSpace(string(out)), "the hook is quiet")
	return time.Since(start)
}

// TestDrainHook runs Envoy's preStop hook (examples/kubernetes/envoy-drain.sh)
// against a fake admin interface on a unix socket, with perl as in the
// official Envoy image and with curl.
func TestDrainHook(t *testing.T) {
	for name, tools := range drainTools {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testDrainHook(t, tools)
		})
	}
}

func testDrainHook(t *testing.T, tools []string) {
	t.Run("waits for in-flight requests", func(t *testing.T) {
		admin := &fakeAdmin{readings: []int{3, 1, 0, 0}}
		took := runDrain(t, tools, serveAdmin(t, admin), 0, 15)
		require.Less(t, took, 10*time.Second)
		admin.mu.Lock()
		defer admin.mu.Unlock()
		require.Equal(t, []string{"drain graceful", "stats", "stats", "stats", "stats"}, admin.calls)
		for _, f := range admin.filters {
			require.Equal(t, `^http\.llmvoy\.downstream_rq_active$`, f)
		}
	})
	t.Run("gives up at DRAIN_MAX_SECONDS", func(t *testing.T) {
		admin := &fakeAdmin{readings: []int{1}}
		took := runDrain(t, tools, serveAdmin(t, admin), 0, 1)
		require.GreaterOrEqual(t, took, time.Second)
		require.Less(t, took, 5*time.Second)
	})
	t.Run("waits DRAIN_MIN_SECONDS for stragglers", func(t *testing.T) {
		admin := &fakeAdmin{readings: []int{0}}
		took := runDrain(t, tools, serveAdmin(t, admin), 1, 10)
		require.GreaterOrEqual(t, took, time.Second)
		require.Less(t, took, 5*time.Second)
	})
	t.Run("no admin interface", func(t *testing.T) {
		gone := filepath.Join(filepath.Dir(serveAdmin(t, http.NotFoundHandler())), "gone.sock")
		require.Less(t, runDrain(t, tools, gone, 5, 30), 3*time.Second, "nothing to drain, nothing to wait for")
	})
	t.Run("an admin that refuses the drain", func(t *testing.T) {
		require.Less(t, runDrain(t, tools, serveAdmin(t, http.NotFoundHandler()), 5, 30), 3*time.Second, "a drain that did not start is not waited for")
	})
}
