package controlplane

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/internal/syncbuf"
	"github.com/llmvoy/llmvoy/plan"
	"github.com/llmvoy/llmvoy/router"
	"github.com/llmvoy/llmvoy/xds"
)

// fakeProcessor records the configs it is given, and which snapshot
// version was served when it got each.
type fakeProcessor struct {
	snaps *xds.Server
	mu    sync.Mutex
	cfgs  []*config.Config
	at    []string
}

func (p *fakeProcessor) SetPlan(next *plan.Plan) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cfgs = append(p.cfgs, next.Config)
	p.at = append(p.at, count(p.snaps.Version()))
}

func (p *fakeProcessor) configs() []*config.Config {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*config.Config(nil), p.cfgs...)
}

// fakeRouter plays both router.Cooldowns and router.Balance.
type fakeRouter struct {
	mu       sync.Mutex
	cfgs     []*config.Config
	active   map[string]time.Time
	decision router.Decision
	changed  chan struct{}
}

func newFakeRouter() *fakeRouter {
	return &fakeRouter{active: map[string]time.Time{}, changed: make(chan struct{}, 1)}
}

func (r *fakeRouter) SetConfig(cfg *config.Config) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cfgs = append(r.cfgs, cfg)
}

func (r *fakeRouter) configs() []*config.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*config.Config(nil), r.cfgs...)
}

func (r *fakeRouter) Active() map[string]time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active
}

func (r *fakeRouter) Decide() router.Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.decision
}

func (r *fakeRouter) Changed() <-chan struct{} { return r.changed }

// set changes the router's state and signals it, as the real one does.
func (r *fakeRouter) set(active map[string]time.Time, d router.Decision) {
	r.mu.Lock()
	r.active, r.decision = active, d
	r.mu.Unlock()
	r.changed <- struct{}{}
}

type harness struct {
	loop               *Loop
	snaps              *xds.Server
	proc               *fakeProcessor
	cooldowns, balance *fakeRouter
	path               string
	logs               *syncbuf.Buffer
	mu                 sync.Mutex
	addrs              map[string]netip.AddrPort // what "DNS" answers
}

// start serves yaml through a loop with fake processor and router state and
// a real xDS server (no Envoy needed: nothing connects to it).
func start(t *testing.T, yaml string) *harness {
	t.Helper()
	return startWith(t, yaml, nil)
}

// startWith is start with other files next to the config (files it
// includes).
func startWith(t *testing.T, yaml string, files map[string]string) *harness {
	t.Helper()
	h := &harness{path: filepath.Join(t.TempDir(), "config.yaml"), logs: &syncbuf.Buffer{},
		cooldowns: newFakeRouter(), balance: newFakeRouter()}
	for name, src := range files {
		write(t, filepath.Join(filepath.Dir(h.path), name), src)
	}
	write(t, h.path, yaml)
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, err := Load(h.path, log)
	require.NoError(t, err)
	h.snaps = xds.NewServer(context.Background(), log)
	h.proc = &fakeProcessor{snaps: h.snaps}
	h.loop = New(p, Parts{Snapshots: h.snaps, Processor: h.proc, Cooldowns: h.cooldowns, Balance: h.balance},
		Options{Path: h.path, XDS: xds.Options{ExtProcCluster: "llmvoy_extproc", ListenPort: 4000}, Resolve: h.resolve}, log)
	require.NoError(t, h.loop.Start(context.Background()))
	require.Equal(t, "1", count(h.snaps.Version()))
	return h
}

// resolve answers IP literals as written, unless the test moved a
// deployment.
func (h *harness) resolve(_ context.Context, cfg *config.Config) (map[string]netip.AddrPort, []error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]netip.AddrPort{}
	for _, d := range cfg.Deployments {
		if a, ok := h.addrs[d.ID]; ok {
			out[d.ID] = a
		} else if a, err := netip.ParseAddrPort(d.APIBase.Host); err == nil {
			out[d.ID] = a
		}
	}
	return out, nil
}

func (h *harness) move(id string, to netip.AddrPort) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.addrs = map[string]netip.AddrPort{id: to}
}

func write(t *testing.T, path, yaml string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
}

func deployment(group, id, apiBase string, order int) string {
	s := fmt.Sprintf("  - model_name: %s\n    litellm_params:\n      model: openai/%s\n      api_base: %s\n      api_key: sk-test\n", group, id, apiBase)
	if order > 0 {
		s += fmt.Sprintf("      order: %d\n", order)
	}
	return s + fmt.Sprintf("    model_info:\n      id: %s\n", id)
}

var (
	oneGroup  = "model_list:\n" + deployment("gpt", "a", "http://127.0.0.1:9001/v1", 0)
	twoGroups = "model_list:\n" + deployment("gpt", "b", "http://127.0.0.1:9002/v1", 0) +
		deployment("claude", "c", "http://127.0.0.1:9003/v1", 0)
	// untranslatable parses, but an https api_base needs a CA bundle,
	// which this instance has none of: xds.Translate refuses it.
	untranslatable = "model_list:\n" + deployment("gpt", "b", "https://127.0.0.1:9443/v1", 0)
)

// invalidResources parses and translates, but one group has more distinct
// `order`s than Envoy has priorities (128): the resources fail validation.
func invalidResources() string {
	var b strings.Builder
	b.WriteString("model_list:\n")
	for i := 1; i <= 130; i++ {
		b.WriteString(deployment("many", fmt.Sprintf("m%d", i), fmt.Sprintf("http://127.0.0.1:%d/v1", 10000+i), i))
	}
	return b.String()
}

func TestAGoodReloadSwapsProcessorRouterAndSnapshotTogether(t *testing.T) {
	h := start(t, oneGroup)
	first := h.loop.plan.Config
	write(t, h.path, twoGroups)
	h.loop.reloadIfChanged(context.Background())

	next := h.loop.plan.Config
	require.NotSame(t, first, next)
	require.Equal(t, []string{"gpt", "claude"}, next.Groups())
	require.Equal(t, []*config.Config{next}, h.proc.configs())
	require.Equal(t, []*config.Config{next}, h.cooldowns.configs())
	require.Equal(t, []*config.Config{next}, h.balance.configs())
	require.Equal(t, "2", count(h.snaps.Version()))
	require.Equal(t, []string{"1"}, h.proc.at, "ext_proc learns the new deployments before Envoy can route to them")
	require.Contains(t, h.logs.String(), "config reloaded")
	require.Contains(t, h.logs.String(), "version="+h.snaps.Version())

	// An unchanged file is not reloaded again.
	h.loop.reloadIfChanged(context.Background())
	require.Equal(t, "2", count(h.snaps.Version()))
	require.Len(t, h.proc.configs(), 1)
}

// A config that parses but cannot be served changes nothing: not the
// processors, not the router state, not the snapshot.
func TestARejectedReloadChangesNothing(t *testing.T) {
	for name, yaml := range map[string]string{
		"does not parse":             "model_list: [\n",
		"fails translation":          untranslatable,
		"resources fail to validate": invalidResources(),
	} {
		t.Run(name, func(t *testing.T) {
			h := start(t, oneGroup)
			served := h.loop.plan
			write(t, h.path, yaml)
			h.loop.reloadIfChanged(context.Background())

			require.Same(t, served, h.loop.plan)
			require.Empty(t, h.proc.configs())
			require.Empty(t, h.cooldowns.configs())
			require.Empty(t, h.balance.configs())
			require.Equal(t, "1", count(h.snaps.Version()))
			require.Contains(t, h.logs.String(), "config reload rejected; still serving the previous config")
			require.NotContains(t, h.logs.String(), "config reloaded")

			// The next good file is applied as usual.
			write(t, h.path, twoGroups)
			h.loop.reloadIfChanged(context.Background())
			require.Equal(t, "2", count(h.snaps.Version()))
			require.Len(t, h.proc.configs(), 1)
		})
	}
}

func TestTheSamplesOfARejectedReloadAreWhatTheyClaim(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for name, yaml := range map[string]string{"untranslatable": untranslatable, "invalid": invalidResources()} {
		path := filepath.Join(t.TempDir(), "config.yaml")
		write(t, path, yaml)
		p, err := Load(path, log)
		require.NoError(t, err, name)
		addrs, _ := (&harness{}).resolve(context.Background(), p.Config)
		res, err := xds.Translate(p, xds.State{Addrs: addrs}, xds.Options{ExtProcCluster: "llmvoy_extproc"})
		if name == "untranslatable" {
			require.ErrorContains(t, err, "no CA bundle")
			continue
		}
		require.NoError(t, err)
		_, err = xds.NewServer(context.Background(), log).Check(res)
		require.ErrorContains(t, err, "Priority")
	}
}

func TestStartRefusesAConfigItCannotServe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	write(t, path, untranslatable)
	log := slog.New(slog.DiscardHandler)
	p, err := Load(path, log)
	require.NoError(t, err)
	snaps := xds.NewServer(context.Background(), log)
	l := New(p, Parts{Snapshots: snaps, Processor: &fakeProcessor{snaps: snaps}, Cooldowns: newFakeRouter(), Balance: newFakeRouter()},
		Options{Path: path, XDS: xds.Options{ExtProcCluster: "llmvoy_extproc"}}, log)
	require.ErrorContains(t, l.Start(context.Background()), "no CA bundle")
	require.Equal(t, "0", count(snaps.Version()))
}

// run runs the loop until the test ends, or until stop is called.
func (h *harness) run(t *testing.T, opts func(*Options)) (stop func()) {
	t.Helper()
	if opts != nil {
		opts(&h.loop.opts)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.loop.Run(ctx); close(done) }()
	stop = sync.OnceFunc(func() { cancel(); <-done })
	t.Cleanup(stop)
	return stop
}

func (h *harness) waitVersion(t *testing.T, version string) {
	t.Helper()
	require.Eventually(t, func() bool { return count(h.snaps.Version()) == version }, 5*time.Second, 5*time.Millisecond,
		"snapshot version %s, want %s", h.snaps.Version(), version)
}

func TestRunFollowsTheFile(t *testing.T) {
	h := start(t, oneGroup)
	h.run(t, func(o *Options) { o.ReloadEvery = 5 * time.Millisecond })
	write(t, h.path, twoGroups)
	h.waitVersion(t, "2")
	require.Eventually(t, func() bool { return len(h.balance.configs()) == 1 }, 5*time.Second, 5*time.Millisecond)
}

func TestAddressChangesAreServed(t *testing.T) {
	h := start(t, oneGroup)
	stop := h.run(t, func(o *Options) { o.ResolveEvery = 5 * time.Millisecond })
	time.Sleep(50 * time.Millisecond)
	require.Equal(t, "1", count(h.snaps.Version()), "unchanged addresses are not served again")

	h.move("a", netip.MustParseAddrPort("127.0.0.2:9001"))
	h.waitVersion(t, "2")
	stop()
	require.Equal(t, netip.MustParseAddrPort("127.0.0.2:9001"), h.loop.addrs["a"])
}

func TestCooldownsAreServedAndLogged(t *testing.T) {
	h := start(t, oneGroup)
	h.run(t, nil)
	until := time.Now().Add(time.Minute)
	h.cooldowns.set(map[string]time.Time{"a": until}, router.Decision{})
	h.waitVersion(t, "2")
	require.Eventually(t, func() bool { return strings.Contains(h.logs.String(), "deployment cooling down") }, 5*time.Second, 5*time.Millisecond)
	require.Contains(t, h.logs.String(), "deployment=a until="+until.Format(time.RFC3339))

	h.cooldowns.set(map[string]time.Time{}, router.Decision{})
	h.waitVersion(t, "3")
	require.Eventually(t, func() bool { return strings.Contains(h.logs.String(), "deployment back in rotation") }, 5*time.Second, 5*time.Millisecond)
}

func TestBalanceDecisionsAreServed(t *testing.T) {
	h := start(t, oneGroup)
	h.run(t, nil)
	h.balance.set(nil, router.Decision{OverLimit: map[string]bool{"a": true}})
	h.waitVersion(t, "2")
	require.Eventually(t, func() bool {
		return strings.Contains(h.logs.String(), "deployment reached its rpm for this minute")
	}, 5*time.Second, 5*time.Millisecond)
}

// count is a snapshot version without its process epoch: the loop's tests
// count snapshots, not processes.
func count(version string) string { return version[strings.LastIndexByte(version, '-')+1:] }

// A file the config includes is followed like the config itself: its
// change reloads, and so does creating one the config names but a reload
// could not find.
func TestReloadFollowsIncludedFiles(t *testing.T) {
	h := startWith(t, "include: [models.yaml]\n", map[string]string{"models.yaml": oneGroup})
	dir := filepath.Dir(h.path)

	write(t, filepath.Join(dir, "models.yaml"), twoGroups)
	h.loop.reloadIfChanged(context.Background())
	require.Equal(t, []string{"gpt", "claude"}, h.loop.plan.Config.Groups())
	require.Equal(t, "2", count(h.snaps.Version()))

	write(t, h.path, "include: [models.yaml, more.yaml]\n")
	h.loop.reloadIfChanged(context.Background())
	require.Contains(t, h.logs.String(), "config reload rejected")
	require.Equal(t, "2", count(h.snaps.Version()))

	write(t, filepath.Join(dir, "more.yaml"), "model_list:\n"+deployment("mistral", "d", "http://127.0.0.1:9004/v1", 0))
	h.loop.reloadIfChanged(context.Background())
	require.Equal(t, []string{"gpt", "claude", "mistral"}, h.loop.plan.Config.Groups())
	require.Equal(t, "3", count(h.snaps.Version()))

	// Nothing changed: no reload.
	h.loop.reloadIfChanged(context.Background())
	require.Equal(t, "3", count(h.snaps.Version()))
}
