package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// Target names, in the order they are measured and reported.
const (
	targetDirect  = "direct"
	targetEnvoy   = "envoy"
	targetLLMvoy  = "llmvoy"
	targetLiteLLM = "litellm"
	// targetRelay is llmvoy with router_settings.enable_stream_continuation:
	// its streams go through the relay (package relay). Only on request
	// (--targets): it measures what stream continuation costs.
	targetRelay = "llmvoy-relay"
	// targetOTel is llmvoy with the otel callback exporting OTLP/HTTP to
	// a receiver of the harness's that discards it. Only on request: it
	// measures what telemetry costs.
	targetOTel = "llmvoy-otel"
)

// The model group clients ask for and the model the deployments serve: they
// differ, so llmvoy really rewrites "model" in every body, as it does for a
// LiteLLM config with aliases.
const (
	benchModel    = "gpt-4o-mini"
	upstreamModel = "gpt-4o-mini-2024-07-18"
	masterKey     = "sk-llmvoy-bench"
)

// target is one way to reach the mock: the client sends the same request to
// baseURL + "/v1/chat/completions" whichever target it is.
type target struct {
	name    string
	baseURL string
	// watch are the processes whose CPU and memory a step reports.
	watch []watched
	// envoyAdmin is the admin interface of the target's Envoy (llmvoy's, a
	// unix socket, or the plain one's), as envoy.NewAdminClient takes it;
	// "" for the others.
	envoyAdmin string
	// key is the API key the target's requests carry: a virtual key
	// (--virtual-key) for llmvoy; "" for the master key.
	key string
}

// mockDeployment is a running `llmvoy mock`.
type mockDeployment struct {
	name string
	port int
	proc *proc
}

func (m mockDeployment) baseURL() string { return "http://127.0.0.1:" + strconv.Itoa(m.port) }

func startMock(ctx context.Context, ps *procs, llmvoyBin, name string, latency time.Duration) (mockDeployment, error) {
	port, err := freePort()
	if err != nil {
		return mockDeployment{}, err
	}
	p, err := ps.start(name, nil, llmvoyBin, "mock", "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--name", name, "--latency", latency.String())
	if err != nil {
		return mockDeployment{}, err
	}
	m := mockDeployment{name: name, port: port, proc: p}
	return m, p.waitHTTP(ctx, m.baseURL()+"/health", 15*time.Second)
}

// gatewayConfig is the LiteLLM config.yaml that llmvoy and LiteLLM both
// serve: one model group of two equally weighted deployments, two replicas
// behind one API key (llmvoy's direct path: no upstream processor), or with
// a key each. With fallbacks, the same deployments also form a second
// group, the first one's fallback, which no request reaches while they are
// healthy: what the measurement sees is the cost of having a chain.
func gatewayConfig(mocks []mockDeployment, s *settings) []byte {
	keyPerDeployment, fallbacks := s.KeyPerDeployment, s.Fallbacks
	// The mocks serve Anthropic's API at their root, OpenAI's under /v1.
	provider, path := "openai", "/v1"
	if s.Anthropic {
		provider, path = "anthropic", ""
	}
	var b strings.Builder
	b.WriteString("# Written by the llmvoy benchmark (bench/targets.go).\nmodel_list:\n")
	groups := []string{benchModel}
	if fallbacks {
		groups = append(groups, benchModel+"-backup")
	}
	for i, m := range slices.Repeat(mocks, len(groups)) {
		group, id := groups[i/len(mocks)], m.name
		if i >= len(mocks) {
			id += "-backup"
		}
		key := "sk-bench"
		if keyPerDeployment {
			key = "sk-" + m.name
		}
		fmt.Fprintf(&b, `  - model_name: %s
    litellm_params:
      model: %s/%s
      api_base: %s%s
      api_key: %s
    model_info:
      id: %s
`, group, provider, upstreamModel, m.baseURL(), path, key, id)
	}
	fmt.Fprintf(&b, `router_settings:
  routing_strategy: simple-shuffle
  num_retries: 2
`)
	if fallbacks {
		fmt.Fprintf(&b, "  fallbacks: [{%q: [%q]}]\n", groups[0], groups[1])
	}
	if s.Cache {
		// Every request of a scenario is the same: all but the first hit.
		b.WriteString("litellm_settings:\n  cache: true\n  cache_params:\n    type: local\n")
	}
	fmt.Fprintf(&b, `general_settings:
  master_key: %s
`, masterKey)
	return []byte(b.String())
}

func startLLMvoy(ctx context.Context, ps *procs, bin, envoyBin, configPath string, env ...string) (target, error) {
	port, err := freePort()
	if err != nil {
		return target{}, err
	}
	// Its key store (virtual keys, spend) is the run's own.
	dataDir := strings.TrimSuffix(configPath, ".yaml") + "-data"
	p, err := ps.start("llmvoy", append([]string{"ENVOY_BIN=" + envoyBin}, env...), bin, "run", "--config", configPath,
		"--host", "127.0.0.1", "--port", strconv.Itoa(port), "--log-level", "info", "--drain-timeout", "2s",
		"--data-dir", dataDir)
	if err != nil {
		return target{}, err
	}
	t := target{name: targetLLMvoy, baseURL: "http://127.0.0.1:" + strconv.Itoa(port)}
	if err := p.waitHTTP(ctx, t.baseURL+"/health/liveliness", 60*time.Second); err != nil {
		return t, err
	}
	t.watch = []watched{{Name: "llmvoy", PID: p.pid()}}
	for _, c := range children(p.pid()) {
		if c.Comm == "envoy" {
			t.watch = append(t.watch, watched{Name: "llmvoy's envoy", PID: c.PID})
		}
	}
	if len(t.watch) != 2 {
		return t, fmt.Errorf("llmvoy (pid %d) has no envoy child process", p.pid())
	}
	// The soak reads Envoy's own memory counters from its admin interface,
	// which llmvoy names when it is ready: a unix socket in its private
	// control directory, which this harness (the same user) may use.
	for deadline := time.Now().Add(5 * time.Second); t.envoyAdmin == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := envoyAdminRe.FindStringSubmatch(p.tail(20)); m != nil {
			t.envoyAdmin = m[1]
		}
	}
	return t, nil
}

var envoyAdminRe = regexp.MustCompile(`envoy_admin=(unix:///\S+)`)

// plainBootstrap is a static Envoy config with no ext_proc: a listener and
// one cluster to the mock. Its admin interface is on loopback TCP: this
// Envoy carries no key and lives for one benchmark run. Its limits match what llmvoy gives its own Envoy
// (buffer limits, timeouts), so the difference between the two is llmvoy's
// filters, routing and the ext_proc round trips.
var plainBootstrap = template.Must(template.New("plain").Parse(`# Plain Envoy for the llmvoy benchmark (bench/targets.go): the floor.
admin:
  address: {socket_address: {address: 127.0.0.1, port_value: {{.AdminPort}}}}
static_resources:
  listeners:
  - name: plain
    address: {socket_address: {address: 127.0.0.1, port_value: {{.Port}}}}
    per_connection_buffer_limit_bytes: 33554432
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: plain
          route_config:
            name: plain
            virtual_hosts:
            - name: mock
              domains: ["*"]
              routes:
              - match: {prefix: "/"}
                route: {cluster: mock, timeout: 600s}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
              suppress_envoy_headers: true
  clusters:
  - name: mock
    type: STATIC
    connect_timeout: 5s
    per_connection_buffer_limit_bytes: 33554432
    load_assignment:
      cluster_name: mock
      endpoints:
      - lb_endpoints:
        - endpoint:
            address: {socket_address: {address: 127.0.0.1, port_value: {{.MockPort}}}}
overload_manager:
  resource_monitors:
  - name: envoy.resource_monitors.global_downstream_max_connections
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig
      max_active_downstream_connections: 50000
`))

type plainOptions struct{ Port, AdminPort, MockPort int }

func renderPlainBootstrap(o plainOptions) ([]byte, error) {
	var buf bytes.Buffer
	if err := plainBootstrap.Execute(&buf, o); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func startPlainEnvoy(ctx context.Context, ps *procs, envoyBin, dir string, mock mockDeployment) (target, error) {
	var o plainOptions
	var err error
	if o.Port, err = freePort(); err != nil {
		return target{}, err
	}
	if o.AdminPort, err = freePort(); err != nil {
		return target{}, err
	}
	o.MockPort = mock.port
	cfg, err := renderPlainBootstrap(o)
	if err != nil {
		return target{}, err
	}
	path := filepath.Join(dir, "plain-envoy.yaml")
	if err := os.WriteFile(path, cfg, 0o644); err != nil {
		return target{}, err
	}
	// Same worker count as llmvoy's Envoy (one per CPU) and no hot restart,
	// as llmvoy starts it.
	p, err := ps.start("envoy", nil, envoyBin, "-c", path, "--log-level", "warn", "--disable-hot-restart")
	if err != nil {
		return target{}, err
	}
	t := target{name: targetEnvoy, baseURL: "http://127.0.0.1:" + strconv.Itoa(o.Port),
		watch:      []watched{{Name: "envoy", PID: p.pid()}},
		envoyAdmin: "http://127.0.0.1:" + strconv.Itoa(o.AdminPort)}
	// /health is proxied to the mock: ready means listener, route and
	// cluster all work.
	return t, p.waitHTTP(ctx, t.baseURL+"/health", 30*time.Second)
}

// liteLLMCommand finds a LiteLLM proxy: flagValue when given ("off" skips),
// else `litellm` on PATH, else .venv/bin/litellm, else a Python (.venv's or
// python3 on PATH) that can import litellm's proxy. It returns nil and why
// when there is none.
func liteLLMCommand(flagValue, root string) (cmd []string, why string) {
	switch flagValue {
	case "off":
		return nil, "disabled by --litellm=off"
	case "":
	default:
		return strings.Fields(flagValue), ""
	}
	if p, err := exec.LookPath("litellm"); err == nil {
		return []string{p}, ""
	}
	venv := filepath.Join(root, ".venv", "bin")
	if p := filepath.Join(venv, "litellm"); isExecutable(p) {
		return []string{p}, ""
	}
	pythons := []string{filepath.Join(venv, "python")}
	if p, err := exec.LookPath("python3"); err == nil {
		pythons = append(pythons, p)
	}
	for _, py := range pythons {
		if !isExecutable(py) {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err := exec.CommandContext(ctx, py, "-c", "import litellm.proxy.proxy_cli").Run()
		cancel()
		if err == nil {
			return []string{py, "-m", "litellm.proxy.proxy_cli"}, ""
		}
	}
	return nil, "not installed (no `litellm` on PATH or in .venv, and `python -c \"import litellm\"` fails)"
}

// liteLLMEnv keeps LiteLLM on loopback and quiet: the model cost map comes
// from the package instead of GitHub, and nothing is exported.
var liteLLMEnv = []string{
	"LITELLM_LOCAL_MODEL_COST_MAP=True",
	"LITELLM_LOG=ERROR",
	"LITELLM_TELEMETRY=False",
	"NO_PROXY=127.0.0.1,localhost",
	"no_proxy=127.0.0.1,localhost",
}

func startLiteLLM(ctx context.Context, ps *procs, cmd []string, configPath string, workers int) (target, error) {
	port, err := freePort()
	if err != nil {
		return target{}, err
	}
	args := slices.Concat(cmd[1:], []string{"--config", configPath, "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--num_workers", strconv.Itoa(workers)})
	p, err := ps.start("litellm", liteLLMEnv, cmd[0], args...)
	if err != nil {
		return target{}, err
	}
	t := target{name: targetLiteLLM, baseURL: "http://127.0.0.1:" + strconv.Itoa(port),
		watch: []watched{{Name: "litellm", PID: p.pid(), Descendants: true}}}
	return t, p.waitHTTP(ctx, t.baseURL+"/health/liveliness", 180*time.Second)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode().Perm()&0o111 != 0
}

// execOutput runs cmd with extra environment and returns its combined output.
func execOutput(ctx context.Context, cmd []string, env []string) (string, error) {
	c := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
	c.Env = append(os.Environ(), env...)
	out, err := c.CombinedOutput()
	return string(out), err
}
