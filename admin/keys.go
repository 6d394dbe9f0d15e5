package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/llmvoy/llmvoy/keys"
)

// keyFields are the settable fields of a key, as /key/generate and
// /key/update take them. Pointers tell "not sent" (or null, which LiteLLM
// also ignores) from a value.
type keyFields struct {
	Key                 *string         `json:"key"`
	KeyAlias            *string         `json:"key_alias"`
	Duration            *string         `json:"duration"`
	Models              *[]string       `json:"models"`
	MaxBudget           *float64        `json:"max_budget"`
	BudgetDuration      *string         `json:"budget_duration"`
	RPMLimit            *int64          `json:"rpm_limit"`
	TPMLimit            *int64          `json:"tpm_limit"`
	MaxParallelRequests *int64          `json:"max_parallel_requests"`
	Metadata            *map[string]any `json:"metadata"`
	Blocked             *bool           `json:"blocked"`
}

// LiteLLM key fields llmvoy does not act on; a request may send them as
// null (its SDKs do), but a value would be silently ignored, so it is an
// error instead.
var unsupportedKeyFields = []string{"team_id", "user_id", "organization_id", "aliases", "config", "permissions",
	"soft_budget", "model_max_budget", "model_rpm_limit", "model_tpm_limit", "guardrails", "tags", "allowed_cache_controls",
	"enforced_params", "send_invite_email", "spend", "budget_id", "object_permission", "key_type", "allowed_routes"}

var knownKeyFields = []string{"key", "key_alias", "duration", "models", "max_budget", "budget_duration", "rpm_limit",
	"tpm_limit", "max_parallel_requests", "metadata", "blocked"}

// decodeKeyFields reads a key request body strictly: wrong types and
// fields llmvoy would ignore are 400s naming the field.
func decodeKeyFields(body []byte) (keyFields, error) {
	var f keyFields
	if len(bytes.TrimSpace(body)) == 0 {
		return f, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return f, errorf(400, "the body must be a JSON object: %v", err)
	}
	for name, v := range raw {
		if slices.Contains(knownKeyFields, name) || string(bytes.TrimSpace(v)) == "null" {
			continue
		}
		if slices.Contains(unsupportedKeyFields, name) {
			return f, errorf(400, "%s is not supported by llmvoy yet; send it as null or leave it out", name)
		}
		return f, errorf(400, "unknown field %s; llmvoy takes %s", name, strings.Join(knownKeyFields, ", "))
	}
	d := json.NewDecoder(bytes.NewReader(body))
	if err := d.Decode(&f); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return f, errorf(400, "%s: want %s, got a JSON %s", te.Field, te.Type, te.Value)
		}
		return f, errorf(400, "the body must be a JSON object: %v", err)
	}
	for name, n := range map[string]*int64{"rpm_limit": f.RPMLimit, "tpm_limit": f.TPMLimit, "max_parallel_requests": f.MaxParallelRequests} {
		if n != nil && *n < 0 {
			return f, errorf(400, "%s must be >= 0", name)
		}
	}
	if f.MaxBudget != nil && (*f.MaxBudget < 0 || math.IsInf(*f.MaxBudget, 0)) {
		return f, errorf(400, "max_budget must be >= 0")
	}
	return f, nil
}

// apply sets the sent fields on k.
func (f keyFields) apply(k *keys.Key, now time.Time) error {
	if f.KeyAlias != nil {
		k.KeyAlias = f.KeyAlias
	}
	if f.Models != nil {
		k.Models = *f.Models
	}
	if f.MaxBudget != nil {
		k.MaxBudget = f.MaxBudget
	}
	if f.BudgetDuration != nil {
		next, err := keys.AddDuration(now, *f.BudgetDuration)
		if err != nil {
			return errorf(400, "budget_duration: %v", err)
		}
		k.BudgetDuration, k.BudgetResetAt = *f.BudgetDuration, &next
	}
	if f.Duration != nil {
		exp, err := keys.AddDuration(now, *f.Duration)
		if err != nil {
			return errorf(400, "duration: %v", err)
		}
		k.Expires = &exp
	}
	if f.RPMLimit != nil {
		k.RPMLimit = f.RPMLimit
	}
	if f.TPMLimit != nil {
		k.TPMLimit = f.TPMLimit
	}
	if f.MaxParallelRequests != nil {
		k.MaxParallel = f.MaxParallelRequests
	}
	if f.Metadata != nil {
		k.Metadata = *f.Metadata
	}
	if f.Blocked != nil {
		k.Blocked = *f.Blocked
	}
	return nil
}

// keyView is a key as the admin endpoints show it (LiteLLM's field names).
type keyView struct {
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
	CreatedAt           time.Time      `json:"created_at"`
	UpdatedAt           time.Time      `json:"updated_at"`
}

func viewOf(k *keys.Key) keyView {
	v := keyView{Token: k.Token, KeyName: k.KeyName, KeyAlias: k.KeyAlias, Spend: k.Spend, MaxBudget: k.MaxBudget,
		BudgetResetAt: k.BudgetResetAt, Expires: k.Expires, Models: k.Models, RPMLimit: k.RPMLimit, TPMLimit: k.TPMLimit,
		MaxParallelRequests: k.MaxParallel, Metadata: k.Metadata, Blocked: k.Blocked, CreatedAt: k.CreatedAt, UpdatedAt: k.UpdatedAt}
	if k.BudgetDuration != "" {
		v.BudgetDuration = &k.BudgetDuration
	}
	if v.Models == nil {
		v.Models = []string{}
	}
	if v.Metadata == nil {
		v.Metadata = map[string]any{}
	}
	return v
}

func (h *Handler) generateKey(ctx context.Context, r Request) (any, error) {
	f, err := decodeKeyFields(r.Body)
	if err != nil {
		return nil, err
	}
	now := time.UnixMilli(time.Now().UnixMilli()).UTC()
	secret := keys.NewSecret()
	if f.Key != nil {
		// LiteLLM takes a caller-chosen key; it must look like one.
		if !strings.HasPrefix(*f.Key, "sk-") || len(*f.Key) < 8 {
			return nil, errorf(400, "key: a custom key must start with sk- and be at least 8 characters")
		}
		secret = *f.Key
	}
	k := &keys.Key{Token: keys.Hash(secret), KeyName: keys.Abbreviate(secret), CreatedAt: now, UpdatedAt: now}
	if err := f.apply(k, now); err != nil {
		return nil, err
	}
	if err := h.Keys.Store().Insert(ctx, k); err != nil {
		switch {
		case errors.Is(err, keys.ErrAliasTaken):
			return nil, errAliasTaken(*k.KeyAlias)
		case errors.Is(err, keys.ErrExists):
			return nil, errorf(400, "this key already exists")
		}
		return nil, err
	}
	h.Keys.Invalidate(k.Token) // it may be cached as unknown
	h.Log.Info("virtual key generated", "key_name", k.KeyName, "key_alias", deref(k.KeyAlias))
	// The one answer that carries the secret: it is stored only hashed.
	return struct {
		Key     string `json:"key"`
		TokenID string `json:"token_id"`
		keyView
	}{secret, k.Token, viewOf(k)}, nil
}

// errAliasTaken refuses a key_alias another key has: the store keeps them
// unique, so a key can be deleted by its alias.
func errAliasTaken(alias string) *Error {
	return errorf(400, "key_alias %q is already used by another key", alias)
}

// tokenOf reads a key reference: a secret ("sk-...") or its token.
func tokenOf(ref string) string {
	if strings.HasPrefix(ref, "sk-") {
		return keys.Hash(ref)
	}
	return ref
}

func (h *Handler) existingKey(ctx context.Context, ref string) (*keys.Key, error) {
	if ref == "" {
		return nil, errKeyRequired
	}
	k, err := h.Keys.Store().Get(ctx, tokenOf(ref))
	if errors.Is(err, keys.ErrNotFound) {
		return nil, errKeyNotFound
	}
	return k, err
}

func (h *Handler) updateKey(ctx context.Context, r Request) (any, error) {
	f, err := decodeKeyFields(r.Body)
	if err != nil {
		return nil, err
	}
	k, err := h.existingKey(ctx, deref(f.Key))
	if err != nil {
		return nil, err
	}
	now := time.UnixMilli(time.Now().UnixMilli()).UTC()
	if err := f.apply(k, now); err != nil {
		return nil, err
	}
	k.UpdatedAt = now
	if err := h.Keys.Store().Update(ctx, k); err != nil {
		if errors.Is(err, keys.ErrAliasTaken) {
			return nil, errAliasTaken(*k.KeyAlias)
		}
		return nil, err
	}
	h.Keys.Invalidate(k.Token)
	return viewOf(k), nil
}

func (h *Handler) blockKey(ctx context.Context, r Request) (any, error) {
	return h.setBlocked(ctx, r.Body, true)
}

func (h *Handler) unblockKey(ctx context.Context, r Request) (any, error) {
	return h.setBlocked(ctx, r.Body, false)
}

func (h *Handler) setBlocked(ctx context.Context, body []byte, block bool) (any, error) {
	var req struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, errorf(400, "the body must be a JSON object with the key: %v", err)
	}
	k, err := h.existingKey(ctx, req.Key)
	if err != nil {
		return nil, err
	}
	k.Blocked, k.UpdatedAt = block, time.UnixMilli(time.Now().UnixMilli()).UTC()
	if err := h.Keys.Store().Update(ctx, k); err != nil {
		return nil, err
	}
	h.Keys.Invalidate(k.Token)
	return viewOf(k), nil
}

func (h *Handler) deleteKeys(ctx context.Context, r Request) (any, error) {
	var req struct {
		Keys       []string `json:"keys"`
		KeyAliases []string `json:"key_aliases"`
	}
	if err := json.Unmarshal(r.Body, &req); err != nil {
		return nil, errorf(400, "the body must be a JSON object with keys or key_aliases: %v", err)
	}
	if len(req.Keys)+len(req.KeyAliases) == 0 {
		return nil, errorf(400, "keys or key_aliases is required")
	}
	store := h.Keys.Store()
	// All or nothing: a typo must not leave half the keys deleted.
	var tokens []string
	for _, ref := range req.Keys {
		k, err := h.existingKey(ctx, ref)
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, k.Token)
	}
	for _, alias := range req.KeyAliases {
		k, err := store.GetByAlias(ctx, alias)
		if errors.Is(err, keys.ErrNotFound) {
			return nil, errorf(404, "no key has key_alias %q", alias)
		}
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, k.Token)
	}
	deleted, err := store.Delete(ctx, tokens)
	for _, t := range deleted {
		h.Keys.Invalidate(t)
	}
	if err != nil {
		return nil, err
	}
	h.Log.Info("virtual keys deleted", "count", len(deleted))
	return map[string]any{"deleted_keys": append(req.Keys, req.KeyAliases...)}, nil
}

func (h *Handler) keyInfo(ctx context.Context, r Request) (any, error) {
	ref := r.Query.Get("key")
	if ref == "" {
		if r.Caller.Key == nil {
			return nil, errorf(400, "key is required: /key/info?key=sk-... (or call it with the key itself)")
		}
		ref = r.Caller.Key.Token
	}
	k, err := h.existingKey(ctx, ref)
	if err != nil {
		return nil, err
	}
	// Spend recorded here but not yet written counts too.
	if live, err := h.Keys.Lookup(ctx, k.Token); err == nil {
		k.Spend = live.Spend
	}
	return map[string]any{"key": ref, "info": viewOf(k)}, nil
}

func (h *Handler) listKeys(ctx context.Context, r Request) (any, error) {
	q := r.Query
	page, err := queryInt(q, "page", 1, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	size, err := queryInt(q, "size", 10, 100)
	if err != nil {
		return nil, err
	}
	list, total, err := h.Keys.Store().List(ctx, q.Get("key_alias"), page, size)
	if err != nil {
		return nil, err
	}
	full := q.Get("return_full_object") == "true"
	out := make([]any, 0, len(list))
	for _, k := range list {
		if full {
			out = append(out, viewOf(k))
		} else {
			out = append(out, k.Token)
		}
	}
	return map[string]any{"keys": out, "total_count": total, "current_page": page, "total_pages": (total + size - 1) / size}, nil
}

// queryInt reads a whole-number query parameter from 1 to most; def when
// absent.
func queryInt(q url.Values, name string, def, most int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most {
		return 0, errorf(400, "%s must be a whole number from 1 to %d", name, most)
	}
	return n, nil
}

func (h *Handler) spendLogs(ctx context.Context, r Request) (any, error) {
	q := r.Query
	f := keys.SpendFilter{RequestID: q.Get("request_id"), ModelGroup: q.Get("model")}
	if ref := q.Get("api_key"); ref != "" {
		f.APIKey = tokenOf(ref)
	}
	for name, t := range map[string]*time.Time{"start_date": &f.Start, "end_date": &f.End} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		var err error
		if *t, err = parseDate(v); err != nil {
			return nil, errorf(400, "%s: want YYYY-MM-DD or an RFC 3339 time, got %q", name, v)
		}
	}
	if !f.End.IsZero() && len(q.Get("end_date")) == len("2006-01-02") {
		f.End = f.End.AddDate(0, 0, 1) // a day counts whole
	}
	h.flush(ctx)
	return h.Keys.Store().SpendLogs(ctx, f)
}

func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

func (h *Handler) globalSpend(ctx context.Context, _ Request) (any, error) {
	h.flush(ctx)
	totals, err := h.Keys.Store().Totals(ctx)
	if err != nil {
		return nil, err
	}
	sum := 0.0
	for _, t := range totals {
		sum += t.Spend
	}
	// LiteLLM answers spend and max_budget; the per group and deployment
	// totals are llmvoy's.
	return map[string]any{"spend": sum, "max_budget": nil, "totals": totals}, nil
}

// flush writes the spend recorded so far, so a read sees every answered
// request, not only those of the last batch.
func (h *Handler) flush(ctx context.Context) {
	if err := h.Keys.Flush(ctx); err != nil {
		h.Log.Warn("spend read without the latest requests: they could not be written yet", "err", err)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
