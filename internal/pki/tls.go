package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// ErrNoCertificates is returned for a CA file holding no PEM certificate.
var ErrNoCertificates = errors.New("no PEM certificates")

// ServerFiles are the files of a control-plane server's mutual TLS: its own
// certificate and key, and the CA its clients' certificates must chain to.
type ServerFiles struct {
	Cert, Key, CA string
}

// ServerConfig is the TLS config of llmvoy's gRPC servers: TLS 1.3, and a
// client certificate of files.CA required and verified on every handshake.
// The files are read again when they change (a rotated certificate is
// picked up by the next connection); a change that does not load is
// ignored and the last good files keep serving.
func ServerConfig(files ServerFiles) (*tls.Config, error) {
	r := &reloader{files: files}
	if _, err := r.config(); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return r.config()
		},
	}, nil
}

type reloader struct {
	files ServerFiles
	mu    sync.Mutex
	stamp [3]fileStamp
	cfg   *tls.Config
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func (r *reloader) config() (*tls.Config, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var now [3]fileStamp
	for i, p := range []string{r.files.Cert, r.files.Key, r.files.CA} {
		if st, err := os.Stat(p); err == nil {
			now[i] = fileStamp{st.ModTime(), st.Size()}
		}
	}
	if r.cfg != nil && now == r.stamp {
		return r.cfg, nil
	}
	cfg, err := loadServerConfig(r.files)
	if err != nil {
		if r.cfg != nil {
			return r.cfg, nil
		}
		return nil, err
	}
	r.cfg, r.stamp = cfg, now
	return cfg, nil
}

func loadServerConfig(files ServerFiles) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(files.Cert, files.Key)
	if err != nil {
		return nil, fmt.Errorf("server certificate: %w", err)
	}
	pool, err := loadPool(files.CA)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		// gRPC is HTTP/2; grpc-go refuses a TLS connection without it.
		NextProtos: []string{"h2"},
	}, nil
}

// loadPool reads the PEM certificates of a CA file.
func loadPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("client ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("client ca %s: %w", path, ErrNoCertificates)
	}
	return pool, nil
}
