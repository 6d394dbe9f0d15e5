package admin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/admin"
	"github.com/llmvoy/llmvoy/keys"
)

// keyAnswer is a key as the endpoints show it (LiteLLM's field names).
type keyAnswer struct {
	Key                 string         `json:"key"`
	TokenID             string         `json:"token_id"`
	Token               string         `json:"token"`
	KeyName             string         `json:"key_name"`
	KeyAlias            *string        `json:"key_alias"`
	Spend               float64        `json:"spend"`
	MaxBudget           *float64       `json:"max_budget"`
	BudgetDuration      *string        `json:"budget_duration"`
	BudgetResetAt       *time.Time     `json:"budget_reset_at"`
	Expires             *time.Time     `json:"expires"`
	Models              []string       `json:"models"`
	RPMLimit            *int64         `json:"rpm_limit"`
	TPMLimit            *int64         `json:"tpm_limit"`
	MaxParallelRequests *int64         `json:"max_parallel_requests"`
	Metadata            map[string]any `json:"metadata"`
	Blocked             bool           `json:"blocked"`
}

func (e *env) generate(t *testing.T, body string) keyAnswer {
	t.Helper()
	return decode[keyAnswer](t, call(t, e.h, master, "POST", "/key/generate", body))
}

func TestGenerateKey(t *testing.T) {
	e := newEnv(t, adminConfig)
	k := e.generate(t, `{"key_alias":"app-1","models":["gpt-4o"],"metadata":{"team":"ml"},"duration":"1h",
		"max_budget":1.5,"budget_duration":"30d","rpm_limit":10,"tpm_limit":1000,"max_parallel_requests":2,
		"team_id":null,"user_id":null}`)
	require.True(t, strings.HasPrefix(k.Key, "sk-"), k.Key)
	require.Equal(t, keys.Hash(k.Key), k.Token, "the token is the secret's hash")
	require.Equal(t, k.Token, k.TokenID)
	require.Equal(t, keys.Abbreviate(k.Key), k.KeyName)
	require.Equal(t, "app-1", *k.KeyAlias)
	require.Equal(t, []string{"gpt-4o"}, k.Models)
	require.Equal(t, map[string]any{"team": "ml"}, k.Metadata)
	require.Equal(t, 1.5, *k.MaxBudget)
	require.Equal(t, "30d", *k.BudgetDuration)
	require.WithinDuration(t, time.Now().AddDate(0, 0, 30), *k.BudgetResetAt, time.Minute)
	require.WithinDuration(t, time.Now().Add(time.Hour), *k.Expires, time.Minute)
	require.Equal(t, int64(10), *k.RPMLimit)
	require.Equal(t, int64(1000), *k.TPMLimit)
	require.Equal(t, int64(2), *k.MaxParallelRequests)
	require.Contains(t, e.logs.String(), "virtual key generated")
	require.NotContains(t, e.logs.String(), k.Key, "the secret is never logged")

	stored, err := e.keys.Store().Get(context.Background(), k.Token)
	require.NoError(t, err)
	require.Equal(t, []string{"gpt-4o"}, stored.Models)

	// No body, or an empty one: a key with nothing set, shown with empty
	// lists and objects rather than null.
	for _, body := range []string{"", " "} {
		empty := e.generate(t, body)
		require.Equal(t, []string{}, empty.Models)
		require.Equal(t, map[string]any{}, empty.Metadata)
		require.Nil(t, empty.KeyAlias)
		require.Nil(t, empty.BudgetDuration)
	}

	// A caller-chosen key.
	custom := e.generate(t, `{"key":"sk-my-own-key-1"}`)
	require.Equal(t, "sk-my-own-key-1", custom.Key)
	require.Equal(t, keys.Hash("sk-my-own-key-1"), custom.Token)
}

// Bad bodies are 400s naming what is wrong; nothing is stored.
func TestGenerateKeyRejects(t *testing.T) {
	e := newEnv(t, adminConfig)
	e.generate(t, `{"key_alias":"taken","key":"sk-existing-1"}`)
	tests := []struct{ body, message string }{
		{`[]`, "the body must be a JSON object: json: cannot unmarshal array into Go value of type map[string]json.RawMessage"},
		{`{"models":`, "the body must be a JSON object: unexpected end of JSON input"},
		{`{"rpm_limit":"ten"}`, "rpm_limit: want int64, got a JSON string"},
		{`{"models":"gpt-4o"}`, "models: want []string, got a JSON string"},
		{`{"rpm_limit":-1}`, "rpm_limit must be >= 0"},
		{`{"tpm_limit":-1}`, "tpm_limit must be >= 0"},
		{`{"max_parallel_requests":-1}`, "max_parallel_requests must be >= 0"},
		{`{"max_budget":-0.5}`, "max_budget must be >= 0"},
		{`{"duration":"soon"}`, `duration: "soon": `},
		{`{"budget_duration":"1x"}`, `budget_duration: "1x": `},
		{`{"team_id":"t1"}`, "team_id is not supported by llmvoy yet; send it as null or leave it out"},
		{`{"nonsense":1}`, "unknown field nonsense; llmvoy takes key, key_alias, duration, models, max_budget, budget_duration, rpm_limit, tpm_limit, max_parallel_requests, metadata, blocked"},
		{`{"key":"pk-123456789"}`, "key: a custom key must start with sk- and be at least 8 characters"},
		{`{"key":"sk-1"}`, "key: a custom key must start with sk- and be at least 8 characters"},
		{`{"key_alias":"taken"}`, `key_alias "taken" is already used by another key`},
		{`{"key":"sk-existing-1"}`, "this key already exists"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			err := requireError(t, call(t, e.h, master, "POST", "/key/generate", tt.body), 400, "invalid_request_error")
			require.True(t, strings.HasPrefix(err.Message, tt.message), "message %q", err.Message)
		})
	}
	list := decode[map[string]any](t, call(t, e.h, master, "GET", "/key/list", ""))
	require.Equal(t, 1.0, list["total_count"], "only the first key was stored")
}

func TestUpdateKey(t *testing.T) {
	e := newEnv(t, adminConfig)
	k := e.generate(t, `{"key_alias":"app","models":["gpt-4o"],"rpm_limit":5}`)
	e.generate(t, `{"key_alias":"other"}`)
	// The cache the request path reads is told too.
	_, err := e.keys.Lookup(context.Background(), k.Token)
	require.NoError(t, err)

	// By secret or by token; unsent fields stay.
	up := decode[keyAnswer](t, call(t, e.h, master, "POST", "/key/update", `{"key":"`+k.Key+`","models":["gpt-4o","claude"]}`))
	require.Equal(t, []string{"gpt-4o", "claude"}, up.Models)
	require.Equal(t, int64(5), *up.RPMLimit)
	require.Empty(t, up.Key, "only /key/generate shows the secret")
	up = decode[keyAnswer](t, call(t, e.h, master, "POST", "/key/update", `{"key":"`+k.Token+`","blocked":true}`))
	require.True(t, up.Blocked)
	cached, err := e.keys.Lookup(context.Background(), k.Token)
	require.NoError(t, err)
	require.True(t, cached.Blocked)
	require.Equal(t, []string{"gpt-4o", "claude"}, cached.Models)

	for _, tt := range []struct {
		body    string
		status  int
		typ     string
		message string
	}{
		{`{"models":[]}`, 400, "invalid_request_error", "key is required: the key (sk-...) or its token"},
		{`{"key":"sk-nope-nope"}`, 404, "not_found_error", "key not found"},
		{`{"key":"` + k.Key + `","key_alias":"other"}`, 400, "invalid_request_error", `key_alias "other" is already used by another key`},
		{`{"key":"` + k.Key + `","rpm_limit":true}`, 400, "invalid_request_error", "rpm_limit: want int64, got a JSON bool"},
		{`{"key":"` + k.Key + `","spend":3}`, 400, "invalid_request_error", "spend is not supported by llmvoy yet; send it as null or leave it out"},
	} {
		err := requireError(t, call(t, e.h, master, "POST", "/key/update", tt.body), tt.status, tt.typ)
		require.Equal(t, tt.message, err.Message, tt.body)
	}
}

func TestBlockAndUnblockKey(t *testing.T) {
	e := newEnv(t, adminConfig)
	k := e.generate(t, `{}`)
	got := decode[keyAnswer](t, call(t, e.h, master, "POST", "/key/block", `{"key":"`+k.Key+`"}`))
	require.True(t, got.Blocked)
	cached, err := e.keys.Lookup(context.Background(), k.Token)
	require.NoError(t, err)
	require.True(t, cached.Blocked, "the request path sees it at once")
	got = decode[keyAnswer](t, call(t, e.h, master, "POST", "/key/unblock", `{"key":"`+k.Token+`"}`))
	require.False(t, got.Blocked)

	for _, path := range []string{"/key/block", "/key/unblock"} {
		err := requireError(t, call(t, e.h, master, "POST", path, ""), 400, "invalid_request_error")
		require.Equal(t, "the body must be a JSON object with the key: unexpected end of JSON input", err.Message)
		err = requireError(t, call(t, e.h, master, "POST", path, `{}`), 400, "invalid_request_error")
		require.Equal(t, "key is required: the key (sk-...) or its token", err.Message)
		err = requireError(t, call(t, e.h, master, "POST", path, `{"key":"sk-nope-nope"}`), 404, "not_found_error")
		require.Equal(t, "key not found", err.Message)
	}
}

// /key/delete is all or nothing: a typo leaves every key in place.
func TestDeleteKeys(t *testing.T) {
	e := newEnv(t, adminConfig)
	a, b := e.generate(t, `{}`), e.generate(t, `{"key_alias":"b"}`)
	for _, tt := range []struct {
		body    string
		status  int
		message string
	}{
		{``, 400, "the body must be a JSON object with keys or key_aliases: unexpected end of JSON input"},
		{`{}`, 400, "keys or key_aliases is required"},
		{`{"keys":[],"key_aliases":[]}`, 400, "keys or key_aliases is required"},
		{`{"keys":["` + a.Key + `","sk-typo-typo"]}`, 404, "key not found"},
		{`{"keys":["` + a.Key + `"],"key_aliases":["nope"]}`, 404, `no key has key_alias "nope"`},
		{`{"keys":[""]}`, 400, "key is required: the key (sk-...) or its token"},
	} {
		typ := map[int]string{400: "invalid_request_error", 404: "not_found_error"}[tt.status]
		err := requireError(t, call(t, e.h, master, "POST", "/key/delete", tt.body), tt.status, typ)
		require.True(t, strings.HasPrefix(err.Message, tt.message), "%s: %q", tt.body, err.Message)
	}
	require.Equal(t, 2.0, decode[map[string]any](t, call(t, e.h, master, "GET", "/key/list", ""))["total_count"])

	_, err := e.keys.Lookup(context.Background(), a.Token)
	require.NoError(t, err) // cached: the delete must invalidate it
	got := decode[map[string]any](t, call(t, e.h, master, "POST", "/key/delete", `{"keys":["`+a.Key+`"],"key_aliases":["b"]}`))
	require.Equal(t, map[string]any{"deleted_keys": []any{a.Key, "b"}}, got)
	_, err = e.keys.Lookup(context.Background(), a.Token)
	require.ErrorIs(t, err, keys.ErrNotFound)
	_, err = e.keys.Lookup(context.Background(), b.Token)
	require.ErrorIs(t, err, keys.ErrNotFound)
	require.Contains(t, e.logs.String(), "virtual keys deleted")
}

// /key/info: the master key reads any key by secret or token; a virtual
// key reads itself; spend recorded but not yet written counts.
func TestKeyInfo(t *testing.T) {
	e := newEnv(t, adminConfig)
	k := e.generate(t, `{"key_alias":"app","metadata":{"team":"ml"}}`)
	type info struct {
		Key  string    `json:"key"`
		Info keyAnswer `json:"info"`
	}
	for _, ref := range []string{k.Key, k.Token} {
		got := decode[info](t, call(t, e.h, master, "GET", "/key/info?key="+ref, ""))
		require.Equal(t, ref, got.Key, "the reference is echoed as sent")
		require.Equal(t, k.Token, got.Info.Token)
		require.Equal(t, "app", *got.Info.KeyAlias)
		require.Empty(t, got.Info.Key, "never the secret")
	}
	e.keys.Record(keys.SpendLog{RequestID: "r1", APIKey: k.Token, ModelGroup: "gpt-4o", Spend: 0.25, StartTime: time.Now(), EndTime: time.Now()})

	stored, err := e.keys.Store().Get(context.Background(), k.Token)
	require.NoError(t, err)
	self := admin.Caller{Key: stored}
	for _, path := range []string{"/key/info", "/v1/key/info"} {
		got := decode[info](t, call(t, e.h, self, "GET", path, ""))
		require.Equal(t, k.Token, got.Key, "a key asking about itself is named by its token")
		require.Equal(t, k.Token, got.Info.Token)
		require.InDelta(t, 0.25, got.Info.Spend, 1e-12)
	}

	err2 := requireError(t, call(t, e.h, master, "GET", "/key/info", ""), 400, "invalid_request_error")
	require.Equal(t, "key is required: /key/info?key=sk-... (or call it with the key itself)", err2.Message)
	requireError(t, call(t, e.h, master, "GET", "/key/info?key=sk-nope-nope", ""), 404, "not_found_error")
}

func TestListKeys(t *testing.T) {
	e := newEnv(t, adminConfig)
	var tokens []string
	for i := range 3 {
		tokens = append(tokens, e.generate(t, `{"key_alias":"app-`+string(rune('a'+i))+`"}`).Token)
	}
	type list struct {
		Keys        []any `json:"keys"`
		TotalCount  int   `json:"total_count"`
		CurrentPage int   `json:"current_page"`
		TotalPages  int   `json:"total_pages"`
	}
	all := decode[list](t, call(t, e.h, master, "GET", "/key/list", ""))
	require.Equal(t, 3, all.TotalCount)
	require.Equal(t, 1, all.CurrentPage)
	require.Equal(t, 1, all.TotalPages)
	require.ElementsMatch(t, []any{tokens[0], tokens[1], tokens[2]}, all.Keys, "tokens, never secrets")

	page := decode[list](t, call(t, e.h, master, "GET", "/key/list?page=2&size=2", ""))
	require.Len(t, page.Keys, 1)
	require.Equal(t, 2, page.CurrentPage)
	require.Equal(t, 2, page.TotalPages)

	full := decode[list](t, call(t, e.h, master, "GET", "/key/list?key_alias=app-b&return_full_object=true", ""))
	require.Len(t, full.Keys, 1)
	require.Equal(t, "app-b", full.Keys[0].(map[string]any)["key_alias"])
	require.Equal(t, tokens[1], full.Keys[0].(map[string]any)["token"])

	for _, q := range []string{"page=0", "page=x", "page=-1", "page=2147483648", "size=0", "size=101", "size=1.5"} {
		err := requireError(t, call(t, e.h, master, "GET", "/key/list?"+q, ""), 400, "invalid_request_error")
		require.Contains(t, err.Message, "must be a whole number from 1 to", q)
	}
}

// The spend endpoints flush what was recorded first: a read sees every
// answered request.
func TestSpend(t *testing.T) {
	e := newEnv(t, adminConfig)
	a, b := e.generate(t, `{"key_alias":"a"}`), e.generate(t, `{}`)
	day := func(d string) time.Time {
		tm, err := time.Parse("2006-01-02 15:04", d)
		require.NoError(t, err)
		return tm
	}
	for _, l := range []keys.SpendLog{
		{RequestID: "r1", APIKey: a.Token, ModelGroup: "gpt-4o", ModelID: "dep-a", Spend: 0.5, StartTime: day("2026-03-01 10:00")},
		{RequestID: "r2", APIKey: a.Token, ModelGroup: "claude", ModelID: "dep-b", Spend: 0.25, StartTime: day("2026-03-02 23:59")},
		{RequestID: "r3", APIKey: b.Token, ModelGroup: "gpt-4o", ModelID: "dep-a", Spend: 1, StartTime: day("2026-03-03 00:00")},
	} {
		l.EndTime = l.StartTime.Add(time.Second)
		e.keys.Record(l)
	}
	ids := func(target string) []string {
		t.Helper()
		var out []string
		for _, l := range decode[[]keys.SpendLog](t, call(t, e.h, master, "GET", target, "")) {
			out = append(out, l.RequestID)
		}
		return out
	}
	require.Equal(t, []string{"r3", "r2", "r1"}, ids("/spend/logs"), "newest first")
	require.Equal(t, []string{"r2", "r1"}, ids("/v1/spend/logs?api_key="+a.Key))
	require.Equal(t, []string{"r2", "r1"}, ids("/spend/logs?api_key="+a.Token))
	require.Equal(t, []string{"r3", "r1"}, ids("/spend/logs?model=gpt-4o"))
	require.Equal(t, []string{"r2"}, ids("/spend/logs?request_id=r2"))
	// A date's day counts whole; a time is exact.
	require.Equal(t, []string{"r2", "r1"}, ids("/spend/logs?start_date=2026-03-01&end_date=2026-03-02"))
	require.Equal(t, []string{"r1"}, ids("/spend/logs?end_date=2026-03-02T00:00:00Z"))
	require.Equal(t, []string{"r3"}, ids("/spend/logs?start_date=2026-03-03"))
	require.Empty(t, ids("/spend/logs?api_key=sk-nobody-1"))
	for _, q := range []string{"start_date=yesterday", "end_date=2026-13-01", "start_date=2026-03-01T10:00"} {
		err := requireError(t, call(t, e.h, master, "GET", "/spend/logs?"+q, ""), 400, "invalid_request_error")
		require.Contains(t, err.Message, "want YYYY-MM-DD or an RFC 3339 time", q)
	}

	e.keys.Record(keys.SpendLog{RequestID: "r4", APIKey: b.Token, ModelGroup: "gpt-4o", ModelID: "dep-a", Spend: 2, StartTime: time.Now(), EndTime: time.Now()})
	g := decode[struct {
		Spend     float64      `json:"spend"`
		MaxBudget *float64     `json:"max_budget"`
		Totals    []keys.Total `json:"totals"`
	}](t, call(t, e.h, master, "GET", "/global/spend", ""))
	require.InDelta(t, 3.75, g.Spend, 1e-12)
	require.Nil(t, g.MaxBudget)
	require.Equal(t, []keys.Total{
		{ModelGroup: "claude", ModelID: "dep-b", Requests: 1, Spend: 0.25},
		{ModelGroup: "gpt-4o", ModelID: "dep-a", Requests: 3, Spend: 3.5},
	}, g.Totals)
}
