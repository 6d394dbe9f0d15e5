package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/llmvoy/llmvoy/internal/pki"
)

// llmvoy's control plane (xDS with the SDS secrets that hold provider keys;
// ext_proc, which adds credentials to upstream requests; the access-log
// service, which moves cooldowns, limits and spend) must answer only the
// gateway's own Envoy. It listens on unix sockets in a directory nobody
// else can enter, or on TCP with mutual TLS; plaintext TCP only when the
// operator says so by name.

// Socket names inside the control directory.
const (
	xdsSocketName     = "xds.sock"
	extprocSocketName = "extproc.sock"
)

// Modes of the control directory and its sockets. A supervised Envoy is
// llmvoy's child and runs as its user. A platform-started Envoy (another
// container) runs as another user, so it enters through llmvoy's group:
// give that group to Envoy and to nothing else.
const (
	privateDirMode    fs.FileMode = 0o700
	privateSocketMode fs.FileMode = 0o600
	sharedDirMode     fs.FileMode = 0o750
	sharedSocketMode  fs.FileMode = 0o660
)

// insecurePlaintextFlag is the flag that allows plaintext TCP; its name is
// meant to be read aloud in a review.
const insecurePlaintextFlag = "insecure-plaintext-control-plane"

// errUnsafeControlDir is returned for a control directory others can enter
// or that is not llmvoy's own.
var errUnsafeControlDir = errors.New("unsafe control directory")

// controlFlags are the flags of where and how the control plane listens.
type controlFlags struct {
	dir                  string
	xdsAddr, extprocAddr string
	tlsCert, tlsKey      string
	tlsCA                string
	insecurePlaintext    bool
}

func (c controlFlags) tls() bool { return c.tlsCert != "" || c.tlsKey != "" || c.tlsCA != "" }

// checkControlFlags fills in the socket addresses and refuses a control
// plane a neighbour could reach. Its message is for the operator.
func checkControlFlags(c *controlFlags, noEnvoy bool) error {
	if c.tls() && (c.tlsCert == "" || c.tlsKey == "" || c.tlsCA == "") {
		return errors.New("--tls-cert, --tls-key and --tls-ca go together")
	}
	if c.tls() && !noEnvoy {
		return errors.New("--tls-cert, --tls-key and --tls-ca are for --no-envoy: the Envoy llmvoy starts reaches it over private unix sockets")
	}
	if noEnvoy && c.dir == "" && (c.xdsAddr == "" || c.extprocAddr == "") {
		return errors.New("--no-envoy needs --control-dir DIR (unix sockets on a volume shared with Envoy) or --xds-address and --extproc-address (TCP with --tls-cert, --tls-key and --tls-ca)")
	}
	if c.dir != "" && !filepath.IsAbs(c.dir) {
		// Envoy's bootstrap names the sockets by absolute path.
		return fmt.Errorf("--control-dir %q must be an absolute path", c.dir)
	}
	for _, a := range []*string{&c.xdsAddr, &c.extprocAddr} {
		if *a == "" || isUnix(*a) || c.tls() || c.insecurePlaintext {
			continue
		}
		return fmt.Errorf("%s is plaintext TCP: anyone who reaches it gets every provider key; use --control-dir (unix sockets), add --tls-cert, --tls-key and --tls-ca (mutual TLS), or accept the risk with --%s", *a, insecurePlaintextFlag)
	}
	return nil
}

// isUnix says whether a control address is a unix socket (unix:///path).
func isUnix(addr string) bool { return strings.HasPrefix(addr, "unix://") }

// controlPlane is where llmvoy's gRPC servers listen, and how.
type controlPlane struct {
	// dir is the control directory; "" when both servers have addresses
	// of their own (--no-envoy only: a supervised Envoy's admin socket
	// always needs the directory).
	dir          string
	xds, extproc net.Listener
	creds        credentials.TransportCredentials // nil: plaintext
	// cleanup removes what was created for the control plane (a
	// temporary directory); the listeners unlink their own sockets.
	cleanup func()
}

// serverOptions are the gRPC options that secure a server of cp.
func (cp *controlPlane) serverOptions() []grpc.ServerOption {
	if cp.creds == nil {
		return nil
	}
	return []grpc.ServerOption{grpc.Creds(cp.creds)}
}

// openControlPlane creates the control directory when needed and listens.
// supervised says the Envoy is llmvoy's child (same user): its admin socket
// goes in the directory too, so there always is one.
func openControlPlane(c controlFlags, supervised bool, log *slog.Logger) (*controlPlane, error) {
	dirMode, sockMode := sharedDirMode, sharedSocketMode
	if supervised {
		dirMode, sockMode = privateDirMode, privateSocketMode
	}
	cp := &controlPlane{cleanup: func() {}}
	dir := c.dir
	needDir := supervised || c.xdsAddr == "" || c.extprocAddr == ""
	switch {
	case needDir && dir == "":
		tmp, err := makeTempControlDir()
		if err != nil {
			return nil, err
		}
		dir, cp.cleanup = tmp, func() { os.RemoveAll(tmp) }
	case needDir:
		if err := ensureControlDir(dir, dirMode); err != nil {
			return nil, err
		}
	}
	cp.dir = dir
	xdsAddr, procAddr := c.xdsAddr, c.extprocAddr
	if xdsAddr == "" {
		xdsAddr = "unix://" + filepath.Join(dir, xdsSocketName)
	}
	if procAddr == "" {
		procAddr = "unix://" + filepath.Join(dir, extprocSocketName)
	}
	if c.tls() {
		cfg, err := pki.ServerConfig(pki.ServerFiles{Cert: c.tlsCert, Key: c.tlsKey, CA: c.tlsCA})
		if err != nil {
			cp.cleanup()
			return nil, fmt.Errorf("control plane tls: %w", err)
		}
		cp.creds = credentials.NewTLS(cfg)
	}
	var err error
	if cp.xds, err = listenGRPC(xdsAddr, sockMode); err != nil {
		cp.cleanup()
		return nil, fmt.Errorf("xds: %w", err)
	}
	if cp.extproc, err = listenGRPC(procAddr, sockMode); err != nil {
		cp.xds.Close()
		cp.cleanup()
		return nil, fmt.Errorf("ext_proc: %w", err)
	}
	for _, ln := range []net.Listener{cp.xds, cp.extproc} {
		if ln.Addr().Network() == "tcp" && cp.creds == nil {
			log.Warn("INSECURE: the control plane serves plaintext TCP (--"+insecurePlaintextFlag+"); anyone who can connect gets every provider key and can forge access logs",
				"address", ln.Addr().String(), "loopback", isLoopback(ln.Addr()))
		}
	}
	return cp, nil
}

// makeTempControlDir makes a new private directory for the sockets of a
// supervised Envoy, under $XDG_RUNTIME_DIR (the user's own, on tmpfs) when
// set, else the system's temporary directory. Socket paths are limited to
// about 100 bytes, so the name is short.
func makeTempControlDir() (string, error) {
	parent := os.Getenv("XDG_RUNTIME_DIR")
	if st, err := os.Stat(parent); parent == "" || err != nil || !st.IsDir() {
		parent = os.TempDir()
	}
	// MkdirTemp creates it 0700.
	dir, err := os.MkdirTemp(parent, "llmvoy-")
	if err != nil {
		return "", fmt.Errorf("control directory: %w", err)
	}
	return dir, nil
}

// ensureControlDir makes dir (its parent must exist) or checks an existing
// one: a real directory owned by llmvoy's user. Either way it ends with
// mode, whatever the umask or the volume's defaults were.
func ensureControlDir(dir string, mode fs.FileMode) error {
	st, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(dir, mode); err != nil {
			return fmt.Errorf("control directory: %w", err)
		}
		return os.Chmod(dir, mode)
	}
	if err != nil {
		return fmt.Errorf("control directory: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("control directory %s is not a directory (a symlink?): %w", dir, errUnsafeControlDir)
	}
	if uid, ok := fileOwner(st); ok && uid != os.Getuid() {
		return fmt.Errorf("control directory %s belongs to uid %d, not llmvoy's %d (name a subdirectory of a shared volume: llmvoy creates it): %w", dir, uid, os.Getuid(), errUnsafeControlDir)
	}
	if err := os.Chmod(dir, mode); err != nil {
		return fmt.Errorf("control directory: %w", err)
	}
	return nil
}

// listenGRPC listens on HOST:PORT or unix:///path. A unix socket gets mode
// (a stale socket from a previous run is removed first; any other file is
// left alone and the listen fails).
func listenGRPC(addr string, mode fs.FileMode) (net.Listener, error) {
	path, ok := strings.CutPrefix(addr, "unix://")
	if !ok {
		return net.Listen("tcp", addr)
	}
	if st, err := os.Lstat(path); err == nil && st.Mode().Type() == fs.ModeSocket {
		if err := os.Remove(path); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	// Connecting needs write permission on the socket: the directory keeps
	// strangers out, the socket's mode too where the directory is shared.
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// removeSocket removes path if it is a unix socket; any other file is left
// alone.
func removeSocket(path string) {
	if st, err := os.Lstat(path); err == nil && st.Mode().Type() == fs.ModeSocket {
		_ = os.Remove(path)
	}
}

func isLoopback(a net.Addr) bool {
	ap, err := netip.ParseAddrPort(a.String())
	return err == nil && ap.Addr().IsLoopback()
}

// grpcAddress is a listener's address in the form the flags take.
func grpcAddress(ln net.Listener) string {
	if ln.Addr().Network() == "unix" {
		return "unix://" + ln.Addr().String()
	}
	return ln.Addr().String()
}

// splitGRPCAddress turns HOST:PORT or unix:///path into the bootstrap's
// address and port.
func splitGRPCAddress(addr string) (string, int) {
	if isUnix(addr) {
		return addr, 0
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0
	}
	n, _ := strconv.Atoi(port)
	return host, n
}
