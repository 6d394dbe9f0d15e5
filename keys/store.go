package keys

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx": PostgreSQL
	_ "modernc.org/sqlite"             // "sqlite": pure Go, no cgo
)

// Store keeps keys, spend logs and spend totals in SQL. The same schema and
// queries serve SQLite and PostgreSQL: times are Unix milliseconds, JSON is
// text, booleans are integers.
type Store struct {
	db *sql.DB
	pg bool
	// Where is what the store is, for logs: the SQLite file, or "postgres"
	// (never the URL: it holds a password).
	Where string
	// timeout replaces StoreTimeout when set.
	timeout time.Duration
}

var (
	ErrNotFound   = errors.New("key not found")
	ErrAliasTaken = errors.New("key_alias is already used by another key")
	ErrExists     = errors.New("key already exists")
)

// SQLiteFile is the store's file under the data directory.
const SQLiteFile = "llmvoy.db"

// Open opens PostgreSQL at databaseURL, or when it is empty the SQLite file
// under dataDir (created if needed), and creates the tables.
func Open(ctx context.Context, databaseURL, dataDir string) (*Store, error) {
	s := &Store{}
	var err error
	if databaseURL != "" {
		s.pg, s.Where = true, "postgres"
		s.db, err = sql.Open("pgx", databaseURL)
		if err != nil {
			return nil, fmt.Errorf("database_url: %w", err)
		}
		s.db.SetMaxOpenConns(8)
	} else {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
		s.Where = filepath.Join(dataDir, SQLiteFile)
		// WAL lets the request path read while a batch is written; the
		// busy timeout covers two gateways sharing one file.
		dsn := "file:" + s.Where + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)"
		if s.db, err = sql.Open("sqlite", dsn); err != nil {
			return nil, fmt.Errorf("sqlite %s: %w", s.Where, err)
		}
		// One writer at a time is SQLite's rule; readers use WAL.
		s.db.SetMaxOpenConns(4)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.migrate(pctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("%s: %w", s.Where, redactURL(err, databaseURL))
	}
	return s, nil
}

// redactURL keeps the database URL (and its password) out of an error.
func redactURL(err error, url string) error {
	if url == "" || !strings.Contains(err.Error(), url) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), url, "[database_url]"))
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// StoreTimeout bounds a store call whose context has no deadline of its
// own (the admin endpoints): a database that accepts connections and never
// answers must not hold a caller, or a pooled connection, forever. The
// request path and the spend batches set shorter bounds (Options).
const StoreTimeout = 10 * time.Second

// bound is ctx with StoreTimeout (or the store's own bound, in tests)
// unless it has a deadline already.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	t := s.timeout
	if t <= 0 {
		t = StoreTimeout
	}
	return context.WithTimeout(ctx, t)
}

const schema = `
CREATE TABLE IF NOT EXISTS llmvoy_keys (
	token TEXT PRIMARY KEY,
	key_name TEXT NOT NULL,
	key_alias TEXT UNIQUE,
	models TEXT NOT NULL,
	max_budget DOUBLE PRECISION,
	budget_duration TEXT NOT NULL DEFAULT '',
	budget_reset_at BIGINT,
	spend DOUBLE PRECISION NOT NULL DEFAULT 0,
	rpm_limit BIGINT,
	tpm_limit BIGINT,
	max_parallel_requests BIGINT,
	metadata TEXT NOT NULL,
	expires BIGINT,
	blocked INTEGER NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS llmvoy_spend_logs (
	request_id TEXT PRIMARY KEY,
	api_key TEXT NOT NULL,
	key_alias TEXT,
	call_type TEXT NOT NULL,
	model_group TEXT NOT NULL,
	model TEXT NOT NULL,
	model_id TEXT NOT NULL,
	api_base TEXT NOT NULL,
	prompt_tokens BIGINT NOT NULL,
	completion_tokens BIGINT NOT NULL,
	total_tokens BIGINT NOT NULL,
	spend DOUBLE PRECISION NOT NULL,
	start_time BIGINT NOT NULL,
	end_time BIGINT NOT NULL,
	messages TEXT,
	response TEXT,
	cache_hit TEXT NOT NULL DEFAULT 'False'
);
CREATE INDEX IF NOT EXISTS llmvoy_spend_logs_key ON llmvoy_spend_logs (api_key, start_time);
CREATE INDEX IF NOT EXISTS llmvoy_spend_logs_time ON llmvoy_spend_logs (start_time);
CREATE TABLE IF NOT EXISTS llmvoy_responses (
	id TEXT PRIMARY KEY,
	api_key TEXT NOT NULL,
	response TEXT NOT NULL,
	conversation TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS llmvoy_spend_totals (
	model_group TEXT NOT NULL,
	model_id TEXT NOT NULL,
	requests BIGINT NOT NULL,
	prompt_tokens BIGINT NOT NULL,
	completion_tokens BIGINT NOT NULL,
	spend DOUBLE PRECISION NOT NULL,
	PRIMARY KEY (model_group, model_id)
);
`

func (s *Store) migrate(ctx context.Context) error {
	if s.pg {
		// Two replicas starting at once would race on CREATE TABLE IF NOT
		// EXISTS (it is not atomic in PostgreSQL); an advisory lock
		// serialises them.
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7418502)"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, schema); err != nil {
			return err
		}
		for _, c := range addedColumns {
			if _, err := tx.ExecContext(ctx, "ALTER TABLE "+c.table+" ADD COLUMN IF NOT EXISTS "+c.column); err != nil {
				return err
			}
		}
		return tx.Commit()
	}
	for _, stmt := range strings.Split(schema, ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := s.db.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	for _, c := range addedColumns {
		// SQLite has no ADD COLUMN IF NOT EXISTS: a store that has the
		// column already refuses it.
		if _, err := s.db.ExecContext(ctx, "ALTER TABLE "+c.table+" ADD COLUMN "+c.column); err != nil && !strings.Contains(err.Error(), "duplicate column") {
			return err
		}
	}
	return nil
}

// addedColumns are columns added to the schema after its tables were
// first created: a store made before them gets them at start.
var addedColumns = []struct{ table, column string }{
	{"llmvoy_spend_logs", "cache_hit TEXT NOT NULL DEFAULT 'False'"},
}

// q adapts a query written with ? placeholders to the driver: PostgreSQL
// numbers them.
func (s *Store) q(query string) string {
	if !s.pg {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

const keyColumns = `token, key_name, key_alias, models, max_budget, budget_duration, budget_reset_at, spend,
	rpm_limit, tpm_limit, max_parallel_requests, metadata, expires, blocked, created_at, updated_at`

// Insert stores a new key.
func (s *Store) Insert(ctx context.Context, k *Key) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	args, err := keyArgs(k)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO llmvoy_keys (`+keyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), args...)
	return s.conflict(ctx, err, k)
}

// conflict names a unique-constraint failure: a taken alias or an existing
// key (both drivers say "unique" in their messages).
func (s *Store) conflict(ctx context.Context, err error, k *Key) error {
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "unique") {
		return err
	}
	if k.KeyAlias != nil {
		if other, gerr := s.GetByAlias(ctx, *k.KeyAlias); gerr == nil && other.Token != k.Token {
			return ErrAliasTaken
		}
	}
	return ErrExists
}

// Update writes every field of an existing key but its spend, which only
// spend batches and budget resets change.
func (s *Store) Update(ctx context.Context, k *Key) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	args, err := keyArgs(k)
	if err != nil {
		return err
	}
	// keyArgs order: token, key_name, alias, models, max_budget,
	// budget_duration, budget_reset_at, spend, rpm, tpm, parallel,
	// metadata, expires, blocked, created_at, updated_at.
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE llmvoy_keys SET key_alias = ?, models = ?, max_budget = ?, budget_duration = ?,
		budget_reset_at = ?, rpm_limit = ?, tpm_limit = ?, max_parallel_requests = ?, metadata = ?, expires = ?, blocked = ?, updated_at = ?
		WHERE token = ?`),
		args[2], args[3], args[4], args[5], args[6], args[8], args[9], args[10], args[11], args[12], args[13], args[15], args[0])
	if err != nil {
		return s.conflict(ctx, err, k)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// Get returns the key with the given token (hash).
func (s *Store) Get(ctx context.Context, token string) (*Key, error) {
	return s.one(ctx, `SELECT `+keyColumns+` FROM llmvoy_keys WHERE token = ?`, token)
}

// GetByAlias returns the key with the given alias.
func (s *Store) GetByAlias(ctx context.Context, alias string) (*Key, error) {
	return s.one(ctx, `SELECT `+keyColumns+` FROM llmvoy_keys WHERE key_alias = ?`, alias)
}

func (s *Store) one(ctx context.Context, query string, arg string) (*Key, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, s.q(query), arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, ErrNotFound
	}
	return scanKey(rows)
}

// Delete deletes the keys with the given tokens and returns those that
// existed.
func (s *Store) Delete(ctx context.Context, tokens []string) ([]string, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var deleted []string
	for _, t := range tokens {
		res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM llmvoy_keys WHERE token = ?`), t)
		if err != nil {
			return deleted, err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			deleted = append(deleted, t)
		}
	}
	return deleted, nil
}

// List returns a page (from 1) of keys, newest first, optionally only the
// one with an alias, and how many there are in all.
func (s *Store) List(ctx context.Context, alias string, page, size int) ([]*Key, int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	where, args := "", []any{}
	if alias != "" {
		where, args = " WHERE key_alias = ?", append(args, alias)
	}
	var total int
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM llmvoy_keys`+where), args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+keyColumns+` FROM llmvoy_keys`+where+` ORDER BY created_at DESC, token LIMIT ? OFFSET ?`),
		append(args, size, (page-1)*size)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, k)
	}
	return out, total, rows.Err()
}

// ResetBudget starts a key's next budget period: spend back to 0 and the
// next reset time, unless another replica already did (the reset time it
// read is no longer the stored one).
func (s *Store) ResetBudget(ctx context.Context, token string, was, next time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE llmvoy_keys SET spend = 0, budget_reset_at = ? WHERE token = ? AND budget_reset_at = ?`),
		next.UnixMilli(), token, was.UnixMilli())
	return err
}

func keyArgs(k *Key) ([]any, error) {
	models := k.Models
	if models == nil {
		models = []string{}
	}
	m, err := json.Marshal(models)
	if err != nil {
		return nil, err
	}
	md := k.Metadata
	if md == nil {
		md = map[string]any{}
	}
	meta, err := json.Marshal(md)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	return []any{k.Token, k.KeyName, k.KeyAlias, string(m), k.MaxBudget, k.BudgetDuration, millis(k.BudgetResetAt), k.Spend,
		k.RPMLimit, k.TPMLimit, k.MaxParallel, string(meta), millis(k.Expires), boolInt(k.Blocked),
		k.CreatedAt.UnixMilli(), k.UpdatedAt.UnixMilli()}, nil
}

func scanKey(rows *sql.Rows) (*Key, error) {
	var (
		k                    Key
		alias                sql.NullString
		models, meta         string
		budget               sql.NullFloat64
		resetAt, expires     sql.NullInt64
		rpm, tpm, par        sql.NullInt64
		blocked              int64
		createdAt, updatedAt int64
	)
	if err := rows.Scan(&k.Token, &k.KeyName, &alias, &models, &budget, &k.BudgetDuration, &resetAt, &k.Spend,
		&rpm, &tpm, &par, &meta, &expires, &blocked, &createdAt, &updatedAt); err != nil {
		return nil, err
	}
	if alias.Valid {
		k.KeyAlias = &alias.String
	}
	if budget.Valid {
		k.MaxBudget = &budget.Float64
	}
	k.BudgetResetAt, k.Expires = fromMillis(resetAt), fromMillis(expires)
	k.RPMLimit, k.TPMLimit, k.MaxParallel = nullInt(rpm), nullInt(tpm), nullInt(par)
	k.Blocked = blocked != 0
	k.CreatedAt, k.UpdatedAt = time.UnixMilli(createdAt).UTC(), time.UnixMilli(updatedAt).UTC()
	if err := json.Unmarshal([]byte(models), &k.Models); err != nil {
		return nil, fmt.Errorf("key %s: models: %w", k.KeyName, err)
	}
	if err := json.Unmarshal([]byte(meta), &k.Metadata); err != nil {
		return nil, fmt.Errorf("key %s: metadata: %w", k.KeyName, err)
	}
	return &k, nil
}

func millis(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

func fromMillis(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := time.UnixMilli(n.Int64).UTC()
	return &t
}

func nullInt(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	return &n.Int64
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
