package keys

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"
)

// StoredResponse is a Responses API answer kept for the caller that got
// it: the response object (GET /v1/responses/{id}) and the conversation it
// ends (what a request naming it as previous_response_id continues).
type StoredResponse struct {
	ID string
	// APIKey is the token (hash) of the virtual key that made it, "" for
	// the master key: only that caller finds it.
	APIKey       string
	Response     json.RawMessage
	Conversation json.RawMessage
	CreatedAt    time.Time
}

// ErrResponseNotFound is a response id the caller has no response under.
var ErrResponseNotFound = errors.New("response not found")

// PutResponse keeps r, replacing a response of the same id and caller.
func (s *Store) PutResponse(ctx context.Context, r StoredResponse) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO llmvoy_responses (id, api_key, response, conversation, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET response = excluded.response, conversation = excluded.conversation, created_at = excluded.created_at
		WHERE llmvoy_responses.api_key = excluded.api_key`),
		r.ID, r.APIKey, string(r.Response), string(r.Conversation), r.CreatedAt.UnixMilli())
	return err
}

// GetResponse is the response id kept for the caller apiKey.
func (s *Store) GetResponse(ctx context.Context, id, apiKey string) (StoredResponse, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var r StoredResponse
	var resp, conv string
	var created int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT response, conversation, created_at FROM llmvoy_responses WHERE id = ? AND api_key = ?`), id, apiKey).
		Scan(&resp, &conv, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrResponseNotFound
	}
	if err != nil {
		return r, err
	}
	return StoredResponse{ID: id, APIKey: apiKey, Response: json.RawMessage(resp), Conversation: json.RawMessage(conv), CreatedAt: time.UnixMilli(created)}, nil
}

// DeleteResponse forgets the response id of the caller apiKey.
func (s *Store) DeleteResponse(ctx context.Context, id, apiKey string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM llmvoy_responses WHERE id = ? AND api_key = ?`), id, apiKey)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrResponseNotFound
	}
	return nil
}
