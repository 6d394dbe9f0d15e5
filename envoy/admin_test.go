package envoy

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAdminClientUnixSocket: a client of unix:///path reaches only that
// socket, whatever the request's host.
func TestAdminClientUnixSocket(t *testing.T) {
	path := adminSocketPath(t)
	ln, err := net.Listen("unix", path)
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ready" {
			http.Error(w, "no such page", http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("PRE_INITIALIZING\n"))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })

	c, err := NewAdminClient("unix://"+path, time.Second)
	require.NoError(t, err)
	require.Equal(t, "unix://"+path, c.URL())
	ctx := context.Background()
	status, body, err := c.Call(ctx, http.MethodGet, "/ready")
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, "PRE_INITIALIZING\n", string(body))
	state, err := readyState(ctx, c)
	require.NoError(t, err)
	require.Equal(t, "PRE_INITIALIZING", state)
	_, err = c.Get(ctx, "/ready")
	require.ErrorContains(t, err, "503 PRE_INITIALIZING")
	_, err = c.Get(ctx, "/config_dump")
	require.ErrorContains(t, err, "404")

	gone, err := NewAdminClient("unix://"+filepath.Join(filepath.Dir(path), "gone.sock"), time.Second)
	require.NoError(t, err)
	_, err = gone.Get(ctx, "/ready")
	require.ErrorContains(t, err, "no such file")
}

func TestAdminClientRejectsAddresses(t *testing.T) {
	for _, bad := range []string{"", "127.0.0.1:9901", "unix://admin.sock", "https://127.0.0.1:9901", "/run/admin.sock"} {
		_, err := NewAdminClient(bad, 0)
		require.Error(t, err, bad)
	}
}
