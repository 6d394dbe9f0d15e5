package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func parseCert(t *testing.T, b []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(b)
	require.NotNil(t, block)
	c, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	return c
}

func TestIssueChainsAndNames(t *testing.T) {
	now := time.Now()
	b, err := Issue([]string{"llmvoy", " localhost", "127.0.0.1", "", "::1"}, 24*time.Hour, now)
	require.NoError(t, err)
	ca := parseCert(t, b.CA)
	require.True(t, ca.IsCA)
	roots := x509.NewCertPool()
	roots.AddCert(ca)

	server := parseCert(t, b.ServerCert)
	require.Equal(t, []string{"llmvoy", "localhost"}, server.DNSNames)
	require.Len(t, server.IPAddresses, 2)
	for _, name := range []string{"llmvoy", "localhost", "127.0.0.1", "::1"} {
		_, err := server.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, CurrentTime: now})
		require.NoError(t, err, name)
	}
	_, err = server.Verify(x509.VerifyOptions{Roots: roots, DNSName: "other", CurrentTime: now})
	require.Error(t, err, "a name the operator did not list")
	_, err = server.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: now})
	require.Error(t, err, "the server certificate cannot act as a client")

	client := parseCert(t, b.ClientCert)
	require.Equal(t, ClientCommonName, client.Subject.CommonName)
	_, err = client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: now})
	require.NoError(t, err)
	_, err = client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, CurrentTime: now})
	require.Error(t, err, "the client certificate cannot act as the server")
	_, err = client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: now.Add(25 * time.Hour)})
	require.Error(t, err, "expired")

	_, err = tls.X509KeyPair(b.ServerCert, b.ServerKey)
	require.NoError(t, err)
	_, err = tls.X509KeyPair(b.ClientCert, b.ClientKey)
	require.NoError(t, err)
}

func TestIssueNeedsHosts(t *testing.T) {
	_, err := Issue([]string{" ", ""}, time.Hour, time.Now())
	require.ErrorIs(t, err, ErrNoHosts)
}

func TestWriteModesAndNoOverwrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	b, err := Issue([]string{"llmvoy"}, time.Hour, time.Now())
	require.NoError(t, err)
	require.NoError(t, b.Write(dir))
	st, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	for name, mode := range map[string]os.FileMode{
		CAFile: 0o644, CAKeyFile: 0o600, ServerCertFile: 0o644, ServerKeyFile: 0o600, ClientCertFile: 0o644, ClientKeyFile: 0o600,
	} {
		st, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		require.Equal(t, mode, st.Mode().Perm(), name)
	}
	before, err := os.ReadFile(filepath.Join(dir, CAFile))
	require.NoError(t, err)
	again, err := Issue([]string{"llmvoy"}, time.Hour, time.Now())
	require.NoError(t, err)
	require.ErrorIs(t, again.Write(dir), ErrExists)
	after, err := os.ReadFile(filepath.Join(dir, CAFile))
	require.NoError(t, err)
	require.Equal(t, before, after, "the deployment's CA is never replaced")
}

// handshake runs one TLS handshake against a server using cfg and returns
// the client's error.
func handshake(t *testing.T, cfg *tls.Config, client *tls.Config) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if c.(*tls.Conn).Handshake() == nil {
			_, _ = c.Write([]byte{1})
		}
		c.Close()
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), client)
	if err != nil {
		return err
	}
	defer conn.Close()
	// TLS 1.3 reports a refused client certificate on the first read.
	_, err = conn.Read(make([]byte, 1))
	return err
}

func writeBundle(t *testing.T, hosts ...string) (string, *Bundle) {
	t.Helper()
	dir := t.TempDir()
	b, err := Issue(hosts, time.Hour, time.Now())
	require.NoError(t, err)
	require.NoError(t, b.Write(filepath.Join(dir, "pki")))
	return filepath.Join(dir, "pki"), b
}

func clientConfig(t *testing.T, b *Bundle, withCert bool) *tls.Config {
	t.Helper()
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(b.CA))
	c := &tls.Config{RootCAs: roots, ServerName: "llmvoy", NextProtos: []string{"h2"}}
	if withCert {
		pair, err := tls.X509KeyPair(b.ClientCert, b.ClientKey)
		require.NoError(t, err)
		c.Certificates = []tls.Certificate{pair}
	}
	return c
}

func TestServerConfigRequiresTheDeploymentsClientCertificate(t *testing.T) {
	dir, b := writeBundle(t, "llmvoy")
	cfg, err := ServerConfig(ServerFiles{Cert: filepath.Join(dir, ServerCertFile), Key: filepath.Join(dir, ServerKeyFile), CA: filepath.Join(dir, CAFile)})
	require.NoError(t, err)

	require.NoError(t, handshake(t, cfg, clientConfig(t, b, true)), "Envoy's certificate")
	require.Error(t, handshake(t, cfg, clientConfig(t, b, false)), "no client certificate")

	// A certificate of another deployment's CA.
	_, other := writeBundle(t, "llmvoy")
	foreign := clientConfig(t, b, false)
	pair, err := tls.X509KeyPair(other.ClientCert, other.ClientKey)
	require.NoError(t, err)
	foreign.Certificates = []tls.Certificate{pair}
	require.Error(t, handshake(t, cfg, foreign), "another CA's client certificate")

	// The server's own certificate is not a client certificate.
	self := clientConfig(t, b, false)
	pair, err = tls.X509KeyPair(b.ServerCert, b.ServerKey)
	require.NoError(t, err)
	self.Certificates = []tls.Certificate{pair}
	require.Error(t, handshake(t, cfg, self), "the server certificate as a client")
}

func TestServerConfigPicksUpRotatedFiles(t *testing.T) {
	dir, b := writeBundle(t, "llmvoy")
	files := ServerFiles{Cert: filepath.Join(dir, ServerCertFile), Key: filepath.Join(dir, ServerKeyFile), CA: filepath.Join(dir, CAFile)}
	cfg, err := ServerConfig(files)
	require.NoError(t, err)
	require.NoError(t, handshake(t, cfg, clientConfig(t, b, true)))

	// A new CA and certificates in place of the old ones.
	_, next := writeBundle(t, "llmvoy")
	for path, data := range map[string][]byte{files.Cert: next.ServerCert, files.Key: next.ServerKey, files.CA: next.CA} {
		require.NoError(t, os.WriteFile(path, data, 0o600))
		// Make sure the modification time moves even on coarse clocks.
		later := time.Now().Add(time.Minute)
		require.NoError(t, os.Chtimes(path, later, later))
	}
	require.NoError(t, handshake(t, cfg, clientConfig(t, next, true)), "the rotated CA")
	require.Error(t, handshake(t, cfg, clientConfig(t, b, true)), "the old CA no longer")

	// A broken file keeps the last good config.
	require.NoError(t, os.WriteFile(files.CA, []byte("garbage"), 0o600))
	require.NoError(t, handshake(t, cfg, clientConfig(t, next, true)))
}

func TestServerConfigRejectsBadFiles(t *testing.T) {
	dir, _ := writeBundle(t, "llmvoy")
	bad := filepath.Join(t.TempDir(), "bad.pem")
	require.NoError(t, os.WriteFile(bad, []byte("not a certificate"), 0o600))
	_, err := ServerConfig(ServerFiles{Cert: filepath.Join(dir, ServerCertFile), Key: filepath.Join(dir, ServerKeyFile), CA: bad})
	require.ErrorIs(t, err, ErrNoCertificates)
	_, err = ServerConfig(ServerFiles{Cert: filepath.Join(dir, ServerCertFile), Key: filepath.Join(dir, ClientKeyFile), CA: filepath.Join(dir, CAFile)})
	require.Error(t, err, "a key that is not the certificate's")
}
