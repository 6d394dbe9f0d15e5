package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/llmvoy/llmvoy/controlplane"
	"github.com/llmvoy/llmvoy/envoy"
	"github.com/llmvoy/llmvoy/gateway"
	"github.com/llmvoy/llmvoy/internal/controlsock"
	"github.com/llmvoy/llmvoy/keys"
)

// gatewayFlags are `llmvoy run`'s flags.
type gatewayFlags struct {
	configPath    string
	host          string
	port          int
	logLevel      string
	envoyLogLevel string
	caFile        string
	reloadEvery   time.Duration
	resolveEvery  time.Duration
	drainTimeout  time.Duration
	noEnvoy       bool
	control       controlsock.Config
	envoyMaxHeap  byteSize
	dataDir       string
	accessLog     string
}

func parseGatewayFlags(args []string, stderr io.Writer) (gatewayFlags, error) {
	var f gatewayFlags
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.configPath, "config", "", "LiteLLM config.yaml to serve (required)")
	fs.StringVar(&f.host, "host", "0.0.0.0", "address the gateway listens on")
	fs.IntVar(&f.port, "port", 4000, "port the gateway listens on (LiteLLM's default)")
	fs.Func("admin-port", "removed: Envoy's admin interface is the control directory's "+envoy.AdminSocketName+" (the log's envoy_admin=unix://...)", removedAdminPort)
	fs.StringVar(&f.logLevel, "log-level", "info", "llmvoy log level: debug, info, warn, error")
	fs.StringVar(&f.envoyLogLevel, "envoy-log-level", "warn", "Envoy log level")
	fs.StringVar(&f.caFile, "ca-file", "", "CA bundle for https api_bases (default: $SSL_CERT_FILE or the system bundle)")
	fs.DurationVar(&f.reloadEvery, "reload-interval", time.Second, "how often the config file is checked for changes (0 = never)")
	fs.DurationVar(&f.resolveEvery, "resolve-interval", 30*time.Second, "how often api_base host names are resolved again")
	fs.DurationVar(&f.drainTimeout, "drain-timeout", 15*time.Second, "on shutdown, how long in-flight requests may take to finish")
	fs.BoolVar(&f.noEnvoy, "no-envoy", false, "serve xDS and ext_proc only; the platform starts Envoy with the bootstrap llmvoy bootstrap prints")
	fs.StringVar(&f.control.Dir, "control-dir", "", "directory of the xDS and ext_proc unix sockets (xds.sock, extproc.sock); made 0700, or 0750 with --no-envoy for an Envoy in llmvoy's group (default: a new private temporary directory, removed on exit; with --no-envoy, required unless both addresses are given)")
	fs.StringVar(&f.control.XDSAddress, "xds-address", "", "xDS (ADS) gRPC address instead of the control directory's socket: unix:///path, or HOST:PORT with --tls-cert, --tls-key and --tls-ca")
	fs.StringVar(&f.control.ExtProcAddress, "extproc-address", "", "ext_proc gRPC address instead of the control directory's socket: unix:///path, or HOST:PORT with --tls-cert, --tls-key and --tls-ca")
	fs.StringVar(&f.control.TLSCert, "tls-cert", "", "with --no-envoy: llmvoy's server certificate (PEM) for mutual TLS with Envoy (llmvoy certs makes one)")
	fs.StringVar(&f.control.TLSKey, "tls-key", "", "with --no-envoy: the server certificate's private key (PEM)")
	fs.StringVar(&f.control.TLSCA, "tls-ca", "", "with --no-envoy: the CA Envoy's client certificate must chain to (PEM); nothing else is served")
	fs.BoolVar(&f.control.InsecurePlaintext, controlsock.InsecurePlaintextFlag, false, "allow xDS and ext_proc on plaintext TCP: whoever connects gets every provider key (never on a shared host or network)")
	f.envoyMaxHeap = envoy.DefaultMaxHeapBytes
	fs.Var(&f.envoyMaxHeap, "envoy-max-heap", "heap limit of the supervised Envoy: from 90% it returns memory to the system, from 95% it answers new requests 503")
	fs.StringVar(&f.dataDir, "data-dir", keys.DefaultDataDir(), "directory of the SQLite store of virtual keys and spend (when general_settings.database_url is unset)")
	fs.StringVar(&f.accessLog, "access-log", "", "write a JSON access-log line per request to this file (- for stdout; default none)")
	if err := fs.Parse(args); err != nil {
		return f, errUsage
	}
	if f.configPath == "" {
		fmt.Fprintln(stderr, "llmvoy run: --config is required")
		return f, errUsage
	}
	if err := f.control.Check(!f.noEnvoy); err != nil {
		fmt.Fprintln(stderr, "llmvoy run:", err)
		return f, errUsage
	}
	if uint64(f.envoyMaxHeap) < envoy.MinMaxHeapBytes {
		fmt.Fprintf(stderr, "llmvoy run: --envoy-max-heap %s is below %s\n", f.envoyMaxHeap, byteSize(envoy.MinMaxHeapBytes))
		return f, errUsage
	}
	return f, nil
}

func runGateway(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseGatewayFlags(args, stderr)
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, f.logLevel)
	if err != nil {
		return err
	}
	p, err := controlplane.Load(f.configPath, log)
	if err != nil {
		return err
	}
	var bin string
	if !f.noEnvoy {
		if bin, err = envoy.Find(); err != nil {
			return err
		}
		shareCPUsWithEnvoy()
		// Envoy would only log that it cannot bind, and a probe could then
		// reach whatever else holds the port; say so before starting.
		listen := net.JoinHostPort(f.host, strconv.Itoa(f.port))
		probe, err := net.Listen("tcp", listen)
		if err != nil {
			return fmt.Errorf("cannot listen on %s: %w", listen, err)
		}
		probe.Close()
	}
	caFile := f.caFile
	if caFile == "" {
		caFile = envoy.FindCABundle()
	}
	accessLog, closeAccessLog, err := openAccessLog(f.accessLog, stdout)
	if err != nil {
		return err
	}
	defer closeAccessLog()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, err := gateway.Open(ctx, p, gateway.Options{
		ConfigPath: f.configPath, Host: f.host, Port: f.port, CAFile: caFile,
		ReloadEvery: f.reloadEvery, ResolveEvery: f.resolveEvery, DrainTimeout: f.drainTimeout,
		Control: f.control, SupervisedEnvoy: !f.noEnvoy, DataDir: f.dataDir, AccessLog: accessLog,
	}, log)
	if err != nil {
		return err
	}
	defer g.Close()
	if f.noEnvoy {
		fmt.Fprintf(stdout, "llmvoy control plane: xDS on %s, ext_proc on %s\n", g.XDSAddress(), g.ExtProcAddress())
		return g.ServePlatformEnvoy(ctx)
	}
	return g.SuperviseEnvoy(ctx, gateway.EnvoyOptions{
		Bin: bin, LogLevel: f.envoyLogLevel, MaxHeapBytes: uint64(f.envoyMaxHeap), Stderr: stderr,
		Ready: func(listen, local string) {
			fmt.Fprintf(stdout, "llmvoy is listening on http://%s (OpenAI base_url: http://%s/v1)\n", listen, local)
		},
	})
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// openAccessLog opens --access-log's destination; nil for none.
func openAccessLog(path string, stdout io.Writer) (io.Writer, func(), error) {
	switch path {
	case "":
		return nil, func() {}, nil
	case "-":
		return stdout, func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, nil, fmt.Errorf("--access-log: %w", err)
	}
	return f, func() { f.Close() }, nil
}

// shareCPUsWithEnvoy gives the Go runtime half the CPUs it would take (at
// least one) when llmvoy runs beside the Envoy it supervises, unless
// GOMAXPROCS says otherwise. Envoy runs a worker per CPU and does most of
// the work of a request; with a processor per CPU, Go's idle threads spin
// looking for the next ext_proc message and take CPU from Envoy's workers
// (make bench on two CPUs: a fifth less llmvoy CPU per request at 500 RPS;
// docs/performance.md).
func shareCPUsWithEnvoy() {
	if os.Getenv("GOMAXPROCS") == "" {
		// The default is already cgroup-aware: halve that, not the host's.
		runtime.GOMAXPROCS(max(1, runtime.GOMAXPROCS(0)/2))
	}
}
