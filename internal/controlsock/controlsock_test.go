package controlsock

import (
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestCheckControlFlags(t *testing.T) {
	tests := []struct {
		name    string
		c       Config
		noEnvoy bool
		wantErr string
	}{
		{name: "supervised default", c: Config{}},
		{name: "supervised plaintext tcp", c: Config{XDSAddress: "127.0.0.1:0", ExtProcAddress: "127.0.0.1:0"}, wantErr: "plaintext TCP"},
		{name: "supervised plaintext tcp, said so", c: Config{XDSAddress: "127.0.0.1:0", ExtProcAddress: "127.0.0.1:0", InsecurePlaintext: true}},
		{name: "supervised tls", c: Config{TLSCert: "c", TLSKey: "k", TLSCA: "ca"}, wantErr: "are for --no-envoy"},
		{name: "no-envoy needs a place", noEnvoy: true, wantErr: "--no-envoy needs --control-dir"},
		{name: "no-envoy control dir", noEnvoy: true, c: Config{Dir: "/run/llmvoy"}},
		{name: "no-envoy relative control dir", noEnvoy: true, c: Config{Dir: "run/llmvoy"}, wantErr: "absolute"},
		{name: "no-envoy loopback tcp is not private", noEnvoy: true, c: Config{XDSAddress: "127.0.0.1:18000", ExtProcAddress: "127.0.0.1:18001"}, wantErr: "--insecure-plaintext-control-plane"},
		{name: "no-envoy any-address tcp", noEnvoy: true, c: Config{XDSAddress: "0.0.0.0:18000", ExtProcAddress: "unix:///run/e.sock"}, wantErr: "0.0.0.0:18000 is plaintext"},
		{name: "no-envoy mtls", noEnvoy: true, c: Config{XDSAddress: "0.0.0.0:18000", ExtProcAddress: "0.0.0.0:18001", TLSCert: "c", TLSKey: "k", TLSCA: "ca"}},
		{name: "no-envoy half tls", noEnvoy: true, c: Config{XDSAddress: "0.0.0.0:18000", ExtProcAddress: "0.0.0.0:18001", TLSCert: "c", TLSKey: "k"}, wantErr: "go together"},
		{name: "no-envoy unix addresses", noEnvoy: true, c: Config{XDSAddress: "unix:///a/x.sock", ExtProcAddress: "unix:///a/e.sock"}},
		{name: "no-envoy one address and the dir", noEnvoy: true, c: Config{Dir: "/run/llmvoy", ExtProcAddress: "unix:///a/e.sock"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Check(!tt.noEnvoy)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	st, err := os.Lstat(path)
	require.NoError(t, err)
	return st.Mode().Perm()
}

func unixPath(ln net.Listener) string { return ln.Addr().String() }

// A supervised Envoy's sockets are in a new directory only llmvoy's user
// can enter, and gone when llmvoy stops.
func TestOpenSupervised(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	cp, err := Open(Config{}, true, discardLog())
	require.NoError(t, err)
	require.Equal(t, "unix", cp.XDS.Addr().Network())
	require.Equal(t, "unix", cp.ExtProc.Addr().Network())
	require.Nil(t, cp.creds)
	dir := filepath.Dir(unixPath(cp.XDS))
	require.Equal(t, dir, filepath.Dir(unixPath(cp.ExtProc)))
	require.Equal(t, os.Getenv("XDG_RUNTIME_DIR"), filepath.Dir(dir), "under $XDG_RUNTIME_DIR")
	require.Equal(t, fs.FileMode(0o700), mode(t, dir))
	require.Equal(t, fs.FileMode(0o600), mode(t, unixPath(cp.XDS)))
	require.Equal(t, fs.FileMode(0o600), mode(t, unixPath(cp.ExtProc)))
	require.Less(t, len(unixPath(cp.ExtProc)), 100, "unix socket paths are short")
	require.Equal(t, dir, cp.Dir, "Envoy's admin socket goes there too")

	cp.XDS.Close()
	cp.ExtProc.Close()
	cp.Close()
	_, err = os.Stat(dir)
	require.ErrorIs(t, err, fs.ErrNotExist, "the directory is removed on exit")
}

// A supervised Envoy's admin socket needs the private directory even when
// both of llmvoy's servers have addresses of their own.
func TestOpenSupervisedAlwaysHasADir(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	sockDir := t.TempDir()
	cp, err := Open(Config{
		XDSAddress:     "unix://" + filepath.Join(sockDir, "x.sock"),
		ExtProcAddress: "unix://" + filepath.Join(sockDir, "e.sock"),
	}, true, discardLog())
	require.NoError(t, err)
	defer cp.Close()
	defer cp.XDS.Close()
	defer cp.ExtProc.Close()
	require.NotEmpty(t, cp.Dir)
	require.Equal(t, os.Getenv("XDG_RUNTIME_DIR"), filepath.Dir(cp.Dir))
	require.Equal(t, fs.FileMode(0o700), mode(t, cp.Dir))
}

// With --no-envoy the directory (a shared volume's subdirectory) is made or
// tightened to 0750 and the sockets to 0660: Envoy enters through
// llmvoy's group, nobody else at all.
func TestOpenSharedDir(t *testing.T) {
	vol := t.TempDir()
	require.NoError(t, os.Chmod(vol, 0o777))

	dir := filepath.Join(vol, "control")
	cp, err := Open(Config{Dir: dir}, false, discardLog())
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o750), mode(t, dir))
	require.Equal(t, filepath.Join(dir, "xds.sock"), unixPath(cp.XDS))
	require.Equal(t, filepath.Join(dir, "extproc.sock"), unixPath(cp.ExtProc))
	require.Equal(t, fs.FileMode(0o660), mode(t, unixPath(cp.XDS)))
	require.Equal(t, fs.FileMode(0o660), mode(t, unixPath(cp.ExtProc)))
	cp.XDS.Close()
	cp.ExtProc.Close()
	cp.Close()
	_, err = os.Stat(filepath.Join(dir, "xds.sock"))
	require.ErrorIs(t, err, fs.ErrNotExist, "sockets are removed on exit")
	_, err = os.Stat(dir)
	require.NoError(t, err, "an operator's directory stays")

	// An existing directory of llmvoy's user, open to all: tightened.
	require.NoError(t, os.Chmod(dir, 0o777))
	cp, err = Open(Config{Dir: dir}, false, discardLog())
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o750), mode(t, dir))
	cp.XDS.Close()
	cp.ExtProc.Close()

	// A symlink is not followed.
	link := filepath.Join(vol, "link")
	require.NoError(t, os.Symlink(dir, link))
	_, err = Open(Config{Dir: link}, false, discardLog())
	require.ErrorIs(t, err, ErrUnsafeDir)

	// A file in a socket's place is left alone.
	busy := filepath.Join(vol, "busy")
	require.NoError(t, os.Mkdir(busy, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(busy, "xds.sock"), []byte("data"), 0o600))
	_, err = Open(Config{Dir: busy}, false, discardLog())
	require.Error(t, err)
	b, err := os.ReadFile(filepath.Join(busy, "xds.sock"))
	require.NoError(t, err)
	require.Equal(t, "data", string(b))
}

func TestControlDirOfAnotherUserIsRefused(t *testing.T) {
	if os.Getuid() != 0 {
		// Only root can make a directory owned by someone else.
		t.Log("running as a regular user: checking against /, owned by root")
		err := ensureControlDir("/", 0o750)
		require.ErrorIs(t, err, ErrUnsafeDir)
		return
	}
	dir := filepath.Join(t.TempDir(), "theirs")
	require.NoError(t, os.Mkdir(dir, 0o777))
	require.NoError(t, os.Chmod(dir, 0o777))
	require.NoError(t, os.Chown(dir, 65534, 65534))
	err := ensureControlDir(dir, 0o750)
	require.ErrorIs(t, err, ErrUnsafeDir)
	require.Equal(t, fs.FileMode(0o777), mode(t, dir), "left as it was")
}

// RemoveSocket clears the admin socket Envoy leaves behind, and nothing
// else that might stand at its path.
func TestRemoveSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "llmvoy")
	require.NoError(t, err)
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "admin.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	RemoveSocket(sock)
	_, err = os.Lstat(sock)
	require.ErrorIs(t, err, fs.ErrNotExist)

	file := filepath.Join(dir, "not-a-socket")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	RemoveSocket(file)
	_, err = os.Lstat(file)
	require.NoError(t, err)
	RemoveSocket(filepath.Join(dir, "missing"))
}
