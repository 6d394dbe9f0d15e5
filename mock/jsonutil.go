package mock

import (
	"bytes"
)

// jsonKind names the JSON type of raw the way OpenAI's validation messages do
// ("expected an array, but got a string instead").
func jsonKind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	if bytes.ContainsAny(raw, ".eE") {
		return "a decimal number"
	}
	return "an integer"
}

func isNull(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// splitmix64 is a tiny, well-mixed PRNG step: deterministic per input, cheap,
// and safe to call from any goroutine without a lock.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// appendID appends n base62 characters derived from seed.
func appendID(dst []byte, seed uint64, n int) []byte {
	state := splitmix64(seed)
	x := state
	for i := 0; i < n; i++ {
		if i > 0 && i%10 == 0 { // 62^10 < 2^64: ten digits per draw
			state = splitmix64(state)
			x = state
		}
		dst = append(dst, base62[x%62])
		x /= 62
	}
	return dst
}
