// Package controlplane is llmvoy's control loop. It keeps the two halves of
// the gateway on one config: the Go half (the ext_proc processors, and the
// router state fed by Envoy's access logs) and Envoy's (the resources served
// over xDS). It follows the config file, the DNS answers for api_base hosts,
// cooldowns and the balancing strategies' decisions, and serves each change
// as a new snapshot.
//
// A reload is transactional: the next config is loaded, planned, resolved,
// translated and checked as a whole before anything is swapped; then the processors,
// the router state and the snapshot take it together. A failure anywhere
// before the swap changes nothing, and the previous config keeps serving.
package controlplane

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"time"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/plan"
	"github.com/llmvoy/llmvoy/router"
	"github.com/llmvoy/llmvoy/xds"
)

// Processor is the ext_proc server's side of a reload (extproc.Server).
type Processor interface {
	SetPlan(*plan.Plan)
}

// Cooldowns is the router's cooldown state (router.Cooldowns).
type Cooldowns interface {
	SetConfig(*config.Config)
	Active() map[string]time.Time
	Changed() <-chan struct{}
}

// Balance is the router's balancing state (router.Balance).
type Balance interface {
	SetConfig(*config.Config)
	Decide() router.Decision
	Changed() <-chan struct{}
}

var (
	_ Cooldowns = (*router.Cooldowns)(nil)
	_ Balance   = (*router.Balance)(nil)
)

// Parts are what the loop keeps on one config.
type Parts struct {
	Snapshots *xds.Server
	Processor Processor
	Cooldowns Cooldowns
	Balance   Balance
}

// Options say what the loop follows and how often it looks.
type Options struct {
	// Path is the config file, checked for changes every ReloadEvery (0:
	// never).
	Path        string
	ReloadEvery time.Duration
	// ResolveEvery is how often api_base host names are resolved again (0:
	// never).
	ResolveEvery time.Duration
	// XDS are the facts about this instance the config does not hold.
	XDS xds.Options
	// Redis is the Redis the counters store was opened on. A reload does not
	// reopen it: that would drop this minute's counts and split the
	// replicas between two stores while they reload one by one.
	Redis config.RedisSettings
	// Callbacks are the logging callbacks the gateway started with (package
	// callbacks), which a reload does not restart either.
	Callbacks config.Callbacks
	// Resolve finds the deployments' addresses; nil resolves through DNS
	// (xds.Resolve).
	Resolve func(context.Context, *config.Config) (map[string]netip.AddrPort, []error)
}

// Loop owns the state the snapshot is built from. Its methods run on one
// goroutine: Start, then Run.
type Loop struct {
	parts  Parts
	opts   Options
	log    *slog.Logger
	digest [sha256.Size]byte // of the config file and its includes, last loaded

	// What the snapshot served last was built from.
	plan     *plan.Plan
	addrs    map[string]netip.AddrPort
	cooling  map[string]time.Time // deployment → end of its cooldown
	decision router.Decision
}

// New makes a loop serving p, the plan of the config loaded from
// opts.Path.
func New(p *plan.Plan, parts Parts, opts Options, log *slog.Logger) *Loop {
	if opts.Resolve == nil {
		opts.Resolve = func(ctx context.Context, cfg *config.Config) (map[string]netip.AddrPort, []error) {
			return xds.Resolve(ctx, cfg, net.DefaultResolver)
		}
	}
	return &Loop{parts: parts, opts: opts, log: log, plan: p, digest: configDigest(opts.Path)}
}

// Start serves the first snapshot, of the plan New was given.
func (l *Loop) Start(ctx context.Context) error {
	return l.publish(ctx, l.plan, l.resolve(ctx, l.plan.Config))
}

// Versions are the snapshot versions each connected Envoy accepted and
// rejected, by node id.
func (l *Loop) Versions() map[string]xds.NodeVersions { return l.parts.Snapshots.Versions() }

// Run applies config file changes, DNS changes of api_base hosts, cooldowns
// and balancing decisions, one at a time, until ctx ends.
func (l *Loop) Run(ctx context.Context) {
	reload, stopReload := ticker(l.opts.ReloadEvery)
	defer stopReload()
	resolve, stopResolve := ticker(l.opts.ResolveEvery)
	defer stopResolve()
	// Latencies move and minutes roll over without an event: look again
	// this often.
	balance, stopBalance := ticker(time.Second)
	defer stopBalance()
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
			l.reloadIfChanged(ctx)
		case <-l.parts.Balance.Changed():
			l.decide(ctx, true)
		case <-balance:
			l.decide(ctx, false)
		case <-l.parts.Cooldowns.Changed():
			if err := l.publish(ctx, l.plan, l.addrs); err != nil {
				l.log.Error("cooldown change not applied to Envoy", "err", err)
			}
		case <-resolve:
			l.reresolve(ctx)
		}
	}
}

// reloadIfChanged reloads the config file when its content, or that of a
// file it includes, changed.
func (l *Loop) reloadIfChanged(ctx context.Context) {
	d := configDigest(l.opts.Path)
	if d == l.digest {
		return
	}
	l.digest = d
	if err := l.reload(ctx); err != nil {
		l.log.Error("config reload rejected; still serving the previous config", "file", l.opts.Path, "err", err)
	}
}

// reload builds the next state from the config file and swaps it in. An
// error means nothing changed: not the processors, not the router state,
// not the snapshot.
func (l *Loop) reload(ctx context.Context) error {
	next, err := Load(l.opts.Path, l.log)
	if err != nil {
		return err
	}
	addrs := l.resolve(ctx, next.Config)
	cooling := l.activeCooldowns()
	checked, err := l.build(next, addrs, cooling)
	if err != nil {
		return err
	}
	// From here on nothing can fail but Serve, and Serve only when ctx
	// ends. ext_proc learns the new deployments before Envoy can route to
	// them. The router takes the new config next: its decisions for it
	// (cooldowns of removed deployments ended, latencies per new group)
	// arrive through Changed, and are served right after this snapshot.
	l.parts.Processor.SetPlan(next)
	l.parts.Cooldowns.SetConfig(next.Config)
	l.parts.Balance.SetConfig(next.Config)
	if err := l.parts.Snapshots.Serve(ctx, checked); err != nil {
		l.log.Error("config reload not applied to Envoy", "err", err)
		return nil
	}
	l.served(next, addrs, cooling)
	l.log.Info("config reloaded", "model_groups", len(next.Groups), "deployments", len(next.Config.Deployments),
		"version", l.parts.Snapshots.Version())
	if next.Config.Router.Redis != l.opts.Redis {
		l.log.Warn("router_settings.redis_* changed: restart llmvoy to apply it; limits are still counted where they were")
	}
	if !reflect.DeepEqual(next.Config.Callbacks, l.opts.Callbacks) {
		l.log.Warn("logging callbacks or their variables changed: restart llmvoy to apply them; records still go where they went")
	}
	return nil
}

// publish serves p with the current router state and addrs.
func (l *Loop) publish(ctx context.Context, p *plan.Plan, addrs map[string]netip.AddrPort) error {
	cooling := l.activeCooldowns()
	checked, err := l.build(p, addrs, cooling)
	if err != nil {
		return err
	}
	if err := l.parts.Snapshots.Serve(ctx, checked); err != nil {
		return err
	}
	l.served(p, addrs, cooling)
	return nil
}

// build translates p with the live endpoint state into Envoy resources
// and checks them, serving nothing.
func (l *Loop) build(p *plan.Plan, addrs map[string]netip.AddrPort, cooling map[string]time.Time) (*xds.Checked, error) {
	unavailable := make(map[string]bool, len(cooling)+len(l.decision.OverLimit))
	for id := range cooling {
		unavailable[id] = true
	}
	for id := range l.decision.OverLimit {
		unavailable[id] = true
	}
	res, err := xds.Translate(p, xds.State{Addrs: addrs, Unavailable: unavailable, Slow: l.decision.Slow, HedgeDelays: l.decision.HedgeDelays}, l.opts.XDS)
	if err != nil {
		return nil, err
	}
	return l.parts.Snapshots.Check(res)
}

// served records what the snapshot just served was built from, and says
// which deployments it took out of rotation or put back.
func (l *Loop) served(p *plan.Plan, addrs map[string]netip.AddrPort, cooling map[string]time.Time) {
	for _, id := range slices.Sorted(maps.Keys(cooling)) {
		if _, was := l.cooling[id]; !was {
			l.log.Warn("deployment cooling down: it failed more than allowed_fails times in a minute",
				"deployment", id, "until", cooling[id].Format(time.RFC3339))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(l.cooling)) {
		if _, still := cooling[id]; !still {
			l.log.Info("deployment back in rotation after its cooldown", "deployment", id)
		}
	}
	l.plan, l.addrs, l.cooling = p, addrs, cooling
}

// activeCooldowns are the deployments cooling down now, with the end of
// each cooldown. The map is the router's: read it only.
func (l *Loop) activeCooldowns() map[string]time.Time { return l.parts.Cooldowns.Active() }

// resolve finds cfg's deployment addresses; a deployment whose host does
// not resolve is left out (it gets no traffic), and said so.
func (l *Loop) resolve(ctx context.Context, cfg *config.Config) map[string]netip.AddrPort {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	addrs, errs := l.opts.Resolve(rctx, cfg)
	for _, err := range errs {
		l.log.Warn("deployment gets no traffic until its host resolves", "err", err)
	}
	return addrs
}

// reresolve serves the deployments' new addresses when DNS moved them.
func (l *Loop) reresolve(ctx context.Context) {
	addrs := l.resolve(ctx, l.plan.Config)
	if maps.Equal(addrs, l.addrs) {
		return
	}
	if err := l.publish(ctx, l.plan, addrs); err != nil {
		l.log.Error("address change not applied to Envoy", "err", err)
	}
}

// decide serves the balance's current decision when it changed (or when
// forced: a deployment just reached its rpm).
func (l *Loop) decide(ctx context.Context, force bool) {
	d := l.parts.Balance.Decide()
	if !force && maps.Equal(d.OverLimit, l.decision.OverLimit) && maps.Equal(d.Slow, l.decision.Slow) && maps.Equal(d.HedgeDelays, l.decision.HedgeDelays) {
		return
	}
	if !maps.Equal(d.HedgeDelays, l.decision.HedgeDelays) {
		l.log.Debug("hedging: measured delays (p95 of the times to first byte)", "delays", d.HedgeDelays)
	}
	if !maps.Equal(d.Slow, l.decision.Slow) {
		l.log.Debug("latency-based routing: slower deployments get traffic only when no faster one is available", "slow", slices.Sorted(maps.Keys(d.Slow)))
	}
	for id := range d.OverLimit {
		if !l.decision.OverLimit[id] {
			l.log.Info("deployment reached its rpm for this minute; out of rotation until the minute ends", "deployment", id)
		}
	}
	l.decision = d
	if err := l.publish(ctx, l.plan, l.addrs); err != nil {
		l.log.Error("routing change not applied to Envoy", "err", err)
	}
}

// ticker ticks every period, or never for a zero period.
func ticker(every time.Duration) (<-chan time.Time, func()) {
	if every <= 0 {
		return nil, func() {}
	}
	t := time.NewTicker(every)
	return t.C, t.Stop
}

// configDigest is the digest of the config file's content and of the files
// its include list names as it reads now (so a file added to the list, or
// created after a reload failed for want of it, is seen); a file that
// cannot be read (being replaced) counts as empty, which a later look
// corrects.
func configDigest(path string) [sha256.Size]byte {
	h := sha256.New()
	for _, f := range config.Files(path) {
		b, _ := os.ReadFile(f)
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:]) // a length before each file: moving bytes between files changes the digest
		h.Write(b)
	}
	return [sha256.Size]byte(h.Sum(nil))
}
