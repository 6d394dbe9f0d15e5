package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// The examples' Envoy side and the tests of each Kubernetes example; the
// manifests are loaded and the pods checked by manifests_test.go.

// envoyConfigMapFile is the generated manifest of each example that holds
// Envoy's bootstrap (and drain hook).
const envoyConfigMapFile = "envoy-bootstrap.yaml"

// envoyUID is the "envoy" user of the official Envoy image.
const envoyUID = 101

// envoyArgs reads the Envoy flags the tests care about; "c" is the
// bootstrap path (-c or --config-path).
func envoyArgs(t *testing.T, args []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for i := 0; i < len(args); i++ {
		name := strings.TrimLeft(args[i], "-")
		require.True(t, strings.HasPrefix(args[i], "-"), "envoy argument %q", args[i])
		switch name {
		case "disable-hot-restart":
			out[name] = "true"
			continue
		case "config-path":
			name = "c"
		}
		require.Less(t, i+1, len(args), "envoy --%s needs a value", name)
		i++
		out[name] = args[i]
	}
	require.Contains(t, out, "c", "envoy -c BOOTSTRAP")
	return out
}

func envOr(env map[string]string, name, def string) string {
	if v, ok := env[name]; ok {
		return v
	}
	return def
}

// generatedConfigMap renders a ConfigMap whose values stay readable: each a
// literal block scalar.
func generatedConfigMap(t *testing.T, name string, lbls map[string]string, data map[string]string, sources []string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(generatedHeader(sources...))
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n")
	if len(lbls) > 0 {
		b.WriteString("  labels:\n")
		for _, k := range slices.Sorted(mapKeys(lbls)) {
			b.WriteString("    " + k + ": " + lbls[k] + "\n")
		}
	}
	b.WriteString("data:\n")
	keys := slices.Sorted(mapKeys(data))
	for _, k := range keys {
		v := data[k]
		require.True(t, strings.HasSuffix(v, "\n") && !strings.HasSuffix(v, "\n\n"), "%s: one final newline", k)
		require.False(t, strings.HasPrefix(v, " "), "%s: a block scalar cannot start with a space", k)
		b.WriteString("  " + k + ": |\n")
		for line := range strings.Lines(v) {
			if line == "\n" {
				b.WriteString(line)
				continue
			}
			b.WriteString("    " + line)
		}
	}
	return b.String()
}

// drainScriptPath is Envoy's preStop hook, shared by the examples.
const drainScriptPath = "examples/kubernetes/envoy-drain.sh"

func drainScript(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, drainScriptPath))
	require.NoError(t, err)
	return string(b)
}

// scriptDefault reads the default of a ${NAME:-default} in the drain script.
func scriptDefault(t *testing.T, script, name string) string {
	t.Helper()
	m := regexp.MustCompile(`\$\{` + name + `:-([^}]+)\}`).FindStringSubmatch(script)
	require.NotNil(t, m, "%s: no default for %s", drainScriptPath, name)
	return m[1]
}

// exampleDirs are the Kubernetes examples, each a directory of manifests.
func exampleDirs(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(root, "examples/kubernetes/*"))
	require.NoError(t, err)
	var out []string
	for _, d := range dirs {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			out = append(out, d)
		}
	}
	sort.Strings(out)
	require.Equal(t, []string{"gateway", "sidecar"}, baseNames(out))
	return out
}

func baseNames(paths []string) []string {
	var out []string
	for _, p := range paths {
		out = append(out, filepath.Base(p))
	}
	return out
}

// gatewayPod checks a pod that runs llmvoy and Envoy side by side and returns
// both sides.
func (m *manifests) gatewayPod(t *testing.T, d *appsv1.Deployment, served bool) (llmvoySide, envoySide) {
	t.Helper()
	spec := &d.Spec.Template.Spec
	var llmvoyC, envoyC *corev1.Container
	for _, c := range podContainers(spec) {
		switch {
		case strings.HasPrefix(c.Image, "envoyproxy/envoy:"):
			require.Nil(t, envoyC, "deployment %s: one Envoy", d.Name)
			envoyC = c
		case c.Image == llmvoyImage:
			require.Nil(t, llmvoyC, "deployment %s: one llmvoy", d.Name)
			llmvoyC = c
		}
	}
	require.NotNil(t, llmvoyC, "deployment %s runs llmvoy", d.Name)
	require.NotNil(t, envoyC, "deployment %s runs Envoy", d.Name)
	// llmvoy starts first: Envoy's first xDS request finds it serving.
	require.Less(t, slices.Index(podContainers(spec), llmvoyC), slices.Index(podContainers(spec), envoyC))

	port := envoyProbePort(t, envoyC)
	ll := m.checkLLMVoy(t, d, llmvoyC, port)
	ev := m.checkEnvoy(t, d, envoyC, ll, served)
	// Nobody else in the pod mounts the control sockets, nor (llmvoy
	// included) Envoy's admin socket.
	for _, c := range podContainers(spec) {
		for _, vm := range c.VolumeMounts {
			if c != llmvoyC && c != envoyC {
				require.NotEqual(t, ll.controlVol, vm.Name, "container %s must not mount llmvoy's control sockets", c.Name)
			}
			if c != envoyC {
				require.NotEqual(t, ev.adminVol, vm.Name, "container %s must not mount Envoy's admin socket", c.Name)
			}
		}
	}
	require.Equal(t, "llmvoy", gatewayStatPrefix(t, ll.compiled.resources), "the drain hook counts requests by this stat prefix")
	// Last: under -update the Envoy ConfigMap it mounts was just written.
	m.checkPod(t, d)
	return ll, ev
}

// emptyDirAbove is the emptyDir volume c mounts at dir or a parent of it,
// writable.
func emptyDirAbove(t *testing.T, spec *corev1.PodSpec, c *corev1.Container, dir string) string {
	t.Helper()
	for _, vm := range c.VolumeMounts {
		if dir != vm.MountPath && !strings.HasPrefix(dir, strings.TrimSuffix(vm.MountPath, "/")+"/") {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == vm.Name {
				require.NotNil(t, v.EmptyDir, "container %s: %s is on volume %s, which is no emptyDir", c.Name, dir, v.Name)
				require.False(t, vm.ReadOnly, "container %s: %s is read-only", c.Name, vm.MountPath)
				return v.Name
			}
		}
	}
	t.Fatalf("container %s: no volume mounted at %s", c.Name, dir)
	return ""
}

// envoyMaxHeap is the heap limit an example's Envoy gets for its container
// memory limit: three quarters of it.
func envoyMaxHeap(memLimit int64) int64 {
	return memLimit / 4 * 3 &^ (1<<20 - 1)
}

func envoyProbePort(t *testing.T, c *corev1.Container) int {
	t.Helper()
	require.NotNil(t, c.ReadinessProbe)
	require.NotNil(t, c.ReadinessProbe.HTTPGet)
	return containerPort(t, c, c.ReadinessProbe.HTTPGet.Port)
}

func TestKubernetesManifestsDecodeStrictly(t *testing.T) {
	for _, dir := range exampleDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m := loadManifests(t, dir)
			require.NotEmpty(t, m.deployments)
		})
	}
	// Nothing at the top level but the README and the shared drain hook.
	entries, err := os.ReadDir(filepath.Join(root, "examples/kubernetes"))
	require.NoError(t, err)
	for _, e := range entries {
		if !e.IsDir() {
			require.Contains(t, []string{"README.md", filepath.Base(drainScriptPath)}, e.Name())
		}
	}
}

func TestKubernetesSidecar(t *testing.T) {
	m := loadManifests(t, filepath.Join(root, "examples/kubernetes/sidecar"))
	require.Len(t, m.deployments, 1)
	require.Empty(t, m.services, "the sidecar serves its own pod only")
	for _, d := range m.deployments {
		ll, ev := m.gatewayPod(t, d, false)
		spec := &d.Spec.Template.Spec

		// Both gateway containers are native sidecars, so the app starts
		// once Envoy's startupProbe passes and stops before them.
		require.True(t, isSidecar(ev.container), "Envoy is a native sidecar")
		require.NotNil(t, ev.container.StartupProbe, "the app waits for Envoy's startupProbe")
		require.Len(t, spec.Containers, 1, "one app container")
		app := &spec.Containers[0]
		env := m.containerEnv(t, app)

		// The app reaches the gateway on the pod's loopback, with the
		// gateway's master key, and asks for model groups the config has.
		require.Equal(t, fmt.Sprintf("http://127.0.0.1:%d/v1", ev.port), env["OPENAI_BASE_URL"])
		require.Equal(t, ll.compiled.cfg.General.MasterKey.Reveal(), env["OPENAI_API_KEY"], "the app sends the master key")
		models := regexp.MustCompile(`"model": "([^"]+)"`).FindAllStringSubmatch(strings.Join(app.Command, "\n"), -1)
		require.NotEmpty(t, models, "the app names a model")
		for _, mm := range models {
			require.Contains(t, ll.compiled.cfg.Groups(), mm[1], "the app asks for a model group of the config")
		}
	}
}

func TestKubernetesGateway(t *testing.T) {
	m := loadManifests(t, filepath.Join(root, "examples/kubernetes/gateway"))
	d, ok := m.deployments["llmvoy-gateway"]
	require.True(t, ok)
	ll, ev := m.gatewayPod(t, d, true)
	require.False(t, isSidecar(ev.container), "Envoy is the main container; llmvoy outlives it")
	pods := labels.Set(d.Spec.Template.Labels)

	require.NotNil(t, d.Spec.Replicas)
	require.GreaterOrEqual(t, *d.Spec.Replicas, int32(2), "a replicated gateway")
	require.Equal(t, appsv1.RollingUpdateDeploymentStrategyType, d.Spec.Strategy.Type)
	require.Equal(t, intstr.FromInt(0), *d.Spec.Strategy.RollingUpdate.MaxUnavailable, "a rollout never lowers capacity")

	t.Run("service", func(t *testing.T) {
		svc, ok := m.services["llmvoy-gateway"]
		require.True(t, ok)
		require.True(t, labels.SelectorFromSet(svc.Spec.Selector).Matches(pods), "the Service selects the gateway pods")
		require.Len(t, svc.Spec.Ports, 1)
		p := svc.Spec.Ports[0]
		require.Equal(t, int32(ev.port), p.Port, "clients use the port the docs and SDK snippets name")
		c, port := podPort(t, &d.Spec.Template.Spec, p.TargetPort)
		require.Equal(t, ev.container.Name, c.Name, "the Service reaches Envoy")
		require.Equal(t, ev.port, port, "the Service reaches the gateway listener")
	})

	t.Run("pdb", func(t *testing.T) {
		pdb, ok := m.pdbs["llmvoy-gateway"]
		require.True(t, ok)
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		require.NoError(t, err)
		require.True(t, sel.Matches(pods))
		require.NotNil(t, pdb.Spec.MinAvailable)
		require.Less(t, pdb.Spec.MinAvailable.IntValue(), int(*d.Spec.Replicas), "a node drain can proceed")
		require.Positive(t, pdb.Spec.MinAvailable.IntValue())
	})

	t.Run("prometheus", func(t *testing.T) {
		a := d.Spec.Template.Annotations
		require.Equal(t, "true", a["prometheus.io/scrape"])
		require.Equal(t, strconv.Itoa(ev.port), a["prometheus.io/port"])
		require.Equal(t, "/metrics", a["prometheus.io/path"])
	})

	t.Run("redis", func(t *testing.T) {
		router := rawRouterSettings(t, ll.configText)
		host, _ := router["redis_host"].(string)
		svc, ok := m.services[host]
		require.True(t, ok, "router_settings.redis_host %q names a Service of the example", host)
		require.Len(t, svc.Spec.Ports, 1)
		require.Equal(t, svc.Spec.Ports[0].Port, int32(toInt(t, router["redis_port"])), "router_settings.redis_port")
		rd, ok := m.deployments[host]
		require.True(t, ok)
		m.checkPod(t, rd)
		require.True(t, labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(rd.Spec.Template.Labels)))
		c, _ := podPort(t, &rd.Spec.Template.Spec, svc.Spec.Ports[0].TargetPort)
		require.True(t, strings.HasPrefix(c.Image, "redis:7"), "redis:7")

		// Redis requires the password the gateway sends.
		pw, _ := router["redis_password"].(string)
		ref, ok := strings.CutPrefix(pw, "os.environ/")
		require.True(t, ok, "redis_password comes from the Secret")
		i := slices.Index(c.Args, "--requirepass")
		require.GreaterOrEqual(t, i, 0, "redis requires a password")
		require.Equal(t, "$(REDIS_PASSWORD)", c.Args[i+1])
		redisEnv := m.containerEnv(t, c)
		require.Equal(t, secretValues(ll.secret)[ref], redisEnv["REDIS_PASSWORD"], "Redis and llmvoy share the password")
	})

	t.Run("networkpolicy", func(t *testing.T) {
		require.Len(t, m.netpols, 2)
		for _, np := range m.netpols {
			sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
			require.NoError(t, err)
			var target *appsv1.Deployment
			for _, dep := range m.deployments {
				if sel.Matches(labels.Set(dep.Spec.Template.Labels)) {
					require.Nil(t, target, "NetworkPolicy %s selects one Deployment's pods", np.Name)
					target = dep
				}
			}
			require.NotNil(t, target, "NetworkPolicy %s selects no pods of the example", np.Name)
			var admitted []int
			for _, rule := range np.Spec.Ingress {
				for _, p := range rule.Ports {
					require.NotNil(t, p.Port)
					_, port := podPort(t, &target.Spec.Template.Spec, *p.Port)
					admitted = append(admitted, port)
				}
				for _, peer := range rule.From {
					require.NotNil(t, peer.PodSelector, "NetworkPolicy %s: peers are pods of the example", np.Name)
					ps, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
					require.NoError(t, err)
					require.True(t, ps.Matches(pods), "NetworkPolicy %s admits the gateway pods", np.Name)
				}
			}
			// Each policy admits what its Service serves.
			for _, svc := range m.services {
				if labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(target.Spec.Template.Labels)) {
					for _, sp := range svc.Spec.Ports {
						_, port := podPort(t, &target.Spec.Template.Spec, sp.TargetPort)
						require.Contains(t, admitted, port, "NetworkPolicy %s admits Service %s", np.Name, svc.Name)
					}
				}
			}
		}
	})
}

// rawRouterSettings reads router_settings as written, for the keys llmvoy's
// config model does not keep.
func rawRouterSettings(t *testing.T, configText string) map[string]any {
	t.Helper()
	var doc struct {
		RouterSettings map[string]any `json:"router_settings"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(configText), &doc))
	return doc.RouterSettings
}

func toInt(t *testing.T, v any) int {
	t.Helper()
	switch n := v.(type) {
	case float64:
		return int(n)
	case int:
		return n
	case string:
		i, err := strconv.Atoi(n)
		require.NoError(t, err)
		return i
	}
	t.Fatalf("not a number: %v", v)
	return 0
}
