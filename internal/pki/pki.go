// Package pki issues the certificates of one llmvoy deployment's private
// control plane: a CA of its own, the server certificate llmvoy's xDS and
// ext_proc servers present, and the client certificate its Envoys present.
// llmvoy trusts only client certificates of that CA, so provider
// credentials travel only to an Envoy that holds the deployment's key.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names Write uses in its directory.
const (
	CAFile         = "ca.pem"
	CAKeyFile      = "ca-key.pem"
	ServerCertFile = "server.pem"
	ServerKeyFile  = "server-key.pem"
	ClientCertFile = "envoy.pem"
	ClientKeyFile  = "envoy-key.pem"
)

// ClientCommonName is the subject of the client certificate Issue makes.
const ClientCommonName = "llmvoy-envoy"

// ErrNoHosts is returned when the server certificate would name nothing.
var ErrNoHosts = errors.New("no host names or IP addresses for the server certificate")

// ErrExists is returned by Write rather than replace an existing file: a
// new CA would lock out every Envoy holding a certificate of the old one.
var ErrExists = errors.New("file exists")

// Bundle is one deployment's CA and the two certificates it signed, PEM
// encoded.
type Bundle struct {
	CA, CAKey             []byte
	ServerCert, ServerKey []byte
	ClientCert, ClientKey []byte
	ServerDNSNames        []string
	ServerIPs             []net.IP
	NotBefore, NotAfter   time.Time
}

// Issue makes a CA and the server and client certificates it signs, valid
// for validity from now. hosts are the names and IP addresses Envoy uses to
// reach llmvoy; each goes into the server certificate's subject alternative
// names.
func Issue(hosts []string, validity time.Duration, now time.Time) (*Bundle, error) {
	dns, ips := splitHosts(hosts)
	if len(dns) == 0 && len(ips) == 0 {
		return nil, ErrNoHosts
	}
	b := &Bundle{ServerDNSNames: dns, ServerIPs: ips,
		// Clocks of containers and hosts differ a little.
		NotBefore: now.Add(-5 * time.Minute), NotAfter: now.Add(validity)}

	caKey, err := newKey()
	if err != nil {
		return nil, err
	}
	caTmpl := b.template(pkix.Name{CommonName: "llmvoy control plane CA"})
	caTmpl.IsCA, caTmpl.BasicConstraintsValid, caTmpl.MaxPathLenZero = true, true, true
	caTmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	if b.CA, b.CAKey, err = encode(caDER, caKey); err != nil {
		return nil, err
	}

	server := b.template(pkix.Name{CommonName: firstOf(dns, "llmvoy")})
	server.DNSNames, server.IPAddresses = dns, ips
	server.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	if b.ServerCert, b.ServerKey, err = sign(server, ca, caKey); err != nil {
		return nil, fmt.Errorf("server certificate: %w", err)
	}

	client := b.template(pkix.Name{CommonName: ClientCommonName})
	client.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if b.ClientCert, b.ClientKey, err = sign(client, ca, caKey); err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	return b, nil
}

// Write stores the bundle in dir (created 0700 when missing): certificates
// 0644, keys 0600. It replaces no file.
func (b *Bundle) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{CAFile, b.CA, 0o644}, {CAKeyFile, b.CAKey, 0o600},
		{ServerCertFile, b.ServerCert, 0o644}, {ServerKeyFile, b.ServerKey, 0o600},
		{ClientCertFile, b.ClientCert, 0o644}, {ClientKeyFile, b.ClientKey, 0o600},
	}
	for _, f := range files {
		if _, err := os.Lstat(filepath.Join(dir, f.name)); err == nil {
			return fmt.Errorf("%s: %w", filepath.Join(dir, f.name), ErrExists)
		}
	}
	for _, f := range files {
		if err := writeNew(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// writeNew creates path with mode whatever the umask, failing if it exists.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (b *Bundle) template(subject pkix.Name) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: serial(),
		Subject:      subject,
		NotBefore:    b.NotBefore,
		NotAfter:     b.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
}

func sign(tmpl, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (certPEM, keyPEM []byte, err error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	return encode(der, key)
}

func newKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}

func encode(der []byte, key *ecdsa.PrivateKey) (certPEM, keyPEM []byte, err error) {
	k, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k}), nil
}

// serial is a random 128-bit serial number, as RFC 5280 recommends.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		// crypto/rand does not fail on the platforms Go supports.
		panic(err)
	}
	return n
}

// splitHosts sorts hosts into DNS names and IP addresses, dropping blanks.
func splitHosts(hosts []string) (dns []string, ips []net.IP) {
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if ip := net.ParseIP(strings.Trim(h, "[]")); ip != nil {
			ips = append(ips, ip)
			continue
		}
		dns = append(dns, h)
	}
	return dns, ips
}

func firstOf(s []string, def string) string {
	if len(s) == 0 {
		return def
	}
	return s[0]
}
