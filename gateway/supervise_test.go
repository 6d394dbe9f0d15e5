package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/internal/syncbuf"
)

// fakeEnvoy is a process the test kills or lets drain.
type fakeEnvoy struct {
	done    chan struct{}
	err     error
	drained bool
	mu      sync.Mutex
}

func newFakeEnvoy() *fakeEnvoy { return &fakeEnvoy{done: make(chan struct{})} }

func (p *fakeEnvoy) Done() <-chan struct{} { return p.done }
func (p *fakeEnvoy) Wait() error           { <-p.done; return p.err }
func (p *fakeEnvoy) AdminURL() string      { return "unix:///fake" }
func (p *fakeEnvoy) Shutdown(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drained = true
	return nil
}
func (p *fakeEnvoy) kill() { p.err = errors.New("signal: killed"); close(p.done) }

// fakeStarts hands out fake Envoys, or start errors, in order.
type fakeStarts struct {
	mu      sync.Mutex
	started chan *fakeEnvoy
	fail    int // how many starts fail before the next succeeds
}

func (s *fakeStarts) start() (process, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail > 0 {
		s.fail--
		return nil, errors.New("envoy exited before the gateway was ready")
	}
	p := newFakeEnvoy()
	s.started <- p
	return p, nil
}

// failNext makes the next n starts fail.
func (s *fakeStarts) failNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = n
}

var fastRestarts = restartPolicy{first: time.Millisecond, max: 4 * time.Millisecond, stable: time.Hour, crashes: 3}

func testGateway(logs io.Writer) *Gateway {
	return &Gateway{log: slog.New(slog.NewTextHandler(logs, nil)), opts: Options{DrainTimeout: time.Second}}
}

// An Envoy that dies is started again, counted, and logged; the gateway
// becomes ready once, and the Envoy serving at the end is the one drained.
func TestADeadEnvoyIsRestarted(t *testing.T) {
	var logs syncbuf.Buffer
	g := testGateway(&logs)
	starts := &fakeStarts{started: make(chan *fakeEnvoy, 4)}
	ctx, cancel := context.WithCancel(context.Background())
	readies := 0
	done := make(chan error, 1)
	go func() { done <- g.supervise(ctx, fastRestarts, starts.start, func(process) { readies++ }) }()

	first := <-starts.started
	starts.failNext(1)
	first.kill()
	second := <-starts.started // after one failed start
	require.Eventually(t, func() bool { return g.envoyRestarts.Load() == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	require.Equal(t, 1, readies, "ready once: the control loop runs once")
	require.True(t, second.drained, "the serving Envoy is drained on shutdown")
	require.Contains(t, logs.String(), "envoy stopped; restarting it")
	require.Contains(t, logs.String(), "signal: killed")
	require.Contains(t, logs.String(), "envoy restarted")
}

// An Envoy that cannot be kept up is given up on, with the reason: llmvoy
// exits and the operator hears why.
func TestAnEnvoyThatKeepsDyingIsGivenUpOn(t *testing.T) {
	var logs syncbuf.Buffer
	g := testGateway(&logs)
	starts := &fakeStarts{started: make(chan *fakeEnvoy, 1)}
	done := make(chan error, 1)
	go func() { done <- g.supervise(context.Background(), fastRestarts, starts.start, func(process) {}) }()
	first := <-starts.started
	starts.failNext(100)
	first.kill()
	err := <-done
	require.ErrorContains(t, err, "envoy stopped: gave up after 3 restarts in a row")
	require.ErrorContains(t, err, "before the gateway was ready")
	require.Zero(t, g.envoyRestarts.Load())
}

// An Envoy that served long enough is counted healthy again: a crash a day
// never adds up to giving up.
func TestCrashesFarApartAreForgiven(t *testing.T) {
	g := testGateway(io.Discard)
	starts := &fakeStarts{started: make(chan *fakeEnvoy, 8)}
	policy := fastRestarts
	policy.stable, policy.crashes = 0, 1
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.supervise(ctx, policy, starts.start, func(process) {}) }()
	for range 4 {
		(<-starts.started).kill()
	}
	<-starts.started
	require.Eventually(t, func() bool { return g.envoyRestarts.Load() == 4 }, 5*time.Second, time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}
