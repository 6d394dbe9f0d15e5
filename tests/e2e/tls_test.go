// Package e2e holds end-to-end tests: the real llmvoy binary supervising a
// real Envoy. The OpenAI SDK tests are Python (pytest, in this folder); the
// ones here need Go's TLS tooling.
package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/internal/syncbuf"
	"github.com/llmvoy/llmvoy/mock"
)

// TestHTTPSDeploymentGetsSNIAndVerifiedCertificate: an https api_base is
// reached over TLS with SNI = its host name, and its certificate is checked
// against the CA bundle (a certificate for another name is refused).
func TestHTTPSDeploymentGetsSNIAndVerifiedCertificate(t *testing.T) {
	bin := llmvoyBinary(t)
	dir := t.TempDir()
	ca, caKey := newCA(t)
	caFile := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), 0o600))

	good := newTLSProvider(t, leafCert(t, ca, caKey, "localhost"), "good")
	wrong := newTLSProvider(t, leafCert(t, ca, caKey, "not-localhost.example"), "wrong")

	cfg := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
model_list:
  - model_name: secure
    litellm_params: {model: openai/gpt-4o, api_base: "https://localhost:%d/v1", api_key: sk-tls}
  - model_name: wrong-cert
    litellm_params: {model: openai/gpt-4o, api_base: "https://localhost:%d/v1", api_key: sk-tls}
`, good.port, wrong.port)), 0o600))

	port := freePort(t)
	startGateway(t, bin, "--config", cfg, "--host", "127.0.0.1", "--port", fmt.Sprint(port), "--ca-file", caFile)

	status, body := chat(t, port, "secure")
	require.Equal(t, 200, status, body)
	require.Contains(t, body, "mock:good")
	sni, host := good.seen()
	require.Equal(t, "localhost", sni)
	require.Equal(t, fmt.Sprintf("localhost:%d", good.port), host)

	status, body = chat(t, port, "wrong-cert")
	require.GreaterOrEqual(t, status, 500, body)
	var e struct {
		Error struct{ Message, Type string }
	}
	require.NoError(t, json.Unmarshal([]byte(body), &e), body)
	require.NotEmpty(t, e.Error.Message)
	_, wrongHost := wrong.seen()
	require.Empty(t, wrongHost, "a provider with the wrong certificate must never see a request")
}

type tlsProvider struct {
	port int
	mu   sync.Mutex
	sni  string
	host string
}

func (p *tlsProvider) seen() (string, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sni, p.host
}

func newTLSProvider(t *testing.T, cert tls.Certificate, name string) *tlsProvider {
	p := &tlsProvider{}
	m := mock.New(mock.Options{Name: name})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.sni, p.host = r.TLS.ServerName, r.Host
		p.mu.Unlock()
		m.ServeHTTP(w, r)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	p.port = srv.Listener.Addr().(*net.TCPAddr).Port
	return p
}

func newCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "llmvoy test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return ca, key
}

func leafCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, dnsName string) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: dnsName},
		DNSNames:     []string{dnsName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func llmvoyBinary(t *testing.T) string {
	bin, err := filepath.Abs("../../bin/llmvoy")
	require.NoError(t, err)
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is missing: run `make build` first", bin)
	}
	return bin
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startGateway runs `llmvoy run` until the test ends; its output is shown
// only when the test fails.
func startGateway(t *testing.T, bin string, args ...string) {
	var out syncbuf.Buffer
	cmd := exec.Command(bin, append([]string{"run"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	stopOnCleanup(t, cmd, "llmvoy", &out)
	waitFor(t, &out, "llmvoy is listening")
}

func chat(t *testing.T, port int, model string) (int, string) {
	body := fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"hi"}]}`, model)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", fmt.Sprintf("http://127.0.0.1:%d/v1/chat/completions", port), strings.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}
