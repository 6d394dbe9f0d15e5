package mock

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const vertexClaude = "/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514"

func TestVertexAnthropic(t *testing.T) {
	key := testKey(t)
	s := New(Options{Name: "v"})
	s.TrustServiceAccount(vertexEmail, &key.PublicKey, 0)
	_, out := tokenRequest(s, signJWT(t, key, claimsFor("http://example.com/token", time.Now())))
	auth := []string{"Authorization", "Bearer " + out["access_token"].(string)}

	const msgs = `"max_tokens":64,"messages":[{"role":"user","content":"hi"}]`
	rec := serve(s, http.MethodPost, vertexClaude+":rawPredict", `{"anthropic_version":"vertex-2023-10-16",`+msgs+`}`, auth...)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"model":"claude-sonnet-4@20250514"`)

	rec = serve(s, http.MethodPost, vertexClaude+":streamRawPredict", `{"anthropic_version":"vertex-2023-10-16","stream":true,`+msgs+`}`, auth...)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	require.True(t, strings.Contains(rec.Body.String(), "event: message_stop"), rec.Body.String())

	for body, want := range map[string]string{
		`{` + msgs + `}`: "anthropic_version",
		`{"anthropic_version":"vertex-2023-10-16","model":"claude",` + msgs + `}`: "model: Extra inputs",
		`{"anthropic_version":"vertex-2023-10-16","stream":true,` + msgs + `}`:    "streamRawPredict",
	} {
		rec := serve(s, http.MethodPost, vertexClaude+":rawPredict", body, auth...)
		require.Equal(t, 400, rec.Code, body)
		require.Contains(t, rec.Body.String(), want, body)
	}
	rec = serve(s, http.MethodPost, vertexClaude+":rawPredict", `{"anthropic_version":"vertex-2023-10-16",`+msgs+`}`)
	require.Equal(t, 401, rec.Code, "Google's token is required")
}
