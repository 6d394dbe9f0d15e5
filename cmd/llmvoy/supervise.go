package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"time"

	"google.golang.org/grpc"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/controlplane"
	"github.com/llmvoy/llmvoy/envoy"
	"github.com/llmvoy/llmvoy/internal/controlsock"
)

// gateway is a running control plane, ready to serve an Envoy: one llmvoy
// supervises (run) or one the platform starts (run --no-envoy).
type gateway struct {
	flags          gatewayFlags
	cfg            *config.Config
	log            *slog.Logger
	stdout, stderr io.Writer
	loop           *controlplane.Loop
	procGRPC       *grpc.Server
	// xdsAddr and procAddr are the gRPC addresses of xDS and ext_proc;
	// controlDir the private directory of their sockets.
	xdsAddr, procAddr string
	controlDir        string
}

// serveForPlatformEnvoy follows the config until ctx ends, for Envoys the
// platform starts.
func (g *gateway) serveForPlatformEnvoy(ctx context.Context) error {
	g.log.Info("serving xDS and ext_proc; start Envoy with the bootstrap `llmvoy bootstrap` prints",
		"xds", g.xdsAddr, "ext_proc", g.procAddr, "gateway_port", g.flags.port)
	fmt.Fprintf(g.stdout, "llmvoy control plane: xDS on %s, ext_proc on %s\n", g.xdsAddr, g.procAddr)
	go g.loop.Run(ctx)
	<-ctx.Done()
	// Envoys may still be draining requests through ext_proc: let
	// their streams finish, up to the drain timeout.
	g.log.Info("shutting down: waiting for in-flight ext_proc streams", "timeout", g.flags.drainTimeout)
	controlsock.GracefulStop(g.procGRPC, g.flags.drainTimeout)
	g.log.Info("stopped")
	return nil
}

// superviseEnvoy starts Envoy (bin) on this control plane, follows the
// config while it serves, and drains it when ctx ends. Envoy stopping on
// its own is an error.
func (g *gateway) superviseEnvoy(ctx context.Context, bin string) error {
	f := g.flags
	g.log.Info("control plane for the supervised Envoy", "xds", g.xdsAddr, "ext_proc", g.procAddr)
	// Envoy's admin interface is unauthenticated (it can make Envoy log
	// every key, or stop it): a socket next to llmvoy's, not loopback TCP.
	// Envoy replaces a stale one left by a crash.
	adminSocket := filepath.Join(g.controlDir, envoy.AdminSocketName)
	boot := envoy.BootstrapOptions{AdminSocket: adminSocket, MaxHeapBytes: uint64(f.envoyMaxHeap)}
	boot.XDSAddress, boot.XDSPort = controlsock.SplitAddress(g.xdsAddr)
	boot.ExtProcAddress, boot.ExtProcPort = controlsock.SplitAddress(g.procAddr)
	bootstrap, err := envoy.RenderBootstrap(boot)
	if err != nil {
		return err
	}
	// Envoy leaves its socket behind, which would outlive llmvoy in a
	// --control-dir of the operator's. Deferred first: it runs once Envoy
	// has stopped.
	defer controlsock.RemoveSocket(adminSocket)
	listen := net.JoinHostPort(f.host, strconv.Itoa(f.port))
	local := net.JoinHostPort(reachable(f.host), strconv.Itoa(f.port))
	proc, err := envoy.StartGateway(ctx, envoy.ProcessOptions{
		Bin:          bin,
		Bootstrap:    bootstrap,
		LogLevel:     f.envoyLogLevel,
		Stderr:       g.stderr,
		DrainTimeout: f.drainTimeout,
	}, local, 30*time.Second)
	if err != nil {
		return err
	}
	g.log.Info("gateway ready", "listen", listen,
		"model_groups", len(g.cfg.Groups()), "deployments", len(g.cfg.Deployments), "envoy_admin", proc.AdminURL())
	fmt.Fprintf(g.stdout, "llmvoy is listening on http://%s (OpenAI base_url: http://%s/v1)\n", listen, local)

	go g.loop.Run(ctx)

	select {
	case <-proc.Done():
		if ctx.Err() == nil {
			err := proc.Wait()
			if err == nil {
				err = errors.New("exited unexpectedly")
			}
			return fmt.Errorf("envoy stopped: %w", err)
		}
	case <-ctx.Done():
	}
	g.log.Info("shutting down: draining in-flight requests", "timeout", f.drainTimeout)
	shutdownCtx, shutdownCancel := context.WithTimeout(context.Background(), f.drainTimeout+10*time.Second)
	defer shutdownCancel()
	if err := proc.Shutdown(shutdownCtx); err != nil {
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
