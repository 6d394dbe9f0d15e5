package keys

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOpenForGateway(t *testing.T) {
	ctx := context.Background()
	opts := Options{KeepLogs: true, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}

	// No master key and no database: no keys, nothing on disk.
	dir := filepath.Join(t.TempDir(), "data")
	k, stop, err := OpenForGateway(ctx, GatewayStore{DataDir: dir}, opts)
	require.NoError(t, err)
	require.Nil(t, k)
	stop()
	_, err = os.Stat(dir)
	require.ErrorIs(t, err, os.ErrNotExist)

	// A master key: SQLite under the data directory, spend written on stop.
	k, stop, err = OpenForGateway(ctx, GatewayStore{MasterKey: true, DataDir: dir}, opts)
	require.NoError(t, err)
	require.NotNil(t, k)
	k.Record(SpendLog{RequestID: "r1", APIKey: "t1", Spend: 0.5})
	stop()
	s, err := Open(ctx, "", dir)
	require.NoError(t, err)
	defer s.Close()
	logs, err := s.SpendLogs(ctx, SpendFilter{})
	require.NoError(t, err)
	require.Len(t, logs, 1, "stop writes what is still recorded")

}

// A gateway whose default key store cannot be created keeps serving with
// its master key (keys off, said in the log); one told to use a database it
// cannot reach does not start.
func TestOpenForGatewayFailures(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	opts := Options{Log: slog.New(slog.NewTextHandler(&logs, nil))}

	file := filepath.Join(t.TempDir(), "not-a-dir")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	k, stop, err := OpenForGateway(ctx, GatewayStore{MasterKey: true, DataDir: filepath.Join(file, "data")}, opts)
	require.NoError(t, err)
	require.Nil(t, k)
	stop()
	require.Contains(t, logs.String(), "virtual keys and spend are off")

	where := GatewayStore{MasterKey: true, DatabaseURL: "postgres://nobody:secret-pw@127.0.0.1:1/x?connect_timeout=1", DataDir: t.TempDir()}
	_, _, err = OpenForGateway(ctx, where, opts)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "secret-pw", "the URL's password stays out of errors")
}

func TestDefaultDataDir(t *testing.T) {
	t.Setenv("LLMVOY_DATA_DIR", "/data/llmvoy")
	require.Equal(t, "/data/llmvoy", DefaultDataDir())
	t.Setenv("LLMVOY_DATA_DIR", "")
	t.Setenv("XDG_DATA_HOME", "/home/u/.data")
	require.Equal(t, "/home/u/.data/llmvoy", DefaultDataDir())
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("HOME", "/home/u")
	require.Equal(t, "/home/u/.local/share/llmvoy", DefaultDataDir())
}
