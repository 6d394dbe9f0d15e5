package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// JSON helpers every translator shares: how a value is encoded for a
// provider and how a client's malformed value is named in an error.

// marshalJSON encodes v as compact JSON without encoding/json's HTML
// escaping, so text reads upstream as the client sent it.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

func jsonIsNull(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// jsonKind names a JSON value's type for error messages.
func jsonKind(raw []byte) string {
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

// jsonErrorText shortens encoding/json's errors to what a client can
// act on.
func jsonErrorText(err error) string {
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

func jsonQuote(s string) []byte { return jsonscan.QuoteString(s) }
