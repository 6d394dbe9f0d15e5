package credentials

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/llmvoy/llmvoy/config"
)

// SigV4 signs a POST of body to scheme://authority+path for AWS service
// with c, and returns the headers to send: authorization, x-amz-date,
// x-amz-content-sha256, and x-amz-security-token for temporary credentials.
// Only host and the x-amz-* headers are signed, so nothing Envoy adds or
// normalizes on the way can break the signature. Without credentials (the
// config warned) it returns nothing: the request goes unsigned.
func SigV4(c config.AWSCredentials, service, scheme, authority, path string, body []byte, now time.Time) ([]Header, error) {
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return nil, nil
	}
	u, err := url.Parse(scheme + "://" + authority + path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	req := &http.Request{Method: http.MethodPost, URL: u, Host: authority, Header: http.Header{}}
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	creds := aws.Credentials{AccessKeyID: c.AccessKeyID.Reveal(), SecretAccessKey: c.SecretAccessKey.Reveal(), SessionToken: c.SessionToken.Reveal()}
	// A signer per request: the SDK's signer caches the derived key by
	// access key id, region and day, not by secret, so a shared one would
	// keep signing with a secret a config reload has corrected. Deriving
	// the key is four HMACs.
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payloadHash, service, c.Region, now); err != nil {
		return nil, err
	}
	var headers []Header
	for _, name := range []string{"Authorization", "X-Amz-Date", "X-Amz-Content-Sha256", "X-Amz-Security-Token"} {
		if v := req.Header.Get(name); v != "" {
			headers = append(headers, Header{Key: strings.ToLower(name), Value: v})
		}
	}
	return headers, nil
}
