package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
)

// A gateway whose default key store cannot be created keeps serving with
// its master key (keys off, said in the log); one told to use a database it
// cannot reach does not start.
func TestOpenKeys(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx := context.Background()

	cfg := &config.Config{General: config.GeneralSettings{MasterKey: "sk-master"}}
	k, stop, err := openKeys(ctx, cfg, filepath.Join(file, "data"), log)
	require.NoError(t, err)
	require.Nil(t, k)
	stop()
	require.Contains(t, logs.String(), "virtual keys and spend are off")

	k, stop, err = openKeys(ctx, cfg, t.TempDir(), log)
	require.NoError(t, err)
	require.NotNil(t, k)
	stop()

	none, stop, err := openKeys(ctx, &config.Config{}, t.TempDir(), log)
	require.NoError(t, err)
	require.Nil(t, none, "no master key, no database: no keys")
	stop()

	cfg.General.DatabaseURL = "postgres://nobody:secret-pw@127.0.0.1:1/x?connect_timeout=1"
	_, _, err = openKeys(ctx, cfg, t.TempDir(), log)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "secret-pw", "the URL's password stays out of errors")
}
