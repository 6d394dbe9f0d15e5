package jsonscan

import (
	"unicode/utf8"
)

// Set returns a new body in which the top-level member key has the value
// rawValue, with every other byte of body unchanged. fields must be the
// result of Fields(body), and rawValue must be a valid JSON value, for example
// from [QuoteString]; neither is checked. Whitespace around rawValue is
// dropped, so the new member's Value is exactly the value.
//
// If key occurs more than once, the last occurrence (the one decoders use)
// gets the new value and the earlier ones are removed, so that the upstream
// cannot read a different value than the gateway did. If key is absent, the
// member is added after the last one. Keys are compared after decoding, and
// a key that is not valid UTF-8 is treated as encoding/json would encode it.
//
// The result is allocated once, at its final size. Fields of body do not
// describe it; call Fields again before editing it further.
func Set(body []byte, fields []Field, key string, rawValue []byte) []byte {
	key = coerceUTF8(key)
	rawValue = trimSpace(rawValue)
	last := -1
	removed := 0
	for i := len(fields) - 1; i >= 0; i-- {
		if fields[i].Key != key {
			continue
		}
		if last < 0 {
			last = i
		} else {
			// An earlier duplicate always has a successor, so it goes with
			// the comma and whitespace that separate it from the next one.
			removed += fields[i+1].KeyStart - fields[i].KeyStart
		}
	}
	if last < 0 {
		return appendMember(body, fields, key, rawValue)
	}

	f := fields[last]
	out := make([]byte, 0, len(body)-removed-(f.ValueEnd-f.ValueStart)+len(rawValue))
	pos := 0
	for i := range last {
		if fields[i].Key == key {
			out = append(out, body[pos:fields[i].KeyStart]...)
			pos = fields[i+1].KeyStart
		}
	}
	out = append(out, body[pos:f.ValueStart]...)
	out = append(out, rawValue...)
	return append(out, body[f.ValueEnd:]...)
}

// appendMember returns body with "key":rawValue added as the last member.
func appendMember(body []byte, fields []Field, key string, rawValue []byte) []byte {
	var at int
	comma := 0
	if len(fields) > 0 {
		at = fields[len(fields)-1].ValueEnd
		comma = 1
	} else {
		// An empty object: insert just before its closing brace.
		at = len(body) - 1
		for at > 0 && body[at] != '}' {
			at--
		}
	}
	out := make([]byte, 0, len(body)+comma+quotedLen(key)+1+len(rawValue))
	out = append(out, body[:at]...)
	if comma == 1 {
		out = append(out, ',')
	}
	out = appendQuoted(out, key)
	out = append(out, ':')
	out = append(out, rawValue...)
	return append(out, body[at:]...)
}

// Delete returns body without any top-level member named key, keeping the
// commas right and every other byte unchanged. fields must be the result of
// Fields(body). If key is absent, body itself is returned, not a copy.
// Keys are compared as in [Set].
func Delete(body []byte, fields []Field, key string) []byte {
	key = coerceUTF8(key)
	lastKept := -1
	found := false
	for i := len(fields) - 1; i >= 0; i-- {
		if fields[i].Key == key {
			found = true
		} else if lastKept < 0 {
			lastKept = i
		}
	}
	if !found {
		return body
	}

	// A member before the last kept one goes with the separator after it,
	// up to the next key. The members after the last kept one go with the
	// separator before them: from the end of the last kept value (or, if
	// none is kept, from the first key) to the end of the last value.
	n := len(fields)
	tailFrom, tailTo := 0, 0
	if lastKept < n-1 {
		tailFrom, tailTo = fields[0].KeyStart, fields[n-1].ValueEnd
		if lastKept >= 0 {
			tailFrom = fields[lastKept].ValueEnd
		}
	}
	size := len(body) - (tailTo - tailFrom)
	for i := range lastKept {
		if fields[i].Key == key {
			size -= fields[i+1].KeyStart - fields[i].KeyStart
		}
	}

	out := make([]byte, 0, size)
	pos := 0
	for i := range lastKept {
		if fields[i].Key == key {
			out = append(out, body[pos:fields[i].KeyStart]...)
			pos = fields[i+1].KeyStart
		}
	}
	if tailTo > tailFrom {
		out = append(out, body[pos:tailFrom]...)
		pos = tailTo
	}
	return append(out, body[pos:]...)
}

func trimSpace(b []byte) []byte {
	b = b[skipSpace(b, 0):]
	end := len(b)
	for end > 0 && (b[end-1] == ' ' || b[end-1] == '\t' || b[end-1] == '\n' || b[end-1] == '\r') {
		end--
	}
	return b[:end]
}

// coerceUTF8 returns s with each byte of invalid UTF-8 replaced by U+FFFD,
// which is what a key becomes once encoded by QuoteString and decoded again.
func coerceUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	b := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		b = utf8.AppendRune(b, r) // r is RuneError for an invalid byte
		i += size
	}
	return string(b)
}

// QuoteString returns s as a JSON string, byte for byte what encoding/json
// produces with HTML escaping turned off: invalid UTF-8 becomes \ufffd and
// U+2028 and U+2029 are escaped.
func QuoteString(s string) []byte {
	return appendQuoted(make([]byte, 0, quotedLen(s)), s)
}

// AppendString appends s to dst as a JSON string literal, escaped as
// QuoteString does; for encoders that build a response in one buffer.
func AppendString(dst []byte, s string) []byte { return appendQuoted(dst, s) }

const hexDigits = "0123456789abcdef"

// quotedLen returns len(appendQuoted(nil, s)).
func quotedLen(s string) int {
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t':
				n += 2
			case c < 0x20:
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1, r == '\u2028', r == '\u2029':
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
}

func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	run := 0 // start of bytes not yet copied to dst
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[run:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			run = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[run:i]...)
			dst = append(dst, `\ufffd`...)
			run = i + size
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[run:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			run = i + size
		}
		i += size
	}
	dst = append(dst, s[run:]...)
	return append(dst, '"')
}
