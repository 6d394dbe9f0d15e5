package deploy

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// manifests are the Kubernetes objects of one example directory, by name.
type manifests struct {
	dir         string
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	services    map[string]*corev1.Service
	deployments map[string]*appsv1.Deployment
	pdbs        map[string]*policyv1.PodDisruptionBudget
	netpols     map[string]*networkingv1.NetworkPolicy
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// loadManifests strictly decodes every manifest of dir: each document of each
// .yaml file into its Kubernetes API type, where an unknown or duplicated
// field is an error, as kubectl's server-side field validation would make it.
func loadManifests(t *testing.T, dir string) *manifests {
	t.Helper()
	m := &manifests{
		dir:         dir,
		configMaps:  map[string]*corev1.ConfigMap{},
		secrets:     map[string]*corev1.Secret{},
		services:    map[string]*corev1.Service{},
		deployments: map[string]*appsv1.Deployment{},
		pdbs:        map[string]*policyv1.PodDisruptionBudget{},
		netpols:     map[string]*networkingv1.NetworkPolicy{},
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no manifests in %s", dir)
	for _, file := range files {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		for i, doc := range docSeparator.Split(string(data), -1) {
			if isBlankYAML(doc) {
				continue
			}
			m.add(t, fmt.Sprintf("%s (document %d)", file, i+1), []byte(doc))
		}
	}
	return m
}

func isBlankYAML(doc string) bool {
	for line := range strings.Lines(doc) {
		if s := strings.TrimSpace(line); s != "" && !strings.HasPrefix(s, "#") {
			return false
		}
	}
	return true
}

func (m *manifests) add(t *testing.T, where string, doc []byte) {
	t.Helper()
	var tm metav1.TypeMeta
	require.NoError(t, yaml.Unmarshal(doc, &tm), where)
	var (
		obj  any
		meta *metav1.ObjectMeta
	)
	switch gvk := tm.APIVersion + ", Kind=" + tm.Kind; gvk {
	case "v1, Kind=ConfigMap":
		o := &corev1.ConfigMap{}
		obj, meta = o, &o.ObjectMeta
	case "v1, Kind=Secret":
		o := &corev1.Secret{}
		obj, meta = o, &o.ObjectMeta
	case "v1, Kind=Service":
		o := &corev1.Service{}
		obj, meta = o, &o.ObjectMeta
	case "apps/v1, Kind=Deployment":
		o := &appsv1.Deployment{}
		obj, meta = o, &o.ObjectMeta
	case "policy/v1, Kind=PodDisruptionBudget":
		o := &policyv1.PodDisruptionBudget{}
		obj, meta = o, &o.ObjectMeta
	case "networking.k8s.io/v1, Kind=NetworkPolicy":
		o := &networkingv1.NetworkPolicy{}
		obj, meta = o, &o.ObjectMeta
	default:
		t.Fatalf("%s: %s is not a kind these tests know; teach manifests.add about it", where, gvk)
	}
	require.NoError(t, yaml.UnmarshalStrict(doc, obj), where)

	require.Empty(t, validation.IsDNS1123Subdomain(meta.Name), "%s: name %q", where, meta.Name)
	// The examples apply to whatever namespace kubectl targets, and every
	// reference between them is namespace-local.
	require.Empty(t, meta.Namespace, "%s: no namespace", where)
	require.Empty(t, validateLabels(meta.Labels), "%s: labels", where)

	var dup bool
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		_, dup = m.configMaps[o.Name]
		m.configMaps[o.Name] = o
		for k := range o.Data {
			require.Empty(t, validation.IsConfigMapKey(k), "%s: key %q", where, k)
		}
	case *corev1.Secret:
		_, dup = m.secrets[o.Name]
		m.secrets[o.Name] = o
		for k := range secretValues(o) {
			require.Empty(t, validation.IsConfigMapKey(k), "%s: key %q", where, k)
		}
	case *corev1.Service:
		_, dup = m.services[o.Name]
		m.services[o.Name] = o
		require.Empty(t, validation.IsDNS1035Label(o.Name), "%s: a Service name is a DNS label", where)
	case *appsv1.Deployment:
		_, dup = m.deployments[o.Name]
		m.deployments[o.Name] = o
	case *policyv1.PodDisruptionBudget:
		_, dup = m.pdbs[o.Name]
		m.pdbs[o.Name] = o
	case *networkingv1.NetworkPolicy:
		_, dup = m.netpols[o.Name]
		m.netpols[o.Name] = o
	}
	require.False(t, dup, "%s: a second %s named %q", where, tm.Kind, meta.Name)
}

func validateLabels(l map[string]string) []string {
	var errs []string
	for k, v := range l {
		errs = append(errs, validation.IsQualifiedName(k)...)
		errs = append(errs, validation.IsValidLabelValue(v)...)
	}
	return errs
}

// secretValues are a Secret's keys and values, from data and stringData.
func secretValues(s *corev1.Secret) map[string]string {
	out := map[string]string{}
	for k, v := range s.Data {
		out[k] = string(v)
	}
	for k, v := range s.StringData {
		out[k] = v
	}
	return out
}

// podContainers are a pod's init containers (native sidecars among them) and
// its containers.
func podContainers(spec *corev1.PodSpec) []*corev1.Container {
	var all []*corev1.Container
	for i := range spec.InitContainers {
		all = append(all, &spec.InitContainers[i])
	}
	for i := range spec.Containers {
		all = append(all, &spec.Containers[i])
	}
	return all
}

func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// containerPort resolves a probe's or a Service's port (a number or a name)
// to one the container declares.
func containerPort(t *testing.T, c *corev1.Container, p intstr.IntOrString) int {
	t.Helper()
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return int(cp.ContainerPort)
		}
	}
	t.Fatalf("container %s declares no port %s", c.Name, p.String())
	return 0
}

// podPort resolves a port to the container of the pod that declares it.
func podPort(t *testing.T, spec *corev1.PodSpec, p intstr.IntOrString) (*corev1.Container, int) {
	t.Helper()
	for _, c := range podContainers(spec) {
		for _, cp := range c.Ports {
			if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
				return c, int(cp.ContainerPort)
			}
		}
	}
	t.Fatalf("no container of the pod declares port %s", p.String())
	return nil, 0
}

// mountedKey is the ConfigMap key a container sees at filePath: a key of a
// ConfigMap mounted as a directory. A subPath mount is refused: the kubelet
// never updates one, so a config edit would not reach llmvoy.
func mountedKey(t *testing.T, spec *corev1.PodSpec, c *corev1.Container, filePath string) (configMap, key string) {
	t.Helper()
	var mount *corev1.VolumeMount
	for i, vm := range c.VolumeMounts {
		if strings.HasPrefix(filePath, strings.TrimSuffix(vm.MountPath, "/")+"/") &&
			(mount == nil || len(vm.MountPath) > len(mount.MountPath)) {
			mount = &c.VolumeMounts[i]
		}
	}
	require.NotNil(t, mount, "container %s mounts nothing at %s", c.Name, filePath)
	require.Empty(t, mount.SubPath, "container %s: subPath mounts never see ConfigMap updates", c.Name)
	rel := strings.TrimPrefix(filePath, strings.TrimSuffix(mount.MountPath, "/")+"/")
	for _, v := range spec.Volumes {
		if v.Name != mount.Name {
			continue
		}
		require.NotNil(t, v.ConfigMap, "volume %s mounted at %s is not a ConfigMap", v.Name, mount.MountPath)
		key = rel
		for _, item := range v.ConfigMap.Items {
			if item.Path == rel {
				key = item.Key
			}
		}
		return v.ConfigMap.Name, key
	}
	t.Fatalf("container %s mounts volume %s, which the pod does not define", c.Name, mount.Name)
	return "", ""
}

// mountedFile is the content of the file at filePath inside container c,
// from the example's ConfigMap mounted there.
func (m *manifests) mountedFile(t *testing.T, spec *corev1.PodSpec, c *corev1.Container, filePath string) string {
	t.Helper()
	name, key := mountedKey(t, spec, c, filePath)
	cm, ok := m.configMaps[name]
	require.True(t, ok, "%s mounts ConfigMap %s, which %s does not define", filePath, name, m.dir)
	content, ok := cm.Data[key]
	require.True(t, ok, "ConfigMap %s has no key %s (for %s in container %s)", name, key, filePath, c.Name)
	return content
}

// containerEnv is the environment a container starts with, with the values
// the example's Secrets and ConfigMaps give. References to objects or keys
// the example does not define fail.
func (m *manifests) containerEnv(t *testing.T, c *corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		switch {
		case from.SecretRef != nil:
			s, ok := m.secrets[from.SecretRef.Name]
			require.True(t, ok, "container %s: envFrom names Secret %s, which %s does not define", c.Name, from.SecretRef.Name, m.dir)
			for k, v := range secretValues(s) {
				env[from.Prefix+k] = v
			}
		case from.ConfigMapRef != nil:
			cm, ok := m.configMaps[from.ConfigMapRef.Name]
			require.True(t, ok, "container %s: envFrom names ConfigMap %s, which %s does not define", c.Name, from.ConfigMapRef.Name, m.dir)
			for k, v := range cm.Data {
				env[from.Prefix+k] = v
			}
		}
	}
	for _, e := range c.Env {
		require.Empty(t, validation.IsEnvVarName(e.Name), "container %s: env %s", c.Name, e.Name)
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			s, ok := m.secrets[ref.Name]
			require.True(t, ok, "container %s: env %s names Secret %s, which %s does not define", c.Name, e.Name, ref.Name, m.dir)
			v, ok := secretValues(s)[ref.Key]
			require.True(t, ok, "container %s: env %s names key %s, which Secret %s lacks", c.Name, e.Name, ref.Key, ref.Name)
			env[e.Name] = v
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			cm, ok := m.configMaps[ref.Name]
			require.True(t, ok, "container %s: env %s names ConfigMap %s, which %s does not define", c.Name, e.Name, ref.Name, m.dir)
			v, ok := cm.Data[ref.Key]
			require.True(t, ok, "container %s: env %s names key %s, which ConfigMap %s lacks", c.Name, e.Name, ref.Key, ref.Name)
			env[e.Name] = v
		case e.ValueFrom.ResourceFieldRef != nil:
			require.Equal(t, c.Name, e.ValueFrom.ResourceFieldRef.ContainerName, "container %s: env %s", c.Name, e.Name)
			q, ok := c.Resources.Limits[corev1.ResourceName(strings.TrimPrefix(e.ValueFrom.ResourceFieldRef.Resource, "limits."))]
			require.True(t, ok, "container %s: env %s refers to a limit it does not set", c.Name, e.Name)
			env[e.Name] = strconv.FormatInt(q.Value(), 10)
		default:
			env[e.Name] = "from-the-downward-api"
		}
	}
	return env
}

// checkPod checks what every example pod must get right, whatever runs in it.
func (m *manifests) checkPod(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	spec := &d.Spec.Template.Spec
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	require.NoError(t, err)
	require.False(t, sel.Empty(), "deployment %s selects every pod", d.Name)
	require.True(t, sel.Matches(labels.Set(d.Spec.Template.Labels)), "deployment %s: its selector does not match its pods", d.Name)

	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
		switch {
		case v.ConfigMap != nil:
			cm, ok := m.configMaps[v.ConfigMap.Name]
			require.True(t, ok, "volume %s names ConfigMap %s, which %s does not define", v.Name, v.ConfigMap.Name, m.dir)
			for _, item := range v.ConfigMap.Items {
				require.Contains(t, cm.Data, item.Key, "volume %s", v.Name)
			}
		case v.Secret != nil:
			require.Contains(t, m.secrets, v.Secret.SecretName, "volume %s", v.Name)
		}
	}
	require.Equal(t, ptrTrue, spec.SecurityContext.RunAsNonRoot, "deployment %s: pod runAsNonRoot", d.Name)
	require.Equal(t, ptrFalse, spec.AutomountServiceAccountToken, "deployment %s: nothing here calls the Kubernetes API", d.Name)

	names := map[string]bool{}
	for _, c := range podContainers(spec) {
		require.False(t, names[c.Name], "deployment %s: two containers named %s", d.Name, c.Name)
		names[c.Name] = true
		require.Empty(t, validation.IsDNS1123Label(c.Name))

		// A pinned image: "latest" moves under a running Deployment.
		_, tag, ok := strings.Cut(path.Base(c.Image), ":")
		require.True(t, ok && tag != "" && tag != "latest", "container %s: image %q needs a version tag", c.Name, c.Image)

		sc := c.SecurityContext
		require.NotNil(t, sc, "container %s: securityContext", c.Name)
		require.Equal(t, ptrTrue, sc.RunAsNonRoot, "container %s: runAsNonRoot", c.Name)
		require.NotNil(t, sc.RunAsUser, "container %s: a numeric runAsUser, so runAsNonRoot can be checked", c.Name)
		require.NotZero(t, *sc.RunAsUser, "container %s", c.Name)
		require.Equal(t, ptrTrue, sc.ReadOnlyRootFilesystem, "container %s: readOnlyRootFilesystem", c.Name)
		require.Equal(t, ptrFalse, sc.AllowPrivilegeEscalation, "container %s: allowPrivilegeEscalation", c.Name)
		require.NotNil(t, sc.Capabilities, "container %s: capabilities", c.Name)
		require.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop, "container %s: drop every capability", c.Name)

		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, okReq := c.Resources.Requests[r]
			lim, okLim := c.Resources.Limits[r]
			require.True(t, okReq && okLim, "container %s: %s request and limit", c.Name, r)
			require.LessOrEqual(t, req.Cmp(lim), 0, "container %s: %s request above its limit", c.Name, r)
		}

		for _, p := range c.Ports {
			require.Empty(t, validation.IsValidPortName(p.Name), "container %s: port name %q", c.Name, p.Name)
		}
		for _, probe := range []*corev1.Probe{c.StartupProbe, c.LivenessProbe, c.ReadinessProbe} {
			switch {
			case probe == nil:
			case probe.HTTPGet != nil:
				containerPort(t, c, probe.HTTPGet.Port)
			case probe.TCPSocket != nil:
				containerPort(t, c, probe.TCPSocket.Port)
			case probe.GRPC != nil:
				containerPort(t, c, intstr.FromInt32(probe.GRPC.Port))
			}
		}
		for _, vm := range c.VolumeMounts {
			require.Contains(t, volumes, vm.Name, "container %s mounts an undefined volume", c.Name)
			require.True(t, vm.ReadOnly || volumes[vm.Name].EmptyDir != nil, "container %s: mount %s read-only", c.Name, vm.Name)
		}
		m.containerEnv(t, c)
	}
}

var (
	ptrTrue  = new(true)
	ptrFalse = new(false)
)

// llmvoySide is what the llmvoy container of a pod tells the rest of it.
type llmvoySide struct {
	container  *corev1.Container
	controlDir string // --control-dir: its xDS and ext_proc sockets
	controlVol string // the emptyDir volume that holds it
	configText string
	compiled   compiled
	secret     *corev1.Secret // the Secret its os.environ/ references read
}

// checkLLMVoy checks the llmvoy container: a real `llmvoy run --no-envoy`
// command line, a config llmvoy accepts with the environment the pod gives
// it, a Secret holding exactly the variables the config names, and a
// control plane on unix sockets in a pod-private volume: no port at all.
func (m *manifests) checkLLMVoy(t *testing.T, d *appsv1.Deployment, c *corev1.Container, listenPort int) llmvoySide {
	t.Helper()
	spec := &d.Spec.Template.Spec
	require.Equal(t, llmvoyImage, c.Image, "container %s", c.Name)
	require.Empty(t, c.Command, "container %s: the image's entrypoint is /llmvoy; pass args", c.Name)
	require.True(t, isSidecar(c), "container %s: a native sidecar (initContainer, restartPolicy Always), so it starts before Envoy and stops after it", c.Name)
	require.Equal(t, int64(dockerfileUID(t)), *c.SecurityContext.RunAsUser, "container %s runs as the image's user", c.Name)

	verb, flags := parseCommand(t, c.Args)
	require.Equal(t, "run", verb)
	require.Equal(t, "true", flags["no-envoy"], "the platform starts Envoy: --no-envoy")
	side := llmvoySide{container: c, controlDir: flags["control-dir"]}

	// xDS and ext_proc carry provider keys: unix sockets in a directory of
	// an emptyDir only llmvoy and Envoy mount (checked in gatewayPod), no
	// TCP listener, so nothing on the pod network or in another container
	// reaches them.
	require.NotEmpty(t, side.controlDir, "container %s: --control-dir", c.Name)
	for _, tcp := range []string{"xds-address", "extproc-address", insecurePlaintextFlag} {
		require.NotContains(t, flags, tcp, "container %s: the control plane stays on its unix sockets", c.Name)
	}
	side.controlVol = emptyDirAbove(t, spec, c, side.controlDir)
	require.Empty(t, c.Ports, "container %s listens on no port", c.Name)
	for _, probe := range []*corev1.Probe{c.StartupProbe, c.LivenessProbe, c.ReadinessProbe} {
		require.Nil(t, probe, "container %s: no port to probe; Envoy's probes go through ext_proc", c.Name)
	}
	require.NotNil(t, c.SecurityContext.RunAsGroup, "container %s: a numeric group, which Envoy joins to reach the sockets", c.Name)
	require.Equal(t, int64(dockerfileUID(t)), *c.SecurityContext.RunAsGroup, "container %s: the image's group", c.Name)

	side.configText = m.mountedFile(t, spec, c, flags["config"])
	env := m.containerEnv(t, c)
	side.compiled = compileConfig(t, []byte(side.configText), m.dir+": "+flags["config"], env, listenPort)
	for _, w := range side.compiled.warnings {
		require.Contains(t, allowedWarnings, w.Path, "%s: unexpected warning %s", m.dir, w)
	}

	// The Secret llmvoy reads holds exactly what the config names.
	for _, from := range c.EnvFrom {
		if from.SecretRef != nil {
			require.Nil(t, side.secret, "container %s: one Secret of keys", c.Name)
			side.secret = m.secrets[from.SecretRef.Name]
		}
	}
	require.NotNil(t, side.secret, "container %s: keys from a Secret (envFrom)", c.Name)
	keys := slices.Sorted(mapKeys(secretValues(side.secret)))
	require.Equal(t, envRefs(side.configText), keys, "Secret %s's keys are the config's os.environ/ references", side.secret.Name)
	return side
}

// allowedWarnings are the config keys llmvoy may warn about in the examples:
// LiteLLM settings an example shows on purpose that llmvoy reads past today.
var allowedWarnings = []string{
	"router_settings.redis_host",
	"router_settings.redis_port",
	"router_settings.redis_password",
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// envoySide is what the Envoy container of a pod tells the rest of it.
type envoySide struct {
	container *corev1.Container
	port      int    // the gateway listener: the OpenAI API
	adminVol  string // the emptyDir of its admin socket
}

// checkEnvoy checks the Envoy container: the official image at the version
// llmvoy supports, the bootstrap `llmvoy bootstrap` prints for this pod,
// probes on the real health endpoints, a worker count within its CPU limit,
// and, where it serves a Service, a drain before SIGTERM that fits in the
// termination grace period.
func (m *manifests) checkEnvoy(t *testing.T, d *appsv1.Deployment, c *corev1.Container, ll llmvoySide, served bool) envoySide {
	t.Helper()
	spec := &d.Spec.Template.Spec
	require.Equal(t, envoyImage(t), c.Image, "container %s", c.Name)
	require.Equal(t, []string{"envoy"}, c.Command, "container %s", c.Name)
	require.Equal(t, int64(envoyUID), *c.SecurityContext.RunAsUser, "container %s: the official image's envoy user", c.Name)
	args := envoyArgs(t, c.Args)

	side := envoySide{container: c}
	require.NotNil(t, c.LivenessProbe, "container %s: liveness probe", c.Name)
	require.NotNil(t, c.ReadinessProbe, "container %s: readiness probe", c.Name)
	for kind, probe := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if probe == nil {
			continue
		}
		require.NotNil(t, probe.HTTPGet, "container %s: %s probe through the gateway listener", c.Name, kind)
		want := kind
		if kind == "startup" {
			want = "liveness"
		}
		require.Equal(t, want, healthPaths[probe.HTTPGet.Path], "container %s: %s probe path %s", c.Name, kind, probe.HTTPGet.Path)
		port := containerPort(t, c, probe.HTTPGet.Port)
		if side.port == 0 {
			side.port = port
		}
		require.Equal(t, side.port, port, "container %s: every probe on the gateway listener", c.Name)
		require.Contains(t, []corev1.URIScheme{"", corev1.URISchemeHTTP}, probe.HTTPGet.Scheme, "the gateway listener speaks plain HTTP")
	}
	checkHealthEndpoints(t, ll.compiled.cfg, slices.Sorted(mapKeys(healthPaths))...)

	// --concurrency: Envoy starts a worker per CPU of the node otherwise.
	workers, err := strconv.Atoi(args["concurrency"])
	require.NoError(t, err, "container %s: --concurrency", c.Name)
	cpu := c.Resources.Limits[corev1.ResourceCPU]
	require.LessOrEqual(t, int64(workers), cpu.Value(), "container %s: --concurrency within the CPU limit", c.Name)

	// The bootstrap: what llmvoy prints for this pod's addresses.
	bootCM, bootKey := mountedKey(t, spec, c, args["c"])
	// Envoy reaches the sockets at the same path, through the same volume,
	// as a member of llmvoy's group (the directory is 0750).
	require.Equal(t, ll.controlVol, emptyDirAbove(t, spec, c, ll.controlDir), "container %s: mounts llmvoy's control volume at the same path", c.Name)
	require.NotNil(t, c.SecurityContext.RunAsGroup, "container %s: runAsGroup", c.Name)
	require.Equal(t, *ll.container.SecurityContext.RunAsGroup, *c.SecurityContext.RunAsGroup, "container %s: in llmvoy's group, to enter the control directory", c.Name)
	// The heap limit leaves room below the container's memory limit for
	// what the heap does not count (stacks, the binary, page tables).
	mem := c.Resources.Limits[corev1.ResourceMemory]
	maxHeap := envoyMaxHeap(mem.Value())
	// Envoy's admin socket: on an emptyDir of its own (checked, with
	// nobody else mounting it, by gatewayPod), outside the control
	// directory, which Envoy cannot write.
	side.adminVol = emptyDirAbove(t, spec, c, path.Dir(adminSocket))
	require.NotEqual(t, ll.controlVol, side.adminVol, "container %s: the admin socket is not on llmvoy's control volume", c.Name)
	bootArgs := []string{
		"--control-dir", ll.controlDir,
		"--port", strconv.Itoa(side.port),
		"--admin-socket", adminSocket,
		"--max-heap", strconv.FormatInt(maxHeap>>20, 10) + "MiB",
	}
	want := map[string]string{bootKey: bootstrapFor(t, bootArgs...)}
	sources := []string{"llmvoy bootstrap " + strings.Join(bootArgs, " ") + "  (" + bootKey + ")"}

	if served {
		// Envoy exits at once on SIGTERM: the preStop hook drains first.
		require.Equal(t, "immediate", args["drain-strategy"], "container %s: clients hear of a drain at once", c.Name)
		require.NotNil(t, c.Lifecycle, "container %s: a preStop drain", c.Name)
		require.NotNil(t, c.Lifecycle.PreStop, "container %s: a preStop drain", c.Name)
		require.NotNil(t, c.Lifecycle.PreStop.Exec, "container %s: a preStop drain", c.Name)
		cmd := c.Lifecycle.PreStop.Exec.Command
		require.Len(t, cmd, 2, "container %s: preStop is [bash, SCRIPT]", c.Name)
		require.Equal(t, "bash", cmd[0])
		drainCM, drainKey := mountedKey(t, spec, c, cmd[1])
		require.Equal(t, bootCM, drainCM, "container %s: the drain script lives with the bootstrap", c.Name)
		script := drainScript(t)
		want[drainKey] = script
		sources = append(sources, drainScriptPath+"  ("+drainKey+")")

		env := m.containerEnv(t, c)
		require.Equal(t, adminSocket, envOr(env, "ENVOY_ADMIN_SOCKET", scriptDefault(t, script, "ENVOY_ADMIN_SOCKET")), "the drain hook talks to the bootstrap's admin socket")
		drainMax, err := strconv.Atoi(envOr(env, "DRAIN_MAX_SECONDS", scriptDefault(t, script, "DRAIN_MAX_SECONDS")))
		require.NoError(t, err)
		drainMin, err := strconv.Atoi(envOr(env, "DRAIN_MIN_SECONDS", scriptDefault(t, script, "DRAIN_MIN_SECONDS")))
		require.NoError(t, err)
		require.LessOrEqual(t, drainMin, drainMax)
		require.NotNil(t, spec.TerminationGracePeriodSeconds)
		// The grace period covers the hook, then Envoy's exit and
		// llmvoy's stop after it.
		require.GreaterOrEqual(t, *spec.TerminationGracePeriodSeconds, int64(drainMax+10),
			"deployment %s: terminationGracePeriodSeconds below the drain (DRAIN_MAX_SECONDS=%d) plus 10s", d.Name, drainMax)
	}

	generated := generatedConfigMap(t, bootCM, d.Labels, want, sources)
	checkGenerated(t, filepath.Join(m.dir, envoyConfigMapFile), generated)
	// The file decodes to exactly the generated data (no YAML surprise in
	// the block scalars), and is the ConfigMap the pod mounts.
	delete(m.configMaps, bootCM)
	m.add(t, envoyConfigMapFile, []byte(generated))
	require.Equal(t, want, m.configMaps[bootCM].Data)
	return side
}
