package counters

import (
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// stallProxy forwards loopback connections to a real server until stall is
// set; from then on it accepts and forwards nothing: a server that is up as
// far as TCP goes, and hung.
type stallProxy struct {
	ln    net.Listener
	stall atomic.Bool
	mu    sync.Mutex
	conns []net.Conn
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &stallProxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns = append(p.conns, c)
			p.mu.Unlock()
			go p.serve(c, target)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p
}

func (p *stallProxy) serve(c net.Conn, target string) {
	if p.stall.Load() {
		return // held open by the cleanup, never answered
	}
	up, err := net.Dial("tcp", target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, up)
	p.mu.Unlock()
	copyUntilStall := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if err != nil {
				return
			}
			if p.stall.Load() {
				return // swallowed: the server hangs
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
	}
	go copyUntilStall(up, c)
	copyUntilStall(c, up)
	io.Copy(io.Discard, c)
}

// Redis answering, then hanging: each call on the request path returns
// within the bound, the count goes on in process, and Redis is marked down.
func TestRedisThatHangsIsBounded(t *testing.T) {
	port := freePort(t)
	redisServer(t, port)
	proxy := newStallProxy(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	s, logs := newRedis(t, proxy.ln.Addr().(*net.TCPAddr).Port)
	require.True(t, s.Healthy())
	ctx := context.Background()
	n, err := s.Add(ctx, "llmvoy:test:rpm", 1, time.Minute)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)

	proxy.stall.Store(true)
	start := time.Now()
	n, err = s.Add(ctx, "llmvoy:test:rpm", 1, time.Minute)
	require.Less(t, time.Since(start), 3*Timeout)
	require.NoError(t, err)
	require.EqualValues(t, 2, n, "counted on from the last value seen")
	start = time.Now()
	v, err := s.Get(ctx, "llmvoy:test:rpm")
	require.NoError(t, err)
	require.EqualValues(t, 2, v)
	require.Less(t, time.Since(start), 3*Timeout)
	require.False(t, s.Healthy())
	require.Contains(t, logs.String(), "Redis unreachable")
}
