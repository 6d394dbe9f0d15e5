// Package controlsock opens the listeners of llmvoy's control plane so that
// only the gateway's own Envoy can reach them: unix sockets in a private
// directory (0700/0600 for a supervised Envoy, 0750/0660 for one in
// llmvoy's group), or TCP with mutual TLS; plaintext TCP only when the
// operator says so by name. xDS carries the SDS secrets that hold provider
// keys, ext_proc adds credentials to upstream requests, and the access-log
// service moves cooldowns, limits and spend: a neighbour reaching any of
// them owns the gateway. The gRPC servers on these listeners come from
// here too (Listeners.NewServer), so none is left unsecured.
package controlsock

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/llmvoy/llmvoy/envoy"

	"github.com/llmvoy/llmvoy/internal/pki"
)

// Socket names inside the control directory.
const (
	XDSSocketName     = "xds.sock"
	ExtProcSocketName = "extproc.sock"
	// RelaySocketName is llmvoy's relay (package relay), which Envoy's
	// gateway listener reaches; RelayAttemptsSocketName is Envoy's relay
	// listener, which only llmvoy's relay connects to.
	RelaySocketName         = "relay.sock"
	RelayAttemptsSocketName = "relay-attempts.sock"
)

// PrivateSocketMode is the mode of a socket only llmvoy's user reaches.
const PrivateSocketMode = privateSocketMode

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

// InsecurePlaintextFlag is the flag that allows plaintext TCP; its name is
// meant to be read aloud in a review.
const InsecurePlaintextFlag = "insecure-plaintext-control-plane"

// ErrUnsafeDir is returned for a control directory others can enter
// or that is not llmvoy's own.
var ErrUnsafeDir = errors.New("unsafe control directory")

// Config is where and how the control plane listens, as the operator's
// flags say.
type Config struct {
	// Dir is the control directory of the sockets (absolute); "" for a
	// new temporary one where a directory is needed.
	Dir string
	// XDSAddress and ExtProcAddress replace a socket of Dir: unix:///path,
	// or HOST:PORT (mutual TLS, or InsecurePlaintext).
	XDSAddress, ExtProcAddress string
	// TLSCert, TLSKey and TLSCA are the server's PEM files for mutual TLS.
	TLSCert, TLSKey, TLSCA string
	// InsecurePlaintext allows plaintext TCP.
	InsecurePlaintext bool
}

func (c Config) tls() bool { return c.TLSCert != "" || c.TLSKey != "" || c.TLSCA != "" }

// Check refuses a control plane a neighbour could reach, or one the Envoy
// cannot use; supervised says the Envoy is llmvoy's child. Its messages
// are for the operator and name llmvoy run's flags.
func (c *Config) Check(supervised bool) error {
	noEnvoy := !supervised
	if c.tls() && (c.TLSCert == "" || c.TLSKey == "" || c.TLSCA == "") {
		return errors.New("--tls-cert, --tls-key and --tls-ca go together")
	}
	if c.tls() && !noEnvoy {
		return errors.New("--tls-cert, --tls-key and --tls-ca are for --no-envoy: the Envoy llmvoy starts reaches it over private unix sockets")
	}
	if noEnvoy && c.Dir == "" && (c.XDSAddress == "" || c.ExtProcAddress == "") {
		return errors.New("--no-envoy needs --control-dir DIR (unix sockets on a volume shared with Envoy) or --xds-address and --extproc-address (TCP with --tls-cert, --tls-key and --tls-ca)")
	}
	if c.Dir != "" && !filepath.IsAbs(c.Dir) {
		// Envoy's bootstrap names the sockets by absolute path.
		return fmt.Errorf("--control-dir %q must be an absolute path", c.Dir)
	}
	for _, a := range []*string{&c.XDSAddress, &c.ExtProcAddress} {
		if *a == "" || IsUnix(*a) || c.tls() || c.InsecurePlaintext {
			continue
		}
		return fmt.Errorf("%s is plaintext TCP: anyone who reaches it gets every provider key; use --control-dir (unix sockets), add --tls-cert, --tls-key and --tls-ca (mutual TLS), or accept the risk with --%s", *a, InsecurePlaintextFlag)
	}
	return nil
}

// IsUnix says whether a control address is a unix socket (unix:///path).
func IsUnix(addr string) bool { return strings.HasPrefix(addr, "unix://") }

// Listeners is where llmvoy's gRPC servers listen, and how.
type Listeners struct {
	// Dir is the control directory; "" when both servers have addresses
	// of their own (--no-envoy only: a supervised Envoy's admin socket
	// always needs the directory).
	Dir          string
	XDS, ExtProc net.Listener
	creds        credentials.TransportCredentials // nil: plaintext
	// cleanup removes what was created for the control plane (a
	// temporary directory); the listeners unlink their own sockets.
	cleanup func()
}

// Close removes what Open created (a temporary directory) once the servers
// have stopped; the listeners are closed by their servers and unlink their
// own sockets.
func (cp *Listeners) Close() { cp.cleanup() }

// NewServer is a gRPC server for Envoy on cp's listeners, secured as they
// are (mutual TLS, or nothing on private sockets), taking messages up to
// maxMsgBytes. Envoy pings its gRPC connections, which grpc-go would
// otherwise answer with GOAWAY.
func (cp *Listeners) NewServer(maxMsgBytes int) *grpc.Server {
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(maxMsgBytes),
		grpc.MaxSendMsgSize(maxMsgBytes),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: envoy.GRPCKeepaliveInterval / 2, PermitWithoutStream: true}),
		// Reuse goroutines (and their grown stacks) across ext_proc
		// streams instead of starting one per stream.
		grpc.NumStreamWorkers(uint32(runtime.GOMAXPROCS(0))),
	}
	if cp.creds != nil {
		opts = append(opts, grpc.Creds(cp.creds))
	}
	return grpc.NewServer(opts...)
}

// GracefulStop stops g once its streams end (Envoys draining their
// requests through it), or at the timeout.
func GracefulStop(g *grpc.Server, timeout time.Duration) {
	done := make(chan struct{})
	go func() { g.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		g.Stop()
	}
}

// Open creates the control directory when needed and listens.
// supervised says the Envoy is llmvoy's child (same user): its admin socket
// goes in the directory too, so there always is one.
func Open(c Config, supervised bool, log *slog.Logger) (*Listeners, error) {
	dirMode, sockMode := sharedDirMode, sharedSocketMode
	if supervised {
		dirMode, sockMode = privateDirMode, privateSocketMode
	}
	cp := &Listeners{cleanup: func() {}}
	dir := c.Dir
	needDir := supervised || c.XDSAddress == "" || c.ExtProcAddress == ""
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
	cp.Dir = dir
	xdsAddr, procAddr := c.XDSAddress, c.ExtProcAddress
	if xdsAddr == "" {
		xdsAddr = "unix://" + filepath.Join(dir, XDSSocketName)
	}
	if procAddr == "" {
		procAddr = "unix://" + filepath.Join(dir, ExtProcSocketName)
	}
	if c.tls() {
		cfg, err := pki.ServerConfig(pki.ServerFiles{Cert: c.TLSCert, Key: c.TLSKey, CA: c.TLSCA})
		if err != nil {
			cp.cleanup()
			return nil, fmt.Errorf("control plane tls: %w", err)
		}
		cp.creds = credentials.NewTLS(cfg)
	}
	var err error
	if cp.XDS, err = listenGRPC(xdsAddr, sockMode); err != nil {
		cp.cleanup()
		return nil, fmt.Errorf("xds: %w", err)
	}
	if cp.ExtProc, err = listenGRPC(procAddr, sockMode); err != nil {
		cp.XDS.Close()
		cp.cleanup()
		return nil, fmt.Errorf("ext_proc: %w", err)
	}
	for _, ln := range []net.Listener{cp.XDS, cp.ExtProc} {
		if ln.Addr().Network() == "tcp" && cp.creds == nil {
			log.Warn("INSECURE: the control plane serves plaintext TCP (--"+InsecurePlaintextFlag+"); anyone who can connect gets every provider key and can forge access logs",
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
		return fmt.Errorf("control directory %s is not a directory (a symlink?): %w", dir, ErrUnsafeDir)
	}
	if uid, ok := fileOwner(st); ok && uid != os.Getuid() {
		return fmt.Errorf("control directory %s belongs to uid %d, not llmvoy's %d (name a subdirectory of a shared volume: llmvoy creates it): %w", dir, uid, os.Getuid(), ErrUnsafeDir)
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

// ListenPrivate listens on the unix socket path, which only llmvoy's user
// can connect to (a supervised Envoy runs as that user).
func ListenPrivate(path string) (net.Listener, error) {
	return listenGRPC("unix://"+path, privateSocketMode)
}

// RemoveSocket removes path if it is a unix socket; any other file is left
// alone.
func RemoveSocket(path string) {
	if st, err := os.Lstat(path); err == nil && st.Mode().Type() == fs.ModeSocket {
		_ = os.Remove(path)
	}
}

func isLoopback(a net.Addr) bool {
	ap, err := netip.ParseAddrPort(a.String())
	return err == nil && ap.Addr().IsLoopback()
}

// Address is a listener's address in the form the flags take.
func Address(ln net.Listener) string {
	if ln.Addr().Network() == "unix" {
		return "unix://" + ln.Addr().String()
	}
	return ln.Addr().String()
}

// SplitAddress turns HOST:PORT or unix:///path into the bootstrap's
// address and port.
func SplitAddress(addr string) (string, int) {
	if IsUnix(addr) {
		return addr, 0
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0
	}
	n, _ := strconv.Atoi(port)
	return host, n
}
