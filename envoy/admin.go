package envoy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// adminHost is the Host of requests to an admin interface on a unix
// socket: Envoy's admin answers any host, and a real name would suggest TCP.
const adminHost = "envoy-admin"

// AdminClient calls Envoy's admin interface wherever it listens: on a unix
// socket (unix:///path) or, with an insecure bootstrap, on loopback TCP
// (http://host:port). Safe for concurrent use.
type AdminClient struct {
	url  string
	base string
	http *http.Client
}

// NewAdminClient returns a client of the admin interface at adminURL, as
// Process.AdminURL names it and `llmvoy run` logs it (envoy_admin=...).
// Each call is bounded by timeout (none when 0).
func NewAdminClient(adminURL string, timeout time.Duration) (*AdminClient, error) {
	// The admin interface is local: never go through a proxy.
	t := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	c := &AdminClient{url: adminURL, http: &http.Client{Transport: t, Timeout: timeout}}
	switch {
	case strings.HasPrefix(adminURL, unixScheme+"/"):
		path := strings.TrimPrefix(adminURL, unixScheme)
		var d net.Dialer
		t.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		}
		c.base = "http://" + adminHost
	case strings.HasPrefix(adminURL, "http://"):
		c.base = strings.TrimSuffix(adminURL, "/")
	default:
		return nil, fmt.Errorf("envoy admin address %q: want unix:///path or http://host:port", adminURL)
	}
	return c, nil
}

// URL is the admin interface's address, as given to NewAdminClient.
func (c *AdminClient) URL() string { return c.url }

// Call sends method path (with its query, e.g. "/stats?format=json") and
// returns the status and body, whatever the status.
func (c *AdminClient) Call(ctx context.Context, method, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("envoy admin %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("envoy admin %s %s: %w", method, path, err)
	}
	return resp.StatusCode, b, nil
}

// Get returns the body of GET path, or an error unless Envoy answers 200.
func (c *AdminClient) Get(ctx context.Context, path string) ([]byte, error) {
	status, b, err := c.Call(ctx, http.MethodGet, path)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("envoy admin GET %s: %d %s", path, status, strings.TrimSpace(string(b)))
	}
	return b, err
}
