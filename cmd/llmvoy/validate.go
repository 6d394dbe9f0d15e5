package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/llmvoy/llmvoy/config"
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
	fmt.Fprintf(stdout, "%s: valid (%d model groups, %d deployments, %d warnings)\n",
		*path, len(cfg.Groups()), len(cfg.Deployments), len(warnings))
	return nil
}
