package keys

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// stores returns the stores every test runs against: SQLite always, and
// PostgreSQL when a server can be started (required under
// LLMVOY_REQUIRE_SERVERS=1, as in `make test`).
func stores(t *testing.T) map[string]*Store {
	t.Helper()
	ctx := context.Background()
	out := map[string]*Store{}
	s, err := Open(ctx, "", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	out["sqlite"] = s
	if url := postgresURL(t); url != "" {
		p, err := Open(ctx, url, "")
		require.NoError(t, err)
		t.Cleanup(func() { p.Close() })
		out["postgres"] = p
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func TestKeyLifecycle(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			now := time.UnixMilli(time.Now().UnixMilli()).UTC()
			secret := NewSecret()
			k := &Key{Token: Hash(secret), KeyName: Abbreviate(secret), KeyAlias: ptr("app-" + name), Models: []string{"gpt-4o"},
				MaxBudget: ptr(1.5), BudgetDuration: "30d", BudgetResetAt: ptr(now.AddDate(0, 0, 30)), RPMLimit: ptr(int64(10)),
				Metadata: map[string]any{"team": "ml"}, CreatedAt: now, UpdatedAt: now}
			require.NoError(t, s.Insert(ctx, k))
			require.ErrorIs(t, s.Insert(ctx, k), ErrExists)
			other := *k
			other.Token = Hash("sk-other")
			require.ErrorIs(t, s.Insert(ctx, &other), ErrAliasTaken)

			got, err := s.Get(ctx, k.Token)
			require.NoError(t, err)
			require.Equal(t, k, got)
			got, err = s.GetByAlias(ctx, "app-"+name)
			require.NoError(t, err)
			require.Equal(t, k.Token, got.Token)

			k.Models, k.TPMLimit, k.Blocked = []string{"gpt-4o", "claude"}, ptr(int64(1000)), true
			require.NoError(t, s.Update(ctx, k))
			got, _ = s.Get(ctx, k.Token)
			require.Equal(t, k, got)

			list, total, err := s.List(ctx, "", 1, 10)
			require.NoError(t, err)
			require.Equal(t, 1, total)
			require.Len(t, list, 1)

			deleted, err := s.Delete(ctx, []string{k.Token, Hash("sk-none")})
			require.NoError(t, err)
			require.Equal(t, []string{k.Token}, deleted)
			_, err = s.Get(ctx, k.Token)
			require.ErrorIs(t, err, ErrNotFound)
			require.ErrorIs(t, s.Update(ctx, k), ErrNotFound)
		})
	}
}

func TestSpendBatches(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			now := time.UnixMilli(time.Now().UnixMilli()).UTC()
			k := &Key{Token: Hash("sk-spender"), KeyName: "sk-...nder", CreatedAt: now, UpdatedAt: now}
			require.NoError(t, s.Insert(ctx, k))
			logs := []SpendLog{
				{RequestID: "r1", APIKey: k.Token, CallType: "chat_completions", ModelGroup: "gpt-4o", Model: "openai/gpt-4o", ModelID: "a",
					PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15, Spend: 0.25, StartTime: now, EndTime: now.Add(time.Second)},
				{RequestID: "r2", APIKey: k.Token, CallType: "chat_completions", ModelGroup: "gpt-4o", Model: "openai/gpt-4o", ModelID: "b",
					PromptTokens: 1, CompletionTokens: 1, TotalTokens: 2, Spend: 0.5, StartTime: now.Add(time.Second), EndTime: now.Add(2 * time.Second), CacheHit: "True"},
			}
			require.NoError(t, s.Write(ctx, logs, true))
			// A batch written again (its commit was not acknowledged)
			// counts once.
			require.NoError(t, s.Write(ctx, logs[:1], true))

			got, _ := s.Get(ctx, k.Token)
			require.InDelta(t, 0.75, got.Spend, 1e-9)
			all, err := s.SpendLogs(ctx, SpendFilter{APIKey: k.Token})
			require.NoError(t, err)
			require.Equal(t, []string{"r2", "r1"}, []string{all[0].RequestID, all[1].RequestID})
			want := logs[0]
			want.CacheHit = "False" // LiteLLM's cache_hit of an answer not from the cache
			require.Equal(t, want, all[1])
			require.Equal(t, "True", all[0].CacheHit)
			one, _ := s.SpendLogs(ctx, SpendFilter{RequestID: "r1"})
			require.Len(t, one, 1)
			none, _ := s.SpendLogs(ctx, SpendFilter{Start: now.Add(time.Hour)})
			require.Empty(t, none)

			totals, err := s.Totals(ctx)
			require.NoError(t, err)
			require.Equal(t, []Total{
				{ModelGroup: "gpt-4o", ModelID: "a", Requests: 1, PromptTokens: 10, CompletionTokens: 5, Spend: 0.25},
				{ModelGroup: "gpt-4o", ModelID: "b", Requests: 1, PromptTokens: 1, CompletionTokens: 1, Spend: 0.5},
			}, totals)

			reset := now.Add(-time.Minute)
			k.BudgetResetAt, k.BudgetDuration = &reset, "1h"
			require.NoError(t, s.Update(ctx, k))
			require.NoError(t, s.ResetBudget(ctx, k.Token, reset, reset.Add(time.Hour)))
			// A second replica doing the same reset changes nothing.
			require.NoError(t, s.Write(ctx, []SpendLog{{RequestID: "r3", APIKey: k.Token, ModelGroup: "gpt-4o", ModelID: "a", Spend: 0.125, StartTime: now, EndTime: now}}, true))
			require.NoError(t, s.ResetBudget(ctx, k.Token, reset, reset.Add(time.Hour)))
			got, _ = s.Get(ctx, k.Token)
			require.InDelta(t, 0.125, got.Spend, 1e-9)
			require.Equal(t, reset.Add(time.Hour), *got.BudgetResetAt)
		})
	}
}

func TestDurations(t *testing.T) {
	base := time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"30s": base.Add(30 * time.Second), "5m": base.Add(5 * time.Minute), "2h": base.Add(2 * time.Hour),
		"30d": base.AddDate(0, 0, 30), "1w": base.AddDate(0, 0, 7), "1mo": base.AddDate(0, 1, 0),
	} {
		got, err := AddDuration(base, in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "d", "0d", "-1d", "1y", "1.5h", "abc"} {
		_, err := AddDuration(base, bad)
		require.ErrorIs(t, err, ErrBadDuration, bad)
	}
}

func TestSecrets(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	require.NotEqual(t, a, b)
	require.Regexp(t, `^sk-[A-Za-z0-9_-]{22}$`, a)
	// LiteLLM's hash_token: sha256 hex.
	require.Equal(t, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Hash("test"))
	require.Equal(t, "sk-...wxyz", Abbreviate("sk-abcdwxyz"))
}

// A store made before spend logs had cache_hit gets the column at start,
// its rows reading "False"; opening again changes nothing.
func TestSpendLogsGainCacheHit(t *testing.T) {
	ctx := context.Background()
	urls := map[string][2]string{"sqlite": {"", t.TempDir()}}
	if url := postgresURL(t); url != "" {
		urls["postgres"] = [2]string{url, ""}
	}
	for name, at := range urls {
		t.Run(name, func(t *testing.T) {
			s, err := Open(ctx, at[0], at[1])
			require.NoError(t, err)
			now := time.UnixMilli(time.Now().UnixMilli()).UTC()
			require.NoError(t, s.Write(ctx, []SpendLog{{RequestID: "old-" + name, APIKey: "t", CallType: "acompletion", ModelGroup: "g",
				Model: "m", ModelID: "d", StartTime: now, EndTime: now}}, true))
			_, err = s.db.ExecContext(ctx, "ALTER TABLE llmvoy_spend_logs DROP COLUMN cache_hit")
			require.NoError(t, err)
			s.Close()
			for range 2 {
				s, err = Open(ctx, at[0], at[1])
				require.NoError(t, err)
				logs, err := s.SpendLogs(ctx, SpendFilter{RequestID: "old-" + name})
				require.NoError(t, err)
				require.Len(t, logs, 1)
				require.Equal(t, "False", logs[0].CacheHit)
				s.Close()
			}
		})
	}
}
