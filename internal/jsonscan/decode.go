package jsonscan

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// String decodes a JSON string value, such as a [Field.Value], exactly as
// encoding/json would: invalid UTF-8 and unpaired surrogate escapes become
// U+FFFD. It reports false if value is not a single valid JSON string with no
// surrounding whitespace.
func String(value []byte) (string, bool) {
	if len(value) < 2 || value[0] != '"' {
		return "", false
	}
	content := value[1 : len(value)-1]
	plain := true
	for _, c := range content {
		if c == '"' {
			return "", false
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain && value[len(value)-1] == '"' {
		return string(content), true
	}
	var sb strings.Builder
	sb.Grow(len(content))
	end, ok := unquote(&sb, value, 0)
	if !ok || end != len(value) {
		return "", false
	}
	return sb.String(), true
}

// Bool decodes a JSON boolean value. It reports false if value is not exactly
// true or false.
func Bool(value []byte) (bool, bool) {
	switch string(value) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// unquote decodes the JSON string whose opening quote is b[i] into sb and
// returns the offset just past its closing quote. It follows
// encoding/json's unquote, replacement characters included.
func unquote(sb *strings.Builder, b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	i++
	run := i // start of bytes not yet written to sb
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			sb.Write(b[run:i])
			return i + 1, true
		case c == '\\':
			sb.Write(b[run:i])
			if i+1 >= len(b) {
				return 0, false
			}
			switch e := b[i+1]; e {
			case '"', '\\', '/':
				sb.WriteByte(e)
				i += 2
			case 'b':
				sb.WriteByte('\b')
				i += 2
			case 'f':
				sb.WriteByte('\f')
				i += 2
			case 'n':
				sb.WriteByte('\n')
				i += 2
			case 'r':
				sb.WriteByte('\r')
				i += 2
			case 't':
				sb.WriteByte('\t')
				i += 2
			case 'u':
				r := hex4(b, i)
				if r < 0 {
					return 0, false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					// A high surrogate pairs with an immediately following
					// \u low surrogate; anything else is replaced and the
					// following escape is decoded on its own.
					if dec := utf16.DecodeRune(r, hex4(b, i)); dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				sb.WriteRune(r)
			default:
				return 0, false
			}
			run = i
		case c < 0x20:
			return 0, false
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				sb.Write(b[run:i])
				sb.WriteRune(utf8.RuneError)
				run = i + 1
			}
			i += size
		}
	}
	return 0, false
}

// hex4 decodes the escape \uXXXX at b[i:], or returns -1 if there is none.
func hex4(b []byte, i int) rune {
	if len(b)-i < 6 || b[i] != '\\' || b[i+1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range b[i+2 : i+6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}
