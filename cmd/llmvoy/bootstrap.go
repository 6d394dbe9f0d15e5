package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/llmvoy/llmvoy/envoy"
)

// runBootstrap prints the Envoy bootstrap for an Envoy the platform starts
// (a sidecar, a mesh gateway) next to `llmvoy run --no-envoy`.
func runBootstrap(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bootstrap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	xdsAddr := fs.String("xds", "", "llmvoy's xDS address, HOST:PORT or unix:///path (required)")
	procAddr := fs.String("extproc", "", "llmvoy's ext_proc address, HOST:PORT or unix:///path (required)")
	port := fs.Int("port", 0, "port this Envoy serves the OpenAI API on (0 = the control plane's --port)")
	nodeID := fs.String("node-id", envoy.DefaultNodeID, "this Envoy's xDS node id")
	adminPort := fs.Int("admin-port", 9901, "Envoy admin port (always on 127.0.0.1)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *xdsAddr == "" || *procAddr == "" {
		fmt.Fprintln(stderr, "llmvoy bootstrap: --xds and --extproc are required")
		return errUsage
	}
	o := envoy.BootstrapOptions{NodeID: *nodeID, AdminPort: *adminPort, ListenPort: *port}
	o.XDSAddress, o.XDSPort = splitGRPCAddress(*xdsAddr)
	o.ExtProcAddress, o.ExtProcPort = splitGRPCAddress(*procAddr)
	b, err := envoy.RenderBootstrap(o)
	if err != nil {
		return err
	}
	_, err = stdout.Write(b)
	return err
}
