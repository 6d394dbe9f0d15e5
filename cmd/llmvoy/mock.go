package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/llmvoy/llmvoy/mock"
)

// defaultMockPort is where `mock/` deployments without an api_base look.
const defaultMockPort = 4010

func runMock(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mock", flag.ContinueOnError)
	fs.SetOutput(stderr)
	host := fs.String("host", "127.0.0.1", "address to listen on")
	port := fs.Int("port", defaultMockPort, "port to listen on; the OpenAI API is under /v1")
	var o mock.Options
	fs.StringVar(&o.Name, "name", "", "deployment name echoed in responses (default \"mock-PORT\")")
	fs.DurationVar(&o.Latency, "latency", 0, "delay before a response or the first stream chunk")
	fs.DurationVar(&o.ChunkDelay, "chunk-delay", 0, "delay between stream chunks")
	fs.IntVar(&o.Chunks, "chunks", mock.DefaultChunks, "content chunks per streamed reply")
	fs.IntVar(&o.Status, "status", 0, "fail every request with this HTTP status (0 = succeed)")
	fs.Float64Var(&o.FailureRate, "failure-rate", 0, "fraction of requests that fail with --fail-status")
	fs.IntVar(&o.FailStatus, "fail-status", mock.DefaultFailStatus, "status of failures drawn by --failure-rate")
	fs.DurationVar(&o.RetryAfter, "retry-after", 0, "Retry-After advertised on errors")
	fs.Float64Var(&o.SlowRate, "slow-rate", 0, "fraction of requests that wait --slow-latency instead of --latency")
	fs.DurationVar(&o.SlowLatency, "slow-latency", 0, "delay before the answer of the requests drawn by --slow-rate")
	fs.Int64Var(&o.Seed, "seed", 1, "seed of the failure and slow sequences")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if o.Name == "" {
		o.Name = "mock-" + strconv.Itoa(*port)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		return fmt.Errorf("mock: %w", err)
	}
	srv := &http.Server{Handler: mock.New(o), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "llmvoy mock %q serving the OpenAI API on http://%s/v1\n", o.Name, ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("mock: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
