package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
)

// startOTel starts llmvoy with litellm_settings.callbacks: ["otel"],
// exporting OTLP/HTTP to a receiver in this process that reads and
// discards every batch, so the target measures llmvoy's side of telemetry.
func (b *bench) startOTel(ctx context.Context) (target, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return target{}, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	})}
	go srv.Serve(ln)
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	path := filepath.Join(b.s.outDir, "config-llmvoy-otel.yaml")
	cfg := append(gatewayConfig(b.mocks, &b.s), []byte("litellm_settings:\n  callbacks: [\"otel\"]\n")...)
	if err := os.WriteFile(path, cfg, 0o644); err != nil {
		return target{}, err
	}
	t, err := startLLMvoy(ctx, b.procs, b.s.llmvoyBin, b.s.envoyBin, path,
		"OTEL_EXPORTER=otlp_http", "OTEL_ENDPOINT=http://"+ln.Addr().String())
	t.name = targetOTel
	return t, err
}
