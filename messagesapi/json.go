package messagesapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/llmvoy/llmvoy/translate"
)

// requestError is a client body that cannot be translated. Its text is
// what the client reads, in Anthropic's words ("max_tokens: Field
// required"), without the sentinel's; errors.Is finds translate.ErrBadRequest.
type requestError struct{ msg string }

func (e *requestError) Error() string { return e.msg }
func (e *requestError) Unwrap() error { return translate.ErrBadRequest }

func badRequest(format string, args ...any) error {
	return &requestError{msg: fmt.Sprintf(format, args...)}
}

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

// mustJSON is marshalJSON for values built of strings, numbers and raw
// JSON that was already checked: it cannot fail.
func mustJSON(v any) []byte {
	b, err := marshalJSON(v)
	if err != nil {
		panic("messagesapi: " + err.Error())
	}
	return b
}

func isNull(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// kind names a JSON value's type as Anthropic's validation errors do.
func kind(raw []byte) string {
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

// asString reads a JSON string; where names the field in the error.
func asString(where string, raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", badRequest("%s: Input should be a valid string, got %s", where, kind(raw))
	}
	return s, nil
}

// asList reads a JSON array into its elements.
func asList(where string, raw json.RawMessage) ([]json.RawMessage, error) {
	var l []json.RawMessage
	if firstByte(raw) != '[' || json.Unmarshal(raw, &l) != nil {
		return nil, badRequest("%s: Input should be a valid list, got %s", where, kind(raw))
	}
	return l, nil
}

// asObject reads a JSON object into v (a struct of its fields).
func asObject(where string, raw json.RawMessage, v any) error {
	if firstByte(raw) != '{' {
		return badRequest("%s: Input should be a valid dictionary, got %s", where, kind(raw))
	}
	if err := json.Unmarshal(raw, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return badRequest("%s.%s: Input should be a valid %s, got a JSON %s", where, te.Field, te.Type.String(), te.Value)
		}
		return badRequest("%s: %v", where, err)
	}
	return nil
}

// firstByte is the first byte of a JSON value, 0 for none.
func firstByte(raw []byte) byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}
