// Package keys is llmvoy's virtual keys and spend: keys stored hashed in
// SQLite (embedded, the default) or PostgreSQL, looked up on the request
// path through a short-lived cache, and spend written in batches off the
// request path. The field names are LiteLLM's, so its clients and scripts
// keep working.
package keys

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Key is a virtual key as stored: never the secret itself, only its hash.
type Key struct {
	// Token is the SHA-256 of the secret in hex, LiteLLM's hash_token: the
	// key's id everywhere but in the answer of /key/generate.
	Token string `json:"token"`
	// KeyName is the secret abbreviated ("sk-...wxyz"), to tell keys apart.
	KeyName   string  `json:"key_name"`
	KeyAlias  *string `json:"key_alias"`
	Models    []string
	MaxBudget *float64
	// BudgetDuration is how often Spend resets ("30d", "1h"); "" never.
	BudgetDuration string
	BudgetResetAt  *time.Time
	Spend          float64
	RPMLimit       *int64
	TPMLimit       *int64
	MaxParallel    *int64
	Metadata       map[string]any
	Expires        *time.Time
	Blocked        bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Hash is LiteLLM's hash_token: the hex SHA-256 of the secret.
func Hash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// NewSecret returns a fresh key in LiteLLM's form: "sk-" and 22 random
// URL-safe characters (LiteLLM's secrets.token_urlsafe(16)).
func NewSecret() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("keys: no randomness: " + err.Error()) // crypto/rand never fails on Linux
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var sb strings.Builder
	sb.WriteString("sk-")
	// 128 bits as 22 base64url digits, as token_urlsafe gives.
	var acc uint32
	bits := 0
	for _, c := range b {
		acc = acc<<8 | uint32(c)
		bits += 8
		for bits >= 6 {
			bits -= 6
			sb.WriteByte(alphabet[(acc>>bits)&63])
		}
	}
	if bits > 0 {
		sb.WriteByte(alphabet[(acc<<(6-bits))&63])
	}
	return sb.String()
}

// Abbreviate is LiteLLM's key_name: "sk-..." and the secret's last four.
func Abbreviate(secret string) string {
	if len(secret) <= 4 {
		return "sk-..."
	}
	return "sk-..." + secret[len(secret)-4:]
}

// ErrBadDuration is returned for a duration LiteLLM would not take.
var ErrBadDuration = errors.New("want a duration such as 30s, 30m, 30h, 30d or 1mo")

// ParseDuration reads LiteLLM's durations: a number and s, m, h, d, w or mo
// ("30d"; "1mo" is a calendar month, which callers add with AddDuration).
func ParseDuration(s string) (n int, unit string, err error) {
	s = strings.TrimSpace(s)
	for _, u := range []string{"mo", "s", "m", "h", "d", "w"} {
		if num, ok := strings.CutSuffix(s, u); ok {
			v, err := strconv.Atoi(num)
			if err != nil || v <= 0 {
				return 0, "", fmt.Errorf("%q: %w", s, ErrBadDuration)
			}
			return v, u, nil
		}
	}
	return 0, "", fmt.Errorf("%q: %w", s, ErrBadDuration)
}

// AddDuration returns t plus a LiteLLM duration.
func AddDuration(t time.Time, s string) (time.Time, error) {
	n, unit, err := ParseDuration(s)
	if err != nil {
		return time.Time{}, err
	}
	switch unit {
	case "s":
		return t.Add(time.Duration(n) * time.Second), nil
	case "m":
		return t.Add(time.Duration(n) * time.Minute), nil
	case "h":
		return t.Add(time.Duration(n) * time.Hour), nil
	case "d":
		return t.AddDate(0, 0, n), nil
	case "w":
		return t.AddDate(0, 0, 7*n), nil
	default: // mo
		return t.AddDate(0, n, 0), nil
	}
}

// Expired reports whether the key has expired at now.
func (k *Key) Expired(now time.Time) bool { return k.Expires != nil && !now.Before(*k.Expires) }

// Allows reports whether the key may call model group name. An empty list,
// or LiteLLM's "all-proxy-models", allows every group.
func (k *Key) Allows(name string) bool {
	if len(k.Models) == 0 {
		return true
	}
	for _, m := range k.Models {
		if m == name || m == "all-proxy-models" || m == "*" {
			return true
		}
	}
	return false
}
