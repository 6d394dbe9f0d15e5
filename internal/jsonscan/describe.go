package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// What the translators tell a client about a value it sent: whether it is
// null, what type it is, and what encoding/json's error means.

// IsNull reports whether raw is JSON null, or nothing.
func IsNull(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// Kind names a JSON value's type for an error message: "a string", "an
// object", "a list", "a boolean", "null", "a number", or "nothing".
func Kind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
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

// DecodeError shortens encoding/json's errors to what a client can act on.
func DecodeError(err error) string {
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

// Marshal encodes v as compact JSON without encoding/json's HTML escaping,
// so text reads upstream (and back) as the client wrote it.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}
