package responsesapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// marshal encodes v as compact JSON without HTML escaping, so text reads
// upstream and back as it was written.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

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
		return "", fmt.Errorf("%s: want a string, got %s", key, kind(v))
	}
	return s, nil
}

// kind names a JSON value's type for error messages.
func kind(v []byte) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "a list"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// jsonError shortens encoding/json's errors to what a client can act on.
func jsonError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		where := te.Field
		if where == "" {
			where = "value"
		}
		return fmt.Sprintf("%s: want %s, got a JSON %s", where, te.Type.String(), te.Value)
	}
	return err.Error()
}
