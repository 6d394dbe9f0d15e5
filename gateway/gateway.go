// Package gateway assembles a running llmvoy: the control plane's private
// listeners, the xDS and ext_proc servers on them, the stores (virtual
// keys, shared counters), metrics, the control loop, and — unless the
// platform starts Envoy itself — the Envoy it supervises and restarts.
// It holds no logic of its own: each part is its package's; this one
// decides only the order things open, start and close.
package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/llmvoy/llmvoy/cache"
	"github.com/llmvoy/llmvoy/callbacks"
	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/controlplane"
	"github.com/llmvoy/llmvoy/counters"
	"github.com/llmvoy/llmvoy/envoy"
	"github.com/llmvoy/llmvoy/extproc"
	"github.com/llmvoy/llmvoy/internal/controlsock"
	"github.com/llmvoy/llmvoy/keys"
	"github.com/llmvoy/llmvoy/metrics"
	"github.com/llmvoy/llmvoy/plan"
	"github.com/llmvoy/llmvoy/relay"
	"github.com/llmvoy/llmvoy/router"
	"github.com/llmvoy/llmvoy/xds"
)

// Options are what `llmvoy run` was told.
type Options struct {
	// ConfigPath is the LiteLLM config.yaml served and followed.
	ConfigPath string
	// Host and Port are the gateway listener's address (Envoy's).
	Host string
	Port int
	// CAFile is the CA bundle for https api_bases.
	CAFile string
	// ReloadEvery and ResolveEvery are how often the config file is checked
	// and api_base host names resolved again (0: never).
	ReloadEvery, ResolveEvery time.Duration
	// DrainTimeout bounds how long in-flight requests may take on shutdown.
	DrainTimeout time.Duration
	// Control is where xDS and ext_proc listen.
	Control controlsock.Config
	// SupervisedEnvoy is true when llmvoy starts Envoy itself (false:
	// --no-envoy): the control plane is then private to that Envoy.
	SupervisedEnvoy bool
	// DataDir holds the SQLite key store when no database_url is set.
	DataDir string
	// AccessLog receives a JSON line per request; nil for none.
	AccessLog io.Writer
}

// Gateway is a control plane serving xDS and ext_proc, following its config.
type Gateway struct {
	opts Options
	log  *slog.Logger
	// plan is the config as loaded at start (the loop follows changes).
	plan *plan.Plan
	loop *controlplane.Loop

	control          *controlsock.Listeners
	xdsGRPC          *grpc.Server
	procGRPC         *grpc.Server
	relayHTTP        *http.Server
	closeKeys, redis func()
	callbacks        *callbacks.Exporter
	// envoyRestarts counts how often the supervised Envoy was restarted.
	envoyRestarts atomic.Int64
}

// Open loads the config and starts everything but Envoy: the control
// listeners and their gRPC servers, the stores, metrics and the first
// snapshot. Close releases what Open acquired; Open releases it itself when
// it fails.
func Open(ctx context.Context, p *plan.Plan, opts Options, log *slog.Logger) (_ *Gateway, err error) {
	cfg := p.Config
	g := &Gateway{opts: opts, log: log, plan: p, closeKeys: func() {}, redis: func() {}}
	defer func() {
		if err != nil {
			g.Close()
		}
	}()
	if g.control, err = controlsock.Open(opts.Control, opts.SupervisedEnvoy, log); err != nil {
		return nil, err
	}
	xdsSrv := xds.NewServer(ctx, log)
	cooldowns, balance := router.NewCooldowns(cfg), router.NewBalance(cfg)
	// Limits (per key, per deployment), shared by the replicas through
	// Redis when configured. Opened once: a reload that changes the Redis
	// settings is logged as needing a restart (see controlplane.Options).
	shared := counters.Open(cfg.Router.Redis, log)
	procSrv := extproc.NewServer(p, cooldowns, balance, log)
	// Fed by Envoy's access logs, served as /metrics by the gateway
	// processor, relabelled on reload by procSrv.SetPlan.
	stats := metrics.New(p, cooldowns, balance)
	procSrv.SetMetrics(stats)
	if opts.SupervisedEnvoy {
		stats.WatchEnvoyRestarts(g.envoyRestarts.Load)
	}
	sharedRedis, _ := shared.(*counters.Redis)
	if sharedRedis != nil {
		// usage-based routing's rpm/tpm counts are the replicas' totals.
		balance.Share(shared)
		cooldowns.Share(sharedRedis) // and so are failures and cooldowns
		stats.WatchRedis(sharedRedis.Healthy)
		g.redis = func() { sharedRedis.Close() }
	}
	if cfg.Cache != nil {
		// The response cache, opened once like the limits' store: a
		// reload that turns it on or moves it needs a restart.
		store, closeCache, err := cache.Open(cfg.Cache, sharedRedis, cfg.Router.Redis, log)
		if err != nil {
			log.Error("litellm_settings.cache_params: the Redis URL cannot be used; the response cache is off", "err", err)
		} else {
			procSrv.SetCache(store)
			closeLimits := g.redis
			g.redis = func() { closeCache(); closeLimits() }
			log.Info("response cache on", "type", store.Type())
		}
	}
	vkeys, closeKeys, err := keys.OpenForGateway(ctx,
		keys.GatewayStore{MasterKey: cfg.General.MasterKey != "", DatabaseURL: cfg.General.DatabaseURL.Reveal(), DataDir: opts.DataDir},
		keys.Options{KeepLogs: !cfg.General.DisableSpendLogs, Log: log})
	if err != nil {
		return nil, err
	}
	g.closeKeys = closeKeys
	if vkeys != nil {
		procSrv.SetKeys(vkeys, shared)
	}
	if opts.AccessLog != nil {
		procSrv.SetAccessLog(opts.AccessLog)
	}
	// LiteLLM's logging callbacks, read at start (a reload that changes
	// them needs a restart).
	if g.callbacks, err = callbacks.Open(cfg.Callbacks, log); err != nil {
		return nil, err
	}
	if g.callbacks != nil {
		procSrv.SetCallbacks(g.callbacks)
		for _, name := range g.callbacks.Names() {
			stats.WatchCallbackDrops(name, func() uint64 { return g.callbacks.Dropped(name) })
		}
	}
	// Bodies of vision requests travel in single ext_proc messages.
	maxMsg := plan.DefaultMaxRequestBytes + (1 << 20)
	g.xdsGRPC, g.procGRPC = g.control.NewServer(maxMsg), g.control.NewServer(maxMsg)
	xdsSrv.Register(g.xdsGRPC)
	procSrv.Register(g.procGRPC)
	als := router.NewAccessLog(cooldowns, balance, router.Observers{stats, procSrv})
	als.SetLog(log)
	als.Register(g.procGRPC)
	go g.xdsGRPC.Serve(g.control.XDS)
	go g.procGRPC.Serve(g.control.ExtProc)
	xdsOpts := xds.Options{ListenAddress: opts.Host, ListenPort: uint32(opts.Port), ExtProcCluster: envoy.ExtProcClusterName, CAFile: opts.CAFile}
	if opts.SupervisedEnvoy {
		// Stream continuation's relay, on a socket of the private control
		// directory; under --no-envoy the platform's Envoy may see the
		// directory at another path, so streams are not relayed there.
		if err := g.openRelay(procSrv, stats, &xdsOpts); err != nil {
			return nil, err
		}
	} else if cfg.Router.EnableStreamContinuation {
		log.Warn("router_settings.enable_stream_continuation needs the Envoy llmvoy starts (llmvoy run without --no-envoy); streams are not continued")
	}

	g.loop = controlplane.New(p, controlplane.Parts{Snapshots: xdsSrv, Processor: procSrv, Cooldowns: cooldowns, Balance: balance},
		controlplane.Options{
			Path: opts.ConfigPath, ReloadEvery: opts.ReloadEvery, ResolveEvery: opts.ResolveEvery, Redis: cfg.Router.Redis,
			Callbacks: cfg.Callbacks,
			XDS:       xdsOpts,
		}, log)
	if err := g.loop.Start(ctx); err != nil {
		return nil, err
	}
	return g, nil
}

// Close stops the gRPC servers, then writes the last spend and closes the
// stores, then removes the control listeners: in that order, so the last
// answers' spend is recorded before the store closes.
func (g *Gateway) Close() {
	if g.xdsGRPC != nil {
		g.xdsGRPC.Stop()
		g.procGRPC.Stop()
	}
	if g.relayHTTP != nil {
		g.relayHTTP.Close()
	}
	g.callbacks.Close()
	g.closeKeys()
	g.redis()
	if g.control != nil {
		g.control.Close()
	}
}

// openRelay serves llmvoy's relay (package relay) on the control
// directory's relay socket, and tells the xDS translation where it and
// Envoy's relay listener are.
func (g *Gateway) openRelay(procSrv *extproc.Server, stats *metrics.Metrics, o *xds.Options) error {
	sock := filepath.Join(g.control.Dir, controlsock.RelaySocketName)
	ln, err := controlsock.ListenPrivate(sock)
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	attempts := filepath.Join(g.control.Dir, controlsock.RelayAttemptsSocketName)
	h := relay.New(attempts, procSrv, stats, plan.DefaultMaxRequestBytes+(1<<20), g.log)
	g.relayHTTP = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(g.log.Handler(), slog.LevelWarn)}
	go g.relayHTTP.Serve(ln)
	o.RelaySocket, o.RelayListenSocket, o.RelaySocketMode = sock, attempts, uint32(controlsock.PrivateSocketMode)
	procSrv.SetRelay(true)
	return nil
}

// Config is the config the gateway started with.
func (g *Gateway) Config() *config.Config { return g.plan.Config }

// XDSAddress and ExtProcAddress are the gRPC addresses Envoy reaches.
func (g *Gateway) XDSAddress() string { return controlsock.Address(g.control.XDS) }

// ExtProcAddress is ext_proc's gRPC address (ALS shares it).
func (g *Gateway) ExtProcAddress() string { return controlsock.Address(g.control.ExtProc) }

// ServePlatformEnvoy follows the config until ctx ends, for Envoys the
// platform starts (run --no-envoy), then lets their ext_proc streams
// finish, up to the drain timeout.
func (g *Gateway) ServePlatformEnvoy(ctx context.Context) error {
	g.log.Info("serving xDS and ext_proc; start Envoy with the bootstrap `llmvoy bootstrap` prints",
		"xds", g.XDSAddress(), "ext_proc", g.ExtProcAddress(), "gateway_port", g.opts.Port)
	go g.loop.Run(ctx)
	<-ctx.Done()
	g.log.Info("shutting down: waiting for in-flight ext_proc streams", "timeout", g.opts.DrainTimeout)
	controlsock.GracefulStop(g.procGRPC, g.opts.DrainTimeout)
	g.log.Info("stopped")
	return nil
}
