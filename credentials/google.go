package credentials

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/llmvoy/llmvoy/config"
)

// vertexScope is the OAuth scope Vertex AI's API asks for (LiteLLM's too).
const vertexScope = "https://www.googleapis.com/auth/cloud-platform"

// Token source timing. A token is refreshed in the background once a
// quarter of its life (at most vertexRefreshAhead) is left, and stops being
// used when a tenth of it (at most vertexExpiryMargin) is left, so a request
// never carries a token that expires on the way. A failed fetch is retried
// after a back-off that doubles up to vertexMaxBackoff; requests in between
// get the failure at once rather than each asking Google again.
const (
	vertexRefreshAhead = 5 * time.Minute
	vertexExpiryMargin = time.Minute
	vertexMinBackoff   = time.Second
	vertexMaxBackoff   = 30 * time.Second
	// vertexFetchTimeout bounds one exchange with the token endpoint.
	vertexFetchTimeout = 30 * time.Second
	// vertexIdle drops a token source nobody asked for in this long: its
	// deployment was likely removed by a reload.
	vertexIdle = time.Hour
	// vertexDefaultLifetime is assumed for a token that comes without
	// expires_in.
	vertexDefaultLifetime = 5 * time.Minute
)

// FetchFunc gets a new access token.
type FetchFunc func(ctx context.Context) (*oauth2.Token, error)

// tokenSource caches one deployment's access token. Token returns the
// cached token while it is valid and starts at most one background refresh
// when it nears its expiry; only a request that finds no valid token waits
// for the token endpoint, together with every other such request (one fetch
// at a time).
type tokenSource struct {
	deployment string // for messages and logs; never a credential
	fetch      FetchFunc
	now        func() time.Time
	log        *slog.Logger

	mu        sync.Mutex
	token     string
	refreshAt time.Time // start a background refresh from here
	staleAt   time.Time // stop using the token from here
	inflight  chan struct{}
	err       error     // the last fetch's failure, while no token is valid
	retryAt   time.Time // no new fetch before this after a failure
	failures  int
	lastUsed  time.Time
}

func newTokenSource(deployment string, fetch FetchFunc) *tokenSource {
	return &tokenSource{deployment: deployment, fetch: fetch, now: time.Now, log: slog.Default()}
}

// Token returns a valid access token, waiting until ctx is done for one
// when none is cached. Errors wrap ErrUnavailable and name the deployment.
func (s *tokenSource) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	now := s.now()
	s.lastUsed = now
	if s.token != "" && now.Before(s.staleAt) {
		tok := s.token
		if !now.Before(s.refreshAt) && s.inflight == nil && !now.Before(s.retryAt) {
			s.startFetch()
		}
		s.mu.Unlock()
		return tok, nil
	}
	if s.inflight == nil {
		if s.err != nil && now.Before(s.retryAt) {
			err := s.err
			s.mu.Unlock()
			return "", err
		}
		s.startFetch()
	}
	done := s.inflight
	s.mu.Unlock()

	select {
	case <-done:
	case <-ctx.Done():
		return "", fmt.Errorf("%w: deployment %s: no Vertex AI access token yet: Google's token endpoint has not answered: %v", ErrUnavailable, s.deployment, ctx.Err())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" && s.now().Before(s.staleAt) {
		return s.token, nil
	}
	if s.err != nil {
		return "", s.err
	}
	return "", fmt.Errorf("%w: deployment %s: no Vertex AI access token", ErrUnavailable, s.deployment)
}

// startFetch fetches a token in a goroutine of its own, so a request that
// gives up waiting does not cancel a fetch others wait for. s.mu is held.
func (s *tokenSource) startFetch() {
	done := make(chan struct{})
	s.inflight = done
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), vertexFetchTimeout)
		tok, err := s.fetch(ctx)
		cancel()
		if err == nil && (tok == nil || tok.AccessToken == "") {
			err = errors.New("the token endpoint answered without an access_token")
		}
		s.mu.Lock()
		defer func() {
			s.inflight = nil
			close(done)
			s.mu.Unlock()
		}()
		now := s.now()
		if err != nil {
			s.failures++
			backoff := vertexMinBackoff << min(s.failures-1, 5)
			s.retryAt = now.Add(min(backoff, vertexMaxBackoff))
			s.err = fmt.Errorf("%w: deployment %s: cannot get a Vertex AI access token: %v", ErrUnavailable, s.deployment, err)
			// Once per run of failures: requests that get the cached
			// failure do not log it again.
			if s.failures == 1 {
				s.log.Warn("vertex ai access token", "deployment", s.deployment, "err", err, "still_valid", s.token != "" && now.Before(s.staleAt))
			}
			return
		}
		if s.failures > 0 {
			s.log.Info("vertex ai access token fetched again", "deployment", s.deployment, "after_failures", s.failures)
		}
		s.failures, s.err, s.retryAt = 0, nil, time.Time{}
		expiry := tok.Expiry
		if expiry.IsZero() {
			expiry = now.Add(vertexDefaultLifetime)
		}
		life := expiry.Sub(now)
		s.token = tok.AccessToken
		s.refreshAt = expiry.Add(-min(life/4, vertexRefreshAhead))
		s.staleAt = expiry.Add(-min(life/10, vertexExpiryMargin))
	}()
}

// GoogleTokens holds one token source per deployment and credentials, so
// a config reload that keeps a deployment keeps its token, and one that
// changes its credentials gets a new source.
type GoogleTokens struct {
	fetcher func(config.Secret) FetchFunc

	mu sync.Mutex
	m  map[string]*tokenSource
}

// NewGoogleTokens makes an empty cache whose sources fetch with fetcher;
// nil is Google's token endpoints (GoogleFetcher).
func NewGoogleTokens(fetcher func(config.Secret) FetchFunc) *GoogleTokens {
	if fetcher == nil {
		fetcher = GoogleFetcher
	}
	return &GoogleTokens{fetcher: fetcher, m: map[string]*tokenSource{}}
}

// Token returns a valid access token for Vertex AI deployment d, waiting
// until ctx is done for one when none is cached. Errors wrap ErrUnavailable
// and name the deployment.
func (g *GoogleTokens) Token(ctx context.Context, d *config.Deployment) (string, error) {
	return g.source(d).Token(ctx)
}

// source returns the token source of deployment d.
func (g *GoogleTokens) source(d *config.Deployment) *tokenSource {
	sum := sha256.Sum256([]byte(d.Vertex.Credentials.Reveal()))
	key := d.ID + "\x00" + hex.EncodeToString(sum[:])
	g.mu.Lock()
	defer g.mu.Unlock()
	if s, ok := g.m[key]; ok {
		return s
	}
	for k, s := range g.m {
		s.mu.Lock()
		idle := s.inflight == nil && time.Since(s.lastUsed) > vertexIdle
		s.mu.Unlock()
		if idle {
			delete(g.m, k)
		}
	}
	s := newTokenSource(d.ID, g.fetcher(d.Vertex.Credentials))
	s.lastUsed = time.Now()
	g.m[key] = s
	return s
}

// vertexHTTPClient talks to Google's token endpoint (and metadata server).
var vertexHTTPClient = &http.Client{Timeout: vertexFetchTimeout}

// GoogleFetcher gets access tokens with golang.org/x/oauth2/google: for a
// service account key, a JWT signed with its private key (RS256) exchanged
// at its token_uri; for gcloud's authorized_user, its refresh token; with
// no credentials, Google's application default credentials. Each fetch
// builds its token source anew: the library's own caching would hand back
// the old token until ten seconds before it expires, and the cache here
// refreshes earlier.
func GoogleFetcher(creds config.Secret) FetchFunc {
	return func(ctx context.Context) (*oauth2.Token, error) {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, vertexHTTPClient)
		var c *google.Credentials
		var err error
		if creds == "" {
			c, err = google.FindDefaultCredentials(ctx, vertexScope)
		} else {
			var f struct {
				Type string `json:"type"`
			}
			if err := json.Unmarshal([]byte(creds.Reveal()), &f); err != nil {
				return nil, errors.New("the credentials are not JSON")
			}
			c, err = google.CredentialsFromJSONWithType(ctx, []byte(creds.Reveal()), google.CredentialsType(f.Type), vertexScope)
		}
		if err != nil {
			return nil, err
		}
		return c.TokenSource.Token()
	}
}
