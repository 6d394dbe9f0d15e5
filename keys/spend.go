package keys

import (
	"context"
	"database/sql"
	"time"
)

// SpendLog is one answered request: who made it, where it went, what it
// used and cost. JSON names are LiteLLM's SpendLogs columns.
type SpendLog struct {
	RequestID        string    `json:"request_id"`
	APIKey           string    `json:"api_key"` // the key's token (hash)
	KeyAlias         *string   `json:"key_alias"`
	CallType         string    `json:"call_type"`
	ModelGroup       string    `json:"model_group"`
	Model            string    `json:"model"`
	ModelID          string    `json:"model_id"`
	APIBase          string    `json:"api_base"`
	PromptTokens     int64     `json:"prompt_tokens"`
	CompletionTokens int64     `json:"completion_tokens"`
	TotalTokens      int64     `json:"total_tokens"`
	Spend            float64   `json:"spend"`
	StartTime        time.Time `json:"startTime"`
	EndTime          time.Time `json:"endTime"`
	// Messages and Response are stored only with
	// general_settings.store_prompts_in_spend_logs.
	Messages string `json:"messages,omitempty"`
	Response string `json:"response,omitempty"`
	// CacheHit is LiteLLM's cache_hit: "True" for an answer from the
	// response cache (no deployment called, no cost), else "False".
	CacheHit string `json:"cache_hit"`
}

// cacheHit is l's cache_hit as stored: "False" unless it is "True".
func (l SpendLog) cacheHit() string {
	if l.CacheHit == "True" {
		return "True"
	}
	return "False"
}

// Write applies a batch in one transaction: each key's spend grows by its
// logs' spend, the per group and deployment totals too, and unless
// keepLogs is false the logs are stored. A request id already stored is
// not stored or counted twice.
func (s *Store) Write(ctx context.Context, logs []SpendLog, keepLogs bool) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	type total struct {
		requests, prompt, completion int64
		spend                        float64
	}
	keySpend := make(map[string]float64)
	totals := make(map[[2]string]*total)
	insert := s.q(`INSERT INTO llmvoy_spend_logs (request_id, api_key, key_alias, call_type, model_group, model, model_id, api_base,
		prompt_tokens, completion_tokens, total_tokens, spend, start_time, end_time, messages, response, cache_hit)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_id) DO NOTHING`)
	for _, l := range logs {
		if keepLogs {
			res, err := tx.ExecContext(ctx, insert, l.RequestID, l.APIKey, l.KeyAlias, l.CallType, l.ModelGroup, l.Model, l.ModelID, l.APIBase,
				l.PromptTokens, l.CompletionTokens, l.TotalTokens, l.Spend, l.StartTime.UnixMilli(), l.EndTime.UnixMilli(),
				nullString(l.Messages), nullString(l.Response), l.cacheHit())
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				continue // a replay of a batch that was committed
			}
		}
		keySpend[l.APIKey] += l.Spend
		t := totals[[2]string{l.ModelGroup, l.ModelID}]
		if t == nil {
			t = &total{}
			totals[[2]string{l.ModelGroup, l.ModelID}] = t
		}
		t.requests++
		t.prompt += l.PromptTokens
		t.completion += l.CompletionTokens
		t.spend += l.Spend
	}
	for token, spend := range keySpend {
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE llmvoy_keys SET spend = spend + ? WHERE token = ?`), spend, token); err != nil {
			return err
		}
	}
	upsert := s.q(`INSERT INTO llmvoy_spend_totals (model_group, model_id, requests, prompt_tokens, completion_tokens, spend)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (model_group, model_id) DO UPDATE SET
		requests = llmvoy_spend_totals.requests + excluded.requests,
		prompt_tokens = llmvoy_spend_totals.prompt_tokens + excluded.prompt_tokens,
		completion_tokens = llmvoy_spend_totals.completion_tokens + excluded.completion_tokens,
		spend = llmvoy_spend_totals.spend + excluded.spend`)
	for k, t := range totals {
		if _, err := tx.ExecContext(ctx, upsert, k[0], k[1], t.requests, t.prompt, t.completion, t.spend); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// SpendFilter selects spend logs; zero fields select everything.
type SpendFilter struct {
	APIKey     string // a token
	RequestID  string
	ModelGroup string
	Start, End time.Time // [Start, End)
	Limit      int
}

// SpendLogs returns the logs the filter selects, newest first.
func (s *Store) SpendLogs(ctx context.Context, f SpendFilter) ([]SpendLog, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	query := `SELECT request_id, api_key, key_alias, call_type, model_group, model, model_id, api_base, prompt_tokens,
		completion_tokens, total_tokens, spend, start_time, end_time, messages, response, cache_hit FROM llmvoy_spend_logs WHERE 1 = 1`
	var args []any
	if f.APIKey != "" {
		query, args = query+" AND api_key = ?", append(args, f.APIKey)
	}
	if f.RequestID != "" {
		query, args = query+" AND request_id = ?", append(args, f.RequestID)
	}
	if f.ModelGroup != "" {
		query, args = query+" AND model_group = ?", append(args, f.ModelGroup)
	}
	if !f.Start.IsZero() {
		query, args = query+" AND start_time >= ?", append(args, f.Start.UnixMilli())
	}
	if !f.End.IsZero() {
		query, args = query+" AND start_time < ?", append(args, f.End.UnixMilli())
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	query, args = query+" ORDER BY start_time DESC, request_id LIMIT ?", append(args, limit)
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []SpendLog{}
	for rows.Next() {
		var (
			l              SpendLog
			alias, msg, rs sql.NullString
			start, end     int64
		)
		if err := rows.Scan(&l.RequestID, &l.APIKey, &alias, &l.CallType, &l.ModelGroup, &l.Model, &l.ModelID, &l.APIBase,
			&l.PromptTokens, &l.CompletionTokens, &l.TotalTokens, &l.Spend, &start, &end, &msg, &rs, &l.CacheHit); err != nil {
			return nil, err
		}
		if alias.Valid {
			l.KeyAlias = &alias.String
		}
		l.Messages, l.Response = msg.String, rs.String
		l.StartTime, l.EndTime = time.UnixMilli(start).UTC(), time.UnixMilli(end).UTC()
		out = append(out, l)
	}
	return out, rows.Err()
}

// Total is the spend of one model group on one deployment.
type Total struct {
	ModelGroup       string  `json:"model_group"`
	ModelID          string  `json:"model_id"`
	Requests         int64   `json:"requests"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	Spend            float64 `json:"spend"`
}

// Totals returns the spend per model group and deployment.
func (s *Store) Totals(ctx context.Context) ([]Total, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, `SELECT model_group, model_id, requests, prompt_tokens, completion_tokens, spend
		FROM llmvoy_spend_totals ORDER BY model_group, model_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Total{}
	for rows.Next() {
		var t Total
		if err := rows.Scan(&t.ModelGroup, &t.ModelID, &t.Requests, &t.PromptTokens, &t.CompletionTokens, &t.Spend); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
