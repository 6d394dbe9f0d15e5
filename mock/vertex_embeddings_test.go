package mock

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const vertexPredictPath = "/v1/projects/p1/locations/us-central1/publishers/google/models/%s:predict"

// vertexToken is an access token the mock issued to a service account it
// trusts.
func vertexToken(t *testing.T, s *Server) string {
	t.Helper()
	key := testKey(t)
	s.TrustServiceAccount(vertexEmail, &key.PublicKey, 0)
	code, out := tokenRequest(s, signJWT(t, key, claimsFor("http://example.com/token", time.Now())))
	require.Equal(t, 200, code, out)
	return out["access_token"].(string)
}

type vertexPrediction struct {
	Embeddings struct {
		Values     []float64 `json:"values"`
		Statistics struct {
			Truncated  bool `json:"truncated"`
			TokenCount int  `json:"token_count"`
		} `json:"statistics"`
	} `json:"embeddings"`
}

func predict(t *testing.T, s *Server, token, model, body string, headers ...string) (int, []vertexPrediction, string) {
	t.Helper()
	path := strings.Replace(vertexPredictPath, "%s", model, 1)
	rec := serve(s, http.MethodPost, path, body, append([]string{"Authorization", "Bearer " + token}, headers...)...)
	var out struct {
		Predictions []vertexPrediction `json:"predictions"`
		Metadata    struct {
			BillableCharacterCount *int `json:"billableCharacterCount"`
		} `json:"metadata"`
		Error struct {
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out), rec.Body.String())
	if rec.Code == 200 {
		require.NotNil(t, out.Metadata.BillableCharacterCount)
	}
	return rec.Code, out.Predictions, out.Error.Message
}

func TestVertexPredictEmbeddings(t *testing.T) {
	s := New(Options{Name: "v"})
	token := vertexToken(t, s)

	code, preds, msg := predict(t, s, token, "text-embedding-005",
		`{"instances":[{"content":"What is life?","task_type":"RETRIEVAL_DOCUMENT","title":"Life"},{"content":"Life is a journey"}],"parameters":{"outputDimensionality":64,"autoTruncate":false}}`)
	require.Equal(t, 200, code, msg)
	require.Len(t, preds, 2)
	for i, text := range []string{"What is life?", "Life is a journey"} {
		require.Len(t, preds[i].Embeddings.Values, 64)
		unitNorm(t, preds[i].Embeddings.Values)
		require.Equal(t, EstimateTokens(text), preds[i].Embeddings.Statistics.TokenCount)
		require.False(t, preds[i].Embeddings.Statistics.Truncated)
	}

	// Full length by default: 768, or 3072 for gemini-embedding-001.
	code, preds, msg = predict(t, s, token, "text-embedding-004", `{"instances":[{"content":"a"}]}`)
	require.Equal(t, 200, code, msg)
	require.Len(t, preds[0].Embeddings.Values, 768)
	code, preds, msg = predict(t, s, token, "gemini-embedding-001", `{"instances":[{"content":"a"}]}`)
	require.Equal(t, 200, code, msg)
	require.Len(t, preds[0].Embeddings.Values, 3072)

	// Too long for the context window: truncated, unless autoTruncate is false.
	code, preds, _ = predict(t, s, token, "text-embedding-005", `{"instances":[{"content":"a text of many many tokens"}]}`, "x-mock-context-window", "2")
	require.Equal(t, 200, code)
	require.True(t, preds[0].Embeddings.Statistics.Truncated)
	require.Equal(t, 2, preds[0].Embeddings.Statistics.TokenCount)
	code, _, msg = predict(t, s, token, "text-embedding-005", `{"instances":[{"content":"a text of many many tokens"}],"parameters":{"autoTruncate":false}}`, "x-mock-context-window", "2")
	require.Equal(t, 400, code)
	require.Contains(t, msg, "autoTruncate")

	// Injected faults.
	code, _, msg = predict(t, s, token, "text-embedding-005", `{"instances":[{"content":"a"}]}`, "x-mock-status", "429")
	require.Equal(t, 429, code)
	require.NotEmpty(t, msg)
}

func TestVertexPredictValidation(t *testing.T) {
	s := New(Options{})
	token := vertexToken(t, s)
	for _, tt := range []struct{ name, model, body, msg string }{
		{"no instances", "text-embedding-005", `{}`, "instances"},
		{"unknown top-level", "text-embedding-005", `{"instances":[{"content":"a"}],"input":"a"}`, `Unknown name "input"`},
		{"unknown instance field", "text-embedding-005", `{"instances":[{"text":"a"}]}`, `Unknown name "text"`},
		{"no content", "text-embedding-005", `{"instances":[{"task_type":"CLUSTERING"}]}`, "content is required"},
		{"task type", "text-embedding-005", `{"instances":[{"content":"a","task_type":"SEARCH"}]}`, "unknown task type"},
		{"title without retrieval document", "text-embedding-005", `{"instances":[{"content":"a","title":"t"}]}`, "title is only valid"},
		{"too many dimensions", "text-embedding-005", `{"instances":[{"content":"a"}],"parameters":{"outputDimensionality":769}}`, "between 1 and 768"},
		{"unknown parameter", "text-embedding-005", `{"instances":[{"content":"a"}],"parameters":{"dimensions":3}}`, `Unknown name "dimensions"`},
		{"gemini batch", "gemini-embedding-001", `{"instances":[{"content":"a"},{"content":"b"}]}`, "one instance per request"},
		{"too many instances", "text-embedding-005", `{"instances":[` + strings.Repeat(`{"content":"a"},`, 250) + `{"content":"a"}]}`, "At most 250"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, msg := predict(t, s, token, tt.model, tt.body)
			require.Equal(t, 400, code)
			require.Contains(t, msg, tt.msg)
		})
	}
	// Without a token the model routes answer 401, :predict included.
	rec := serve(s, http.MethodPost, strings.Replace(vertexPredictPath, "%s", "text-embedding-005", 1), `{"instances":[{"content":"a"}]}`)
	require.Equal(t, 401, rec.Code)
}
