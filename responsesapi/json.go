package responsesapi

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// raw is a member's value, nil when absent or null: the SDKs send null for
// an unset parameter.
func raw(v json.RawMessage) json.RawMessage {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return nil
	}
	return v
}

// optString decodes an optional string member ("" when absent).
func optString(key string, v json.RawMessage) (string, error) {
	if v = raw(v); v == nil {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fmt.Errorf("%s: want a string, got %s", key, jsonscan.Kind(v))
	}
	return s, nil
}
