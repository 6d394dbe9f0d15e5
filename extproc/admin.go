package extproc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/llmvoy/llmvoy/keys"
)

// The admin endpoints, LiteLLM's names and shapes: virtual keys and spend.
// They are answered by the gateway processor from the store.
var adminEndpoints = map[string]string{ // path → method
	"/key/generate":  "POST",
	"/key/update":    "POST",
	"/key/delete":    "POST",
	"/key/info":      "GET",
	"/key/list":      "GET",
	"/spend/logs":    "GET",
	"/global/spend":  "GET",
	"/key/block":     "POST",
	"/key/unblock":   "POST",
	"/v1/key/info":   "GET",
	"/v1/spend/logs": "GET",
}

func isAdminPath(path string) bool {
	_, ok := adminEndpoints[path]
	return ok
}

type adminRequest struct {
	method, path string
	query        url.Values
}

// adminHeaders checks an admin request's method and caller, and answers it
// at once when it has no body.
func (g *gateway) adminHeaders(method, rawPath string, endOfStream bool) *extprocv3.ProcessingResponse {
	path, rawQuery, _ := strings.Cut(rawPath, "?")
	query, _ := url.ParseQuery(rawQuery)
	want := adminEndpoints[path]
	if method != want {
		return replyError(apiError{Status: 405, Type: "invalid_request_error", Message: "method " + method + " not allowed on " + path + "; use " + want})
	}
	if g.server.keys == nil {
		return replyError(apiError{Status: 400, Type: "invalid_request_error",
			Message: path + ": virtual keys and spend need general_settings.master_key (and a store: the SQLite file under --data-dir, or general_settings.database_url)"})
	}
	// A key may read its own info, as in LiteLLM; everything else is the
	// master key's.
	self := strings.HasSuffix(path, "/key/info") && g.caller.key != nil && query.Get("key") == ""
	if !g.caller.master && !self {
		return replyError(apiError{Status: 401, Type: "auth_error", Code: "401",
			Message: "Authentication Error, only the master key may call " + path})
	}
	g.admin = adminRequest{method: method, path: strings.TrimPrefix(path, "/v1"), query: query}
	if endOfStream || method == "GET" {
		return g.serveAdmin(nil)
	}
	return continueHeaders(nil, false)
}

// adminTimeout bounds one admin call's store work.
const adminTimeout = 10 * time.Second

func (g *gateway) serveAdmin(body []byte) *extprocv3.ProcessingResponse {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	a := g.admin
	var (
		out any
		err error
	)
	switch a.path {
	case "/key/generate":
		out, err = g.generateKey(ctx, body)
	case "/key/update":
		out, err = g.updateKey(ctx, body)
	case "/key/delete":
		out, err = g.deleteKeys(ctx, body)
	case "/key/block", "/key/unblock":
		out, err = g.blockKey(ctx, body, a.path == "/key/block")
	case "/key/info":
		out, err = g.keyInfo(ctx, a.query)
	case "/key/list":
		out, err = g.listKeys(ctx, a.query)
	case "/spend/logs":
		out, err = g.spendLogs(ctx, a.query)
	case "/global/spend":
		out, err = g.globalSpend(ctx)
	}
	if err != nil {
		var e *apiError
		if errors.As(err, &e) {
			return replyError(*e)
		}
		g.server.log.Error("admin endpoint failed", "path", a.path, "err", err)
		return replyError(apiError{Status: 500, Type: "internal_error", Message: "llmvoy: " + a.path + ": " + err.Error()})
	}
	return replyJSON(200, out)
}

func (e *apiError) Error() string { return e.Message }

func badRequest(format string, args ...any) error {
	return &apiError{Status: 400, Type: "invalid_request_error", Message: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &apiError{Status: 404, Type: "not_found_error", Code: "404", Message: fmt.Sprintf(format, args...)}
}

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
		return f, badRequest("the body must be a JSON object: %v", err)
	}
	for name, v := range raw {
		if slices.Contains(knownKeyFields, name) || string(bytes.TrimSpace(v)) == "null" {
			continue
		}
		if slices.Contains(unsupportedKeyFields, name) {
			return f, badRequest("%s is not supported by llmvoy yet; send it as null or leave it out", name)
		}
		return f, badRequest("unknown field %s; llmvoy takes %s", name, strings.Join(knownKeyFields, ", "))
	}
	d := json.NewDecoder(bytes.NewReader(body))
	if err := d.Decode(&f); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return f, badRequest("%s: want %s, got a JSON %s", te.Field, te.Type, te.Value)
		}
		return f, badRequest("the body must be a JSON object: %v", err)
	}
	for name, n := range map[string]*int64{"rpm_limit": f.RPMLimit, "tpm_limit": f.TPMLimit, "max_parallel_requests": f.MaxParallelRequests} {
		if n != nil && *n < 0 {
			return f, badRequest("%s must be >= 0", name)
		}
	}
	if f.MaxBudget != nil && (*f.MaxBudget < 0 || math.IsInf(*f.MaxBudget, 0)) {
		return f, badRequest("max_budget must be >= 0")
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
			return badRequest("budget_duration: %v", err)
		}
		k.BudgetDuration, k.BudgetResetAt = *f.BudgetDuration, &next
	}
	if f.Duration != nil {
		exp, err := keys.AddDuration(now, *f.Duration)
		if err != nil {
			return badRequest("duration: %v", err)
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

func (g *gateway) generateKey(ctx context.Context, body []byte) (any, error) {
	f, err := decodeKeyFields(body)
	if err != nil {
		return nil, err
	}
	now := time.UnixMilli(time.Now().UnixMilli()).UTC()
	secret := keys.NewSecret()
	if f.Key != nil {
		// LiteLLM takes a caller-chosen key; it must look like one.
		if !strings.HasPrefix(*f.Key, "sk-") || len(*f.Key) < 8 {
			return nil, badRequest("key: a custom key must start with sk- and be at least 8 characters")
		}
		secret = *f.Key
	}
	k := &keys.Key{Token: keys.Hash(secret), KeyName: keys.Abbreviate(secret), CreatedAt: now, UpdatedAt: now}
	if err := f.apply(k, now); err != nil {
		return nil, err
	}
	if err := g.server.keys.Store().Insert(ctx, k); err != nil {
		switch {
		case errors.Is(err, keys.ErrAliasTaken):
			return nil, badRequest("key_alias %q is already used by another key", *k.KeyAlias)
		case errors.Is(err, keys.ErrExists):
			return nil, badRequest("this key already exists")
		}
		return nil, err
	}
	g.server.keys.Invalidate(k.Token) // it may be cached as unknown
	g.server.log.Info("virtual key generated", "key_name", k.KeyName, "key_alias", deref(k.KeyAlias))
	// The one answer that carries the secret: it is stored only hashed.
	return struct {
		Key     string `json:"key"`
		TokenID string `json:"token_id"`
		keyView
	}{secret, k.Token, viewOf(k)}, nil
}

// tokenOf reads a key reference: a secret ("sk-...") or its token.
func tokenOf(ref string) string {
	if strings.HasPrefix(ref, "sk-") {
		return keys.Hash(ref)
	}
	return ref
}

func (g *gateway) existingKey(ctx context.Context, ref string) (*keys.Key, error) {
	if ref == "" {
		return nil, badRequest("key is required: the key (sk-...) or its token")
	}
	k, err := g.server.keys.Store().Get(ctx, tokenOf(ref))
	if errors.Is(err, keys.ErrNotFound) {
		return nil, notFound("key not found")
	}
	return k, err
}

func (g *gateway) updateKey(ctx context.Context, body []byte) (any, error) {
	f, err := decodeKeyFields(body)
	if err != nil {
		return nil, err
	}
	k, err := g.existingKey(ctx, deref(f.Key))
	if err != nil {
		return nil, err
	}
	now := time.UnixMilli(time.Now().UnixMilli()).UTC()
	if err := f.apply(k, now); err != nil {
		return nil, err
	}
	k.UpdatedAt = now
	if err := g.server.keys.Store().Update(ctx, k); err != nil {
		if errors.Is(err, keys.ErrAliasTaken) {
			return nil, badRequest("key_alias %q is already used by another key", *k.KeyAlias)
		}
		return nil, err
	}
	g.server.keys.Invalidate(k.Token)
	return viewOf(k), nil
}

func (g *gateway) blockKey(ctx context.Context, body []byte, block bool) (any, error) {
	var req struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, badRequest("the body must be a JSON object with the key: %v", err)
	}
	k, err := g.existingKey(ctx, req.Key)
	if err != nil {
		return nil, err
	}
	k.Blocked, k.UpdatedAt = block, time.UnixMilli(time.Now().UnixMilli()).UTC()
	if err := g.server.keys.Store().Update(ctx, k); err != nil {
		return nil, err
	}
	g.server.keys.Invalidate(k.Token)
	return viewOf(k), nil
}

func (g *gateway) deleteKeys(ctx context.Context, body []byte) (any, error) {
	var req struct {
		Keys       []string `json:"keys"`
		KeyAliases []string `json:"key_aliases"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, badRequest("the body must be a JSON object with keys or key_aliases: %v", err)
	}
	if len(req.Keys)+len(req.KeyAliases) == 0 {
		return nil, badRequest("keys or key_aliases is required")
	}
	store := g.server.keys.Store()
	// All or nothing: a typo must not leave half the keys deleted.
	var tokens []string
	for _, ref := range req.Keys {
		k, err := g.existingKey(ctx, ref)
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, k.Token)
	}
	for _, alias := range req.KeyAliases {
		k, err := store.GetByAlias(ctx, alias)
		if errors.Is(err, keys.ErrNotFound) {
			return nil, notFound("no key has key_alias %q", alias)
		}
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, k.Token)
	}
	deleted, err := store.Delete(ctx, tokens)
	for _, t := range deleted {
		g.server.keys.Invalidate(t)
	}
	if err != nil {
		return nil, err
	}
	g.server.log.Info("virtual keys deleted", "count", len(deleted))
	return map[string]any{"deleted_keys": append(req.Keys, req.KeyAliases...)}, nil
}

func (g *gateway) keyInfo(ctx context.Context, q url.Values) (any, error) {
	ref := q.Get("key")
	if ref == "" {
		if g.caller.key == nil {
			return nil, badRequest("key is required: /key/info?key=sk-... (or call it with the key itself)")
		}
		ref = g.caller.key.Token
	}
	k, err := g.existingKey(ctx, ref)
	if err != nil {
		return nil, err
	}
	// Spend recorded here but not yet written counts too.
	if live, err := g.server.keys.Lookup(ctx, k.Token); err == nil {
		k.Spend = live.Spend
	}
	return map[string]any{"key": ref, "info": viewOf(k)}, nil
}

func (g *gateway) listKeys(ctx context.Context, q url.Values) (any, error) {
	page, err := queryInt(q, "page", 1, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	size, err := queryInt(q, "size", 10, 100)
	if err != nil {
		return nil, err
	}
	list, total, err := g.server.keys.Store().List(ctx, q.Get("key_alias"), page, size)
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
		return 0, badRequest("%s must be a whole number from 1 to %d", name, most)
	}
	return n, nil
}

func (g *gateway) spendLogs(ctx context.Context, q url.Values) (any, error) {
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
			return nil, badRequest("%s: want YYYY-MM-DD or an RFC 3339 time, got %q", name, v)
		}
	}
	if !f.End.IsZero() && len(q.Get("end_date")) == len("2006-01-02") {
		f.End = f.End.AddDate(0, 0, 1) // a day counts whole
	}
	g.flush(ctx)
	return g.server.keys.Store().SpendLogs(ctx, f)
}

func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

func (g *gateway) globalSpend(ctx context.Context) (any, error) {
	g.flush(ctx)
	totals, err := g.server.keys.Store().Totals(ctx)
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
func (g *gateway) flush(ctx context.Context) {
	if err := g.server.keys.Flush(ctx); err != nil {
		g.server.log.Warn("spend read without the latest requests: they could not be written yet", "err", err)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
