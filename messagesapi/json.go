package messagesapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
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

// mustJSON is jsonscan.Marshal for values built of strings, numbers and raw
// JSON that was already checked: it cannot fail.
func mustJSON(v any) []byte {
	b, err := jsonscan.Marshal(v)
	if err != nil {
		panic("messagesapi: " + err.Error())
	}
	return b
}

// asString reads a JSON string; where names the field in the error.
func asString(where string, raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", badRequest("%s: Input should be a valid string, got %s", where, jsonscan.Kind(raw))
	}
	return s, nil
}

// asList reads a JSON array into its elements.
func asList(where string, raw json.RawMessage) ([]json.RawMessage, error) {
	var l []json.RawMessage
	if firstByte(raw) != '[' || json.Unmarshal(raw, &l) != nil {
		return nil, badRequest("%s: Input should be a valid list, got %s", where, jsonscan.Kind(raw))
	}
	return l, nil
}

// asObject reads a JSON object into v (a struct of its fields).
func asObject(where string, raw json.RawMessage, v any) error {
	if firstByte(raw) != '{' {
		return badRequest("%s: Input should be a valid dictionary, got %s", where, jsonscan.Kind(raw))
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
