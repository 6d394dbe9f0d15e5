// Package jsonscan reads and edits the top-level members of a JSON object
// without decoding the values nested inside it.
//
// The gateway looks at a few top-level fields of every request body (model,
// stream, stream_options) and rewrites a few of them for each upstream
// attempt, while the body may carry megabytes of base64 images inside
// messages. Decoding and re-encoding such a body costs more than the rest of
// the request path, so [Fields] validates the whole body strictly in one pass
// but only records where each top-level member lies, and [Set] and [Delete]
// splice bytes, leaving every other byte as the client sent it.
//
// Fields accepts exactly the objects that encoding/json's Valid accepts, and
// keys and strings decode to what encoding/json's Unmarshal would produce; see
// [Fields] for the details that follow from that.
package jsonscan

import (
	"errors"
	"fmt"
	"strings"
)

// MaxDepth is the deepest nesting of objects and arrays that Fields accepts,
// counting the top-level object. It matches encoding/json, so both reject the
// same bodies.
const MaxDepth = 10000

// ErrInvalid is wrapped by every error Fields returns: the body is not a
// single valid JSON object.
var ErrInvalid = errors.New("invalid JSON object")

// SyntaxError says where and why a body was rejected.
type SyntaxError struct {
	Offset int // byte offset in the body where the problem was found
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("jsonscan: %v at offset %d: %s", ErrInvalid, e.Offset, e.Msg)
}

func (e *SyntaxError) Unwrap() error { return ErrInvalid }

func syntaxError(offset int, msg string) error {
	return &SyntaxError{Offset: offset, Msg: msg}
}

// Field is one top-level member of an object. The member is
// body[KeyStart:ValueEnd], from the opening quote of its key to the last byte
// of its value.
type Field struct {
	// Key is the decoded key, as encoding/json would decode it.
	Key string
	// Value is the raw JSON of the value, body[ValueStart:ValueEnd]. It
	// shares memory with the body; its capacity ends at ValueEnd so appending
	// to it never overwrites the body.
	Value      []byte
	KeyStart   int
	ValueStart int
	ValueEnd   int
}

// typicalFields covers the top-level members of ordinary chat and
// embeddings requests, so the Field slice is allocated once.
const typicalFields = 16

// Fields returns the top-level members of body in order, duplicates included.
//
// It returns an error wrapping [ErrInvalid] unless body is exactly one valid
// JSON object, optionally surrounded by whitespace. Nested values are
// validated as strictly as top-level ones, because the gateway answers 400 on
// the strength of this function alone. Fields accepts the same objects as
// encoding/json's Valid: in particular it accepts invalid UTF-8 inside
// strings, which encoding/json replaces with U+FFFD when decoding and so does
// [Field.Key] and [String]. Nesting deeper than [MaxDepth] is an error.
func Fields(body []byte) ([]Field, error) {
	i := skipSpace(body, 0)
	if i >= len(body) {
		return nil, syntaxError(i, "empty body")
	}
	if body[i] != '{' {
		return nil, syntaxError(i, "top-level value is not an object")
	}
	fields := make([]Field, 0, typicalFields)
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		i++
	} else {
		for {
			if i >= len(body) || body[i] != '"' {
				return nil, syntaxError(i, "expected object key")
			}
			keyStart := i
			var err error
			if i, err = skipString(body, i); err != nil {
				return nil, err
			}
			i = skipSpace(body, i)
			if i >= len(body) || body[i] != ':' {
				return nil, syntaxError(i, "expected ':' after object key")
			}
			i = skipSpace(body, i+1)
			valueStart := i
			if i, err = skipValue(body, i, 1); err != nil {
				return nil, err
			}
			fields = append(fields, Field{
				Value:      body[valueStart:i:i],
				KeyStart:   keyStart,
				ValueStart: valueStart,
				ValueEnd:   i,
			})
			i = skipSpace(body, i)
			if i >= len(body) {
				return nil, syntaxError(i, "unexpected end of input in object")
			}
			if body[i] == '}' {
				i++
				break
			}
			if body[i] != ',' {
				return nil, syntaxError(i, "expected ',' or '}' after object member")
			}
			i = skipSpace(body, i+1)
		}
	}
	if i = skipSpace(body, i); i != len(body) {
		return nil, syntaxError(i, "data after top-level object")
	}
	decodeKeys(body, fields)
	return fields, nil
}

// decodeKeys fills in Field.Key. All keys share one allocation: the builder
// is grown once to an upper bound of their decoded size (only invalid UTF-8,
// one byte decoding to three, can exceed it), and a string taken from a
// strings.Builder stays valid and immutable as the builder grows.
func decodeKeys(body []byte, fields []Field) {
	if len(fields) == 0 {
		return
	}
	size := 0
	for _, f := range fields {
		size += f.ValueStart - f.KeyStart
	}
	var sb strings.Builder
	sb.Grow(size)
	for i := range fields {
		before := sb.Len()
		// The body has been validated, so this cannot fail.
		unquote(&sb, body, fields[i].KeyStart)
		fields[i].Key = sb.String()[before:]
	}
}

// Get returns the member named key. When the key occurs more than once the
// last occurrence wins, as with encoding/json and most other decoders.
func Get(fields []Field, key string) (Field, bool) {
	for i := len(fields) - 1; i >= 0; i-- {
		if fields[i].Key == key {
			return fields[i], true
		}
	}
	return Field{}, false
}
