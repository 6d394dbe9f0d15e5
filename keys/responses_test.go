package keys

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A kept response is found by its id and only by the caller that made it;
// another caller's id cannot overwrite it; deleting forgets it.
func TestResponses(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			now := time.UnixMilli(time.Now().UnixMilli())
			r := StoredResponse{ID: "resp_1", APIKey: "tok-a", Response: json.RawMessage(`{"id":"resp_1"}`),
				Conversation: json.RawMessage(`[{"role":"user","content":"hi"}]`), CreatedAt: now}
			require.NoError(t, s.PutResponse(ctx, r))
			got, err := s.GetResponse(ctx, "resp_1", "tok-a")
			require.NoError(t, err)
			require.Equal(t, r.ID, got.ID)
			require.JSONEq(t, string(r.Response), string(got.Response))
			require.JSONEq(t, string(r.Conversation), string(got.Conversation))
			require.True(t, now.Equal(got.CreatedAt))

			_, err = s.GetResponse(ctx, "resp_1", "tok-b")
			require.ErrorIs(t, err, ErrResponseNotFound, "another caller does not find it")
			_, err = s.GetResponse(ctx, "resp_1", "")
			require.ErrorIs(t, err, ErrResponseNotFound, "nor does the master key")

			other := r
			other.APIKey, other.Response = "tok-b", json.RawMessage(`{"id":"resp_1","forged":true}`)
			require.NoError(t, s.PutResponse(ctx, other))
			got, err = s.GetResponse(ctx, "resp_1", "tok-a")
			require.NoError(t, err)
			require.JSONEq(t, `{"id":"resp_1"}`, string(got.Response), "another caller cannot replace it")

			require.ErrorIs(t, s.DeleteResponse(ctx, "resp_1", "tok-b"), ErrResponseNotFound)
			require.NoError(t, s.DeleteResponse(ctx, "resp_1", "tok-a"))
			_, err = s.GetResponse(ctx, "resp_1", "tok-a")
			require.ErrorIs(t, err, ErrResponseNotFound)
		})
	}
}
