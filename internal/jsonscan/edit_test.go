package jsonscan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestSet(t *testing.T) {
	for _, tc := range []struct {
		name, body, key, value, want string
	}{
		{"replace", `{"model":"a","stream":true}`, "model", `"b"`, `{"model":"b","stream":true}`},
		{"replace last member", `{"stream":true,"model":"a"}`, "model", `"b"`, `{"stream":true,"model":"b"}`},
		{"keeps whitespace", "{ \"model\" : \"a\" ,\n \"x\":1 }\n", "model", `"b"`, "{ \"model\" : \"b\" ,\n \"x\":1 }\n"},
		{"escaped key keeps its spelling", `{"mo\u0064el":"a"}`, "model", `"b"`, `{"mo\u0064el":"b"}`},
		{"longer value", `{"model":"a","x":1}`, "model", `{"name":"b","v":[1,2]}`, `{"model":{"name":"b","v":[1,2]},"x":1}`},
		{"whitespace around value dropped", `{"model":"a"}`, "model", " \n\"b\"\t", `{"model":"b"}`},
		{"shorter value", `{"model":"a long model name","x":1}`, "model", `1`, `{"model":1,"x":1}`},
		{"duplicates: last kept, earlier removed", `{"model":"a","x":1,"model":"c"}`, "model", `"b"`, `{"x":1,"model":"b"}`},
		{"adjacent duplicates", `{"model":"a", "model":"c" ,"x":1}`, "model", `"b"`, `{"model":"b" ,"x":1}`},
		{"three duplicates", `{"m":1,"a":0,"m":2,"m":3,"z":0}`, "m", `4`, `{"a":0,"m":4,"z":0}`},
		{"absent", `{"x":1}`, "model", `"b"`, `{"x":1,"model":"b"}`},
		{"absent with whitespace", "{ \"x\" : 1 }\n", "model", `"b"`, "{ \"x\" : 1,\"model\":\"b\" }\n"},
		{"absent from empty object", `{}`, "model", `"b"`, `{"model":"b"}`},
		{"absent from empty object with whitespace", " { \n} ", "model", `"b"`, " { \n\"model\":\"b\"} "},
		{"nested model is not top-level", `{"messages":[{"model":"x"}],"o":{"model":1}}`, "model", `"b"`, `{"messages":[{"model":"x"}],"o":{"model":1},"model":"b"}`},
		{"key needing escapes", `{"x":1}`, "a\"b\n<", `2`, `{"x":1,"a\"b\n<":2}`},
		{"unicode key", `{"ключ":1}`, "ключ", `2`, `{"ключ":2}`},
		{"invalid UTF-8 key matches its decoded form", "{\"k\xff\":1}", "k\xfe", `2`, "{\"k\xff\":2}"},
		{"invalid UTF-8 key added as U+FFFD", `{}`, "k\xff", `2`, "{\"k\uFFFD\":2}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			orig := bytes.Clone(body)
			fields, err := Fields(body)
			require.NoError(t, err)

			got := Set(body, fields, tc.key, []byte(tc.value))
			require.Equal(t, tc.want, string(got))
			require.Equal(t, len(got), cap(got), "result is allocated at its exact size")
			require.Equal(t, orig, body, "input is not modified")
			requireSetResult(t, body, fields, tc.key, []byte(tc.value), got)
		})
	}
}

func TestDelete(t *testing.T) {
	for _, tc := range []struct {
		name, body, key, want string
	}{
		{"only member", `{"model":"a"}`, "model", `{}`},
		{"first", `{"model":"a","x":1}`, "model", `{"x":1}`},
		{"last", `{"x":1,"model":"a"}`, "model", `{"x":1}`},
		{"middle", `{"x":1,"model":"a","y":2}`, "model", `{"x":1,"y":2}`},
		{"duplicates everywhere", `{"m":1,"x":2,"m":3,"y":4,"m":5,"m":6}`, "m", `{"x":2,"y":4}`},
		{"only duplicates", `{ "a":1 , "a":2 }`, "a", `{  }`},
		{"whitespace, first", `{ "model" : 1 , "x" : 2 }`, "model", `{ "x" : 2 }`},
		{"whitespace, last", "{ \"x\" : 2 ,\n \"model\" : 1\n}", "model", "{ \"x\" : 2\n}"},
		{"escaped key", `{"x":1,"stream_\u006Fptions":{}}`, "stream_options", `{"x":1}`},
		{"nested model stays", `{"o":{"model":1},"model":2}`, "model", `{"o":{"model":1}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			orig := bytes.Clone(body)
			fields, err := Fields(body)
			require.NoError(t, err)

			got := Delete(body, fields, tc.key)
			require.Equal(t, tc.want, string(got))
			require.Equal(t, len(got), cap(got), "result is allocated at its exact size")
			require.Equal(t, orig, body, "input is not modified")
			require.True(t, json.Valid(got))
			want := decodeObject(t, body)
			delete(want, tc.key)
			require.Equal(t, want, decodeObject(t, got))
		})
	}
}

func TestDeleteAbsentReturnsBody(t *testing.T) {
	body := []byte(`{"model":"a"}`)
	fields, err := Fields(body)
	require.NoError(t, err)
	got := Delete(body, fields, "stream_options")
	require.Equal(t, &body[0], &got[0])
	require.Len(t, got, len(body))
}

// TestEditsMatchEncodingJSON sets and deletes every key of every valid table
// body, and a key none of them has.
func TestEditsMatchEncodingJSON(t *testing.T) {
	for _, tc := range validBodies {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			fields, err := Fields(body)
			require.NoError(t, err)
			for _, key := range append(keysOf(fields), "absent") {
				requireSetResult(t, body, fields, key, []byte(`{"new":[1,"two",null]}`), Set(body, fields, key, []byte(`{"new":[1,"two",null]}`)))
			}
		})
	}
}

func keysOf(fields []Field) []string {
	keys := make([]string, 0, len(fields))
	for _, f := range fields {
		keys = append(keys, f.Key)
	}
	return keys
}

// requireSetResult checks got = Set(body, fields, key, value) against
// encoding/json: got is valid, has key exactly once with value, decodes like
// body with m[key] = value, and differs from body only in that member.
func requireSetResult(t testing.TB, body []byte, fields []Field, key string, value, got []byte) {
	t.Helper()
	require.True(t, json.Valid(got), "Set result is not valid JSON: %q", got)
	gotFields, err := Fields(got)
	require.NoError(t, err)

	decodedKey := decodeValue(t, QuoteString(key)).(string)
	occurrences := 0
	for _, f := range gotFields {
		if f.Key == decodedKey {
			occurrences++
		}
	}
	require.Equal(t, 1, occurrences, "key %q in %q", key, got)
	f, ok := Get(gotFields, decodedKey)
	require.True(t, ok)
	require.Equal(t, string(bytes.Trim(value, " \t\r\n")), string(f.Value))

	want := decodeObject(t, body)
	want[decodedKey] = decodeValue(t, value)
	require.Equal(t, want, decodeObject(t, got))

	// Without the key, the edited body is byte for byte the original
	// without it: Set touched nothing else.
	require.Equal(t, string(Delete(body, fields, key)), string(Delete(got, gotFields, key)))
}

func TestQuoteString(t *testing.T) {
	var all strings.Builder
	for c := range 0x80 {
		all.WriteByte(byte(c))
	}
	for _, s := range []string{
		"",
		"gpt-4o",
		`quote " backslash \ slash /`,
		"<script>&amp;</script>",
		"\b\f\n\r\t\x00\x01\x1f\x7f",
		all.String(),
		"é日本語😀",
		"line\u2028para\u2029",
		"bad \xff utf8 \xc3",
		"\xed\xa0\x80 encoded surrogate",
		strings.Repeat("long ", 100),
	} {
		got := QuoteString(s)
		requireQuotedLikeEncodingJSON(t, s, got)
		require.Equal(t, len(got), cap(got), "%q: result is allocated at its exact size", s)
	}
	require.Equal(t, `"a\ufffdb"`, string(QuoteString("a\xffb")))
}

// requireQuotedLikeEncodingJSON checks got = QuoteString(s) against
// encoding/json without HTML escaping. Invalid UTF-8 is only compared once
// decoded: with GOEXPERIMENT=jsonv2, encoding/json writes U+FFFD raw rather
// than as \ufffd.
func requireQuotedLikeEncodingJSON(t testing.TB, s string, got []byte) {
	t.Helper()
	want := encodeNoHTMLEscape(t, s)
	if utf8.ValidString(s) {
		require.Equal(t, string(want), string(got), "%q", s)
	}
	decoded, ok := String(got)
	require.True(t, ok)
	require.Equal(t, decodeValue(t, want), decoded, "%q", s)
	require.Equal(t, coerceUTF8(s), decoded, "%q", s)
}

// encodeNoHTMLEscape is what QuoteString must match.
func encodeNoHTMLEscape(t testing.TB, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(s))
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestAllocations(t *testing.T) {
	body := []byte(chatBody)
	fields, err := Fields(body)
	require.NoError(t, err)
	model := QuoteString("gpt-4o-2024-08-06")

	for _, tc := range []struct {
		name string
		max  float64
		fn   func()
	}{
		{"Fields: the slice and one string for all keys", 2, func() { _, _ = Fields(body) }},
		{"Set", 1, func() { _ = Set(body, fields, "model", model) }},
		{"Set absent key", 1, func() { _ = Set(body, fields, "user", model) }},
		{"Delete", 1, func() { _ = Delete(body, fields, "stream_options") }},
		{"Delete absent key", 0, func() { _ = Delete(body, fields, "absent") }},
		{"Get", 0, func() { _, _ = Get(fields, "model") }},
		{"Bool", 0, func() { _, _ = Bool([]byte("true")) }},
		{"String", 1, func() { _, _ = String(model) }},
		{"String with escapes", 1, func() { _, _ = String([]byte(`"mo\u0064el \u00e9"`)) }},
		{"QuoteString", 1, func() { _ = QuoteString("model \"é\" \n") }},
	} {
		require.LessOrEqual(t, testing.AllocsPerRun(100, tc.fn), tc.max, tc.name)
	}
}
