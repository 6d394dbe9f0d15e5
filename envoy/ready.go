package envoy

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// WaitGateway waits until Envoy serves llmvoy's gateway listener at
// hostPort: its liveliness probe answers only once LDS, RDS and the gateway
// ext_proc all work, which Envoy's own readiness does not say. It fails when
// envoyDone delivers first (Envoy exited) or ctx ends.
func WaitGateway(ctx context.Context, hostPort string, envoyDone <-chan error) error {
	url := "http://" + hostPort + "/health/liveliness"
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-envoyDone:
			return fmt.Errorf("envoy exited before the gateway was ready: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("gateway not ready on %s: %w", hostPort, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// StartGateway starts Envoy as o says and waits, up to timeout, until it
// serves llmvoy's gateway listener at hostPort (WaitGateway). An Envoy that
// does not get there is stopped again.
func StartGateway(ctx context.Context, o ProcessOptions, hostPort string, timeout time.Duration) (*Process, error) {
	proc, err := Start(ctx, o)
	if err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- proc.Wait() }()
	readyCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := WaitGateway(readyCtx, hostPort, exited); err != nil {
		_ = proc.Shutdown(context.Background())
		return nil, err
	}
	return proc, nil
}
