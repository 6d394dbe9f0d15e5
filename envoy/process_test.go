package envoy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/internal/syncbuf"
)

func TestProcessLifecycle(t *testing.T) {
	bin := envoyBin(t)
	for _, tt := range []struct {
		name, ads string
		tcpAdmin  bool
	}{
		{name: "ads over tcp", ads: "tcp"},
		{name: "ads over unix", ads: "unix"},
		{name: "insecure tcp admin", ads: "unix", tcpAdmin: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ads := startADS(t, tt.ads)
			boot := bootstrapFor(t, ads)
			if tt.tcpAdmin {
				var err error
				boot, err = RenderBootstrap(BootstrapOptions{InsecureTCPAdmin: true, XDSAddress: ads.Address, XDSPort: ads.Port, ExtProcPort: 1})
				require.NoError(t, err)
			}
			var log syncbuf.Buffer
			p := startEnvoy(t, ProcessOptions{
				Bin:          bin,
				Bootstrap:    boot,
				LogLevel:     "info",
				Stderr:       &log,
				ConcurrencyN: 1,
			})

			// Well under the 15s initial fetch timeout: LIVE here means the
			// stub answered Envoy's CDS and LDS requests.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, p.WaitReady(ctx))

			admin := p.AdminURL()
			if tt.tcpAdmin {
				require.Regexp(t, `^http://127\.0\.0\.1:[1-9][0-9]*$`, admin)
			} else {
				// Envoy made the socket, with the bootstrap's mode.
				path, ok := strings.CutPrefix(admin, "unix://")
				require.True(t, ok, "admin %q is a unix socket", admin)
				st, err := os.Lstat(path)
				require.NoError(t, err)
				require.Equal(t, os.ModeSocket, st.Mode().Type())
				require.Equal(t, AdminSocketMode, st.Mode().Perm())
			}
			client, err := NewAdminClient(admin, 5*time.Second)
			require.NoError(t, err)
			body, err := client.Get(ctx, "/server_info")
			require.NoError(t, err)
			var info struct {
				State string `json:"state"`
			}
			require.NoError(t, json.Unmarshal(body, &info))
			require.Equal(t, "LIVE", info.State)

			require.NoError(t, p.Shutdown(ctx))
			require.NoError(t, p.Wait())
			require.True(t, processGone(p.Pid()), "envoy pid %d still exists", p.Pid())
			require.NotEmpty(t, p.AdminURL(), "the admin URL outlives the process")

			out := log.String()
			require.Contains(t, out, "starting main dispatch loop")
			require.NotContains(t, out, "no configured limit to the number of allowed active downstream connections",
				"the overload manager's connection limit silences this warning")
			for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				require.True(t, strings.HasPrefix(line, logPrefix), "unprefixed line %q", line)
			}
		})
	}
}

// TestProcessADSUnreachable documents what Envoy does when llmvoy's xDS
// server is not there: it stays PRE_INITIALIZING for the CDS initial fetch
// timeout (15s), then INITIALIZING for the LDS one, and only then goes LIVE,
// with no listeners. WaitReady says so instead of just timing out.
func TestProcessADSUnreachable(t *testing.T) {
	bin := envoyBin(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := lis.Addr().(*net.TCPAddr).Port
	lis.Close()
	p := startEnvoy(t, ProcessOptions{Bin: bin, Bootstrap: bootstrapFor(t, &adsServer{Address: "127.0.0.1", Port: port})})

	// Wait for the admin interface (slow on a loaded machine), then give
	// WaitReady a moment: far less than the 15s initial fetch timeout.
	require.Eventually(t, func() bool {
		admin := p.adminClient()
		if admin == nil {
			return false
		}
		s, err := readyState(context.Background(), admin)
		return err == nil && s == "PRE_INITIALIZING"
	}, 10*time.Second, 50*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = p.WaitReady(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "PRE_INITIALIZING")
	require.ErrorContains(t, err, "xDS server")
}

func TestProcessKilled(t *testing.T) {
	bin := envoyBin(t)
	ads := startADS(t, "tcp")
	var log syncbuf.Buffer
	p := startEnvoy(t, ProcessOptions{Bin: bin, Bootstrap: bootstrapFor(t, ads), LogLevel: "info", Stderr: &log})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, p.WaitReady(ctx))

	// As the OOM killer would: from outside, by pid.
	proc, err := os.FindProcess(p.Pid())
	require.NoError(t, err)
	require.NoError(t, proc.Signal(os.Kill))
	err = p.Wait()
	require.ErrorContains(t, err, "signal: killed")
	require.ErrorContains(t, err, "exited unexpectedly")
	var exitErr *ExitError
	require.ErrorAs(t, err, &exitErr)
	require.Equal(t, -1, exitErr.ExitCode())
	require.NotEmpty(t, exitErr.LastLines, "the error carries envoy's last log lines")
	require.LessOrEqual(t, len(exitErr.LastLines), tailLines)

	require.ErrorContains(t, p.WaitReady(ctx), "signal: killed")
	require.ErrorIs(t, p.Shutdown(ctx), err, "shutting down a crashed envoy reports the crash")
}

// TestProcessAdminSocketDirMissing: an admin socket Envoy cannot create
// fails the start with Envoy's own reason.
func TestProcessAdminSocketDirMissing(t *testing.T) {
	bin := envoyBin(t)
	missing := filepath.Join(filepath.Dir(adminSocketPath(t)), "gone", AdminSocketName)
	b, err := RenderBootstrap(BootstrapOptions{AdminSocket: missing, XDSPort: 1, ExtProcPort: 1})
	require.NoError(t, err)
	p := startEnvoy(t, ProcessOptions{Bin: bin, Bootstrap: b})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = p.WaitReady(ctx)
	require.ErrorContains(t, err, "exited before it was ready")
	require.ErrorContains(t, err, fmt.Sprintf("cannot bind '%s'", missing))
	require.Empty(t, p.AdminURL())
}

func TestProcessAdminPortInUse(t *testing.T) {
	bin := envoyBin(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	b, err := RenderBootstrap(BootstrapOptions{
		InsecureTCPAdmin: true,
		AdminPort:        taken.Addr().(*net.TCPAddr).Port,
		XDSPort:          1, ExtProcPort: 1,
	})
	require.NoError(t, err)
	var log syncbuf.Buffer
	p := startEnvoy(t, ProcessOptions{Bin: bin, Bootstrap: b, Stderr: &log})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = p.WaitReady(ctx)
	require.ErrorContains(t, err, "Address already in use")
	require.ErrorContains(t, err, "exited before it was ready")

	err = p.Wait()
	require.ErrorContains(t, err, "exit status 1")
	require.ErrorContains(t, err, fmt.Sprintf("cannot bind '%s'", taken.Addr()))
	require.Contains(t, log.String(), logPrefix)
}

// TestProcessShutdownDrains checks that Shutdown lets an in-flight request
// finish before it stops Envoy.
func TestProcessShutdownDrains(t *testing.T) {
	bin := envoyBin(t)
	arrived := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		time.Sleep(700 * time.Millisecond)
		_, _ = io.WriteString(w, "done")
	}))
	defer upstream.Close()

	ads := startADS(t, "tcp")
	ads.set(t, proxyTo(t, upstream.Listener.Addr().String()))
	p := startEnvoy(t, ProcessOptions{Bin: bin, Bootstrap: bootstrapFor(t, ads)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, p.WaitReady(ctx))
	addr := listenerAddress(t, p)

	type result struct {
		status int
		body   string
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/v1/chat/completions")
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		res <- result{status: resp.StatusCode, body: string(b), err: err}
	}()
	<-arrived

	start := time.Now()
	require.NoError(t, p.Shutdown(ctx))
	took := time.Since(start)
	r := <-res
	require.NoError(t, r.err)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "done", r.body)
	require.Greater(t, took, 300*time.Millisecond, "Shutdown waited for the request")
	require.NoError(t, p.Wait())
}

// TestProcessShutdownDrainTimeout checks that a request that outlives
// DrainTimeout does not hold up Shutdown.
func TestProcessShutdownDrainTimeout(t *testing.T) {
	bin := envoyBin(t)
	arrived := make(chan struct{})
	release := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer upstream.Close()
	defer close(release)

	ads := startADS(t, "tcp")
	ads.set(t, proxyTo(t, upstream.Listener.Addr().String()))
	p := startEnvoy(t, ProcessOptions{Bin: bin, Bootstrap: bootstrapFor(t, ads), DrainTimeout: 300 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, p.WaitReady(ctx))
	addr := listenerAddress(t, p)

	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-arrived

	start := time.Now()
	require.NoError(t, p.Shutdown(ctx))
	require.Less(t, time.Since(start), 3*time.Second)
	require.True(t, processGone(p.Pid()))
}

func TestProcessShutdownContextCutsDrainShort(t *testing.T) {
	bin := envoyBin(t)
	arrived := make(chan struct{})
	release := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer upstream.Close()
	defer close(release)

	ads := startADS(t, "tcp")
	ads.set(t, proxyTo(t, upstream.Listener.Addr().String()))
	p := startEnvoy(t, ProcessOptions{Bin: bin, Bootstrap: bootstrapFor(t, ads), DrainTimeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, p.WaitReady(ctx))
	go func() {
		resp, err := http.Get("http://" + listenerAddress(t, p) + "/slow")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-arrived

	short, cancelShort := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelShort()
	start := time.Now()
	require.NoError(t, p.Shutdown(short))
	require.Less(t, time.Since(start), 3*time.Second)
}

func TestProcessStartContext(t *testing.T) {
	bin := envoyBin(t)
	ads := startADS(t, "tcp")
	ctx, cancel := context.WithCancel(context.Background())
	p, err := Start(ctx, ProcessOptions{Bin: bin, Bootstrap: bootstrapFor(t, ads)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.Done() })
	ready, cancelReady := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelReady()
	require.NoError(t, p.WaitReady(ready))

	cancel()
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("envoy still running after the Start context ended")
	}
	require.NoError(t, p.Wait(), "a stop we asked for is not an error")
}

func TestStartRejectsBadOptions(t *testing.T) {
	_, err := Start(context.Background(), ProcessOptions{Bootstrap: []byte("x")})
	require.ErrorContains(t, err, "no binary")
	_, err = Start(context.Background(), ProcessOptions{Bin: "envoy"})
	require.ErrorContains(t, err, "empty bootstrap")
	_, err = Start(context.Background(), ProcessOptions{Bin: "/nonexistent/envoy", Bootstrap: []byte("x")})
	require.ErrorContains(t, err, "start envoy")
}

func TestProcessArgs(t *testing.T) {
	p := &Process{adminPath: "/tmp/a"}
	args := strings.Join(p.args("/tmp/b.yaml", ProcessOptions{LogLevel: "warn", DrainTimeout: 1500 * time.Millisecond}), " ")
	require.Contains(t, args, "--config-path /tmp/b.yaml")
	require.Contains(t, args, "--admin-address-path /tmp/a")
	require.Contains(t, args, "--drain-strategy immediate")
	require.NotContains(t, args, "--drain-time-s", "Envoy's 600s suits long streams on a replaced listener")
	require.Contains(t, args, "--disable-hot-restart")
	require.NotContains(t, args, "--concurrency")

	args = strings.Join(p.args("/tmp/b.yaml", ProcessOptions{ConcurrencyN: 2, BaseID: 7, DrainTimeout: time.Second}), " ")
	require.Contains(t, args, "--concurrency 2")
	require.Contains(t, args, "--base-id 7")
	require.NotContains(t, args, "--disable-hot-restart")

	args = strings.Join(p.args("/tmp/b.yaml", ProcessOptions{BaseID: -1, DrainTimeout: time.Second}), " ")
	require.Contains(t, args, "--use-dynamic-base-id")
}

func TestLogLines(t *testing.T) {
	var out strings.Builder
	l := &logLines{out: &out}
	_, _ = l.Write([]byte("first\nsec"))
	_, _ = l.Write([]byte("ond\r\n"))
	for i := range tailLines + 5 {
		_, _ = fmt.Fprintf(l, "line %d\n", i)
	}
	_, _ = l.Write([]byte("unterminated"))
	l.flush()
	require.True(t, strings.HasPrefix(out.String(), "envoy: first\nenvoy: second\nenvoy: line 0\n"))
	require.True(t, strings.HasSuffix(out.String(), "envoy: unterminated\n"))
	tail := l.lastLines()
	require.Len(t, tail, tailLines)
	require.Equal(t, "unterminated", tail[len(tail)-1])
	require.Equal(t, fmt.Sprintf("line %d", tailLines+4), tail[len(tail)-2])
}

// listenerAddress asks Envoy's admin where the "ingress" listener (port 0 in
// its config) is bound.
func listenerAddress(t *testing.T, p *Process) string {
	t.Helper()
	var addr string
	admin, err := NewAdminClient(p.AdminURL(), 5*time.Second)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		body, err := admin.Get(context.Background(), "/listeners?format=json")
		if err != nil {
			return false
		}
		var ls struct {
			ListenerStatuses []struct {
				Name         string `json:"name"`
				LocalAddress struct {
					SocketAddress struct {
						Address   string `json:"address"`
						PortValue int    `json:"port_value"`
					} `json:"socket_address"`
				} `json:"local_address"`
			} `json:"listener_statuses"`
		}
		if json.Unmarshal(body, &ls) != nil {
			return false
		}
		for _, l := range ls.ListenerStatuses {
			if l.Name == "ingress" && l.LocalAddress.SocketAddress.PortValue != 0 {
				a := l.LocalAddress.SocketAddress
				addr = net.JoinHostPort(a.Address, fmt.Sprint(a.PortValue))
				return true
			}
		}
		return false
	}, 5*time.Second, 50*time.Millisecond, "envoy never reported the ingress listener")
	return addr
}
