package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/llmvoy/llmvoy/internal/pki"
)

// runCerts writes a CA for one deployment and the certificates of its
// control plane's mutual TLS: llmvoy's server certificate (for the names
// Envoy dials) and Envoy's client certificate.
func runCerts(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("certs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "directory to write the CA, server and client files into (created 0700; required)")
	hosts := fs.String("hosts", "llmvoy,localhost,127.0.0.1", "comma-separated names and IP addresses Envoy uses to reach llmvoy (the server certificate's SANs)")
	validity := fs.Duration("validity", 365*24*time.Hour, "how long the certificates are valid")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *dir == "" {
		fmt.Fprintln(stderr, "llmvoy certs: --dir is required")
		return errUsage
	}
	if *validity <= 0 {
		fmt.Fprintln(stderr, "llmvoy certs: --validity must be positive")
		return errUsage
	}
	b, err := pki.Issue(strings.Split(*hosts, ","), *validity, time.Now())
	if errors.Is(err, pki.ErrNoHosts) {
		fmt.Fprintln(stderr, "llmvoy certs: --hosts names no host")
		return errUsage
	}
	if err != nil {
		return err
	}
	if err := b.Write(*dir); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	p := func(name string) string { return filepath.Join(*dir, name) }
	fmt.Fprintf(stdout, `wrote a CA and the control plane's certificates to %s (valid until %s)
  llmvoy run --no-envoy ... --tls-cert %s --tls-key %s --tls-ca %s
  llmvoy bootstrap ... --tls-cert %s --tls-key %s --tls-ca %s
keep %s offline or delete it: it signs certificates that llmvoy trusts
`, *dir, b.NotAfter.UTC().Format(time.DateOnly),
		p(pki.ServerCertFile), p(pki.ServerKeyFile), p(pki.CAFile),
		p(pki.ClientCertFile), p(pki.ClientKeyFile), p(pki.CAFile),
		p(pki.CAKeyFile))
	return nil
}
