package keys

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// stallingServer accepts connections on loopback and never answers: a
// database that is up as far as TCP goes, and hung.
func stallingServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// stalledStore is a PostgreSQL store whose server never answers.
func stalledStore(t *testing.T) *Store {
	t.Helper()
	db, err := sql.Open("pgx", fmt.Sprintf("postgres://llmvoy@%s/postgres?sslmode=disable", stallingServer(t)))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return &Store{db: db, pg: true, Where: "postgres"}
}

// A key lookup on the request path returns within its bound when the
// database hangs: the gateway answers 503 instead of holding the request.
func TestLookupIsBoundedWhenTheStoreHangs(t *testing.T) {
	k := New(stalledStore(t), Options{})
	start := time.Now()
	_, err := k.Lookup(context.Background(), Hash("sk-app"))
	took := time.Since(start)
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrNotFound)
	require.GreaterOrEqual(t, took, DefaultLookupTimeout-100*time.Millisecond, "the bound, not an earlier failure")
	require.Less(t, took, DefaultLookupTimeout+time.Second)
}

// A spend flush returns within its bound when the database hangs, and
// keeps the spend for the next flush.
func TestFlushIsBoundedWhenTheStoreHangs(t *testing.T) {
	k := New(stalledStore(t), Options{FlushTimeout: 300 * time.Millisecond})
	k.Record(SpendLog{RequestID: "a", APIKey: "t", Spend: 1})
	start := time.Now()
	err := k.Flush(context.Background())
	require.Error(t, err)
	require.Less(t, time.Since(start), 2*time.Second)
	require.Len(t, k.pending, 1, "kept for the next flush")
	require.Equal(t, 1.0, k.unflushed["t"])
}

// An admin call with no deadline of its own is bounded too.
func TestStoreCallsWithoutDeadlineAreBounded(t *testing.T) {
	s := stalledStore(t)
	s.timeout = 300 * time.Millisecond
	for name, call := range map[string]func() error{
		"list":       func() error { _, _, err := s.List(context.Background(), "", 1, 10); return err },
		"spend logs": func() error { _, err := s.SpendLogs(context.Background(), SpendFilter{}); return err },
		"delete":     func() error { _, err := s.Delete(context.Background(), []string{"t"}); return err },
	} {
		start := time.Now()
		require.Error(t, call(), name)
		require.Less(t, time.Since(start), 2*time.Second, name)
	}
}

// A backlog larger than one transaction is written in several, all of it.
func TestFlushWritesABacklogInBatches(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "", t.TempDir())
	require.NoError(t, err)
	defer s.Close()
	now := time.UnixMilli(time.Now().UnixMilli()).UTC()
	key := &Key{Token: Hash("sk-app"), KeyName: "sk-...-app", CreatedAt: now, UpdatedAt: now}
	require.NoError(t, s.Insert(ctx, key))
	k := New(s, Options{KeepLogs: true})
	n := flushBatch*2 + 7
	for i := range n {
		k.Record(SpendLog{RequestID: fmt.Sprint(i), APIKey: key.Token, ModelGroup: "g", ModelID: "d", Spend: 0.5, StartTime: now, EndTime: now})
	}
	require.NoError(t, k.Flush(ctx))
	require.Empty(t, k.pending)
	got, err := s.Get(ctx, key.Token)
	require.NoError(t, err)
	require.InDelta(t, 0.5*float64(n), got.Spend, 1e-6)
	cached, err := k.Lookup(ctx, key.Token)
	require.NoError(t, err)
	require.InDelta(t, 0.5*float64(n), cached.Spend, 1e-6, "counted once")
}
