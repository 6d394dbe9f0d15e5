package mock

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The credentials the mock's AWS APIs (Bedrock) accept: AWS's own
// documented example key pair, so no real credential ever appears in a
// config pointed at the mock. Any session token passes.
const (
	BedrockAccessKeyID     = "AKIAIOSFODNN7EXAMPLE"
	BedrockSecretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// sigV4MaxSkew is how far X-Amz-Date may be from the mock's clock, as AWS
// allows.
const sigV4MaxSkew = 5 * time.Minute

// awsError is an AWS error answer: its exception name goes in
// x-amzn-errortype, the body is {"message": ...}.
type awsError struct {
	status  int
	typ     string
	message string
}

func (e *awsError) write(w http.ResponseWriter) {
	w.Header()["X-Amzn-Errortype"] = []string{e.typ + ":http://internal.amazon.com/coral/com.amazon.bedrock/"}
	writeJSON(w, e.status, map[string]string{"message": e.message})
}

// verifySigV4 checks a request's AWS Signature Version 4 the way AWS does,
// from the SigV4 specification rather than an SDK, so a translator that
// signs the wrong thing (another host than the one sent, the body before a
// rewrite, a path escaped once instead of twice) is caught: it rebuilds the
// canonical request from what arrived, derives the signing key from the
// mock's secret and compares signatures.
func verifySigV4(r *http.Request, body []byte, service string, now time.Time) *awsError {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return &awsError{http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token"}
	}
	const algorithm = "AWS4-HMAC-SHA256"
	rest, ok := strings.CutPrefix(auth, algorithm+" ")
	if !ok {
		return &awsError{http.StatusBadRequest, "IncompleteSignatureException", "Authorization header requires the " + algorithm + " algorithm."}
	}
	params := map[string]string{}
	for _, kv := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		params[k] = v
	}
	credential, signedHeaders, signature := params["Credential"], params["SignedHeaders"], params["Signature"]
	if credential == "" || signedHeaders == "" || signature == "" {
		return &awsError{http.StatusBadRequest, "IncompleteSignatureException", "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters. Authorization=" + auth}
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return &awsError{http.StatusBadRequest, "IncompleteSignatureException", "Credential should be scoped to a valid region, service and aws4_request."}
	}
	keyID, date, region, svc := scope[0], scope[1], scope[2], scope[3]
	if keyID != BedrockAccessKeyID {
		return &awsError{http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid."}
	}
	if svc != service {
		return &awsError{http.StatusForbidden, "InvalidSignatureException", "Credential should be scoped to correct service: '" + service + "'."}
	}
	signed := strings.Split(signedHeaders, ";")
	if !sort.StringsAreSorted(signed) || !contains(signed, "host") || !contains(signed, "x-amz-date") {
		return &awsError{http.StatusBadRequest, "IncompleteSignatureException", "SignedHeaders must be sorted and include host and x-amz-date. SignedHeaders=" + signedHeaders}
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || !strings.HasPrefix(amzDate, date) {
		return &awsError{http.StatusBadRequest, "IncompleteSignatureException", "X-Amz-Date must be an ISO 8601 basic date matching the credential scope's date."}
	}
	if d := now.Sub(t); d > sigV4MaxSkew || d < -sigV4MaxSkew {
		return &awsError{http.StatusForbidden, "InvalidSignatureException", "Signature expired: " + amzDate + " is now earlier than " + now.Add(-sigV4MaxSkew).UTC().Format("20060102T150405Z") + "."}
	}
	if r.Header.Get("X-Amz-Security-Token") != "" && !contains(signed, "x-amz-security-token") {
		return &awsError{http.StatusForbidden, "InvalidSignatureException", "The session token must be signed (x-amz-security-token is not in SignedHeaders)."}
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash {
		return &awsError{http.StatusBadRequest, "ValidationException", "The provided 'x-amz-content-sha256' header does not match what was computed."}
	}

	var canonical strings.Builder
	canonical.WriteString(r.Method + "\n")
	canonical.WriteString(sigV4URI(r.URL.EscapedPath()) + "\n")
	canonical.WriteString(sigV4Query(r.URL.RawQuery) + "\n")
	for _, name := range signed {
		var value string
		switch {
		case name == "host":
			value = r.Host
		case name == "content-length" && r.Header.Get("Content-Length") == "":
			// net/http keeps it out of Header for requests made in-process.
			value = strconv.FormatInt(r.ContentLength, 10)
		default:
			vals := r.Header.Values(name)
			for i, v := range vals {
				vals[i] = strings.Join(strings.Fields(v), " ")
			}
			value = strings.Join(vals, ",")
		}
		canonical.WriteString(name + ":" + value + "\n")
	}
	canonical.WriteString("\n" + signedHeaders + "\n" + payloadHash)
	crSum := sha256.Sum256([]byte(canonical.String()))
	stringToSign := algorithm + "\n" + amzDate + "\n" + strings.Join(scope[1:], "/") + "\n" + hex.EncodeToString(crSum[:])

	key := hmacSHA256([]byte("AWS4"+BedrockSecretAccessKey), date)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, svc)
	key = hmacSHA256(key, "aws4_request")
	want := hex.EncodeToString(hmacSHA256(key, stringToSign))
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return &awsError{http.StatusForbidden, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// sigV4URI is the canonical URI of every AWS service but S3: the path as
// sent, each byte outside RFC 3986's unreserved set (and '/') encoded once
// more, so an escaped ':' (%3A) is signed as %253A.
func sigV4URI(escapedPath string) string {
	if escapedPath == "" {
		return "/"
	}
	return sigV4Encode(escapedPath, true)
}

// sigV4Query is the canonical query: parameters sorted by name, then value,
// names and values encoded.
func sigV4Query(raw string) string {
	values, _ := url.ParseQuery(raw)
	var pairs []string
	for k, vs := range values {
		for _, v := range vs {
			pairs = append(pairs, sigV4Encode(k, false)+"="+sigV4Encode(v, false))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

func sigV4Encode(s string, keepSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~', c == '/' && keepSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
