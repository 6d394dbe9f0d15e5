package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/controlplane"
	"github.com/llmvoy/llmvoy/envoy"
	"github.com/llmvoy/llmvoy/plan"
	"github.com/llmvoy/llmvoy/xds"
)

func runValidate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "LiteLLM config.yaml to check")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *path == "" {
		fmt.Fprintln(stderr, "llmvoy validate: --config is required")
		return errUsage
	}
	cfg, warnings, err := config.Load(*path)
	for _, w := range warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	if err != nil {
		return err
	}
	// What `llmvoy run` and a reload do next: a config they would refuse
	// is not valid.
	p, err := plan.Build(cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	// The CA bundle is the host's, not the config's: a placeholder stands
	// in where this host has none.
	caFile := envoy.FindCABundle()
	if caFile == "" {
		caFile = "/etc/ssl/certs/ca-certificates.crt"
	}
	opts := xds.Options{ListenAddress: "0.0.0.0", ListenPort: 4000, ExtProcCluster: envoy.ExtProcClusterName, CAFile: caFile,
		// As `llmvoy run` would have them, so the relay's resources
		// (enable_stream_continuation) are checked too.
		RelaySocket: "/run/llmvoy/relay.sock", RelayListenSocket: "/run/llmvoy/relay-attempts.sock", RelaySocketMode: 0o600}
	if err := controlplane.Check(p, opts); err != nil {
		return fmt.Errorf("%s: Envoy's resources: %w", *path, err)
	}
	fmt.Fprintf(stdout, "%s: valid (%d model groups, %d deployments, %d warnings)\n",
		*path, len(cfg.Groups()), len(cfg.Deployments), len(warnings))
	return nil
}
