package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"time"

	"github.com/llmvoy/llmvoy/envoy"
	"github.com/llmvoy/llmvoy/internal/controlsock"
)

// EnvoyOptions say how to run the Envoy llmvoy supervises.
type EnvoyOptions struct {
	Bin          string
	LogLevel     string
	MaxHeapBytes uint64
	// Stderr receives Envoy's log, line by line.
	Stderr io.Writer
	// Ready is told the gateway's address once Envoy first serves it.
	Ready func(listen, local string)
}

// restartPolicy says how a supervised Envoy that died is restarted: the
// first restart after first, each next one after twice the wait, up to max;
// an Envoy that served for stable is counted healthy again. One that dies
// crashes times in a row without getting there is given up on: it will not
// start here (its port taken, its bootstrap refused), and an operator must
// hear it through llmvoy's own exit.
type restartPolicy struct {
	first, max, stable time.Duration
	crashes            int
}

var defaultRestarts = restartPolicy{first: 100 * time.Millisecond, max: 5 * time.Second, stable: 30 * time.Second, crashes: 5}

// startTimeout bounds how long Envoy may take to serve the gateway listener
// (its first snapshot included).
const startTimeout = 30 * time.Second

// SuperviseEnvoy starts Envoy on this control plane, follows the config
// while it serves, restarts it when it dies, and drains it when ctx ends.
func (g *Gateway) SuperviseEnvoy(ctx context.Context, o EnvoyOptions) error {
	g.log.Info("control plane for the supervised Envoy", "xds", g.XDSAddress(), "ext_proc", g.ExtProcAddress())
	// Envoy's admin interface is unauthenticated (it can make Envoy log
	// every key, or stop it): a socket next to llmvoy's, not loopback TCP.
	// Envoy replaces a stale one left by a crash.
	adminSocket := filepath.Join(g.control.Dir, envoy.AdminSocketName)
	boot := envoy.BootstrapOptions{AdminSocket: adminSocket, MaxHeapBytes: o.MaxHeapBytes}
	boot.XDSAddress, boot.XDSPort = controlsock.SplitAddress(g.XDSAddress())
	boot.ExtProcAddress, boot.ExtProcPort = controlsock.SplitAddress(g.ExtProcAddress())
	bootstrap, err := envoy.RenderBootstrap(boot)
	if err != nil {
		return err
	}
	// Envoy leaves its socket behind, which would outlive llmvoy in a
	// --control-dir of the operator's. Deferred first: it runs once Envoy
	// has stopped.
	defer controlsock.RemoveSocket(adminSocket)
	relayAttempts := filepath.Join(g.control.Dir, controlsock.RelayAttemptsSocketName)
	defer controlsock.RemoveSocket(relayAttempts)
	listen := net.JoinHostPort(g.opts.Host, strconv.Itoa(g.opts.Port))
	local := net.JoinHostPort(reachable(g.opts.Host), strconv.Itoa(g.opts.Port))
	start := func() (*envoy.Process, error) {
		// The relay listener's socket of an Envoy that died would keep
		// this one from listening there.
		controlsock.RemoveSocket(relayAttempts)
		return envoy.StartGateway(ctx, envoy.ProcessOptions{
			Bin:          o.Bin,
			Bootstrap:    bootstrap,
			LogLevel:     o.LogLevel,
			Stderr:       o.Stderr,
			DrainTimeout: g.opts.DrainTimeout,
		}, local, startTimeout)
	}
	ready := func(proc process) {
		cfg := g.Config()
		g.log.Info("gateway ready", "listen", listen,
			"model_groups", len(cfg.Groups()), "deployments", len(cfg.Deployments), "envoy_admin", proc.AdminURL())
		if o.Ready != nil {
			o.Ready(listen, local)
		}
		go g.loop.Run(ctx)
	}
	return g.supervise(ctx, defaultRestarts, func() (process, error) {
		proc, err := start()
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return proc, nil
	}, ready)
}

// process is a running Envoy (*envoy.Process).
type process interface {
	Done() <-chan struct{}
	Wait() error
	Shutdown(context.Context) error
	AdminURL() string
}

// supervise starts Envoy, calls ready once it first serves, restarts it
// when it dies as policy says, and drains it when ctx
// ends.
func (g *Gateway) supervise(ctx context.Context, policy restartPolicy, start func() (process, error), ready func(process)) error {
	proc, err := start()
	if err != nil {
		return err
	}
	ready(proc)
	crashes, wait := 0, policy.first
	for {
		up := time.Now()
		select {
		case <-ctx.Done():
			return g.drain(proc)
		case <-proc.Done():
		}
		if ctx.Err() != nil {
			return g.drain(proc)
		}
		died := proc.Wait()
		if died == nil {
			died = errors.New("exited unexpectedly")
		}
		if time.Since(up) >= policy.stable {
			crashes, wait = 0, policy.first
		}
		for proc = nil; proc == nil; {
			crashes++
			if crashes > policy.crashes {
				return fmt.Errorf("envoy stopped: gave up after %d restarts in a row: %w", policy.crashes, died)
			}
			g.log.Error("envoy stopped; restarting it", "error", died, "restart", crashes, "in", wait)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
			wait = min(2*wait, policy.max)
			if proc, err = start(); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				proc, died = nil, err
			}
		}
		g.envoyRestarts.Add(1)
		g.log.Info("envoy restarted; gateway ready again", "restarts", g.envoyRestarts.Load(), "envoy_admin", proc.AdminURL())
	}
}

// drain lets in-flight requests finish, up to the drain timeout, and stops
// Envoy.
func (g *Gateway) drain(proc process) error {
	g.log.Info("shutting down: draining in-flight requests", "timeout", g.opts.DrainTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), g.opts.DrainTimeout+10*time.Second)
	defer cancel()
	if err := proc.Shutdown(ctx); err != nil {
		return fmt.Errorf("envoy shutdown: %w", err)
	}
	g.log.Info("stopped")
	return nil
}

// reachable is an address a local client can use for a listen address: the
// wildcard addresses are reached through loopback.
func reachable(host string) string {
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		return "127.0.0.1"
	}
	return host
}
