package jsonscan

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// maxSeedSize keeps the huge table cases (deep nesting) out of the fuzz
// corpus, where they would only slow mutation down.
const maxSeedSize = 4096

func addSeedBodies(add func(body []byte)) {
	for _, tc := range validBodies {
		if len(tc.body) <= maxSeedSize {
			add([]byte(tc.body))
		}
	}
	for _, tc := range invalidBodies {
		if len(tc.body) <= maxSeedSize {
			add([]byte(tc.body))
		}
	}
	add([]byte(chatBody))
}

// FuzzFields checks that Fields never panics, accepts exactly the objects
// json.Valid accepts, and agrees with encoding/json on every key and value.
func FuzzFields(f *testing.F) {
	addSeedBodies(func(body []byte) { f.Add(body) })
	f.Add([]byte(`{"a":[[[{"b":[]}]]],"c":{"d":{}}}`))
	f.Add([]byte(`{"a":"\ud800\udc00\u0000"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fields, err := Fields(body)
		if !startsObject(body) {
			require.ErrorIs(t, err, ErrInvalid)
			return
		}
		require.Equal(t, json.Valid(body), err == nil, "Fields error: %v", err)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalid)
			require.Nil(t, fields)
			return
		}
		checkAgainstEncodingJSON(t, body)
	})
}

// FuzzSet checks that Set always yields valid JSON holding key once with the
// new value, and changes nothing else.
func FuzzSet(f *testing.F) {
	for _, key := range []string{"model", "stream", "", "a\"b", "mo\u0064el", "k\xff"} {
		for _, value := range []string{`"gpt-4o"`, `true`, ` {"include_usage" : true} `, `[1,2]`, `not json`} {
			addSeedBodies(func(body []byte) { f.Add(body, key, []byte(value)) })
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, key string, value []byte) {
		fields, err := Fields(body)
		if err != nil {
			return
		}
		if !json.Valid(value) {
			// Set trusts its caller for rawValue; feed it a valid one.
			value = QuoteString(string(value))
		}
		requireSetResult(t, body, fields, key, value, Set(body, fields, key, value))
	})
}

// FuzzQuoteString checks QuoteString against encoding/json and String.
func FuzzQuoteString(f *testing.F) {
	for _, s := range []string{"", "gpt-4o", "\"\\/\b\f\n\r\t\x00\x7f<>&", "é😀\u2028\u2029", "\xff\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		requireQuotedLikeEncodingJSON(t, s, QuoteString(s))
	})
}
