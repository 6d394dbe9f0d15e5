package envoy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The gateway is ready once its liveliness probe answers 200, not on the
// first answer of any kind (Envoy answers 503 before its routes arrive).
func TestWaitGateway(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/health/liveliness", r.URL.Path)
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, WaitGateway(ctx, strings.TrimPrefix(srv.URL, "http://"), nil))
	require.EqualValues(t, 3, calls.Load())
}

func TestWaitGatewayEnvoyExited(t *testing.T) {
	done := make(chan error, 1)
	done <- errors.New("exit status 1")
	err := WaitGateway(context.Background(), "127.0.0.1:1", done)
	require.ErrorContains(t, err, "envoy exited before the gateway was ready")
}

func TestWaitGatewayTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := WaitGateway(ctx, "127.0.0.1:1", nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestFindCABundle(t *testing.T) {
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(bundle, []byte("x"), 0o600))
	t.Setenv("SSL_CERT_FILE", bundle)
	require.Equal(t, bundle, FindCABundle())

	// A directory is not a bundle: the system's is used instead.
	t.Setenv("SSL_CERT_FILE", t.TempDir())
	require.NotEqual(t, os.Getenv("SSL_CERT_FILE"), FindCABundle())
}

// An Envoy that never serves the gateway (no xDS server here) fails the
// start at the timeout.
func TestStartGatewayNotReadyStopsEnvoy(t *testing.T) {
	bin := envoyBin(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := lis.Addr().(*net.TCPAddr).Port
	lis.Close()
	boot := bootstrapFor(t, &adsServer{Address: "127.0.0.1", Port: port})
	p, err := StartGateway(context.Background(), ProcessOptions{Bin: bin, Bootstrap: boot, DrainTimeout: time.Second},
		net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 500*time.Millisecond)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Nil(t, p)
}
