package mock

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Gemini on Google Cloud's Vertex AI, next to the others on the same mock:
//
//	POST /v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent
//	POST /v1/projects/{project}/locations/{location}/publishers/google/models/{model}:streamGenerateContent?alt=sse
//	POST /v1/projects/{project}/locations/{location}/publishers/google/models/{model}:predict   text embeddings (vertex_embeddings.go)
//	POST /token                           Google's OAuth 2.0 token endpoint, JWT bearer grant (RFC 7523)
//	PUT  /mock/vertex/service-accounts    trust a service account's public key (see below)
//
// (/v1beta1/ and .../endpoints/{id}:... paths are served the same way;
// .../publishers/anthropic/... serves Claude: vertex_anthropic.go.)
// The model routes answer as the Gemini routes do, x-mock-* headers
// included, once Authorization carries "Bearer TOKEN" with a TOKEN this
// mock issued that has not expired; else Google's 401 UNAUTHENTICATED.
//
// /token takes grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer and
// an assertion: a JWT signed with RS256 by a service account the mock
// trusts, whose claims are iss (the account's client_email), aud (this
// endpoint's URL, http://{host}/token), scope (with cloud-platform), and
// iat and exp at most an hour apart around now. It answers
// {"access_token", "expires_in", "token_type": "Bearer"}, or Google's
// {"error", "error_description"} 400 (invalid_grant: a bad signature, an
// unknown account, a stale JWT; invalid_scope).
//
// Tests generate the service account's key pair and make the mock trust
// it with PUT /mock/vertex/service-accounts:
//
//	{"client_email": "...", "jwk": {"kty": "RSA", "n": "...", "e": "..."}, "expires_in": 3600}
//
// (the public key as a JWK, base64url without padding; expires_in is the
// lifetime of the tokens issued to it, default 3600 seconds), or with
// Server.TrustServiceAccount.
func init() {
	providerRoutes = append(providerRoutes,
		providerRoute{match: matchVertex, serve: (*Server).serveVertex},
		providerRoute{match: func(method, path string) bool { return method == http.MethodPost && path == "/token" }, serve: (*Server).serveToken},
	)
}

// vertexScope is the scope Vertex AI needs.
const vertexScope = "https://www.googleapis.com/auth/cloud-platform"

// jwtBearerGrant is RFC 7523's grant type, the one Google's service
// accounts use.
const jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// defaultTokenLifetime is Google's access token lifetime.
const defaultTokenLifetime = time.Hour

// vertexAuth is what the mock knows of Google's identity service: the
// service accounts it trusts and the access tokens it issued.
type vertexAuth struct {
	mu       sync.Mutex
	accounts map[string]serviceAccount // by client_email
	tokens   map[string]time.Time      // access token → expiry
}

type serviceAccount struct {
	key      *rsa.PublicKey
	lifetime time.Duration
}

// TrustServiceAccount makes /token accept JWTs of the service account
// email signed with the private key of key, and issue tokens that live for
// lifetime (0: an hour).
func (s *Server) TrustServiceAccount(email string, key *rsa.PublicKey, lifetime time.Duration) {
	if lifetime <= 0 {
		lifetime = defaultTokenLifetime
	}
	a := &s.vertex
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.accounts == nil {
		a.accounts = map[string]serviceAccount{}
	}
	a.accounts[email] = serviceAccount{key: key, lifetime: lifetime}
}

func (s *Server) serveServiceAccounts(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut && r.Method != http.MethodPost {
		w.Header().Set("Allow", "PUT, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var in struct {
		ClientEmail string `json:"client_email"`
		JWK         struct {
			Kty string `json:"kty"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"jwk"`
		ExpiresIn float64 `json:"expires_in"`
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(body, &in)
	}
	if err != nil {
		writeError(w, invalidRequest("want {client_email, jwk: {kty, n, e}, expires_in}: "+err.Error(), "", ""))
		return
	}
	n, errN := base64.RawURLEncoding.DecodeString(in.JWK.N)
	e, errE := base64.RawURLEncoding.DecodeString(in.JWK.E)
	if in.ClientEmail == "" || in.JWK.Kty != "RSA" || errN != nil || errE != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 || in.ExpiresIn < 0 {
		writeError(w, invalidRequest("want client_email and an RSA jwk (n and e base64url without padding)", "", ""))
		return
	}
	key := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	s.TrustServiceAccount(in.ClientEmail, key, time.Duration(in.ExpiresIn*float64(time.Second)))
	w.WriteHeader(http.StatusNoContent)
}

// writeOAuthError is Google's token endpoint error.
func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, body []byte, _ *Options) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "The request body is not application/x-www-form-urlencoded.")
		return
	}
	if g := form.Get("grant_type"); g != jwtBearerGrant {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+g)
		return
	}
	_, lifetime, problem := s.vertex.verifyAssertion(form.Get("assertion"), "http://"+r.Host+"/token", time.Now())
	if problem != "" {
		code := "invalid_grant"
		if strings.HasPrefix(problem, "scope") {
			code = "invalid_scope"
		}
		writeOAuthError(w, http.StatusBadRequest, code, problem)
		return
	}
	var b [24]byte
	_, _ = rand.Read(b[:])
	token := "ya29.mock-" + hex.EncodeToString(b[:])
	now := time.Now()
	a := &s.vertex
	a.mu.Lock()
	if a.tokens == nil {
		a.tokens = map[string]time.Time{}
	}
	for t, exp := range a.tokens {
		if now.After(exp) {
			delete(a.tokens, t)
		}
	}
	a.tokens[token] = now.Add(lifetime)
	a.mu.Unlock()
	secs := int(lifetime / time.Second)
	if secs < 1 {
		secs = 1
	}
	writeJSONBytes(w, http.StatusOK, []byte(`{"access_token":"`+token+`","expires_in":`+strconv.Itoa(secs)+`,"token_type":"Bearer"}`))
}

// jwtSkew is how far iat may be ahead of the mock's clock.
const jwtSkew = time.Minute

// verifyAssertion checks a JWT bearer assertion as Google does; it returns
// the account and its token lifetime, or a problem in Google's words.
func (a *vertexAuth) verifyAssertion(jwt, audience string, now time.Time) (string, time.Duration, string) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "", 0, "Invalid JWT: the assertion is not a signed JWT (header.payload.signature)."
	}
	var header struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
	}
	var claims struct {
		Iss   string `json:"iss"`
		Sub   string `json:"sub"`
		Aud   string `json:"aud"`
		Scope string `json:"scope"`
		Iat   int64  `json:"iat"`
		Exp   int64  `json:"exp"`
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(hb, &header) != nil || json.Unmarshal(cb, &claims) != nil {
		return "", 0, "Invalid JWT: the header, claims or signature are not base64url-encoded JSON."
	}
	if header.Alg != "RS256" {
		return "", 0, "Invalid JWT: the signing algorithm must be RS256, got " + strconv.Quote(header.Alg) + "."
	}
	a.mu.Lock()
	acct, ok := a.accounts[claims.Iss]
	a.mu.Unlock()
	if !ok {
		return "", 0, "Invalid grant: account not found"
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(acct.key, crypto.SHA256, sum[:], sig) != nil {
		return "", 0, "Invalid JWT Signature."
	}
	if claims.Sub != "" && claims.Sub != claims.Iss {
		return "", 0, "Invalid grant: the mock does not do domain-wide delegation (sub must be the account itself)."
	}
	if claims.Aud != audience {
		return "", 0, "Invalid JWT: Failed audience check. The right audience is " + audience
	}
	iat, exp := time.Unix(claims.Iat, 0), time.Unix(claims.Exp, 0)
	if claims.Iat == 0 || claims.Exp == 0 || iat.After(now.Add(jwtSkew)) || !exp.After(now) || exp.Sub(iat) > time.Hour+jwtSkew {
		return "", 0, "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."
	}
	if !strings.Contains(" "+claims.Scope+" ", " "+vertexScope+" ") {
		return "", 0, "scope: the JWT must ask for " + vertexScope
	}
	return claims.Iss, acct.lifetime, ""
}

// validToken reports whether the mock issued token and it has not expired.
func (a *vertexAuth) validToken(token string, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	exp, ok := a.tokens[token]
	return ok && now.Before(exp)
}

func matchVertex(method, path string) bool {
	_, _, ok := vertexRoute(path)
	return method == http.MethodPost && ok
}

// vertexRoute splits /{v1|v1beta1}/projects/{p}/locations/{l}/
// {publishers/google/models|endpoints}/{model}:{method}.
func vertexRoute(path string) (model, method string, ok bool) {
	rest, found := strings.CutPrefix(path, "/v1/projects/")
	if !found {
		if rest, found = strings.CutPrefix(path, "/v1beta1/projects/"); !found {
			return "", "", false
		}
	}
	segs := strings.Split(rest, "/")
	switch {
	case len(segs) == 7 && segs[1] == "locations" && segs[3] == "publishers" && segs[5] == "models":
	case len(segs) == 5 && segs[1] == "locations" && segs[3] == "endpoints":
	default:
		return "", "", false
	}
	model, method, ok = strings.Cut(segs[len(segs)-1], ":")
	if !ok || model == "" || segs[0] == "" || segs[2] == "" {
		return "", "", false
	}
	return model, method, true
}

func (s *Server) serveVertex(w http.ResponseWriter, r *http.Request, body []byte, opts *Options) {
	auth := r.Header.Get("Authorization")
	token, bearer := strings.CutPrefix(auth, "Bearer ")
	switch {
	case !bearer || token == "":
		writeGeminiError(w, http.StatusUnauthorized, "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.")
		return
	case !s.vertex.validToken(token, time.Now()):
		writeGeminiError(w, http.StatusUnauthorized, "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.")
		return
	}
	model, method, _ := vertexRoute(r.URL.Path)
	if vertexPublisher(r.URL.Path) == "anthropic" {
		s.vertexAnthropic(w, r, model, method, body, opts)
		return
	}
	switch method {
	case "generateContent":
		s.geminiGenerate(w, r, model, body, opts, false)
	case "streamGenerateContent":
		s.geminiGenerate(w, r, model, body, opts, true)
	case "predict":
		s.vertexPredict(w, r, model, body, opts)
	default:
		writeGeminiError(w, http.StatusNotFound, "Method not found.")
	}
}
