package envoy

import "os"

// caBundles are where distributions keep the system's CA bundle, after
// $SSL_CERT_FILE.
var caBundles = []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"}

// FindCABundle returns the CA bundle Envoy should verify https providers
// with: Envoy has no trust store of its own. It is $SSL_CERT_FILE when that
// is a regular file, else the system's; "" when there is none.
func FindCABundle() string {
	for _, c := range append([]string{os.Getenv("SSL_CERT_FILE")}, caBundles...) {
		if c == "" {
			continue
		}
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() {
			return c
		}
	}
	return ""
}
