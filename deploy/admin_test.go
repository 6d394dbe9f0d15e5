package deploy

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/envoy"
)

// deploymentFiles are the files a deployment copies: the compose stack,
// the image, the examples and the README's commands.
func deploymentFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"docker-compose.yml", "Dockerfile", "README.md"}
	require.NoError(t, filepath.WalkDir(filepath.Join(root, "examples"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, err := filepath.Rel(root, p)
			files = append(files, rel)
			return err
		}
		return err
	}))
	return files
}

// TestNoExampleHasATCPAdmin: Envoy's admin interface (unauthenticated: it
// can make Envoy log every key, or stop it) is a unix socket in every
// example. No admin port, no TCP admin flag, no /dev/tcp to anything but the
// gateway listener.
func TestNoExampleHasATCPAdmin(t *testing.T) {
	forbidden := regexp.MustCompile(`9901|--admin-port|--admin-address|--insecure-tcp-admin|ENVOY_ADMIN_PORT`)
	devTCP := regexp.MustCompile(`/dev/tcp/[^/\s]+/(\S+)`)
	for _, f := range deploymentFiles(t) {
		b, err := os.ReadFile(filepath.Join(root, f))
		require.NoError(t, err)
		for i, line := range strings.Split(string(b), "\n") {
			require.False(t, forbidden.MatchString(line), "%s:%d: a TCP admin interface: %s", f, i+1, line)
			if m := devTCP.FindStringSubmatch(line); m != nil {
				require.Equal(t, "4000", m[1], "%s:%d: bash's /dev/tcp only to the gateway listener: %s", f, i+1, line)
			}
		}
	}
}

// TestExampleBootstrapsValidateWithEnvoy runs `envoy --mode validate` on
// every bootstrap an example ships.
func TestExampleBootstrapsValidateWithEnvoy(t *testing.T) {
	bin, err := envoy.Find()
	if err != nil {
		bin, err = filepath.Abs(filepath.Join(root, ".venv", "bin", "envoy"))
		require.NoError(t, err)
		_, err = os.Stat(bin)
		require.NoError(t, err, "no Envoy: set ENVOY_BIN or run `make envoy`")
	}
	bootstraps := map[string]string{}
	compose, err := os.ReadFile(filepath.Join(root, "examples/compose/envoy/bootstrap.yaml"))
	require.NoError(t, err)
	bootstraps["compose"] = string(compose)
	for _, dir := range exampleDirs(t) {
		for name, cm := range loadManifests(t, dir).configMaps {
			if b, ok := cm.Data["bootstrap.yaml"]; ok {
				bootstraps[filepath.Base(dir)+"/"+name] = b
			}
		}
	}
	require.Len(t, bootstraps, 3, "compose, the sidecar's and the gateway's")
	for name, b := range bootstraps {
		require.Contains(t, b, `path: "`+adminSocket+`"`, "%s: the admin socket", name)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		require.NoError(t, envoy.Validate(ctx, bin, []byte(b)), name)
		cancel()
	}
}
