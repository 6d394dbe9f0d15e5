package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"

	"github.com/llmvoy/llmvoy/envoy"
	"github.com/llmvoy/llmvoy/internal/controlsock"
)

// runBootstrap prints the Envoy bootstrap for an Envoy the platform starts
// (a sidecar, a mesh gateway) next to `llmvoy run --no-envoy`.
func runBootstrap(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bootstrap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	controlDir := fs.String("control-dir", "", "llmvoy's --control-dir as Envoy sees it: reach xds.sock and extproc.sock there")
	xdsAddr := fs.String("xds", "", "llmvoy's xDS address instead: HOST:PORT (with --tls-*) or unix:///path")
	procAddr := fs.String("extproc", "", "llmvoy's ext_proc address instead: HOST:PORT (with --tls-*) or unix:///path")
	port := fs.Int("port", 0, "port this Envoy serves the OpenAI API on (0 = the control plane's --port)")
	nodeID := fs.String("node-id", envoy.DefaultNodeID, "this Envoy's xDS node id")
	adminSocket := fs.String("admin-socket", "", "absolute path of the unix socket of Envoy's admin interface (mode 0600), in a directory only Envoy's container mounts, not --control-dir (required)")
	adminAddr := fs.String("admin-address", "", "loopback HOST:PORT for Envoy's admin interface instead of --admin-socket; needs --"+insecureTCPAdminFlag)
	insecureAdmin := fs.Bool(insecureTCPAdminFlag, false, "allow --admin-address: every local process (and a sidecar pod's app) can then make Envoy log every key, or stop it")
	fs.Func("admin-port", "removed: use --admin-socket (or --admin-address with --"+insecureTCPAdminFlag+")", removedAdminPort)
	tlsCert := fs.String("tls-cert", "", "Envoy's client certificate (PEM, absolute path as Envoy sees it) for mutual TLS with llmvoy")
	tlsKey := fs.String("tls-key", "", "the client certificate's private key (PEM, absolute path)")
	tlsCA := fs.String("tls-ca", "", "the CA llmvoy's server certificate must chain to (PEM, absolute path)")
	serverName := fs.String("tls-server-name", "", "the name llmvoy's server certificate must carry (default: the host of --xds and --extproc)")
	insecure := fs.Bool(controlsock.InsecurePlaintextFlag, false, "allow plaintext TCP to llmvoy: the provider keys cross the network readable")
	maxHeap := byteSize(envoy.DefaultMaxHeapBytes)
	fs.Var(&maxHeap, "max-heap", "Envoy's heap limit: from 90% it returns memory to the system, from 95% it answers new requests 503 (set it below the container's memory limit)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	xds, proc, err := bootstrapAddresses(*controlDir, *xdsAddr, *procAddr)
	if err != nil {
		fmt.Fprintln(stderr, "llmvoy bootstrap:", err)
		return errUsage
	}
	o := envoy.BootstrapOptions{NodeID: *nodeID, ListenPort: *port, MaxHeapBytes: uint64(maxHeap)}
	if err := bootstrapAdmin(&o, *controlDir, *adminSocket, *adminAddr, *insecureAdmin); err != nil {
		fmt.Fprintln(stderr, "llmvoy bootstrap:", err)
		return errUsage
	}
	o.XDSAddress, o.XDSPort = controlsock.SplitAddress(xds)
	o.ExtProcAddress, o.ExtProcPort = controlsock.SplitAddress(proc)
	if *tlsCert != "" || *tlsKey != "" || *tlsCA != "" || *serverName != "" {
		o.TLS = &envoy.ClientTLS{CertFile: *tlsCert, KeyFile: *tlsKey, CAFile: *tlsCA, ServerName: *serverName}
	}
	if o.TLS == nil && !*insecure && (!controlsock.IsUnix(xds) || !controlsock.IsUnix(proc)) {
		fmt.Fprintf(stderr, "llmvoy bootstrap: plaintext TCP to llmvoy carries provider keys readable by the network: use --control-dir (unix sockets), --tls-cert, --tls-key and --tls-ca, or --%s\n", controlsock.InsecurePlaintextFlag)
		return errUsage
	}
	b, err := envoy.RenderBootstrap(o)
	if err != nil {
		return err
	}
	_, err = stdout.Write(b)
	return err
}

// bootstrapAddresses are the xDS and ext_proc addresses from --control-dir,
// each replaced by --xds or --extproc when given.
func bootstrapAddresses(dir, xds, proc string) (string, string, error) {
	if dir != "" && !filepath.IsAbs(dir) {
		return "", "", fmt.Errorf("--control-dir %q must be an absolute path", dir)
	}
	if dir != "" {
		if xds == "" {
			xds = "unix://" + filepath.Join(dir, controlsock.XDSSocketName)
		}
		if proc == "" {
			proc = "unix://" + filepath.Join(dir, controlsock.ExtProcSocketName)
		}
	}
	if xds == "" || proc == "" {
		return "", "", fmt.Errorf("--control-dir, or --xds and --extproc, are required")
	}
	return xds, proc, nil
}

// insecureTCPAdminFlag allows Envoy's admin interface on loopback TCP; its
// name is meant to be read aloud in a review.
const insecureTCPAdminFlag = "insecure-tcp-admin"

// removedAdminPort refuses --admin-port, which put Envoy's admin interface
// on loopback TCP, where every local process could reach it.
func removedAdminPort(string) error {
	return errors.New("removed: Envoy's admin interface is a unix socket now (llmvoy run: in the control directory; llmvoy bootstrap: --admin-socket PATH)")
}

// bootstrapAdmin sets where a platform-started Envoy's admin interface
// listens. Its messages are for the operator.
func bootstrapAdmin(o *envoy.BootstrapOptions, controlDir, socket, addr string, insecure bool) error {
	switch {
	case socket != "" && addr != "":
		return errors.New("--admin-socket and --admin-address are exclusive")
	case addr != "" && !insecure:
		return fmt.Errorf("--admin-address %s is TCP: every local process (and a sidecar pod's app container) could make Envoy log every key, or stop it; use --admin-socket, or accept the risk with --%s", addr, insecureTCPAdminFlag)
	case addr != "":
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("--admin-address %q: want HOST:PORT", addr)
		}
		n, err := strconv.Atoi(port)
		if err != nil {
			return fmt.Errorf("--admin-address %q: bad port", addr)
		}
		o.InsecureTCPAdmin, o.AdminAddress, o.AdminPort = true, host, n
		return nil
	case socket == "":
		return fmt.Errorf("--admin-socket PATH is required: Envoy's admin interface is unauthenticated (it can make Envoy log every key, or stop it), so it listens on a unix socket in a directory only Envoy's container mounts (or --admin-address HOST:PORT with --%s)", insecureTCPAdminFlag)
	case insecure:
		return fmt.Errorf("--%s goes with --admin-address", insecureTCPAdminFlag)
	case controlDir != "" && filepath.Dir(filepath.Clean(socket)) == filepath.Clean(controlDir):
		// The control directory is llmvoy's, 0750: Envoy enters it but
		// cannot create its socket there.
		return fmt.Errorf("--admin-socket %s: not in --control-dir, which Envoy cannot write; use a directory of Envoy's own (e.g. /run/envoy/%s on an emptyDir only Envoy mounts)", socket, envoy.AdminSocketName)
	}
	o.AdminSocket = socket
	return nil
}
