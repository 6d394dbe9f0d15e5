package counters

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
)

func TestLocalCountsAndExpires(t *testing.T) {
	l := NewLocal()
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	ctx := context.Background()
	n, _ := l.Add(ctx, "a", 2, time.Minute)
	require.EqualValues(t, 2, n)
	n, _ = l.Add(ctx, "a", -1, time.Hour) // the ttl is the creator's
	require.EqualValues(t, 1, n)
	now = now.Add(time.Minute)
	got, _ := l.Get(ctx, "a")
	require.EqualValues(t, 0, got)
	n, _ = l.Add(ctx, "a", 5, time.Minute)
	require.EqualValues(t, 5, n)
}

func TestOpenWithoutRedisIsLocal(t *testing.T) {
	_, ok := Open(config.RedisSettings{}, slog.Default()).(*Local)
	require.True(t, ok)
}

// redisServer starts a throwaway redis-server on a free port; it fails
// under LLMVOY_REQUIRE_SERVERS=1 when none is installed.
func redisServer(t *testing.T, port int) *exec.Cmd {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("LLMVOY_REQUIRE_SERVERS") == "1" {
			t.Fatal("redis-server is not installed (make servers installs it)")
		}
		t.Skip("redis-server is not installed")
	}
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return cmd
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("redis-server did not start")
	return nil
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Two stores on one Redis are two replicas: they see each other's counts;
// with Redis gone they keep counting, each on its own, and say so; with
// Redis back they share again.
func TestSharedAcrossReplicasAndOutage(t *testing.T) {
	port := freePort(t)
	srv := redisServer(t, port)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	r := config.RedisSettings{Host: "127.0.0.1", Port: port}
	a, b := NewShared(r, log), NewShared(r, log)
	defer a.Close()
	defer b.Close()
	ctx := context.Background()

	n, err := a.Add(ctx, "llmvoy:test:rpm", 1, time.Minute)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	n, _ = b.Add(ctx, "llmvoy:test:rpm", 1, time.Minute)
	require.EqualValues(t, 2, n)
	got, _ := a.Get(ctx, "llmvoy:test:rpm")
	require.EqualValues(t, 2, got)
	got, _ = a.Get(ctx, "llmvoy:test:absent")
	require.EqualValues(t, 0, got)
	// The expiry is set once, on creation.
	_, _ = a.Add(ctx, "llmvoy:test:short", 1, 200*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	got, _ = b.Get(ctx, "llmvoy:test:short")
	require.EqualValues(t, 0, got)
	require.True(t, a.Healthy())

	srv.Process.Kill()
	srv.Wait()
	start := time.Now()
	n, err = a.Add(ctx, "llmvoy:test:rpm", 1, time.Minute)
	require.NoError(t, err, "an outage is not the caller's error")
	require.EqualValues(t, 1, n, "counted in process")
	require.False(t, a.Healthy())
	require.Less(t, time.Since(start), time.Second)
	// Until the next retry, calls do not wait for Redis at all.
	start = time.Now()
	for range 100 {
		a.Add(ctx, "llmvoy:test:rpm", 1, time.Minute)
	}
	require.Less(t, time.Since(start), 50*time.Millisecond)
	require.Contains(t, logs.String(), "Redis unreachable")

	redisServer(t, port)
	time.Sleep(retryEvery + 100*time.Millisecond)
	n, _ = a.Add(ctx, "llmvoy:test:rpm", 1, time.Minute)
	require.EqualValues(t, 1, n, "a fresh Redis")
	require.True(t, a.Healthy())
	require.Contains(t, logs.String(), "Redis reachable again")
}
