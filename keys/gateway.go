package keys

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// GatewayStore says where a gateway keeps its keys and spend.
type GatewayStore struct {
	// MasterKey says the gateway has a master key, which virtual keys
	// need.
	MasterKey bool
	// DatabaseURL is general_settings.database_url: PostgreSQL; "" for
	// SQLite under DataDir.
	DatabaseURL string
	DataDir     string
}

// OpenForGateway opens the store of virtual keys and spend when the gateway
// has a master key or a database URL, and writes spend in the background
// until stop, which writes what is still recorded and closes the store. With
// neither it returns nil keys: the gateway has none.
func OpenForGateway(ctx context.Context, where GatewayStore, opts Options) (k *Keys, stop func(), err error) {
	if !where.MasterKey && where.DatabaseURL == "" {
		return nil, func() {}, nil
	}
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	store, err := Open(ctx, where.DatabaseURL, where.DataDir)
	if err != nil && where.DatabaseURL == "" {
		// Nobody asked for keys: a gateway that served with its master key
		// before keeps doing so (a read-only root file system, say).
		log.Error("virtual keys and spend are off: the SQLite store cannot be opened; set --data-dir (or $LLMVOY_DATA_DIR) to a writable directory, or general_settings.database_url", "err", err)
		return nil, func() {}, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("key store: %w", err)
	}
	log.Info("virtual keys and spend", "store", store.Where)
	k = New(store, opts)
	// The spend writer outlives ctx's cancellation: stop ends it, after
	// the servers that record spend have stopped.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { k.Run(runCtx); close(done) }()
	stop = func() {
		cancel()
		<-done
		store.Close()
	}
	return k, stop, nil
}

// DefaultDataDir is where a gateway keeps its SQLite store when not told:
// $LLMVOY_DATA_DIR, else llmvoy under the user's data directory
// ($XDG_DATA_HOME or ~/.local/share).
func DefaultDataDir() string {
	if d := os.Getenv("LLMVOY_DATA_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "llmvoy")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "llmvoy")
	}
	return ".llmvoy"
}
