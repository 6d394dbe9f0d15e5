package config

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// Expected strings come from Python 3.11: repr(f), repr(s), json.dumps(x)
// and str(x).

func TestPyFloat(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want string
	}{
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{0.5, "0.5"},
		{1, "1.0"},
		{100, "100.0"},
		{1e16, "1e+16"},
		{1e15, "1000000000000000.0"},
		{123456789012345678, "1.2345678901234568e+17"},
		{1.5e16, "1.5e+16"},
		{0.0001, "0.0001"},
		{0.00001, "1e-05"},
		{1.2345e-7, "1.2345e-07"},
		{-2.5, "-2.5"},
		{1.0 / 3, "0.3333333333333333"},
		{5e-324, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
		{math.NaN(), "nan"},
	} {
		require.Equal(t, tc.want, pyFloat(tc.f), "%v", tc.f)
	}
	require.Equal(t, "[Infinity, -Infinity, NaN]", jsonDumps(&value{kind: kindList, items: []*value{
		{kind: kindFloat, f: math.Inf(1)}, {kind: kindFloat, f: math.Inf(-1)}, {kind: kindFloat, f: math.NaN()},
	}}))
}

func TestPyQuoteAndJSONString(t *testing.T) {
	for _, tc := range []struct{ s, repr, json string }{
		{"plain", `'plain'`, `"plain"`},
		{"it's", `"it's"`, `"it's"`},
		{`say "hi"`, `'say "hi"'`, `"say \"hi\""`},
		{`both ' and "`, `'both \' and "'`, `"both ' and \""`},
		{"tab\tnl\nbs\\", `'tab\tnl\nbs\\'`, `"tab\tnl\nbs\\"`},
		{"\x01\x7f", `'\x01\x7f'`, `"\u0001\u007f"`},
		{"é ü ß", `'é ü ß'`, `"\u00e9 \u00fc \u00df"`},
		{"\u2028", `'\u2028'`, `"\u2028"`},
		{"🙂", `'🙂'`, `"\ud83d\ude42"`},
		{"\u0085\u00a0", `'\x85\xa0'`, `"\u0085\u00a0"`},
	} {
		require.Equal(t, tc.repr, pyQuote(tc.s), "repr of %q", tc.s)
		require.Equal(t, tc.json, jsonDumps(&value{kind: kindStr, s: tc.s}), "json of %q", tc.s)
	}
}

// decodeValue decodes one YAML document as LiteLLM sees it.
func decodeValue(t *testing.T, src string) *value {
	t.Helper()
	var n yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(src), &n))
	d := decoder{left: maxValues}
	v, err := d.decode(n.Content[0], "", 0)
	require.NoError(t, err)
	return v
}

func TestPyStrOfContainers(t *testing.T) {
	// Python: json.dumps({"b": 1, "a": [1, "x", None, True, 1.5], 1: 2, 2.5: 3, True: 4, None: 5})
	// True and 1 are one key: the first position, the last value.
	v := decodeValue(t, `{"b": 1, "a": [1, "x", null, true, 1.5], 1: 2, 2.5: 3, true: 4, null: 5}`)
	require.Equal(t, `{"b": 1, "a": [1, "x", null, true, 1.5], "1": 4, "2.5": 3, "null": 5}`, jsonDumps(v))

	// Python: str([1, 2.5, "a'b", None, True, {"k": "v", "n": [None]}])
	v = decodeValue(t, `[1, 2.5, "a'b", null, true, {"k": "v", "n": [null]}]`)
	require.Equal(t, `[1, 2.5, "a'b", None, True, {'k': 'v', 'n': [None]}]`, pyStr(v))
}

// Scalars resolve as PyYAML's safe_load resolves them (YAML 1.1), not as
// YAML 1.2 would. Python: type(v).__name__, repr(v) of yaml.safe_load("k: " + text)["k"].
func TestScalarsResolveLikePyYAML(t *testing.T) {
	for _, tc := range []struct {
		text string
		kind kind
		str  string // str() of the value
	}{
		{"yes", kindBool, "True"},
		{"No", kindBool, "False"},
		{"on", kindBool, "True"},
		{"OFF", kindBool, "False"},
		{"~", kindNull, "None"},
		{"null", kindNull, "None"},
		{"", kindNull, "None"},
		{"010", kindInt, "8"},
		{"0o10", kindStr, "0o10"},
		{"09", kindStr, "09"},
		{"0x1F", kindInt, "31"},
		{"0b101", kindInt, "5"},
		{"1_000", kindInt, "1000"},
		{"190:20:30", kindInt, "685230"},
		{"1e3", kindStr, "1e3"},
		{"1.0e+3", kindFloat, "1000.0"},
		{"1.0e3", kindStr, "1.0e3"},
		{".5", kindFloat, "0.5"},
		{"5.", kindFloat, "5.0"},
		{".inf", kindFloat, "inf"},
		{"-.INF", kindFloat, "-inf"},
		{".NaN", kindFloat, "nan"},
		{"2024-02-01", kindStr, "2024-02-01"},
		{"+12", kindInt, "12"},
		{"-0", kindInt, "0"},
		{"1:20", kindInt, "80"},
		{"1_0.5_0", kindFloat, "10.5"},
		{"99999999999999999999999", kindInt, "99999999999999999999999"},
		{`"123"`, kindStr, "123"},
		{"!!str 123", kindStr, "123"},
		{"!!int '12'", kindInt, "12"},
	} {
		v := decodeValue(t, "k: "+tc.text).get("k")
		require.Equal(t, tc.kind, v.kind, "%q", tc.text)
		require.Equal(t, tc.str, pyStr(v), "%q", tc.text)
	}
}

// Merge keys follow PyYAML: explicit keys win over merged ones, the first
// merged mapping over later ones, and merged keys come first, the later
// mappings' keys before the earlier ones'.
func TestMergeKeys(t *testing.T) {
	v := decodeValue(t, `
a: &a {x: 1, y: 1}
b: &b {y: 2, z: 2}
m:
  w: 0
  <<: [*a, *b]
  x: 3
`).get("m")
	// Python: str(yaml.safe_load(...)["m"])
	require.Equal(t, "{'y': 1, 'z': 2, 'x': 3, 'w': 0}", pyStr(v))
}
