package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// llmvoyImage is the image name docker-compose.yml builds and the Kubernetes
// examples run.
const llmvoyImage = "llmvoy:local"

// dockerInstruction is one Dockerfile instruction, continuation lines joined.
type dockerInstruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
}

// dockerStage is one build stage: its FROM and what follows it.
type dockerStage struct {
	from         string // the image, flags like --platform removed
	name         string // AS name
	instructions []dockerInstruction
}

func parseDockerfile(t *testing.T) []dockerStage {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "Dockerfile"))
	require.NoError(t, err)
	defer f.Close()
	var (
		stages  []dockerStage
		pending string
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && pending == "") {
			continue
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			pending += cont + " "
			continue
		}
		line, pending = pending+line, ""
		cmd, args, _ := strings.Cut(line, " ")
		in := dockerInstruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			fields := strings.Fields(in.args)
			var st dockerStage
			for i := 0; i < len(fields); i++ {
				switch {
				case strings.HasPrefix(fields[i], "--"):
				case strings.EqualFold(fields[i], "AS") && i+1 < len(fields):
					st.name = fields[i+1]
					i++
				default:
					st.from = fields[i]
				}
			}
			stages = append(stages, st)
			continue
		}
		require.NotEmpty(t, stages, "Dockerfile: %s before FROM", in.cmd)
		stages[len(stages)-1].instructions = append(stages[len(stages)-1].instructions, in)
	}
	require.NoError(t, sc.Err())
	require.Empty(t, pending, "Dockerfile ends in a continuation line")
	return stages
}

func (s dockerStage) all(cmd string) []string {
	var out []string
	for _, in := range s.instructions {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

// goVersion is the language version go.mod asks for, as a Go image tag
// ("1.26").
func goVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)(\.\d+)?$`).FindStringSubmatch(string(b))
	require.NotNil(t, m, "go.mod has a go directive")
	return m[1]
}

// dockerfileUID is the numeric user the image runs as.
func dockerfileUID(t *testing.T) int {
	t.Helper()
	stages := parseDockerfile(t)
	users := stages[len(stages)-1].all("USER")
	require.Len(t, users, 1, "the final stage sets USER once")
	uid, _, _ := strings.Cut(users[0], ":")
	n, err := strconv.Atoi(uid)
	require.NoError(t, err, "USER is numeric, so Kubernetes can check runAsNonRoot")
	return n
}

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t)
	require.Len(t, stages, 2, "a builder stage and the runtime stage")
	build, final := stages[0], stages[1]

	// The builder's Go is the one go.mod asks for.
	require.Equal(t, "golang:"+goVersion(t), build.from)
	var goBuild string
	for _, run := range build.all("RUN") {
		if strings.Contains(run, "go build") {
			goBuild = run
		}
	}
	require.NotEmpty(t, goBuild, "the builder runs go build")
	require.Contains(t, goBuild, "CGO_ENABLED=0", "a static binary: the runtime image has no libc")
	require.Contains(t, goBuild, "./cmd/llmvoy")
	require.Contains(t, goBuild, "-X main.version=", "the version `llmvoy version` prints, as make build stamps it")
	require.Contains(t, goBuild, "-o /out/llmvoy")

	// The runtime: distroless static, the binary at /llmvoy, a numeric
	// non-root user.
	require.Equal(t, "gcr.io/distroless/static-debian12:nonroot", final.from)
	require.Equal(t, []string{"--from=" + build.name + " /out/llmvoy /llmvoy",
		"--from=" + build.name + " --chown=65532:65532 /out/data /var/lib/llmvoy",
		"--from=" + build.name + " --chown=65532:65532 /out/control /run/llmvoy"}, final.all("COPY"),
		"the binary, the data directory (SQLite store of keys and spend) and the control sockets' volume, owned by nonroot")
	require.Equal(t, []string{"4010"}, final.all("EXPOSE"), "only the mock's port: the control plane is no TCP port by default")
	require.Equal(t, []string{"LLMVOY_DATA_DIR=/var/lib/llmvoy"}, final.all("ENV"))
	require.Equal(t, []string{`["/llmvoy"]`}, final.all("ENTRYPOINT"))
	require.Equal(t, 65532, dockerfileUID(t), "distroless' nonroot user")
	require.Empty(t, final.all("RUN"), "distroless has no shell")

	// The version variable the ldflags set exists.
	main, err := os.ReadFile(filepath.Join(root, "cmd/llmvoy/main.go"))
	require.NoError(t, err)
	require.Regexp(t, `(?m)^var version = `, string(main))
}

// dockerignore is the build context's exclusion list.
type dockerignore []struct {
	pattern string
	negate  bool
}

func parseDockerignore(t *testing.T) dockerignore {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	require.NoError(t, err)
	var d dockerignore
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		neg := strings.HasPrefix(line, "!")
		p := path.Clean(strings.TrimPrefix(strings.TrimPrefix(line, "!"), "/"))
		d = append(d, struct {
			pattern string
			negate  bool
		}{p, neg})
	}
	return d
}

// excludes reports whether the build context leaves out file (a slash path
// relative to the context), following Docker's rules: a pattern matches the
// path or one of its parent directories, "**" matches any number of
// directories, and the last matching line wins.
func (d dockerignore) excludes(t *testing.T, file string) bool {
	t.Helper()
	excluded := false
	for _, rule := range d {
		for p := file; p != "." && p != "/"; p = path.Dir(p) {
			if globMatch(t, rule.pattern, p) {
				excluded = !rule.negate
				break
			}
		}
	}
	return excluded
}

func globMatch(t *testing.T, pattern, name string) bool {
	t.Helper()
	if rest, ok := strings.CutPrefix(pattern, "**/"); ok {
		parts := strings.Split(name, "/")
		for i := range parts {
			if globMatch(t, rest, strings.Join(parts[i:], "/")) {
				return true
			}
		}
		return false
	}
	ok, err := path.Match(pattern, name)
	require.NoError(t, err, ".dockerignore pattern %q", pattern)
	return ok
}

func TestDockerignore(t *testing.T) {
	ignore := parseDockerignore(t)

	// Every file the build reads is in the context: go.mod, go.sum, and
	// the Go and embedded files of every package of this module that
	// cmd/llmvoy builds from.
	cmd := exec.Command("go", "list", "-deps", "-f",
		`{{if .Module}}{{if .Module.Main}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}
{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}
{{end}}{{end}}{{end}}`, "./cmd/llmvoy")
	cmd.Dir = root
	out, err := cmd.Output()
	require.NoError(t, err)
	abs, err := filepath.Abs(root)
	require.NoError(t, err)
	needed := []string{"go.mod", "go.sum", "Dockerfile"}
	for line := range strings.Lines(string(out)) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		rel, err := filepath.Rel(abs, line)
		require.NoError(t, err)
		needed = append(needed, filepath.ToSlash(rel))
	}
	require.Greater(t, len(needed), 20)
	for _, f := range needed {
		require.False(t, ignore.excludes(t, f), ".dockerignore leaves out %s, which the build needs", f)
	}

	// Local state stays out of the context (and out of the image's layers).
	for _, f := range []string{".git/HEAD", ".venv/bin/envoy", ".venv-litellm/bin/litellm", "bin/llmvoy", "tests/e2e/.logs/envoy.log", "tests/e2e/__pycache__/x.pyc"} {
		require.True(t, ignore.excludes(t, f), ".dockerignore keeps %s out", f)
	}
}
