package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/llmvoy/llmvoy/internal/pyrepr"
)

// Python's renderings of values, byte for byte, for the deployment id:
// str(x), repr(x) and json.dumps(x) with its default arguments.

// pyStr renders v as Python's str(v).
func pyStr(v *value) string {
	switch v.kind {
	case kindNull:
		return "None"
	case kindBool:
		if v.b {
			return "True"
		}
		return "False"
	case kindInt:
		return v.i.String()
	case kindFloat:
		return pyFloat(v.f)
	case kindStr:
		return v.s
	}
	return pyRepr(v)
}

// pyRepr renders v as Python's repr(v).
func pyRepr(v *value) string {
	var b strings.Builder
	switch v.kind {
	case kindStr:
		return pyQuote(v.s)
	case kindList:
		b.WriteByte('[')
		for i, item := range v.items {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pyRepr(item))
		}
		b.WriteByte(']')
	case kindDict:
		b.WriteByte('{')
		for i, p := range v.pairs {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pyRepr(p.key))
			b.WriteString(": ")
			b.WriteString(pyRepr(p.val))
		}
		b.WriteByte('}')
	default:
		return pyStr(v)
	}
	return b.String()
}

// pyFloat and pyQuote are Python's repr of a float and of a str, shared
// with the response cache's key (package cache).
var pyFloat, pyQuote = pyrepr.Float, pyrepr.Quote

// jsonDumps renders v as Python's json.dumps(v): ", " and ": " separators,
// ASCII only, NaN and Infinity allowed.
func jsonDumps(v *value) string {
	var b strings.Builder
	writeJSON(&b, v)
	return b.String()
}

func writeJSON(b *strings.Builder, v *value) {
	switch v.kind {
	case kindNull:
		b.WriteString("null")
	case kindBool:
		b.WriteString(strconv.FormatBool(v.b))
	case kindInt:
		b.WriteString(v.i.String())
	case kindFloat:
		b.WriteString(jsonFloat(v.f))
	case kindStr:
		writeJSONString(b, v.s)
	case kindList:
		b.WriteByte('[')
		for i, item := range v.items {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSON(b, item)
		}
		b.WriteByte(']')
	case kindDict:
		b.WriteByte('{')
		for i, p := range v.pairs {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSONString(b, jsonKey(p.key))
			b.WriteString(": ")
			writeJSON(b, p.val)
		}
		b.WriteByte('}')
	}
}

// jsonKey converts a non-string key as json.dumps does before quoting it.
func jsonKey(k *value) string {
	switch k.kind {
	case kindStr:
		return k.s
	case kindFloat:
		return jsonFloat(k.f)
	case kindNull:
		return "null"
	case kindBool:
		return strconv.FormatBool(k.b)
	}
	return pyStr(k)
}

func jsonFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return pyFloat(f)
}

// writeJSONString follows json.encoder.py_encode_basestring_ascii: every
// character outside ' '..'~' is escaped, astral ones as surrogate pairs.
func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			switch {
			case r >= ' ' && r <= '~':
				b.WriteRune(r)
			case r < 0x10000:
				fmt.Fprintf(b, `\u%04x`, r)
			default:
				r -= 0x10000
				fmt.Fprintf(b, `\u%04x\u%04x`, 0xd800|(r>>10)&0x3ff, 0xdc00|r&0x3ff)
			}
		}
	}
	b.WriteByte('"')
}
