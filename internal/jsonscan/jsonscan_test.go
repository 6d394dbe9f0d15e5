package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// member is a key and raw value expected from Fields.
type member struct{ key, value string }

var validBodies = []struct {
	name string
	body string
	want []member
}{
	{"empty object", `{}`, nil},
	{"empty object with space", " \t\r\n{ \t\r\n} \t\r\n", nil},
	{
		"chat request",
		`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`,
		[]member{
			{"model", `"gpt-4o"`},
			{"messages", `[{"role":"user","content":"hi"}]`},
			{"stream", `true`},
			{"stream_options", `{"include_usage":true}`},
		},
	},
	{
		"whitespace everywhere",
		"\n {\n\t\"model\" \r: \t\"m\" ,\n  \"n\"\n:\n[ 1 , { \"a\" : null } , [ ] , { } ]\n}\n\t ",
		[]member{{"model", `"m"`}, {"n", `[ 1 , { "a" : null } , [ ] , { } ]`}},
	},
	{"escaped key", `{"mo\u0064el":"x"}`, []member{{"model", `"x"`}}},
	{
		"escapes in keys and values",
		`{"a\"b\\c\/d\b\f\n\r\t":"\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00"}`,
		[]member{{"a\"b\\c/d\b\f\n\r\t", `"\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00"`}},
	},
	{
		"duplicates",
		`{"model":"a","x":1,"model":"b"}`,
		[]member{{"model", `"a"`}, {"x", `1`}, {"model", `"b"`}},
	},
	{
		"model nested in values",
		`{"messages":[{"model":"inner","content":"\"model\":\"x\""}],"meta":{"model":{"model":"deep"}},"model":"outer"}`,
		[]member{
			{"messages", `[{"model":"inner","content":"\"model\":\"x\""}]`},
			{"meta", `{"model":{"model":"deep"}}`},
			{"model", `"outer"`},
		},
	},
	{
		"unicode",
		`{"модель":"日本語","emoji":"😀","":"empty key"}`,
		[]member{{"модель", `"日本語"`}, {"emoji", `"😀"`}, {"", `"empty key"`}},
	},
	{
		"numbers of every shape",
		`{"a":0,"b":-0,"c":1e10,"d":1.5E-3,"e":-12.25e+07,"f":123456789012345678901234567890,"g":0.0,"h":1E400,"i":-0.0e-0}`,
		[]member{
			{"a", `0`}, {"b", `-0`}, {"c", `1e10`}, {"d", `1.5E-3`}, {"e", `-12.25e+07`},
			{"f", `123456789012345678901234567890`}, {"g", `0.0`}, {"h", `1E400`}, {"i", `-0.0e-0`},
		},
	},
	{
		"literals",
		`{"t":true,"f":false,"n":null,"a":[true,false,null]}`,
		[]member{{"t", `true`}, {"f", `false`}, {"n", `null`}, {"a", `[true,false,null]`}},
	},
	{
		"strings longer than a word",
		`{"long":"0123456789abcdef0123456789\"abcdef\\0123456789","k":"é0123456789"}`,
		[]member{{"long", `"0123456789abcdef0123456789\"abcdef\\0123456789"`}, {"k", `"é0123456789"`}},
	},
	{
		"deep but allowed",
		`{"d":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}`,
		[]member{{"d", strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1)}},
	},
	{
		"deep mixed objects and arrays",
		`{"d":` + strings.Repeat(`{"a":[`, 200) + `1` + strings.Repeat(`]}`, 200) + `}`,
		[]member{{"d", strings.Repeat(`{"a":[`, 200) + `1` + strings.Repeat(`]}`, 200)}},
	},
	{
		// encoding/json accepts invalid UTF-8 and decodes it to U+FFFD.
		"invalid UTF-8 in strings",
		"{\"k\xff\":\"v\xfe\"}",
		[]member{{"k\uFFFD", "\"v\xfe\""}},
	},
	{
		"unpaired surrogates",
		`{"\ud800":"\udc00","\ud800\u0041":1}`,
		[]member{{"\uFFFD", `"\udc00"`}, {"\uFFFDA", `1`}},
	},
}

func TestFieldsValid(t *testing.T) {
	for _, tc := range validBodies {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			require.True(t, json.Valid(body), "test case must be valid JSON")

			fields, err := Fields(body)
			require.NoError(t, err)
			got := make([]member, 0, len(fields))
			for _, f := range fields {
				got = append(got, member{f.Key, string(f.Value)})
			}
			require.Equal(t, tc.want, nilIfEmpty(got))
			requireConsistent(t, body, fields)
		})
	}
}

// startsObject reports whether the first non-space byte of body opens an
// object, the only top-level value Fields accepts.
func startsObject(body []byte) bool {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '{'
}

func nilIfEmpty(m []member) []member {
	if len(m) == 0 {
		return nil
	}
	return m
}

var invalidBodies = []struct{ name, body string }{
	{"empty", ``},
	{"only space", " \n"},
	{"truncated object", `{"model":"gpt-4o"`},
	{"truncated key", `{"mod`},
	{"truncated after colon", `{"model":`},
	{"truncated nested", `{"a":[{"b":1}`},
	{"truncated string", `{"a":"abc`},
	{"truncated escape", `{"a":"abc\`},
	{"truncated unicode escape", `{"a":"\u00e"}`},
	{"truncated literal", `{"a":tru}`},
	{"truncated literal at end", `{"a":nul`},
	{"trailing garbage", `{"a":1}x`},
	{"second object", `{"a":1}{}`},
	{"trailing comma in object", `{"a":1,}`},
	{"trailing comma in nested object", `{"a":{"b":1,}}`},
	{"trailing comma in array", `{"a":[1,2,]}`},
	{"leading comma", `{,"a":1}`},
	{"empty array element", `{"a":[1,,2]}`},
	{"missing comma", `{"a":1 "b":2}`},
	{"missing comma in array", `{"a":[1 2]}`},
	{"missing colon", `{"a" 1}`},
	{"missing value", `{"a":}`},
	{"single quotes", `{'a':1}`},
	{"single quoted value", `{"a":'b'}`},
	{"unquoted key", `{a:1}`},
	{"number key", `{1:1}`},
	{"leading zero", `{"a":01}`},
	{"leading zero negative", `{"a":-01}`},
	{"leading plus", `{"a":+1}`},
	{"bare minus", `{"a":-}`},
	{"bare dot", `{"a":.5}`},
	{"trailing dot", `{"a":1.}`},
	{"empty exponent", `{"a":1e}`},
	{"signed empty exponent", `{"a":1e+}`},
	{"hex number", `{"a":0x10}`},
	{"NaN", `{"a":NaN}`},
	{"Infinity", `{"a":Infinity}`},
	{"negative Infinity", `{"a":-Infinity}`},
	{"capitalised literal", `{"a":True}`},
	{"literal with suffix", `{"a":truex}`},
	{"invalid escape", `{"a":"\x"}`},
	{"invalid escape in key", `{"\a":1}`},
	{"invalid unicode escape", `{"a":"\u12G4"}`},
	{"uppercase U escape", `{"a":"\U0041"}`},
	{"control character in string", "{\"a\":\"x\ny\"}"},
	{"NUL in string", "{\"a\":\"x\x00y\"}"},
	{"tab in key", "{\"a\tb\":1}"},
	{"control character in long string", "{\"a\":\"0123456789abcdef\x1f0123456789\"}"},
	{"top-level array", `[1,2]`},
	{"top-level string", `"model"`},
	{"top-level number", `1`},
	{"top-level null", `null`},
	{"unclosed array", `{"a":[`},
	{"mismatched brackets", `{"a":[}`},
	{"mismatched braces", `{"a":{]}`},
	{"close array at top", `{"a":1]`},
	{"comment", `{"a":1 /* x */}`},
	{"too deep arrays", `{"d":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`},
	{"too deep objects", strings.Repeat(`{"a":`, MaxDepth+1) + `1` + strings.Repeat(`}`, MaxDepth+1)},
	{"far too deep and unclosed", `{"d":` + strings.Repeat("[", 1_000_000)},
}

func TestFieldsInvalid(t *testing.T) {
	for _, tc := range invalidBodies {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			fields, err := Fields(body)
			require.ErrorIs(t, err, ErrInvalid)
			require.Nil(t, fields)
			var syntaxErr *SyntaxError
			require.True(t, errors.As(err, &syntaxErr))
			require.LessOrEqual(t, syntaxErr.Offset, len(body))
			if startsObject(body) {
				require.False(t, json.Valid(body), "encoding/json accepts it")
			}
		})
	}
}

func TestFieldsMatchesEncodingJSON(t *testing.T) {
	for _, tc := range validBodies {
		t.Run(tc.name, func(t *testing.T) {
			checkAgainstEncodingJSON(t, []byte(tc.body))
		})
	}
}

func TestGet(t *testing.T) {
	fields, err := Fields([]byte(`{"model":"a","stream":true,"model":"b"}`))
	require.NoError(t, err)

	f, ok := Get(fields, "model")
	require.True(t, ok)
	require.Equal(t, `"b"`, string(f.Value))

	f, ok = Get(fields, "stream")
	require.True(t, ok)
	require.Equal(t, `true`, string(f.Value))

	_, ok = Get(fields, "Model")
	require.False(t, ok, "keys match exactly, not case-insensitively")
	_, ok = Get(nil, "model")
	require.False(t, ok)
}

func TestValueCannotOverwriteBody(t *testing.T) {
	body := []byte(`{"a":1,"b":2}`)
	fields, err := Fields(body)
	require.NoError(t, err)
	_ = append(fields[0].Value, 'X')
	require.Equal(t, `{"a":1,"b":2}`, string(body))
}

func TestString(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  string
		ok    bool
	}{
		{`"gpt-4o"`, "gpt-4o", true},
		{`""`, "", true},
		{`"mo\u0064el"`, "model", true},
		{`"\"\\\/\b\f\n\r\t"`, "\"\\/\b\f\n\r\t", true},
		{`"\u00e9\u00E9é"`, "ééé", true},
		{`"\uD83D\uDE00"`, "😀", true},
		{`"\ud83d"`, "\uFFFD", true},
		{`"\ude00"`, "\uFFFD", true},
		{`"\ud83dx"`, "\uFFFDx", true},
		{`"\ud83d\u0041"`, "\uFFFDA", true},
		{`"\ud83d\ud83d\ude00"`, "\uFFFD😀", true},
		{"\"a\xffb\"", "a\uFFFDb", true},
		{"\"\xed\xa0\x80\"", "\uFFFD\uFFFD\uFFFD", true},
		{`"日本語"`, "日本語", true},
		{``, "", false},
		{`"`, "", false},
		{`"abc`, "", false},
		{`abc"`, "", false},
		{`"a"b"`, "", false},
		{`"a" `, "", false},
		{` "a"`, "", false},
		{`"a\"`, "", false},
		{`"\x"`, "", false},
		{`"\u12"`, "", false},
		{"\"a\nb\"", "", false},
		{`1`, "", false},
		{`null`, "", false},
		{`["a"]`, "", false},
	} {
		got, ok := String([]byte(tc.value))
		require.Equal(t, tc.ok, ok, "%q", tc.value)
		require.Equal(t, tc.want, got, "%q", tc.value)
		if ok {
			var want string
			require.NoError(t, json.Unmarshal([]byte(tc.value), &want))
			require.Equal(t, want, got, "differs from encoding/json for %q", tc.value)
		}
	}
}

func TestBool(t *testing.T) {
	for _, tc := range []struct {
		value  string
		want   bool
		wantOK bool
	}{
		{`true`, true, true},
		{`false`, false, true},
		{`null`, false, false},
		{`"true"`, false, false},
		{`1`, false, false},
		{`True`, false, false},
		{` true`, false, false},
		{``, false, false},
	} {
		got, ok := Bool([]byte(tc.value))
		require.Equal(t, tc.wantOK, ok, "%q", tc.value)
		require.Equal(t, tc.want, got, "%q", tc.value)
	}
}

// requireConsistent checks that fields describe body: spans in order,
// separated only by whitespace and one comma, values as Value says.
func requireConsistent(t testing.TB, body []byte, fields []Field) {
	t.Helper()
	open := bytes.IndexByte(body, '{')
	close := bytes.LastIndexByte(body, '}')
	require.GreaterOrEqual(t, open, 0)
	require.Greater(t, close, open)
	require.Empty(t, bytes.Trim(body[:open], " \t\r\n"))
	require.Empty(t, bytes.Trim(body[close+1:], " \t\r\n"))
	prev := open + 1
	for i, f := range fields {
		require.Equal(t, byte('"'), body[f.KeyStart])
		require.LessOrEqual(t, f.KeyStart, f.ValueStart)
		require.LessOrEqual(t, f.ValueStart, f.ValueEnd)
		require.Equal(t, body[f.ValueStart:f.ValueEnd], f.Value)
		require.Equal(t, len(f.Value), cap(f.Value))
		gap := string(bytes.Trim(body[prev:f.KeyStart], " \t\r\n"))
		if i == 0 {
			require.Empty(t, gap)
		} else {
			require.Equal(t, ",", gap)
		}

		var key string
		keyEnd, ok := unquoteEnd(body, f.KeyStart)
		require.True(t, ok)
		require.NoError(t, json.Unmarshal(body[f.KeyStart:keyEnd], &key))
		require.Equal(t, key, f.Key)
		require.Equal(t, ":", string(bytes.Trim(body[keyEnd:f.ValueStart], " \t\r\n")))
		require.True(t, json.Valid(f.Value))
		prev = f.ValueEnd
	}
	require.Empty(t, bytes.Trim(body[prev:close], " \t\r\n"))
}

func unquoteEnd(b []byte, i int) (int, bool) {
	var sb strings.Builder
	return unquote(&sb, b, i)
}

// decodeObject decodes body as encoding/json would, keeping numbers exact.
func decodeObject(t testing.TB, body []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	require.NoError(t, dec.Decode(&m))
	return m
}

func decodeValue(t testing.TB, raw []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v))
	return v
}

// checkAgainstEncodingJSON checks a body that Fields and json.Valid both
// accept: the last occurrence of each key is what encoding/json decodes, and
// deleting any key leaves what encoding/json would after delete(m, key).
func checkAgainstEncodingJSON(t testing.TB, body []byte) {
	t.Helper()
	fields, err := Fields(body)
	require.NoError(t, err)
	require.True(t, json.Valid(body))
	requireConsistent(t, body, fields)

	want := decodeObject(t, body)
	keys := map[string]bool{}
	for _, f := range fields {
		keys[f.Key] = true
	}
	require.Len(t, keys, len(want))
	for key, wantValue := range want {
		f, ok := Get(fields, key)
		require.True(t, ok, "key %q", key)
		require.Equal(t, wantValue, decodeValue(t, f.Value), "key %q", key)
		if s, ok := wantValue.(string); ok {
			got, ok := String(f.Value)
			require.True(t, ok)
			require.Equal(t, s, got)
		}
		if b, ok := wantValue.(bool); ok {
			got, ok := Bool(f.Value)
			require.True(t, ok)
			require.Equal(t, b, got)
		}

		deleted := Delete(body, fields, key)
		require.True(t, json.Valid(deleted), "after Delete(%q): %s", key, deleted)
		wantDeleted := maps.Clone(want)
		delete(wantDeleted, key)
		require.Equal(t, wantDeleted, decodeObject(t, deleted))
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	_, err := Fields([]byte(`{"model": "a" "stream": true}`))
	require.EqualError(t, err, `jsonscan: invalid JSON object at offset 14: expected ',' or '}' after object member`)
}
