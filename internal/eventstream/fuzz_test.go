package eventstream

import (
	"bytes"
	"testing"
)

// FuzzDecoder feeds any bytes, cut at any point: the Decoder never panics,
// the cut changes neither the messages nor the error, and every message it
// hands out encodes back to the bytes it was read from.
func FuzzDecoder(f *testing.F) {
	good, _ := Append(nil, Message{Headers: []Header{String(":event-type", "messageStart")}, Payload: []byte(`{"role":"assistant"}`)})
	all, _ := Append(nil, allTypes())
	f.Add(append(good, all...), uint16(13))
	f.Add(good[:len(good)-1], uint16(0))
	f.Add([]byte(`{"message":"not a stream"}`), uint16(3))
	f.Add([]byte{0, 0, 0, 16, 0, 0, 0, 0, 5, 194, 72, 235, 125, 152, 200, 255}, uint16(8))
	f.Fuzz(func(t *testing.T, in []byte, cut uint16) {
		whole, wholeErr := decodeAll(t, in)
		at := int(cut) % (len(in) + 1)
		parts, partsErr := decodeAll(t, in[:at], in[at:])
		if (wholeErr == nil) != (partsErr == nil) {
			t.Fatalf("cut at %d changed the outcome: %v vs %v", at, wholeErr, partsErr)
		}
		if len(whole) != len(parts) {
			t.Fatalf("cut at %d: %d messages vs %d", at, len(whole), len(parts))
		}
		var re []byte
		for i, m := range whole {
			requireSameMessage(t, m, parts[i])
			var err error
			if re, err = Append(re, m); err != nil {
				t.Fatalf("a decoded message does not encode: %v", err)
			}
		}
		if !bytes.HasPrefix(in, re) {
			t.Fatalf("decoded messages encode to other bytes")
		}
	})
}
