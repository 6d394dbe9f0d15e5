package jsonscan

import (
	"encoding/binary"
	"math/bits"
)

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipValue validates the JSON value starting at b[i] and returns the offset
// just past it. depth is the number of containers already open around the
// value. It is iterative so that hostile nesting cannot overflow the stack.
func skipValue(b []byte, i, depth int) (int, error) {
	// One bit per open container, set for an object and clear for an array.
	// Requests rarely nest deeper than the inline words.
	var inline [2]uint64
	var spill []uint64
	open := 0
	var err error
	for {
		// b[i] should start a value.
		if i >= len(b) {
			return 0, syntaxError(i, "unexpected end of input, expected value")
		}
		switch c := b[i]; c {
		case '{', '[':
			if depth+open+1 > MaxDepth {
				return 0, syntaxError(i, "nesting exceeds maximum depth")
			}
			isObject := c == '{'
			word, bit := open>>6, uint64(1)<<(open&63)
			var w *uint64
			if word < len(inline) {
				w = &inline[word]
			} else {
				for len(spill) <= word-len(inline) {
					spill = append(spill, 0)
				}
				w = &spill[word-len(inline)]
			}
			if isObject {
				*w |= bit
			} else {
				*w &^= bit
			}
			open++
			i = skipSpace(b, i+1)
			if i < len(b) && (isObject && b[i] == '}' || !isObject && b[i] == ']') {
				open--
				i++
				break // an empty container is a complete value
			}
			if isObject {
				if i, err = skipMemberKey(b, i); err != nil {
					return 0, err
				}
			}
			continue
		case '"':
			if i, err = skipString(b, i); err != nil {
				return 0, err
			}
		case 't':
			if i, err = skipLiteral(b, i, "true"); err != nil {
				return 0, err
			}
		case 'f':
			if i, err = skipLiteral(b, i, "false"); err != nil {
				return 0, err
			}
		case 'n':
			if i, err = skipLiteral(b, i, "null"); err != nil {
				return 0, err
			}
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			if i, err = skipNumber(b, i); err != nil {
				return 0, err
			}
		default:
			return 0, syntaxError(i, "invalid character at start of value")
		}

		// A value is complete; close containers until one continues.
		for {
			if open == 0 {
				return i, nil
			}
			word, bit := (open-1)>>6, uint64(1)<<((open-1)&63)
			var isObject bool
			if word < len(inline) {
				isObject = inline[word]&bit != 0
			} else {
				isObject = spill[word-len(inline)]&bit != 0
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return 0, syntaxError(i, "unexpected end of input in container")
			}
			c := b[i]
			if c == ',' {
				i = skipSpace(b, i+1)
				if isObject {
					if i, err = skipMemberKey(b, i); err != nil {
						return 0, err
					}
				}
				break
			}
			if isObject && c == '}' || !isObject && c == ']' {
				open--
				i++
				continue
			}
			if isObject {
				return 0, syntaxError(i, "expected ',' or '}' after object member")
			}
			return 0, syntaxError(i, "expected ',' or ']' after array element")
		}
	}
}

// skipMemberKey validates `"key" :` starting at b[i] and returns the offset
// of the member's value.
func skipMemberKey(b []byte, i int) (int, error) {
	if i >= len(b) || b[i] != '"' {
		return 0, syntaxError(i, "expected object key")
	}
	i, err := skipString(b, i)
	if err != nil {
		return 0, err
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return 0, syntaxError(i, "expected ':' after object key")
	}
	return skipSpace(b, i+1), nil
}

func skipLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, syntaxError(i, "invalid literal")
	}
	return i + len(lit), nil
}

// skipNumber validates a number per RFC 8259:
// -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
// What may follow it is checked by the caller.
func skipNumber(b []byte, i int) (int, error) {
	start := i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return 0, syntaxError(start, "invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return 0, syntaxError(start, "invalid number: no digits after decimal point")
		}
		i = skipDigits(b, i)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return 0, syntaxError(start, "invalid number: no digits in exponent")
		}
		i = skipDigits(b, i)
	}
	return i, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func skipDigits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// specialBytes has the high bit set in the lowest byte of x that is a quote,
// a backslash or a control character, and is zero when there is none. Bits
// above the lowest may be false positives (borrows), which is fine because
// only the lowest is used. This is what lets Fields cross a megabyte of
// base64 eight bytes at a time.
func specialBytes(x uint64) uint64 {
	quote := x ^ (lsb * '"')
	backslash := x ^ (lsb * '\\')
	zeroQuote := (quote - lsb) &^ quote
	zeroBackslash := (backslash - lsb) &^ backslash
	control := (x - lsb*0x20) &^ x
	return (zeroQuote | zeroBackslash | control) & msb
}

// skipString validates the string starting at the quote b[i] and returns the
// offset just past its closing quote. Like encoding/json it does not check
// UTF-8.
func skipString(b []byte, i int) (int, error) {
	start := i
	i++
	for {
		for len(b)-i >= 8 {
			if m := specialBytes(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i >= len(b) {
			return 0, syntaxError(start, "unterminated string")
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			if i+1 >= len(b) {
				return 0, syntaxError(start, "unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(b)-i < 6 || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return 0, syntaxError(i, `invalid \u escape in string`)
				}
				i += 6
			default:
				return 0, syntaxError(i, "invalid escape in string")
			}
		case c < 0x20:
			return 0, syntaxError(i, "control character in string")
		default:
			i++
		}
	}
}
