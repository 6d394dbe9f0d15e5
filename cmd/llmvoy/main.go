// Command llmvoy is an LLM gateway: it reads a LiteLLM config.yaml, serves
// the OpenAI API through Envoy, and routes each request to a deployment with
// LiteLLM's semantics.
//
//	llmvoy run --config FILE [--port N]    start the gateway (supervises Envoy)
//	llmvoy validate --config FILE          check a config (exit 0 valid, 1 invalid)
//	llmvoy mock [--port N]                 a fake OpenAI-compatible provider
//	llmvoy bootstrap --control-dir DIR --admin-socket PATH
//	                                       the bootstrap of a platform-started Envoy
//	llmvoy certs --dir DIR                 a CA and certificates for mutual TLS with Envoy
//	llmvoy version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/llmvoy/llmvoy/extproc"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

// errUsage marks a usage error whose message is already printed (exit 2).
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, errUsage) {
		fmt.Fprintln(os.Stderr, "llmvoy:", err)
	}
	os.Exit(exitCode(err))
}

// exitCode is the process exit status for run's result: 0 success, 2 usage
// error, 1 anything else (an invalid config for `validate`).
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	return 1
}

const usage = `usage: llmvoy <command> [flags]

commands:
  run        start the gateway: llmvoy run --config FILE [--port N]
             control plane only: llmvoy run --no-envoy --config FILE --control-dir DIR
  validate   check a config file: llmvoy validate --config FILE
  mock       serve a fake OpenAI-compatible provider: llmvoy mock [--port N]
  bootstrap  print the bootstrap of a platform-started Envoy (next to run --no-envoy):
             llmvoy bootstrap --control-dir DIR --admin-socket PATH [--port N]   (unix sockets)
             llmvoy bootstrap --xds HOST:PORT --extproc HOST:PORT --admin-socket PATH \
               --tls-cert F --tls-key F --tls-ca F [--port N]                   (mutual TLS)
  certs      write a CA and the certificates of mutual TLS between llmvoy and Envoy:
             llmvoy certs --dir DIR [--hosts llmvoy,localhost,127.0.0.1]
  version    print the version

run "llmvoy <command> -h" for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	extproc.Version = version
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "run":
		return runGateway(ctx, args[1:], stdout, stderr)
	case "validate":
		return runValidate(args[1:], stdout, stderr)
	case "mock":
		return runMock(ctx, args[1:], stdout, stderr)
	case "bootstrap":
		return runBootstrap(args[1:], stdout, stderr)
	case "certs":
		return runCerts(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "llmvoy", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "llmvoy: unknown command %q\n\n%s", args[0], usage)
	return errUsage
}
