// Package counterstest starts throwaway Redis servers for the tests of the
// packages that share state through counters.
package counterstest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// RedisServer starts a throwaway redis-server on 127.0.0.1:port, killed
// when the test ends. It fails under LLMVOY_REQUIRE_SERVERS=1 (make unit)
// when none is installed, so that CI never passes by skipping.
func RedisServer(t testing.TB, port int) *exec.Cmd {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("LLMVOY_REQUIRE_SERVERS") == "1" {
			t.Fatal("redis-server is not installed (make servers installs it)")
		}
		t.Skip("redis-server is not installed (make servers installs it)")
	}
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
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

// Stop kills a server RedisServer started and waits for it to exit.
func Stop(cmd *exec.Cmd) {
	cmd.Process.Kill()
	cmd.Wait()
}

// FreePort returns a loopback TCP port nothing listens on.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
