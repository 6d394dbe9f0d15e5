package deploy

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/envoy"
	"github.com/llmvoy/llmvoy/extproc"
	"github.com/llmvoy/llmvoy/plan"
	"github.com/llmvoy/llmvoy/router"
	"github.com/llmvoy/llmvoy/xds"
)

var update = flag.Bool("update", false, "rewrite the generated deployment files (Envoy bootstraps) from llmvoy's current output")

// root is the repository root, seen from this package's directory.
const root = ".."

// Facts the deployment files share with llmvoy. Each is checked where a file
// states it.
const (
	// adminSocket is where every example's Envoy has its admin interface
	// (a unix socket on a volume only Envoy's container mounts) and the
	// drain hook finds it.
	adminSocket = "/run/envoy/admin.sock"
	// caBundle is where both images keep their CA bundle: llmvoy (distroless)
	// finds it and tells Envoy (the official image) to read the same path.
	caBundle = "/etc/ssl/certs/ca-certificates.crt"
)

// healthPaths are the endpoints llmvoy's gateway answers without a key, for
// orchestrators: path → probe kind.
var healthPaths = map[string]string{
	"/health/liveliness": "liveness",
	"/health/readiness":  "readiness",
}

// llmvoyBin is the CLI built from this checkout by TestMain.
var llmvoyBin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "llmvoy-deploy-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	llmvoyBin = filepath.Join(dir, "llmvoy")
	build := exec.Command("go", "build", "-o", llmvoyBin, "./cmd/llmvoy")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build llmvoy:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runLLMVoy runs the CLI and returns its stdout, stderr and exit code.
func runLLMVoy(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, llmvoyBin, args...)
	cmd.Dir = root
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		require.NoError(t, err, "llmvoy %s", strings.Join(args, " "))
	}
	return out.String(), errOut.String(), code
}

// bootstrapFor is what `llmvoy bootstrap` prints for args.
func bootstrapFor(t *testing.T, args ...string) string {
	t.Helper()
	out, stderr, code := runLLMVoy(t, append([]string{"bootstrap"}, args...)...)
	require.Zero(t, code, "llmvoy bootstrap %s:\n%s", strings.Join(args, " "), stderr)
	return out
}

// cliFlag is one flag of an llmvoy command, as its usage text shows it.
type cliFlag struct {
	takesValue bool
	def        string // the default the usage text states, "" when none
}

var (
	usageLine   = regexp.MustCompile(`^  -([a-z0-9-]+)(?: (\S+))?`)
	usageDef    = regexp.MustCompile(`\(default "?([^")]*)"?\)$`)
	valueTypes  = []string{"string", "int", "int64", "uint", "uint64", "float", "duration", "value"}
	flagsByVerb = map[string]map[string]cliFlag{}
)

// flagsOf reads the flags of `llmvoy VERB` from its -h output: the CLI itself
// says which flags exist, so a renamed flag fails here, not in a cluster.
func flagsOf(t *testing.T, verb string) map[string]cliFlag {
	t.Helper()
	if f, ok := flagsByVerb[verb]; ok {
		return f
	}
	_, stderr, code := runLLMVoy(t, verb, "-h")
	require.Equal(t, 2, code, "llmvoy %s -h", verb)
	require.Contains(t, stderr, "Usage of "+verb+":")
	flags := map[string]cliFlag{}
	var last string
	for line := range strings.Lines(stderr) {
		line = strings.TrimRight(line, "\n")
		if m := usageLine.FindStringSubmatch(line); m != nil {
			// flag.PrintDefaults shows a type for every flag but a bool
			// one (whose usage may still name something in backquotes).
			last = m[1]
			flags[last] = cliFlag{takesValue: slices.Contains(valueTypes, m[2])}
			continue
		}
		if m := usageDef.FindStringSubmatch(line); m != nil && last != "" {
			f := flags[last]
			f.def = m[1]
			flags[last] = f
		}
	}
	require.NotEmpty(t, flags, "no flags in `llmvoy %s -h`", verb)
	flagsByVerb[verb] = flags
	return flags
}

// parseCommand checks an llmvoy command line as a deployment file writes it
// (["run", "--config", "/x", ...]) against the CLI: every argument is a flag
// the verb defines, with a value when it takes one, and the CLI's own flag
// parser accepts them all. It returns the flags given: name → value ("true"
// for a bool flag).
func parseCommand(t *testing.T, args []string) (verb string, given map[string]string) {
	t.Helper()
	require.NotEmpty(t, args, "an llmvoy command line names a command")
	verb = args[0]
	defined := flagsOf(t, verb)
	given = map[string]string{}
	for i := 1; i < len(args); i++ {
		arg := args[i]
		require.True(t, strings.HasPrefix(arg, "-"), "llmvoy %s: %q is not a flag (%v)", verb, arg, args)
		name, value, inline := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		f, ok := defined[name]
		require.True(t, ok, "llmvoy %s has no flag --%s", verb, name)
		switch {
		case inline:
		case f.takesValue:
			require.Less(t, i+1, len(args), "llmvoy %s --%s needs a value", verb, name)
			i++
			value = args[i]
		default:
			value = "true"
		}
		require.NotContains(t, given, name, "llmvoy %s: --%s given twice", verb, name)
		given[name] = value
	}
	// Every argument is a flag, so -h stops the CLI right after its parser
	// accepted them: bad values (a port that is no number, a duration
	// without a unit) fail here.
	_, stderr, code := runLLMVoy(t, append(slices.Clone(args), "-h")...)
	require.Equal(t, 2, code, "llmvoy %v -h:\n%s", args, stderr)
	require.True(t, strings.HasPrefix(stderr, "Usage of "+verb+":"), "llmvoy %s rejects %v:\n%s", verb, args[1:], stderr)
	return verb, given
}

// flagValue is a given flag's value, else the CLI's default.
func flagValue(t *testing.T, verb string, given map[string]string, name string) string {
	t.Helper()
	if v, ok := given[name]; ok {
		return v
	}
	f, ok := flagsOf(t, verb)[name]
	require.True(t, ok, "llmvoy %s has no flag --%s", verb, name)
	return f.def
}

var envRef = regexp.MustCompile(`os\.environ/([A-Za-z_][A-Za-z0-9_]*)`)

// envRefs are the environment variables a config's os.environ/ references
// name.
func envRefs(configText string) []string {
	var names []string
	for _, m := range envRef.FindAllStringSubmatch(configText, -1) {
		if !slices.Contains(names, m[1]) {
			names = append(names, m[1])
		}
	}
	slices.Sort(names)
	return names
}

// compiled is a config llmvoy accepted and compiled to Envoy resources.
type compiled struct {
	cfg       *config.Config
	resources *xds.Resources
	warnings  []config.Warning
}

// compileConfig does what `llmvoy run` does with a config file, without DNS:
// parse and validate it against env, then translate it to Envoy resources
// for a gateway listener on listenPort, each api_base host name standing for
// a documentation address (RFC 5737). Every resource passes Envoy's
// validation rules.
func compileConfig(t *testing.T, data []byte, path string, env map[string]string, listenPort int) compiled {
	t.Helper()
	cfg, warnings, err := config.Parse(data, path, func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	})
	require.NoError(t, err, "%s: llmvoy rejects this config", path)
	p, err := plan.Build(cfg)
	require.NoError(t, err, "%s", path)
	res, err := xds.Translate(p, xds.State{Addrs: documentationAddrs(t, cfg)}, xds.Options{
		ListenAddress:  "0.0.0.0",
		ListenPort:     uint32(listenPort),
		ExtProcCluster: envoy.ExtProcClusterName,
		CAFile:         caBundle,
	})
	require.NoError(t, err, "%s: llmvoy cannot compile this config for Envoy", path)
	require.NoError(t, res.Validate(), "%s", path)
	return compiled{cfg: cfg, resources: res, warnings: warnings}
}

func documentationAddrs(t *testing.T, cfg *config.Config) map[string]netip.AddrPort {
	t.Helper()
	out := map[string]netip.AddrPort{}
	hosts := map[string]netip.Addr{}
	for _, d := range cfg.Deployments {
		if d.APIBase == nil {
			continue
		}
		host := d.APIBase.Hostname()
		ip, err := netip.ParseAddr(host)
		if err != nil {
			if _, ok := hosts[host]; !ok {
				hosts[host] = netip.AddrFrom4([4]byte{203, 0, 113, byte(len(hosts) + 1)})
			}
			ip = hosts[host]
		}
		port := 80
		switch {
		case d.APIBase.Port() != "":
			port, err = strconv.Atoi(d.APIBase.Port())
			require.NoError(t, err)
		case d.APIBase.Scheme == "https":
			port = 443
		}
		out[d.ID] = netip.AddrPortFrom(ip, uint16(port))
	}
	return out
}

// gatewayStatPrefix is the stat prefix of the gateway listener's HTTP
// connection manager: Envoy's downstream request counters carry it.
func gatewayStatPrefix(t *testing.T, res *xds.Resources) string {
	t.Helper()
	require.NotEmpty(t, res.Listeners)
	l, ok := res.Listeners[0].(*listenerv3.Listener)
	require.True(t, ok)
	for _, fc := range l.GetFilterChains() {
		for _, f := range fc.GetFilters() {
			var hcm hcmv3.HttpConnectionManager
			if f.GetTypedConfig().MessageIs(&hcm) {
				require.NoError(t, f.GetTypedConfig().UnmarshalTo(&hcm))
				return hcm.GetStatPrefix()
			}
		}
	}
	t.Fatalf("listener %s has no HTTP connection manager", l.GetName())
	return ""
}

// gatewayStatus is the HTTP status llmvoy's gateway processor answers for a
// GET of path without a key, with cfg: what a kubelet probe through Envoy
// gets. The processor runs in process behind an in-memory gRPC connection,
// and the test plays Envoy's part.
func gatewayStatus(t *testing.T, cfg *config.Config, path string) int {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	p, err := plan.Build(cfg)
	require.NoError(t, err)
	g := grpc.NewServer()
	extproc.NewServer(p, router.NewCooldowns(cfg), router.NewBalance(cfg), slog.New(slog.NewTextHandler(io.Discard, nil))).Register(g)
	go g.Serve(lis)
	defer g.Stop()
	conn, err := grpc.NewClient("passthrough:///gateway",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, plan.ProcessorHeader, plan.ProcessorGateway)
	stream, err := extprocv3.NewExternalProcessorClient(conn).Process(ctx)
	require.NoError(t, err)
	var headers []*corev3.HeaderValue
	for _, h := range [][2]string{{":authority", "10.0.0.1:4000"}, {":path", path}, {":method", "GET"}, {":scheme", "http"}, {"user-agent", "kube-probe/1.33"}} {
		headers = append(headers, &corev3.HeaderValue{Key: h[0], RawValue: []byte(h[1])})
	}
	require.NoError(t, stream.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{
		RequestHeaders: &extprocv3.HttpHeaders{Headers: &corev3.HeaderMap{Headers: headers}, EndOfStream: true},
	}}))
	resp, err := stream.Recv()
	require.NoError(t, err)
	immediate := resp.GetImmediateResponse()
	require.NotNil(t, immediate, "GET %s: the gateway did not answer it itself: %v", path, resp)
	return int(immediate.GetStatus().GetCode())
}

// checkHealthEndpoints checks that the probe paths answer 200 without a key
// with this config, and that the config does require a key elsewhere (so the
// probes pass because they are exempt, not because nothing is locked).
func checkHealthEndpoints(t *testing.T, cfg *config.Config, paths ...string) {
	t.Helper()
	for _, p := range paths {
		require.Equal(t, 200, gatewayStatus(t, cfg, p), "GET %s without a key", p)
	}
	require.NotEmpty(t, cfg.General.MasterKey.Reveal(), "the gateway has no master key")
	require.Equal(t, 401, gatewayStatus(t, cfg, "/v1/models"), "GET /v1/models without a key")
}

// generatedHeader starts a file this package writes: the command it came
// from and how to regenerate it.
func generatedHeader(sources ...string) string {
	var b strings.Builder
	b.WriteString("# Generated by `go test ./deploy -update`; do not edit. From:\n")
	for _, s := range sources {
		b.WriteString("#   " + s + "\n")
	}
	return b.String()
}

// checkGenerated compares a generated file with what it should hold now, or
// rewrites it under -update.
func checkGenerated(t *testing.T, path, want string) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(want), 0o644))
		return
	}
	got, err := os.ReadFile(path)
	require.NoError(t, err, "run `go test ./deploy -update` to generate it")
	require.Equal(t, want, string(got), "%s is stale: run `go test ./deploy -update`", path)
}
