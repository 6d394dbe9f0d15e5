package mock

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const vertexPath = "/v1/projects/p1/locations/us-central1/publishers/google/models/gemini-2.0-flash:generateContent"
const vertexEmail = "sa@p1.iam.gserviceaccount.com"

// signJWT makes a JWT bearer assertion with claims, signed with key.
func signJWT(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	head := enc(map[string]string{"alg": "RS256", "typ": "JWT", "kid": "k1"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(head))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	require.NoError(t, err)
	return head + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func claimsFor(aud string, now time.Time) map[string]any {
	return map[string]any{"iss": vertexEmail, "aud": aud, "scope": vertexScope, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

func tokenRequest(s *Server, assertion string) (int, map[string]any) {
	form := url.Values{"grant_type": {jwtBearerGrant}, "assertion": {assertion}}
	rec := serve(s, http.MethodPost, "/token", form.Encode(), "Content-Type", "application/x-www-form-urlencoded")
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}

func testKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return key
}

func TestVertexTokenEndpoint(t *testing.T) {
	key, other := testKey(t), testKey(t)
	s := New(Options{Name: "v"})
	s.TrustServiceAccount(vertexEmail, &key.PublicKey, 0)
	const aud = "http://example.com/token" // httptest's host
	now := time.Now()

	code, out := tokenRequest(s, signJWT(t, key, claimsFor(aud, now)))
	require.Equal(t, 200, code, out)
	require.Equal(t, "Bearer", out["token_type"])
	require.EqualValues(t, 3600, out["expires_in"])
	token := out["access_token"].(string)
	require.True(t, strings.HasPrefix(token, "ya29.mock-"))

	rec := serve(s, http.MethodPost, vertexPath, geminiBody, "Authorization", "Bearer "+token)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	r := decodeGemini(t, rec.Body.Bytes())
	require.Equal(t, "STOP", r.Candidates[0].FinishReason)

	bad := func(name, assertion, want string) {
		t.Run(name, func(t *testing.T) {
			code, out := tokenRequest(s, assertion)
			require.Equal(t, 400, code)
			require.Contains(t, out["error_description"], want)
		})
	}
	bad("signed by another key", signJWT(t, other, claimsFor(aud, now)), "Invalid JWT Signature")
	c := claimsFor(aud, now)
	c["iss"] = "stranger@x.iam.gserviceaccount.com"
	bad("unknown account", signJWT(t, key, c), "account not found")
	bad("wrong audience", signJWT(t, key, claimsFor("https://oauth2.googleapis.com/token", now)), "audience")
	bad("expired", signJWT(t, key, claimsFor(aud, now.Add(-2*time.Hour))), "short-lived")
	c = claimsFor(aud, now)
	c["scope"] = "https://www.googleapis.com/auth/userinfo.email"
	bad("no cloud-platform scope", signJWT(t, key, c), "cloud-platform")
	bad("not a JWT", "abc", "not a signed JWT")

	rec = serve(s, http.MethodPost, "/token", "grant_type=client_credentials")
	require.Equal(t, 400, rec.Code)
	require.Contains(t, rec.Body.String(), "unsupported_grant_type")
}

func TestVertexNeedsAnIssuedToken(t *testing.T) {
	s := New(Options{Name: "v"})
	for name, headers := range map[string][]string{
		"no credentials":   nil,
		"an API key":       {"X-Goog-Api-Key", "AIza-1"},
		"a made-up bearer": {"Authorization", "Bearer ya29.made-up"},
	} {
		t.Run(name, func(t *testing.T) {
			rec := serve(s, http.MethodPost, vertexPath, geminiBody, headers...)
			e := decodeGeminiError(t, rec, http.StatusUnauthorized)
			require.Equal(t, "UNAUTHENTICATED", e.Error.Status)
		})
	}
}

func TestVertexTokensExpire(t *testing.T) {
	key := testKey(t)
	s := New(Options{})
	s.TrustServiceAccount(vertexEmail, &key.PublicKey, 100*time.Millisecond)
	code, out := tokenRequest(s, signJWT(t, key, claimsFor("http://example.com/token", time.Now())))
	require.Equal(t, 200, code)
	require.EqualValues(t, 1, out["expires_in"], "at least a second, as Google counts")
	auth := "Bearer " + out["access_token"].(string)
	require.Equal(t, 200, serve(s, http.MethodPost, vertexPath, geminiBody, "Authorization", auth).Code)
	time.Sleep(150 * time.Millisecond)
	decodeGeminiError(t, serve(s, http.MethodPost, vertexPath, geminiBody, "Authorization", auth), http.StatusUnauthorized)
}

// Service accounts registered over HTTP, as the e2e tests do; the Vertex
// routes take the x-mock-* knobs of the Gemini ones, and stream.
func TestVertexServiceAccountOverHTTP(t *testing.T) {
	key := testKey(t)
	s, ts := start(t, Options{Name: "v"})
	jwk := map[string]any{
		"client_email": vertexEmail, "expires_in": 60,
		"jwk": map[string]string{"kty": "RSA", "n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes())},
	}
	b, err := json.Marshal(jwk)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPut, ts.URL+"/mock/vertex/service-accounts", strings.NewReader(string(b)))
	require.NoError(t, err)
	resp, err := ts.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	form := url.Values{"grant_type": {jwtBearerGrant}, "assertion": {signJWT(t, key, claimsFor(ts.URL+"/token", time.Now()))}}
	resp = post(t, ts, "/token", form.Encode(), "Content-Type", "application/x-www-form-urlencoded")
	require.Equal(t, 200, resp.StatusCode)
	var out struct {
		AccessToken string  `json:"access_token"`
		ExpiresIn   float64 `json:"expires_in"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.EqualValues(t, 60, out.ExpiresIn)
	auth := "Bearer " + out.AccessToken

	resp = post(t, ts, vertexPath, geminiBody, "Authorization", auth, "X-Mock-Status", "429")
	require.Equal(t, 429, resp.StatusCode)

	stream := strings.Replace(vertexPath, ":generateContent", ":streamGenerateContent?alt=sse", 1)
	resp = post(t, ts, stream, geminiBody, "Authorization", auth, "X-Mock-Chunks", "3")
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))

	endpoint := "/v1beta1/projects/p1/locations/europe-west4/endpoints/123:generateContent"
	resp = post(t, ts, endpoint, geminiBody, "Authorization", auth)
	require.Equal(t, 200, resp.StatusCode)

	var paths []string
	for _, r := range s.Requests() {
		paths = append(paths, r.Path)
	}
	require.NotContains(t, paths, "/mock/vertex/service-accounts", "registration is not a provider request")
	require.Contains(t, paths, "/token")
}

func TestVertexRoute(t *testing.T) {
	for path, want := range map[string]string{
		"/v1/projects/p/locations/l/publishers/google/models/m:generateContent":     "m generateContent",
		"/v1beta1/projects/p/locations/l/publishers/google/models/m:countTokens":    "m countTokens",
		"/v1/projects/p/locations/l/endpoints/42:streamGenerateContent":             "42 streamGenerateContent",
		"/v1/projects/p/locations/l/publishers/google/models/m":                     "",
		"/v1/projects//locations/l/publishers/google/models/m:generateContent":      "",
		"/v1/projects/p/locations/l/publishers/anthropic/models/m:rawPredict/extra": "",
		"/v1beta/models/m:generateContent":                                          "",
	} {
		model, method, ok := vertexRoute(path)
		if want == "" {
			require.False(t, ok, path)
			continue
		}
		require.True(t, ok, path)
		require.Equal(t, want, model+" "+method, path)
	}
}
