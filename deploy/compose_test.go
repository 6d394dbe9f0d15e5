package deploy

import (
	"bytes"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// composeFile is the part of the Compose specification docker-compose.yml
// uses. Decoding with KnownFields fails on any other key, so a key added to
// the file is a key added here, with a check.
type composeFile struct {
	Name     string                     `yaml:"name"`
	Services map[string]*composeService `yaml:"services"`
	// Volumes are the named volumes (llmvoy's data directory).
	Volumes map[string]struct{} `yaml:"volumes"`
}

type composeService struct {
	Build       string                       `yaml:"build"`
	Image       string                       `yaml:"image"`
	Command     []string                     `yaml:"command"`
	User        string                       `yaml:"user"`
	Environment map[string]string            `yaml:"environment"`
	Volumes     []string                     `yaml:"volumes"`
	Tmpfs       []string                     `yaml:"tmpfs"`
	Ports       []string                     `yaml:"ports"`
	ReadOnly    bool                         `yaml:"read_only"`
	Restart     string                       `yaml:"restart"`
	DependsOn   map[string]composeDependency `yaml:"depends_on"`
	Healthcheck *composeHealthcheck          `yaml:"healthcheck"`
}

type composeDependency struct {
	Condition string `yaml:"condition"`
}

type composeHealthcheck struct {
	Test          []string `yaml:"test"`
	Interval      string   `yaml:"interval"`
	Timeout       string   `yaml:"timeout"`
	Retries       int      `yaml:"retries"`
	StartPeriod   string   `yaml:"start_period"`
	StartInterval string   `yaml:"start_interval"`
}

func loadCompose(t *testing.T) *composeFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c composeFile
	require.NoError(t, dec.Decode(&c), "docker-compose.yml")
	return &c
}

// interpolate expands compose's ${NAME:-default} and ${NAME} the way compose
// does with NAME unset: the default, else empty.
func interpolate(s string) string {
	return regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*(?::-([^}]*))?\}`).ReplaceAllString(s, "$1")
}

// hostFile maps a path inside a service's container to the repository file
// its bind mount shows there.
func (s *composeService) hostFile(t *testing.T, name, containerPath string) string {
	t.Helper()
	best, bestLen := "", -1
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		require.GreaterOrEqual(t, len(parts), 2, "%s: volume %q", name, v)
		src, dst := parts[0], parts[1]
		if !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") {
			continue // a named volume: data, not a file of the repository
		}
		require.True(t, strings.HasPrefix(src, "./"), "%s: volume %q is a bind mount of the repository", name, v)
		require.Equal(t, "ro", parts[len(parts)-1], "%s: volume %q is read-only", name, v)
		if rel, ok := strings.CutPrefix(containerPath, dst+"/"); ok && len(dst) > bestLen {
			best, bestLen = path.Join(src, rel), len(dst)
		}
		if containerPath == dst {
			best, bestLen = src, len(dst)
		}
	}
	require.NotEmpty(t, best, "%s: nothing mounted at %s", name, containerPath)
	return filepath.Join(root, filepath.FromSlash(best))
}

// namedVolumeAbove is the named volume a service mounts, writable, at dir
// or a parent of it.
func (s *composeService) namedVolumeAbove(t *testing.T, name, dir string) string {
	t.Helper()
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		src, dst := parts[0], parts[1]
		if dir != dst && !strings.HasPrefix(dir, dst+"/") {
			continue
		}
		require.False(t, strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/"), "%s: %s is a bind mount, not a named volume", name, dst)
		require.NotEqual(t, "ro", parts[len(parts)-1], "%s: %s is read-only", name, dst)
		return src
	}
	t.Fatalf("%s: no volume mounted at %s", name, dir)
	return ""
}

// insecurePlaintextFlag is llmvoy's flag that allows a plaintext TCP
// control plane; no example sets it.
const insecurePlaintextFlag = "insecure-plaintext-control-plane"

// envoyVersion is the Envoy release llmvoy is built and tested against.
func envoyVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "Makefile"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^ENVOY_VERSION\s*:?=\s*(\S+)$`).FindStringSubmatch(string(b))
	require.NotNil(t, m, "Makefile sets ENVOY_VERSION")
	return m[1]
}

// envoyImage is the official Envoy image at that release.
func envoyImage(t *testing.T) string {
	return "envoyproxy/envoy:v" + envoyVersion(t)
}

func TestCompose(t *testing.T) {
	c := loadCompose(t)
	require.Equal(t, []string{"envoy", "llmvoy", "mock"}, slices.Sorted(mapKeys(c.Services)))
	for name, s := range c.Services {
		for dep := range s.DependsOn {
			require.Contains(t, c.Services, dep, "%s depends on an undefined service", name)
		}
	}
	mock, llmvoy, envoySvc := c.Services["mock"], c.Services["llmvoy"], c.Services["envoy"]

	// mock and llmvoy run the image the Dockerfile builds.
	for name, s := range map[string]*composeService{"mock": mock, "llmvoy": llmvoy} {
		require.Equal(t, ".", s.Build, "%s builds the repository's Dockerfile", name)
		require.Equal(t, llmvoyImage, s.Image, name)
		require.True(t, s.ReadOnly, "%s: read-only root filesystem", name)
	}

	// mock: a provider on the compose network.
	verb, mockFlags := parseCommand(t, mock.Command)
	require.Equal(t, "mock", verb)
	require.Equal(t, "0.0.0.0", mockFlags["host"], "the mock answers other containers")
	mockPort := mockFlags["port"]

	// llmvoy: the control plane for a platform-started Envoy.
	verb, flags := parseCommand(t, llmvoy.Command)
	require.Equal(t, "run", verb)
	require.Equal(t, "true", flags["no-envoy"])
	// xDS and ext_proc carry provider keys: unix sockets on a volume only
	// llmvoy and Envoy mount, no TCP port.
	controlDir := flags["control-dir"]
	require.NotEmpty(t, controlDir, "llmvoy: --control-dir")
	for _, tcp := range []string{"xds-address", "extproc-address", insecurePlaintextFlag} {
		require.NotContains(t, flags, tcp, "llmvoy: the control plane stays on its unix sockets")
	}
	controlVol := llmvoy.namedVolumeAbove(t, "llmvoy", controlDir)
	require.Contains(t, c.Volumes, controlVol, "a named volume")
	for name, s := range c.Services {
		if s == llmvoy || s == c.Services["envoy"] {
			continue
		}
		for _, v := range s.Volumes {
			require.NotEqual(t, controlVol, strings.Split(v, ":")[0], "%s must not mount llmvoy's control sockets", name)
		}
	}
	listenPort, err := strconv.Atoi(flagValue(t, "run", flags, "port"))
	require.NoError(t, err)

	// The config it serves: llmvoy accepts it with the environment compose
	// gives, warns about nothing, and every deployment is a compose service.
	configFile := llmvoy.hostFile(t, "llmvoy", flags["config"])
	require.Equal(t, filepath.Join(root, "examples/compose/config.yaml"), configFile)
	data, err := os.ReadFile(configFile)
	require.NoError(t, err)
	env := map[string]string{}
	for k, v := range llmvoy.Environment {
		env[k] = interpolate(v)
	}
	require.Equal(t, envRefs(string(data)), slices.Sorted(mapKeys(env)), "llmvoy's environment is what the config's os.environ/ references name")
	got := compileConfig(t, data, configFile, env, listenPort)
	require.Empty(t, got.warnings)
	for _, d := range got.cfg.Deployments {
		require.Equal(t, "mock", d.APIBase.Hostname(), "deployment %s: api_base names the mock service", d.ID)
		require.Equal(t, mockPort, d.APIBase.Port(), "deployment %s: the mock's port", d.ID)
	}

	// Envoy: the official image, the bootstrap llmvoy prints for these
	// service names and ports.
	require.Equal(t, envoyImage(t), envoySvc.Image)
	require.Len(t, envoySvc.Command, 3)
	require.Equal(t, []string{"envoy", "-c"}, envoySvc.Command[:2])
	require.Len(t, envoySvc.Ports, 1)
	published := strings.Split(envoySvc.Ports[0], ":")
	require.Len(t, published, 3, "HOST_IP:HOST_PORT:CONTAINER_PORT")
	require.Equal(t, "127.0.0.1", published[0], "the stack publishes on loopback")
	envoyPort, err := strconv.Atoi(published[2])
	require.NoError(t, err)
	require.Equal(t, listenPort, envoyPort, "Envoy listens where llmvoy's --port says")

	// Envoy reaches the sockets through the same volume at the same path,
	// as a member of llmvoy's group (the directory is 0750).
	require.Equal(t, controlVol, envoySvc.namedVolumeAbove(t, "envoy", controlDir), "envoy mounts llmvoy's control volume at the same path")
	uid, gid, ok := strings.Cut(envoySvc.User, ":")
	require.True(t, ok, "envoy: user UID:GID")
	require.Equal(t, strconv.Itoa(envoyUID), uid, "envoy: the image's envoy user")
	require.Equal(t, strconv.Itoa(dockerfileUID(t)), gid, "envoy: in llmvoy's group, to enter the control directory")

	// Envoy's admin socket is on a tmpfs of Envoy's container alone, not on
	// the control volume (which Envoy cannot write, and llmvoy shares).
	require.Equal(t, []string{path.Dir(adminSocket)}, envoySvc.Tmpfs, "envoy: its admin socket's directory is a tmpfs of its own")
	for name, svc := range loadCompose(t).Services {
		for _, v := range svc.Volumes {
			require.NotEqual(t, path.Dir(adminSocket), strings.Split(v, ":")[1], "%s: mounts a volume at Envoy's admin socket directory", name)
		}
	}
	bootArgs := []string{
		"--control-dir", controlDir,
		"--port", strconv.Itoa(envoyPort),
		"--admin-socket", adminSocket,
	}
	bootFile := envoySvc.hostFile(t, "envoy", envoySvc.Command[2])
	checkGenerated(t, bootFile, generatedHeader("llmvoy bootstrap "+strings.Join(bootArgs, " "))+bootstrapFor(t, bootArgs...))

	// The probes answer through this Envoy with this config, without a key.
	require.NotNil(t, envoySvc.Healthcheck)
	hc := strings.Join(envoySvc.Healthcheck.Test, " ")
	m := regexp.MustCompile(`/dev/tcp/127\.0\.0\.1/(\d+) .*GET (\S+) HTTP/1\.1`).FindStringSubmatch(hc)
	require.NotNil(t, m, "healthcheck: %s", hc)
	require.Equal(t, strconv.Itoa(envoyPort), m[1])
	require.Equal(t, "readiness", healthPaths[m[2]])
	checkHealthEndpoints(t, got.cfg, m[2])

	// The README's SDK snippet works against this stack: its base_url is
	// the published port, its api_key the master key compose sets, its
	// models are model groups of the config.
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	sm := regexp.MustCompile(`OpenAI\(base_url="([^"]+)", api_key="([^"]+)"\)`).FindStringSubmatch(string(readme))
	require.NotNil(t, sm, "README.md has the SDK snippet")
	base, err := url.Parse(sm[1])
	require.NoError(t, err)
	require.Equal(t, published[0], base.Hostname())
	require.Equal(t, published[1], base.Port())
	require.Equal(t, "/v1", base.Path)
	require.Equal(t, sm[2], got.cfg.General.MasterKey.Reveal(), "the snippet's api_key is the stack's default master key")
	for _, model := range regexp.MustCompile(`model="([^"]+)"`).FindAllStringSubmatch(string(readme), -1) {
		require.Contains(t, got.cfg.Groups(), model[1], "README.md asks for model %s", model[1])
	}
}
