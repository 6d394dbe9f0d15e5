package keys

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The request path's view of a key: spend recorded here counts at once,
// written or not, never twice; a key keeps working from the cache while the
// store is down; an ended budget period resets the spend.
func TestKeysCacheAndSpend(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "", t.TempDir())
	require.NoError(t, err)
	now := time.UnixMilli(time.Now().UnixMilli()).UTC()
	key := &Key{Token: Hash("sk-app"), KeyName: "sk-...-app", CreatedAt: now, UpdatedAt: now}
	require.NoError(t, s.Insert(ctx, key))
	k := New(s, Options{KeepLogs: true})

	got, err := k.Lookup(ctx, key.Token)
	require.NoError(t, err)
	require.Zero(t, got.Spend)
	_, err = k.Lookup(ctx, Hash("sk-unknown"))
	require.ErrorIs(t, err, ErrNotFound)

	k.Record(SpendLog{RequestID: "a", APIKey: key.Token, ModelGroup: "g", ModelID: "d", Spend: 0.5, StartTime: now, EndTime: now})
	got, _ = k.Lookup(ctx, key.Token)
	require.InDelta(t, 0.5, got.Spend, 1e-9, "unwritten spend counts")
	require.NoError(t, k.Flush(ctx))
	got, _ = k.Lookup(ctx, key.Token)
	require.InDelta(t, 0.5, got.Spend, 1e-9, "written spend counts once")
	k.Record(SpendLog{RequestID: "b", APIKey: key.Token, ModelGroup: "g", ModelID: "d", Spend: 0.25, StartTime: now, EndTime: now})
	require.NoError(t, k.Flush(ctx))

	// The store goes away: the key still works, with the spend it had.
	require.NoError(t, s.Close())
	got, err = k.Lookup(ctx, key.Token)
	require.NoError(t, err)
	require.InDelta(t, 0.75, got.Spend, 1e-9)
	k.Record(SpendLog{RequestID: "c", APIKey: key.Token, ModelGroup: "g", ModelID: "d", Spend: 1, StartTime: now, EndTime: now})
	require.Error(t, k.Flush(ctx), "kept for the next flush")
	_, err = k.Lookup(ctx, Hash("sk-never-seen"))
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrNotFound, "an unreadable store is not an unknown key")
}

func TestBudgetPeriodResets(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "", t.TempDir())
	require.NoError(t, err)
	defer s.Close()
	now := time.UnixMilli(time.Now().UnixMilli()).UTC()
	ended := now.Add(-90 * time.Minute)
	key := &Key{Token: Hash("sk-b"), KeyName: "sk-...k-b", MaxBudget: ptr(1.0), BudgetDuration: "1h", BudgetResetAt: &ended,
		Spend: 5, CreatedAt: now, UpdatedAt: now}
	require.NoError(t, s.Insert(ctx, key))
	k := New(s, Options{})
	got, err := k.Lookup(ctx, key.Token)
	require.NoError(t, err)
	require.Zero(t, got.Spend)
	// Two periods have passed since the stored reset: the next one is the
	// first still ahead.
	require.Equal(t, ended.Add(2*time.Hour), *got.BudgetResetAt)
	stored, _ := s.Get(ctx, key.Token)
	require.Zero(t, stored.Spend)
}
