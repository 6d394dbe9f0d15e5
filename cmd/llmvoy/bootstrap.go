package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/llmvoy/llmvoy/envoy"
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
	adminPort := fs.Int("admin-port", 9901, "Envoy admin port (always on 127.0.0.1)")
	tlsCert := fs.String("tls-cert", "", "Envoy's client certificate (PEM, absolute path as Envoy sees it) for mutual TLS with llmvoy")
	tlsKey := fs.String("tls-key", "", "the client certificate's private key (PEM, absolute path)")
	tlsCA := fs.String("tls-ca", "", "the CA llmvoy's server certificate must chain to (PEM, absolute path)")
	serverName := fs.String("tls-server-name", "", "the name llmvoy's server certificate must carry (default: the host of --xds and --extproc)")
	insecure := fs.Bool(insecurePlaintextFlag, false, "allow plaintext TCP to llmvoy: the provider keys cross the network readable")
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
	o := envoy.BootstrapOptions{NodeID: *nodeID, AdminPort: *adminPort, ListenPort: *port, MaxHeapBytes: uint64(maxHeap)}
	o.XDSAddress, o.XDSPort = splitGRPCAddress(xds)
	o.ExtProcAddress, o.ExtProcPort = splitGRPCAddress(proc)
	if *tlsCert != "" || *tlsKey != "" || *tlsCA != "" || *serverName != "" {
		o.TLS = &envoy.ClientTLS{CertFile: *tlsCert, KeyFile: *tlsKey, CAFile: *tlsCA, ServerName: *serverName}
	}
	if o.TLS == nil && !*insecure && (!isUnix(xds) || !isUnix(proc)) {
		fmt.Fprintf(stderr, "llmvoy bootstrap: plaintext TCP to llmvoy carries provider keys readable by the network: use --control-dir (unix sockets), --tls-cert, --tls-key and --tls-ca, or --%s\n", insecurePlaintextFlag)
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
			xds = "unix://" + filepath.Join(dir, xdsSocketName)
		}
		if proc == "" {
			proc = "unix://" + filepath.Join(dir, extprocSocketName)
		}
	}
	if xds == "" || proc == "" {
		return "", "", fmt.Errorf("--control-dir, or --xds and --extproc, are required")
	}
	return xds, proc, nil
}
