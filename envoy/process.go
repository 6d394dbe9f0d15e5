package envoy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults for ProcessOptions fields left zero.
const (
	DefaultLogLevel = "warn"
	// DefaultDrainTimeout matches Kubernetes' default termination grace period.
	DefaultDrainTimeout = 30 * time.Second
)

// killGrace is how long Shutdown waits after SIGTERM before SIGKILL. Envoy
// exits within milliseconds of SIGTERM; only a wedged process needs more.
const killGrace = 5 * time.Second

// tailLines is how many of Envoy's last log lines an ExitError carries.
const tailLines = 20

// logPrefix starts every Envoy log line written to ProcessOptions.Stderr.
const logPrefix = "envoy: "

// ProcessOptions configure an Envoy process.
type ProcessOptions struct {
	// Bin is the Envoy binary, as returned by Find.
	Bin string
	// Bootstrap is the bootstrap YAML, as returned by RenderBootstrap.
	Bootstrap []byte
	// LogLevel is Envoy's --log-level; default "warn".
	LogLevel string
	// Stderr receives Envoy's log (its stderr and stdout) line by line, each
	// line prefixed "envoy: ". Nil discards the log; the last lines still go
	// into the error of an unexpected exit.
	Stderr io.Writer
	// ConcurrencyN is Envoy's number of worker threads; 0 lets Envoy use one
	// per CPU.
	ConcurrencyN int
	// BaseID selects Envoy's hot-restart shared-memory domain. 0 disables hot
	// restart (--disable-hot-restart): llmvoy never hot-restarts Envoy, and
	// without shared memory any number of Envoys run side by side and nothing
	// is left in /dev/shm. A positive value passes --base-id N; a negative one
	// passes --use-dynamic-base-id.
	BaseID int
	// DrainTimeout bounds how long Shutdown lets in-flight requests finish
	// before it stops Envoy; default 30s.
	DrainTimeout time.Duration
}

// Process is a running Envoy. Its methods are safe for concurrent use.
type Process struct {
	cmd       *exec.Cmd
	dir       string // holds the bootstrap file and the admin address file
	adminPath string
	log       *logLines
	drainFor  time.Duration

	// admin is set once Envoy has bound its admin interface.
	admin atomic.Pointer[AdminClient]

	done chan struct{} // closed when Envoy has exited and err is set
	err  error

	stopOnce sync.Once
	stopping atomic.Bool // set before llmvoy signals or drains Envoy
	killed   atomic.Bool // set before llmvoy sends SIGKILL
	// drainCtx ends when a Shutdown caller's context ends: stop waiting for
	// requests and send SIGTERM now.
	drainCtx context.Context
	cutDrain context.CancelFunc
}

// Start starts Envoy with o.Bootstrap and returns once the process is
// running, before Envoy is ready (see WaitReady).
//
// When ctx is done, Envoy is shut down gracefully as by Shutdown; Wait then
// returns nil.
func Start(ctx context.Context, o ProcessOptions) (*Process, error) {
	if o.Bin == "" {
		return nil, errors.New("start envoy: no binary given (see Find)")
	}
	if len(o.Bootstrap) == 0 {
		return nil, errors.New("start envoy: empty bootstrap")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start envoy: %w", err)
	}
	if o.LogLevel == "" {
		o.LogLevel = DefaultLogLevel
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}

	dir, err := os.MkdirTemp("", "llmvoy-envoy-")
	if err != nil {
		return nil, fmt.Errorf("start envoy: %w", err)
	}
	bootstrapPath := filepath.Join(dir, "bootstrap.yaml")
	if err := os.WriteFile(bootstrapPath, o.Bootstrap, 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start envoy: %w", err)
	}
	p := &Process{
		dir:       dir,
		adminPath: filepath.Join(dir, "admin_address"),
		log:       &logLines{out: o.Stderr},
		drainFor:  o.DrainTimeout,
		done:      make(chan struct{}),
	}
	p.drainCtx, p.cutDrain = context.WithCancel(context.Background())

	p.cmd = exec.Command(o.Bin, p.args(bootstrapPath, o)...)
	// One writer for both streams: exec then shares a single pipe, so lines
	// keep Envoy's order.
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.SysProcAttr = sysProcAttr()
	p.cmd.WaitDelay = killGrace
	if err := p.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start envoy: %w", err)
	}
	go p.wait()
	go func() {
		select {
		case <-ctx.Done():
			_ = p.Shutdown(context.Background())
		case <-p.done:
		}
	}()
	return p, nil
}

func (p *Process) args(bootstrapPath string, o ProcessOptions) []string {
	args := []string{
		"--config-path", bootstrapPath,
		"--log-level", o.LogLevel,
		// Envoy writes the admin address it bound here (a socket path, or
		// HOST:PORT); this is how AdminURL works with admin port 0 and with
		// any bootstrap.
		"--admin-address-path", p.adminPath,
		// Tell every client to go away as soon as a drain starts (Connection:
		// close, HTTP/2 GOAWAY) instead of ramping up over --drain-time-s:
		// on shutdown llmvoy waits for in-flight requests, not for idle
		// connections, and after an xDS update clients move to the new
		// listener at once. --drain-time-s keeps Envoy's default (600s): it
		// bounds how long a request on a replaced listener may still run,
		// and a streamed completion can take minutes.
		"--drain-strategy", "immediate",
	}
	switch {
	case o.BaseID > 0:
		args = append(args, "--base-id", strconv.Itoa(o.BaseID))
	case o.BaseID < 0:
		args = append(args, "--use-dynamic-base-id")
	default:
		args = append(args, "--disable-hot-restart")
	}
	if o.ConcurrencyN > 0 {
		args = append(args, "--concurrency", strconv.Itoa(o.ConcurrencyN))
	}
	return args
}

// wait reaps Envoy and records why it exited.
func (p *Process) wait() {
	waitErr := p.cmd.Wait()
	p.log.flush()
	p.adminClient() // cache it before the address file goes
	p.err = p.exitError(waitErr)
	os.RemoveAll(p.dir)
	p.cutDrain()
	close(p.done)
}

// exitError decides whether Envoy's exit was the one llmvoy asked for.
func (p *Process) exitError(waitErr error) error {
	unexpected := &ExitError{State: p.cmd.ProcessState, LastLines: p.log.lastLines()}
	if waitErr != nil && p.cmd.ProcessState == nil {
		unexpected.Reason = waitErr.Error()
		return unexpected
	}
	if !p.stopping.Load() {
		unexpected.Reason = "exited unexpectedly"
		return unexpected
	}
	if p.killed.Load() {
		unexpected.Reason = fmt.Sprintf("did not exit within %s of SIGTERM and was killed", killGrace)
		return unexpected
	}
	if waitErr == nil {
		return nil
	}
	// Envoy catches SIGTERM and exits 0; only very early in its start-up can
	// the signal itself end it.
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
		return nil
	}
	unexpected.Reason = "failed while shutting down"
	return unexpected
}

// ExitError reports an Envoy exit that llmvoy did not ask for, or a shutdown
// that went wrong.
type ExitError struct {
	// Reason says what went wrong, e.g. "exited unexpectedly".
	Reason string
	// State is Envoy's exit status (exit code or signal); nil when Envoy
	// could not be waited for.
	State *os.ProcessState
	// LastLines are Envoy's last log lines, oldest first.
	LastLines []string
}

func (e *ExitError) Error() string {
	var b strings.Builder
	b.WriteString("envoy ")
	b.WriteString(e.Reason)
	if e.State != nil {
		fmt.Fprintf(&b, " (%s)", e.State)
	}
	if len(e.LastLines) > 0 {
		b.WriteString("; its last log lines:")
		for _, l := range e.LastLines {
			b.WriteString("\n  ")
			b.WriteString(l)
		}
	}
	return b.String()
}

// ExitCode is Envoy's exit code, or -1 when a signal ended it.
func (e *ExitError) ExitCode() int {
	if e.State == nil {
		return -1
	}
	return e.State.ExitCode()
}

// Wait blocks until Envoy exits. It returns nil when Envoy stopped because
// llmvoy asked it to (Shutdown, or the Start context ending), and an
// *ExitError otherwise: a crash, a bad bootstrap, a port in use.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Done is closed when Envoy has exited; Wait then returns at once.
func (p *Process) Done() <-chan struct{} { return p.done }

// Pid is Envoy's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// adminTimeout bounds each of llmvoy's own admin calls.
const adminTimeout = 5 * time.Second

// AdminURL is where Envoy's admin interface listens, as NewAdminClient
// takes it: "unix:///run/llmvoy-x/admin.sock", or "http://127.0.0.1:9901"
// for an insecure bootstrap; "" until Envoy has bound it.
func (p *Process) AdminURL() string {
	if c := p.adminClient(); c != nil {
		return c.URL()
	}
	return ""
}

// adminClient reaches Envoy's admin interface; nil until Envoy has bound it.
func (p *Process) adminClient() *AdminClient {
	if c := p.admin.Load(); c != nil {
		return c
	}
	b, err := os.ReadFile(p.adminPath)
	if err != nil {
		return nil
	}
	addr := strings.TrimSpace(string(b))
	var u string
	if strings.HasPrefix(addr, "/") {
		// Envoy writes the file after binding: a path that is not a socket
		// yet was read half-written.
		if st, err := os.Stat(addr); err != nil || st.Mode().Type() != fs.ModeSocket {
			return nil
		}
		u = unixScheme + addr
	} else {
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "" || port == "0" {
			return nil // not written completely yet
		}
		u = "http://" + addr
	}
	c, err := NewAdminClient(u, adminTimeout)
	if err != nil {
		return nil
	}
	if !p.admin.CompareAndSwap(nil, c) {
		return p.admin.Load()
	}
	return c
}

// WaitReady blocks until Envoy's admin /ready reports LIVE, which happens
// once Envoy has received its first listeners and clusters over ADS (or the
// initial fetch timed out). It fails early with Envoy's exit error if Envoy
// exits first.
func (p *Process) WaitReady(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	state := "not started"
	for {
		if admin := p.adminClient(); admin != nil {
			s, err := readyState(ctx, admin)
			if err == nil && s == "LIVE" {
				return nil
			}
			if err == nil {
				state = s
			}
		}
		select {
		case <-p.done:
			if p.err != nil {
				return fmt.Errorf("envoy exited before it was ready: %w", p.err)
			}
			return errors.New("envoy exited before it was ready")
		case <-ctx.Done():
			hint := ""
			if state == "PRE_INITIALIZING" || state == "INITIALIZING" {
				hint = "; it is waiting for its first clusters and listeners from the xDS server"
			}
			return fmt.Errorf("envoy not ready (state %s%s): %w", state, hint, ctx.Err())
		case <-tick.C:
		}
	}
}

// readyState returns the server state from /ready: LIVE, PRE_INITIALIZING,
// INITIALIZING or DRAINING.
// Envoy answers 503 until LIVE, so the status is not an error here.
func readyState(ctx context.Context, admin *AdminClient) (string, error) {
	_, b, err := admin.Call(ctx, http.MethodGet, "/ready")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// Shutdown stops Envoy gracefully: it asks Envoy to drain its listeners,
// waits until no HTTP request is in flight (or DrainTimeout passes, or ctx
// ends), sends SIGTERM, and sends SIGKILL if Envoy is still alive a few
// seconds later. It returns once Envoy has exited: nil when Envoy stopped as
// asked, Wait's error when Envoy had already exited unexpectedly.
//
// Keep llmvoy's ext_proc and xDS servers running until Shutdown returns:
// in-flight requests still pass through ext_proc while they drain.
func (p *Process) Shutdown(ctx context.Context) error {
	p.stopOnce.Do(func() { go p.stop() })
	select {
	case <-p.done:
	case <-ctx.Done():
		p.cutDrain() // stop waiting for requests: SIGTERM now
		<-p.done
	}
	return p.err
}

func (p *Process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.stopping.Store(true)
	ctx, cancel := context.WithTimeout(p.drainCtx, p.drainFor)
	p.drain(ctx)
	cancel()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			return
		}
		// No SIGTERM on this platform: kill.
		p.killed.Store(true)
		_ = p.cmd.Process.Kill()
		return
	}
	select {
	case <-p.done:
	case <-time.After(killGrace):
		p.killed.Store(true)
		_ = p.cmd.Process.Kill()
	}
}

// drain asks Envoy to drain its listeners and waits until no downstream HTTP
// request is active, ctx ends or Envoy exits. Admin errors end the wait: a
// broken admin interface must not delay the SIGTERM.
func (p *Process) drain(ctx context.Context) {
	admin := p.adminClient()
	if admin == nil {
		return // Envoy never got far enough to serve traffic
	}
	// graceful: listeners keep accepting while Envoy tells clients to go away
	// (see --drain-strategy); without it they stop at once.
	status, _, err := admin.Call(ctx, http.MethodPost, "/drain_listeners?graceful")
	if err != nil || status != http.StatusOK {
		return
	}
	// A request can arrive on a kept-alive connection just after a zero
	// reading; two readings in a row make that less likely.
	zeros := 0
	for {
		n, err := activeRequests(ctx, admin)
		if err != nil {
			return
		}
		if n == 0 {
			zeros++
			if zeros == 2 {
				return
			}
		} else {
			zeros = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-p.done:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// activeRequests sums http.<stat_prefix>.downstream_rq_active over every
// HTTP connection manager except the admin interface's own ("http.admin."),
// which counts this very request.
func activeRequests(ctx context.Context, admin *AdminClient) (int64, error) {
	q := url.Values{"format": {"json"}, "filter": {`^http\..*\.downstream_rq_active$`}}
	b, err := admin.Get(ctx, "/stats?"+q.Encode())
	if err != nil {
		return 0, err
	}
	var stats struct {
		Stats []struct {
			Name  string `json:"name"`
			Value int64  `json:"value"`
		} `json:"stats"`
	}
	if err := json.Unmarshal(b, &stats); err != nil {
		return 0, fmt.Errorf("envoy admin /stats: %w", err)
	}
	var n int64
	for _, s := range stats.Stats {
		if !strings.HasPrefix(s.Name, "http.admin.") {
			n += s.Value
		}
	}
	return n, nil
}

// logLines splits Envoy's output into lines, writes each with logPrefix, and
// keeps the last tailLines for ExitError.
type logLines struct {
	mu      sync.Mutex
	out     io.Writer
	partial []byte
	tail    []string
}

// maxLine bounds a line held in memory; a longer one is written in pieces.
const maxLine = 64 << 10

func (l *logLines) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			l.partial = append(l.partial, b...)
			if len(l.partial) >= maxLine {
				l.emit()
			}
			break
		}
		l.partial = append(l.partial, b[:i]...)
		l.emit()
		b = b[i+1:]
	}
	// Envoy must never fail or block on its own log because of us, so write
	// errors from out are ignored.
	return n, nil
}

func (l *logLines) emit() {
	line := strings.TrimRight(string(l.partial), "\r")
	l.partial = l.partial[:0]
	_, _ = io.WriteString(l.out, logPrefix+line+"\n")
	if len(l.tail) == tailLines {
		copy(l.tail, l.tail[1:])
		l.tail = l.tail[:tailLines-1]
	}
	l.tail = append(l.tail, line)
}

func (l *logLines) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.partial) > 0 {
		l.emit()
	}
}

func (l *logLines) lastLines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.tail...)
}
