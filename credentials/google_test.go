package credentials

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

// tokenClock is a settable clock for token source tests.
type tokenClock struct{ t atomic.Int64 }

func (c *tokenClock) now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *tokenClock) advance(d time.Duration) { c.t.Add(int64(d)) }
func newTokenClock() *tokenClock {
	c := &tokenClock{}
	c.t.Store(time.Unix(1_700_000_000, 0).UnixNano())
	return c
}
func (c *tokenClock) token(life time.Duration, name string) *oauth2.Token {
	return &oauth2.Token{AccessToken: name, Expiry: c.now().Add(life)}
}

// testSource is a token source on a fake clock whose fetches are answered
// by the test through answer.
func testSource(t *testing.T, clock *tokenClock, answer func(n int) (*oauth2.Token, error)) (*tokenSource, *atomic.Int32, *bytes.Buffer) {
	t.Helper()
	var n atomic.Int32
	s := newTokenSource("vertex-1", func(context.Context) (*oauth2.Token, error) {
		return answer(int(n.Add(1)))
	})
	s.now = clock.now
	var logs bytes.Buffer
	s.log = slogTo(&logs)
	return s, &n, &logs
}

// waitIdle waits for a background fetch to end.
func waitIdle(t *testing.T, s *tokenSource) {
	t.Helper()
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.inflight == nil
	}, 5*time.Second, time.Millisecond)
}

func TestTokenSourceCaches(t *testing.T) {
	clock := newTokenClock()
	s, n, _ := testSource(t, clock, func(int) (*oauth2.Token, error) { return clock.token(time.Hour, "a"), nil })
	for range 100 {
		tok, err := s.Token(context.Background())
		require.NoError(t, err)
		require.Equal(t, "a", tok)
	}
	clock.advance(50 * time.Minute)
	tok, err := s.Token(context.Background())
	require.NoError(t, err)
	require.Equal(t, "a", tok)
	require.EqualValues(t, 1, n.Load(), "one fetch for every request of the token's first 55 minutes")
}

func TestTokenSourceConcurrentFirstRequestsShareOneFetch(t *testing.T) {
	clock := newTokenClock()
	release := make(chan struct{})
	s, n, _ := testSource(t, clock, func(int) (*oauth2.Token, error) {
		<-release
		return clock.token(time.Hour, "a"), nil
	})
	errs := make(chan error, 20)
	for range 20 {
		go func() {
			tok, err := s.Token(context.Background())
			if err == nil && tok != "a" {
				err = errors.New("got " + tok)
			}
			errs <- err
		}()
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	for range 20 {
		require.NoError(t, <-errs)
	}
	require.EqualValues(t, 1, n.Load())
}

func TestTokenSourceRefreshesBeforeExpiryInTheBackground(t *testing.T) {
	clock := newTokenClock()
	release := make(chan struct{})
	s, n, _ := testSource(t, clock, func(i int) (*oauth2.Token, error) {
		if i == 2 {
			<-release // the refresh is slow: requests must not wait for it
		}
		return clock.token(time.Hour, string(rune('a'+i-1))), nil
	})
	tok, err := s.Token(context.Background())
	require.NoError(t, err)
	require.Equal(t, "a", tok)

	clock.advance(56 * time.Minute) // within five minutes of expiry
	for range 10 {
		tok, err = s.Token(context.Background())
		require.NoError(t, err)
		require.Equal(t, "a", tok, "the valid token while the refresh runs")
	}
	require.Eventually(t, func() bool { return n.Load() == 2 }, 5*time.Second, time.Millisecond)
	for range 10 {
		_, _ = s.Token(context.Background())
	}
	require.EqualValues(t, 2, n.Load(), "one refresh, however many requests")
	close(release)
	waitIdle(t, s)
	tok, err = s.Token(context.Background())
	require.NoError(t, err)
	require.Equal(t, "b", tok)
}

func TestTokenSourceShortLivedTokens(t *testing.T) {
	clock := newTokenClock()
	s, n, _ := testSource(t, clock, func(i int) (*oauth2.Token, error) {
		return clock.token(4*time.Second, string(rune('a'+i-1))), nil
	})
	tok, _ := s.Token(context.Background())
	require.Equal(t, "a", tok)
	clock.advance(2 * time.Second)
	tok, _ = s.Token(context.Background())
	require.Equal(t, "a", tok, "three quarters of its life left: no refresh yet")
	require.EqualValues(t, 1, n.Load())
	clock.advance(time.Second + 100*time.Millisecond) // past refreshAt (3s), before staleAt (3.6s)
	tok, _ = s.Token(context.Background())
	require.Equal(t, "a", tok)
	waitIdle(t, s)
	tok, _ = s.Token(context.Background())
	require.Equal(t, "b", tok)

	clock.advance(time.Hour) // idle past expiry: the request waits for a new token
	tok, err := s.Token(context.Background())
	require.NoError(t, err)
	require.Equal(t, "c", tok)
}

func TestTokenSourceFailure(t *testing.T) {
	clock := newTokenClock()
	fail := atomic.Bool{}
	fail.Store(true)
	s, n, logs := testSource(t, clock, func(int) (*oauth2.Token, error) {
		if fail.Load() {
			return nil, errors.New(`oauth2: cannot fetch token: 400 Bad Request Response: {"error":"invalid_grant"}`)
		}
		return clock.token(time.Hour, "a"), nil
	})
	_, err := s.Token(context.Background())
	require.ErrorIs(t, err, ErrUnavailable)
	require.ErrorContains(t, err, "deployment vertex-1")
	require.ErrorContains(t, err, "invalid_grant")
	for range 10 {
		_, err = s.Token(context.Background())
		require.ErrorIs(t, err, ErrUnavailable)
	}
	require.EqualValues(t, 1, n.Load(), "requests within the back-off get the failure without asking Google again")
	clock.advance(2 * time.Second)
	_, err = s.Token(context.Background())
	require.ErrorIs(t, err, ErrUnavailable)
	require.EqualValues(t, 2, n.Load())
	require.Equal(t, 1, strings.Count(logs.String(), "vertex ai access token"), "logged once: %s", logs)

	fail.Store(false)
	clock.advance(time.Minute)
	tok, err := s.Token(context.Background())
	require.NoError(t, err)
	require.Equal(t, "a", tok)
	require.Contains(t, logs.String(), "fetched again")
}

func TestTokenSourceFailedRefreshKeepsTheValidToken(t *testing.T) {
	clock := newTokenClock()
	s, n, _ := testSource(t, clock, func(i int) (*oauth2.Token, error) {
		if i > 1 {
			return nil, errors.New("token endpoint down")
		}
		return clock.token(time.Hour, "a"), nil
	})
	_, err := s.Token(context.Background())
	require.NoError(t, err)
	clock.advance(56 * time.Minute)
	tok, err := s.Token(context.Background())
	require.NoError(t, err)
	require.Equal(t, "a", tok)
	waitIdle(t, s)
	for range 5 {
		tok, err = s.Token(context.Background())
		require.NoError(t, err)
		require.Equal(t, "a", tok)
	}
	require.EqualValues(t, 2, n.Load(), "a failed refresh is retried after its back-off, not per request")
}

func TestTokenSourceWaitBoundedByContext(t *testing.T) {
	clock := newTokenClock()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	s, _, _ := testSource(t, clock, func(int) (*oauth2.Token, error) {
		<-release
		return clock.token(time.Hour, "a"), nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := s.Token(ctx)
	require.ErrorIs(t, err, ErrUnavailable)
	require.ErrorContains(t, err, "has not answered")
}

func slogTo(w *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
