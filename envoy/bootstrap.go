// Package envoy renders the Envoy bootstrap that points Envoy at llmvoy's xDS
// and ext_proc servers, finds the Envoy binary, and runs and supervises the
// Envoy process: start, readiness, graceful drain and stop, and crash reports
// that carry Envoy's own last words.
package envoy

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// Names of the static clusters in the bootstrap. xDS resources that call
// llmvoy's ext_proc server name ExtProcClusterName in their gRPC service.
const (
	XDSClusterName     = "llmvoy_xds"
	ExtProcClusterName = "llmvoy_extproc"
)

// Defaults for BootstrapOptions fields left empty.
const (
	DefaultNodeID       = "llmvoy"
	DefaultNodeCluster  = "llmvoy"
	DefaultAdminAddress = "127.0.0.1"
	// AdminSocketName is the admin socket's name in a control directory.
	AdminSocketName = "admin.sock"
	// DefaultUpstreamAddress is where llmvoy's gRPC servers are assumed to
	// listen when XDSAddress or ExtProcAddress is empty.
	DefaultUpstreamAddress = "127.0.0.1"
)

// GRPCKeepaliveInterval is how often Envoy PINGs llmvoy's gRPC servers on
// the static clusters. Those servers must allow it, or grpc-go closes the
// connection with GOAWAY "too_many_pings" (its default minimum is 5 minutes):
//
//	grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
//		MinTime: envoy.GRPCKeepaliveInterval / 2, PermitWithoutStream: true})
const GRPCKeepaliveInterval = 30 * time.Second

// grpcKeepaliveTimeout is how long Envoy waits for a PING's answer before it
// closes the connection.
const grpcKeepaliveTimeout = 5 * time.Second

// Limits written into the bootstrap; see the template for why.
const (
	extProcBufferLimitBytes  = 64 << 20
	extProcCircuitBreakerMax = 100000
	maxDownstreamConnections = 50000
)

// unixScheme prefixes a unix socket address, as in gRPC target names:
// "unix:///run/llmvoy/xds.sock".
const unixScheme = "unix://"

// AdminSocketMode is the mode Envoy gives its admin socket: only Envoy's
// own user (llmvoy's, for the Envoy llmvoy starts; the preStop hook in
// Envoy's container, for a platform-started one) may connect.
const AdminSocketMode fs.FileMode = 0o600

// maxSocketPath is the longest unix socket path Linux accepts (sun_path is
// 108 bytes with its terminating NUL).
const maxSocketPath = 107

// BootstrapOptions say where Envoy finds llmvoy and where Envoy's admin
// interface listens.
type BootstrapOptions struct {
	// NodeID and NodeCluster identify this Envoy to the xDS server.
	// Default "llmvoy" and "llmvoy".
	NodeID, NodeCluster string

	// AdminSocket is the absolute path of the unix socket Envoy's admin
	// interface listens on, created by Envoy with AdminSocketMode. The
	// admin interface has no authentication and can raise the log level
	// until Envoy logs request headers (every key), stop Envoy or fail its
	// health checks: it belongs in a directory only Envoy's user enters.
	// Required unless InsecureTCPAdmin.
	AdminSocket string

	// InsecureTCPAdmin puts the admin interface on AdminAddress:AdminPort
	// instead, where every process that shares the loopback interface
	// (every local user; the app container of a sidecar pod) reaches it.
	// AdminAddress must be a loopback address ("127.0.0.1", "::1" or
	// "localhost"); default "127.0.0.1". AdminPort 0 lets the kernel pick a
	// free port; a Process learns the port Envoy bound (see AdminURL).
	InsecureTCPAdmin bool
	AdminAddress     string
	AdminPort        int

	// XDSAddress is where llmvoy's ADS gRPC server listens: an IP address, a
	// host name (resolved by Envoy), or a unix socket as "unix:///abs/path"
	// (then XDSPort is ignored). Default "127.0.0.1".
	XDSAddress string
	XDSPort    int

	// ExtProcAddress is where llmvoy's ext_proc gRPC server listens, in the
	// same forms as XDSAddress. Default "127.0.0.1".
	ExtProcAddress string
	ExtProcPort    int

	// ListenPort, when set, asks the xDS server for a gateway listener on
	// this port instead of the server's default (node metadata
	// llmvoy_listen_port): several platform-started Envoys can share one
	// control plane and still listen where their pods need them to.
	ListenPort int

	// TLS, when set, makes Envoy reach both of llmvoy's gRPC servers over
	// mutual TLS: it presents its client certificate and accepts only a
	// server certificate of the CA that names the address it dialled (or
	// TLS.ServerName). Without it, the clusters are plaintext, which is
	// private only over unix sockets in a directory nobody else can enter.
	TLS *ClientTLS

	// MaxHeapBytes is the heap Envoy's overload manager measures pressure
	// against: it returns free memory to the system from 90% and answers
	// new requests 503 from 95%. 0 means DefaultMaxHeapBytes.
	MaxHeapBytes uint64
}

// ClientTLS are the files (paths as Envoy sees them) of Envoy's side of the
// control plane's mutual TLS.
type ClientTLS struct {
	CertFile, KeyFile string // Envoy's client certificate and key
	CAFile            string // the CA llmvoy's server certificate chains to
	// ServerName is the name the server certificate must carry (and the
	// SNI). Empty: the host of each address; required with unix sockets.
	ServerName string
}

// DefaultMaxHeapBytes is Envoy's heap limit when BootstrapOptions leave it
// unset: 1 GiB.
const DefaultMaxHeapBytes = 1 << 30

// MinMaxHeapBytes is the smallest heap limit accepted: an idle Envoy with a
// few hundred clusters already uses tens of MiB, and a limit below that
// would answer every request 503.
const MinMaxHeapBytes = 64 << 20

// Overload thresholds, as fractions of the heap limit.
const (
	shrinkHeapThreshold    = 0.90
	stopAcceptingThreshold = 0.95
)

// NodeListenPortKey is the node metadata key carrying BootstrapOptions.ListenPort.
const NodeListenPortKey = "llmvoy_listen_port"

// Errors returned by RenderBootstrap, joined when several options are wrong.
var (
	ErrAdminNotLoopback = errors.New("admin address must be a loopback address")
	ErrInsecureAdmin    = errors.New("envoy's admin interface on tcp is reachable by every local process")
	ErrInvalidAddress   = errors.New("invalid address")
	ErrInvalidPort      = errors.New("invalid port")
	ErrInvalidTLS       = errors.New("invalid tls settings")
	ErrInvalidHeap      = errors.New("invalid heap limit")
)

//go:embed bootstrap.yaml.tmpl
var bootstrapTemplateText string

var bootstrapTemplate = template.Must(template.New("bootstrap").
	Funcs(template.FuncMap{"quote": yamlQuote}).
	Parse(bootstrapTemplateText))

// bootstrapData is what the template sees: validated, defaulted values only.
type bootstrapData struct {
	NodeID, NodeCluster string
	Admin               upstream
	XDSClusterName      string
	ExtProcClusterName  string
	XDS, ExtProc        upstream

	ListenPort               int
	NodeListenPortKey        string
	ExtProcBufferLimitBytes  int
	ExtProcCircuitBreakerMax int
	MaxDownstreamConnections int
	MaxHeapBytes             uint64
	ShrinkHeapThreshold      float64
	StopAcceptingThreshold   float64
}

// upstream is one of llmvoy's gRPC servers as a static cluster reaches it
// (also reused for the admin address, where only Pipe, or Address and Port,
// matter).
type upstream struct {
	ClusterName string
	Pipe        string // unix socket path; Address and Port are unused
	PipeMode    uint32 // the admin socket's mode (0 for a cluster's)
	Address     string
	Port        int
	DNS         bool // Address is a host name, not an IP literal
	// KeepaliveInterval and KeepaliveTimeout are proto Durations ("30s").
	KeepaliveInterval, KeepaliveTimeout string
	TLS                                 *upstreamTLS
}

// upstreamTLS is a static cluster's UpstreamTlsContext.
type upstreamTLS struct {
	CertFile, KeyFile, CAFile string
	// SNI is empty for an IP address (SNI carries names only).
	SNI string
	// SANType is "DNS" or "IP_ADDRESS"; SAN the value the server
	// certificate must carry.
	SANType, SAN string
}

// RenderBootstrap renders the Envoy bootstrap YAML for o. It rejects an admin
// address that is not loopback, and malformed addresses or ports.
func RenderBootstrap(o BootstrapOptions) ([]byte, error) {
	d, err := newBootstrapData(o)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := bootstrapTemplate.Execute(&buf, d); err != nil {
		return nil, fmt.Errorf("render envoy bootstrap: %w", err)
	}
	return buf.Bytes(), nil
}

func newBootstrapData(o BootstrapOptions) (*bootstrapData, error) {
	d := &bootstrapData{
		NodeID:                   withDefault(o.NodeID, DefaultNodeID),
		NodeCluster:              withDefault(o.NodeCluster, DefaultNodeCluster),
		XDSClusterName:           XDSClusterName,
		ExtProcClusterName:       ExtProcClusterName,
		ListenPort:               o.ListenPort,
		NodeListenPortKey:        NodeListenPortKey,
		ExtProcBufferLimitBytes:  extProcBufferLimitBytes,
		ExtProcCircuitBreakerMax: extProcCircuitBreakerMax,
		MaxDownstreamConnections: maxDownstreamConnections,
		MaxHeapBytes:             o.MaxHeapBytes,
		ShrinkHeapThreshold:      shrinkHeapThreshold,
		StopAcceptingThreshold:   stopAcceptingThreshold,
	}
	if d.MaxHeapBytes == 0 {
		d.MaxHeapBytes = DefaultMaxHeapBytes
	}
	var errs []error
	if d.MaxHeapBytes < MinMaxHeapBytes {
		errs = append(errs, fmt.Errorf("max heap %d bytes is below %d: %w", d.MaxHeapBytes, MinMaxHeapBytes, ErrInvalidHeap))
	}
	if o.ListenPort < 0 || o.ListenPort > 65535 {
		errs = append(errs, fmt.Errorf("listen port %d: %w", o.ListenPort, ErrInvalidPort))
	}
	admin, err := adminListener(o)
	if err != nil {
		errs = append(errs, err)
	}
	d.Admin = admin
	d.XDS, err = grpcUpstream(XDSClusterName, "xds", o.XDSAddress, o.XDSPort)
	if err != nil {
		errs = append(errs, err)
	}
	d.ExtProc, err = grpcUpstream(ExtProcClusterName, "ext_proc", o.ExtProcAddress, o.ExtProcPort)
	if err != nil {
		errs = append(errs, err)
	}
	if o.TLS != nil {
		for _, u := range []*upstream{&d.XDS, &d.ExtProc} {
			if u.TLS, err = clientTLS(*o.TLS, *u); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", u.ClusterName, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("envoy bootstrap: %w", err)
	}
	return d, nil
}

// adminListener is where Envoy's admin interface listens: a unix socket, or
// loopback TCP when the caller insists.
func adminListener(o BootstrapOptions) (upstream, error) {
	if o.AdminSocket == "" {
		if !o.InsecureTCPAdmin {
			return upstream{}, fmt.Errorf("give an admin socket path, or ask for tcp by name: %w", ErrInsecureAdmin)
		}
		return adminAddress(o.AdminAddress, o.AdminPort)
	}
	if o.InsecureTCPAdmin || o.AdminAddress != "" || o.AdminPort != 0 {
		return upstream{}, fmt.Errorf("admin socket %q and an admin tcp address are exclusive: %w", o.AdminSocket, ErrInvalidAddress)
	}
	return adminSocket(o.AdminSocket)
}

// adminSocket checks the admin socket's path. An abstract socket ("@name")
// has no file and so no permissions: anyone in the network namespace could
// connect.
func adminSocket(path string) (upstream, error) {
	switch {
	case !filepath.IsAbs(path):
		return upstream{}, fmt.Errorf("admin socket %q: must be an absolute path: %w", path, ErrInvalidAddress)
	case len(path) > maxSocketPath:
		return upstream{}, fmt.Errorf("admin socket %q: longer than %d bytes: %w", path, maxSocketPath, ErrInvalidAddress)
	case filepath.Clean(path) != path || strings.HasSuffix(path, "/"):
		return upstream{}, fmt.Errorf("admin socket %q: not a clean file path: %w", path, ErrInvalidAddress)
	}
	return upstream{Pipe: path, PipeMode: uint32(AdminSocketMode)}, nil
}

// adminAddress accepts loopback IPs and "localhost" only: Envoy's admin
// interface is unauthenticated and can stop the server.
func adminAddress(addr string, port int) (upstream, error) {
	addr = withDefault(addr, DefaultAdminAddress)
	if port < 0 || port > 65535 {
		return upstream{}, fmt.Errorf("admin port %d: %w", port, ErrInvalidPort)
	}
	host := strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	if host == "localhost" {
		// Envoy's admin socket_address takes an IP, not a name.
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return upstream{}, fmt.Errorf("admin address %q: %w", addr, ErrAdminNotLoopback)
	}
	return upstream{Address: ip.String(), Port: port}, nil
}

// grpcUpstream parses where one of llmvoy's gRPC servers listens.
func grpcUpstream(cluster, what, addr string, port int) (upstream, error) {
	u := upstream{
		ClusterName:       cluster,
		KeepaliveInterval: protoDuration(GRPCKeepaliveInterval),
		KeepaliveTimeout:  protoDuration(grpcKeepaliveTimeout),
	}
	addr = withDefault(addr, DefaultUpstreamAddress)
	if path, ok := strings.CutPrefix(addr, unixScheme); ok {
		if !strings.HasPrefix(path, "/") {
			return u, fmt.Errorf("%s address %q: unix socket path must be absolute (unix:///path): %w", what, addr, ErrInvalidAddress)
		}
		u.Pipe = path
		return u, nil
	}
	if strings.Contains(addr, "://") || strings.HasPrefix(addr, "unix:") {
		return u, fmt.Errorf("%s address %q: want a host, an IP or unix:///path: %w", what, addr, ErrInvalidAddress)
	}
	if port <= 0 || port > 65535 {
		return u, fmt.Errorf("%s port %d: %w", what, port, ErrInvalidPort)
	}
	host := strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	switch {
	case host == "localhost":
		// Skip DNS for the common case; llmvoy's servers bind 127.0.0.1.
		host = "127.0.0.1"
	case net.ParseIP(host) != nil:
		host = net.ParseIP(host).String()
	case validHostName(host):
		u.DNS = true
	default:
		return u, fmt.Errorf("%s address %q: %w", what, addr, ErrInvalidAddress)
	}
	u.Address, u.Port = host, port
	return u, nil
}

// clientTLS is the TLS context of the cluster reaching u.
func clientTLS(c ClientTLS, u upstream) (*upstreamTLS, error) {
	if c.CertFile == "" || c.KeyFile == "" || c.CAFile == "" {
		return nil, fmt.Errorf("a client certificate, its key and the CA are all needed: %w", ErrInvalidTLS)
	}
	for _, f := range []string{c.CertFile, c.KeyFile, c.CAFile} {
		if !strings.HasPrefix(f, "/") {
			// Envoy resolves relative paths against its working
			// directory, which is rarely where the operator thinks.
			return nil, fmt.Errorf("file %q must be an absolute path: %w", f, ErrInvalidTLS)
		}
	}
	name := c.ServerName
	if name == "" {
		name = u.Address
	}
	if name == "" {
		return nil, fmt.Errorf("a unix socket has no host name to verify: set the server name: %w", ErrInvalidTLS)
	}
	t := &upstreamTLS{CertFile: c.CertFile, KeyFile: c.KeyFile, CAFile: c.CAFile, SANType: "DNS", SAN: name, SNI: name}
	if ip := net.ParseIP(strings.Trim(name, "[]")); ip != nil {
		t.SANType, t.SAN, t.SNI = "IP_ADDRESS", ip.String(), ""
	} else if !validHostName(name) {
		return nil, fmt.Errorf("server name %q: %w", name, ErrInvalidTLS)
	}
	return t, nil
}

// validHostName is a loose check that keeps "host:port" and URLs out of a
// socket address, where Envoy would reject them with a less helpful message.
func validHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, r := range h {
		if !(r == '-' || r == '.' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// protoDuration formats d as a protobuf JSON Duration: whole seconds, "30s".
func protoDuration(d time.Duration) string {
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

func withDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// yamlQuote renders s as a double-quoted scalar. A JSON string is a valid YAML
// double-quoted scalar, so no value (node id, socket path) can break the
// document's structure.
func yamlQuote(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		// json.Marshal of a string cannot fail.
		panic(err)
	}
	return string(b)
}
