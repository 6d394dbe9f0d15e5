package deploy

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strconv"
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
		fmt.Fprintf(w, "http.llmvoy.downstream_rq_active: %d\n", n)
	default:
		http.Error(w, "unexpected "+r.Method+" "+r.URL.String(), http.StatusNotFound)
	}
}

// runDrain runs the drain hook against an admin interface on port and
// returns how long it took.
func runDrain(t *testing.T, port, minSeconds, maxSeconds int) time.Duration {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash: the hook runs in Envoy's image, which has it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, drainScriptPath)
	cmd.Dir = root
	cmd.Env = []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"ENVOY_ADMIN_PORT=" + strconv.Itoa(port),
		"DRAIN_MIN_SECONDS=" + strconv.Itoa(minSeconds),
		"DRAIN_MAX_SECONDS=" + strconv.Itoa(maxSeconds),
	}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s:\n%s", drainScriptPath, out)
	return time.Since(start)
}

func adminPortOf(t *testing.T, srv *httptest.Server) int {
	t.Helper()
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	p, err := strconv.Atoi(u.Port())
	require.NoError(t, err)
	return p
}

// TestDrainHook runs Envoy's preStop hook (examples/kubernetes/envoy-drain.sh)
// against a fake admin interface on loopback.
func TestDrainHook(t *testing.T) {
	t.Run("waits for in-flight requests", func(t *testing.T) {
		admin := &fakeAdmin{readings: []int{3, 1, 0, 0}}
		srv := httptest.NewServer(admin)
		defer srv.Close()
		took := runDrain(t, adminPortOf(t, srv), 0, 15)
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
		srv := httptest.NewServer(admin)
		defer srv.Close()
		took := runDrain(t, adminPortOf(t, srv), 0, 1)
		require.GreaterOrEqual(t, took, time.Second)
		require.Less(t, took, 5*time.Second)
	})
	t.Run("waits DRAIN_MIN_SECONDS for stragglers", func(t *testing.T) {
		admin := &fakeAdmin{readings: []int{0}}
		srv := httptest.NewServer(admin)
		defer srv.Close()
		took := runDrain(t, adminPortOf(t, srv), 1, 10)
		require.GreaterOrEqual(t, took, time.Second)
		require.Less(t, took, 5*time.Second)
	})
	t.Run("no admin interface", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		port := adminPortOf(t, srv)
		srv.Close()
		require.Less(t, runDrain(t, port, 5, 30), 3*time.Second, "nothing to drain, nothing to wait for")
	})
}
