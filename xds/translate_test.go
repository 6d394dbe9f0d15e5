package xds

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"gopkg.in/yaml.v3"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/plan"
)

var update = flag.Bool("update", false, "rewrite testdata/out from the current output (and delete stale files)")

var goldenOptions = Options{
	ListenAddress:  "0.0.0.0",
	ListenPort:     4000,
	ExtProcCluster: "llmvoy_extproc",
	CAFile:         "/etc/ssl/certs/ca-certificates.crt",
	// Relay groups (enable_stream_continuation) get their routes only
	// where the control directory is shared with Envoy.
	RelaySocket:       "/run/llmvoy/relay.sock",
	RelayListenSocket: "/run/llmvoy/relay-attempts.sock",
	RelaySocketMode:   0o600,
}

// goldenAddrs resolves without DNS: IP literals as written, each host name
// to its own documentation address (RFC 5737), in order of appearance.
func goldenAddrs(cfg *config.Config) map[string]netip.AddrPort {
	out := map[string]netip.AddrPort{}
	hosts := map[string]netip.Addr{}
	for _, d := range cfg.Deployments {
		ip, err := netip.ParseAddr(d.APIBase.Hostname())
		if err != nil {
			if _, ok := hosts[d.APIBase.Hostname()]; !ok {
				hosts[d.APIBase.Hostname()] = netip.AddrFrom4([4]byte{203, 0, 113, byte(len(hosts) + 1)})
			}
			ip = hosts[d.APIBase.Hostname()]
		}
		port, err := portOf(d)
		if err != nil {
			panic(err)
		}
		out[d.ID] = netip.AddrPortFrom(ip, port)
	}
	return out
}

// envRefPattern finds a config's os.environ/NAME references.
var envRefPattern = regexp.MustCompile(`os\.environ/([A-Za-z0-9_]+)`)

func loadGoldenConfig(t *testing.T, path string) *config.Config {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	// Only the variables the file names are set, each to a value of its
	// own: a provider's environment defaults would fill in everything else.
	named := map[string]bool{}
	for _, m := range envRefPattern.FindAllStringSubmatch(string(data), -1) {
		named[m[1]] = true
	}
	env := func(name string) (string, bool) { return "test-value-of-" + name, named[name] }
	cfg, _, err := config.Parse(data, path, env)
	require.NoError(t, err)
	return cfg
}

func mustPlan(t *testing.T, cfg *config.Config) *plan.Plan {
	t.Helper()
	p, err := plan.Build(cfg)
	require.NoError(t, err)
	return p
}

// goldenState is an input's endpoint state: what the router learned at run
// time, from the optional NAME.state.yaml beside NAME.yaml. Addresses are
// always goldenAddrs'.
type goldenState struct {
	// Cooling are deployments cooling down or past their rpm (served as
	// unhealthy); Slow are the ones latency-based routing serves one
	// priority level down.
	Cooling []string `yaml:"cooling"`
	Slow    []string `yaml:"slow"`
	// HedgeDelays are `delay: p95` groups' measured delays, in seconds.
	HedgeDelays map[string]float64 `yaml:"hedge_delays"`
}

const stateSuffix = ".state.yaml"

func loadGoldenState(t *testing.T, in string, cfg *config.Config) State {
	t.Helper()
	st := State{Addrs: goldenAddrs(cfg)}
	data, err := os.ReadFile(strings.TrimSuffix(in, ".yaml") + stateSuffix)
	if os.IsNotExist(err) {
		return st
	}
	require.NoError(t, err)
	var gs goldenState
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&gs))
	st.Unavailable, st.Slow = map[string]bool{}, map[string]bool{}
	for _, id := range gs.Cooling {
		require.NotNil(t, cfg.Deployment(id), "%s names no deployment %q", in, id)
		st.Unavailable[id] = true
	}
	for _, id := range gs.Slow {
		require.NotNil(t, cfg.Deployment(id), "%s names no deployment %q", in, id)
		st.Slow[id] = true
	}
	if len(gs.HedgeDelays) > 0 {
		st.HedgeDelays = map[string]time.Duration{}
		for group, s := range gs.HedgeDelays {
			require.True(t, cfg.Router.Hedging[group].P95, "%s: %q has no p95 hedging", in, group)
			st.HedgeDelays[group] = time.Duration(s * float64(time.Second))
		}
	}
	return st
}

func TestTranslateGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/in/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, inputs)
	want := map[string]bool{}
	inputs = slices.DeleteFunc(inputs, func(in string) bool { return strings.HasSuffix(in, stateSuffix) })
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".yaml")
		t.Run(name, func(t *testing.T) {
			cfg := loadGoldenConfig(t, in)
			res, err := Translate(mustPlan(t, cfg), loadGoldenState(t, in, cfg), goldenOptions)
			require.NoError(t, err)
			require.NoError(t, res.Validate())
			for _, r := range res.All() {
				validateTypedConfigs(t, r)
			}
			for kind, set := range map[string][]types.Resource{
				"listeners": res.Listeners, "routes": res.Routes, "clusters": res.Clusters, "endpoints": res.Endpoints, "secrets": res.Secrets,
			} {
				file := filepath.Join("testdata/out", name+"."+kind+".yaml")
				want[file] = true
				got := toYAML(t, set)
				if *update {
					require.NoError(t, os.WriteFile(file, got, 0o644))
					continue
				}
				golden, err := os.ReadFile(file)
				require.NoError(t, err, "missing golden file: run go test ./xds -update")
				require.Equal(t, string(golden), string(got), "%s differs: run go test ./xds -update and review the diff", file)
			}
		})
	}
	if *update {
		outs, _ := filepath.Glob("testdata/out/*.yaml")
		for _, f := range outs {
			if !want[f] {
				require.NoError(t, os.Remove(f))
			}
		}
	}
}

// validateTypedConfigs runs the validation rules of every message packed in
// an Any inside m (filter and extension configs), which ValidateAll does not
// look into and Envoy does: a rule broken there is a NACK.
func validateTypedConfigs(t *testing.T, m proto.Message) {
	t.Helper()
	var walk func(protoreflect.Message)
	walk = func(msg protoreflect.Message) {
		if a, ok := msg.Interface().(*anypb.Any); ok {
			inner, err := a.UnmarshalNew()
			require.NoError(t, err)
			v, ok := inner.(interface{ ValidateAll() error })
			require.True(t, ok, "%T has no validation", inner)
			require.NoError(t, v.ValidateAll(), "in %s", a.GetTypeUrl())
			walk(inner.ProtoReflect())
			return
		}
		msg.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsList() && fd.Message() != nil:
				for i := range v.List().Len() {
					walk(v.List().Get(i).Message())
				}
			case fd.IsMap() && fd.MapValue().Message() != nil:
				v.Map().Range(func(_ protoreflect.MapKey, e protoreflect.Value) bool {
					walk(e.Message())
					return true
				})
			case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
				walk(v.Message())
			}
			return true
		})
	}
	walk(m.ProtoReflect())
}

func toYAML[T proto.Message](t *testing.T, msgs []T) []byte {
	t.Helper()
	var docs []any
	for _, m := range msgs {
		b, err := protojson.Marshal(m)
		require.NoError(t, err)
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var v any
		require.NoError(t, dec.Decode(&v))
		docs = append(docs, plainNumbers(v))
	}
	out, err := yaml.Marshal(docs)
	require.NoError(t, err)
	return out
}

// plainNumbers turns JSON numbers into ints where they are integral, so the
// golden files say 33554432 rather than 3.3554432e+07.
func plainNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = plainNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = plainNumbers(e)
		}
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	}
	return v
}
