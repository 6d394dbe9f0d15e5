package eventstream

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Messages from AWS's public event stream test vectors ("empty message",
// "one header"): the encoding must be AWS's byte for byte.
func TestKnownVectors(t *testing.T) {
	tests := []struct {
		name string
		msg  Message
		hex  string
	}{
		{"empty message", Message{}, "000000100000000005c248eb7d98c8ff"},
		{"one string header", Message{Headers: []Header{String("content-type", "application/json")}, Payload: []byte(`{'foo':'bar'}`)},
			"0000003d0000002007fd83960c636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e7b27666f6f273a27626172277d8d9c08b1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Append(nil, tt.msg)
			require.NoError(t, err)
			require.Equal(t, tt.hex, hex.EncodeToString(got))

			var d Decoder
			d.Write(got)
			m, ok, err := d.Next()
			require.NoError(t, err)
			require.True(t, ok)
			requireSameMessage(t, tt.msg, m)
			require.Zero(t, d.Buffered())
		})
	}
}

// allTypes has one header of each value type.
func allTypes() Message {
	return Message{
		Headers: []Header{
			{Name: "0", Type: TypeBoolTrue},
			{Name: "1", Type: TypeBoolFalse},
			{Name: "2", Type: TypeByte, Value: []byte{2}},
			{Name: "3", Type: TypeInt16, Value: []byte{0, 3}},
			{Name: "4", Type: TypeInt32, Value: []byte{0, 0, 0, 4}},
			{Name: "5", Type: TypeInt64, Value: []byte{0, 0, 0, 0, 0, 0, 0, 5}},
			{Name: "6", Type: TypeBytes, Value: []byte("bytes")},
			String("7", "utf8"),
			{Name: "8", Type: TypeTimestamp, Value: []byte{0, 0, 0, 0, 0, 0, 0, 8}},
			{Name: "9", Type: TypeUUID, Value: bytes.Repeat([]byte{9}, 16)},
		},
	}
}

func TestAllHeaderTypes(t *testing.T) {
	b, err := Append(nil, allTypes())
	require.NoError(t, err)
	// The prelude of AWS's "all header types" vector (no payload): same
	// lengths, same CRC.
	require.Equal(t, "0000006200000052"+"03b5cb9c", hex.EncodeToString(b[:12]))
	var d Decoder
	d.Write(b)
	m, ok, err := d.Next()
	require.NoError(t, err)
	require.True(t, ok)
	requireSameMessage(t, allTypes(), m)
	v, ok := m.Header("7")
	require.True(t, ok)
	require.Equal(t, "utf8", v)
	_, ok = m.Header("6") // bytes, not a string
	require.False(t, ok)
	_, ok = m.Header("nope")
	require.False(t, ok)
}

func streamOf(t *testing.T, msgs ...Message) []byte {
	t.Helper()
	var b []byte
	for _, m := range msgs {
		var err error
		b, err = Append(b, m)
		require.NoError(t, err)
	}
	return b
}

func event(typ, payload string) Message {
	return Message{
		Headers: []Header{String(":event-type", typ), String(":content-type", "application/json"), String(":message-type", "event")},
		Payload: []byte(payload),
	}
}

// decodeAll feeds pieces and collects every message, copying what the
// Decoder hands out before the next Write reuses its buffer.
func decodeAll(t *testing.T, pieces ...[]byte) ([]Message, error) {
	t.Helper()
	var d Decoder
	var out []Message
	for _, p := range pieces {
		d.Write(p)
		for {
			m, ok, err := d.Next()
			if err != nil {
				return out, err
			}
			if !ok {
				break
			}
			out = append(out, cloneMessage(m))
		}
	}
	return out, nil
}

func cloneMessage(m Message) Message {
	c := Message{Payload: bytes.Clone(m.Payload)}
	for _, h := range m.Headers {
		c.Headers = append(c.Headers, Header{Name: h.Name, Type: h.Type, Value: bytes.Clone(h.Value)})
	}
	return c
}

// A stream cut at every byte offset, and fed a byte at a time, decodes to
// the same messages.
func TestSplitAnywhere(t *testing.T) {
	msgs := []Message{
		event("messageStart", `{"role":"assistant"}`),
		event("contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Hé, "}}`),
		allTypes(),
		{},
		event("metadata", `{"usage":{"inputTokens":3,"outputTokens":5,"totalTokens":8}}`),
	}
	stream := streamOf(t, msgs...)
	for cut := 0; cut <= len(stream); cut++ {
		got, err := decodeAll(t, stream[:cut], stream[cut:])
		require.NoError(t, err, "cut at %d", cut)
		require.Len(t, got, len(msgs), "cut at %d", cut)
		for i := range msgs {
			requireSameMessage(t, msgs[i], got[i])
		}
	}
	var pieces [][]byte
	for i := range stream {
		pieces = append(pieces, stream[i:i+1])
	}
	got, err := decodeAll(t, pieces...)
	require.NoError(t, err)
	require.Len(t, got, len(msgs))

	// Three cuts, everywhere in the first two messages.
	two := len(streamOf(t, msgs[:2]...))
	for a := 0; a <= two; a++ {
		for b := a; b <= two; b++ {
			got, err := decodeAll(t, stream[:a], stream[a:b], stream[b:])
			require.NoError(t, err)
			require.Len(t, got, len(msgs), "cuts at %d, %d", a, b)
		}
	}
}

func TestPartialMessageWaits(t *testing.T) {
	stream := streamOf(t, event("messageStart", `{}`))
	var d Decoder
	d.Write(stream[:len(stream)-1])
	_, ok, err := d.Next()
	require.NoError(t, err)
	require.False(t, ok)
	require.Equal(t, len(stream)-1, d.Buffered())
	d.Write(stream[len(stream)-1:])
	_, ok, err = d.Next()
	require.NoError(t, err)
	require.True(t, ok)
	require.Zero(t, d.Buffered())
}

func TestCorruption(t *testing.T) {
	good := streamOf(t, event("contentBlockDelta", `{"delta":{"text":"hi"}}`))
	corrupt := func(at int) []byte {
		b := bytes.Clone(good)
		b[at] ^= 0x40
		return b
	}
	tests := []struct {
		name string
		in   []byte
		msg  string
	}{
		{"payload byte flipped", corrupt(len(good) - 6), "message CRC mismatch"},
		{"header byte flipped", corrupt(14), "message CRC mismatch"},
		{"message CRC flipped", corrupt(len(good) - 1), "message CRC mismatch"},
		{"length flipped", corrupt(3), "prelude CRC mismatch"},
		{"prelude CRC flipped", corrupt(9), "prelude CRC mismatch"},
		{"not event stream at all", []byte(`{"message":"The security token included in the request is invalid."}`), "prelude CRC mismatch"},
		{"length below the overhead", withPrelude(8, 0), "message length 8"},
		{"length past the limit", withPrelude(MaxMessageLen+1, 0), "message length"},
		{"headers longer than the message", withPrelude(20, 10), "headers length 10"},
		{"header name past the headers", withBody([]byte{9, 'a'}, nil), "header name runs past"},
		{"empty header name", withBody([]byte{0, 7, 0, 0}, nil), "header name runs past"},
		{"unknown value type", withBody([]byte{1, 'a', 42}, nil), "unknown value type 42"},
		{"string length past the headers", withBody([]byte{1, 'a', TypeString, 0, 9, 'x'}, nil), "value runs past"},
		{"string length cut", withBody([]byte{1, 'a', TypeString, 0}, nil), "value length runs past"},
		{"int32 cut", withBody([]byte{1, 'a', TypeInt32, 0, 0}, nil), "value runs past"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Decoder
			d.Write(tt.in)
			_, ok, err := d.Next()
			require.False(t, ok)
			require.ErrorIs(t, err, ErrMalformed)
			require.ErrorContains(t, err, tt.msg)
			// The error sticks: nothing after it is trusted.
			d.Write(good)
			_, ok, err2 := d.Next()
			require.False(t, ok)
			require.Equal(t, err, err2)
		})
	}
}

// withPrelude is a prelude with the given lengths and a right CRC.
func withPrelude(total, headers uint32) []byte {
	b := binary.BigEndian.AppendUint32(nil, total)
	b = binary.BigEndian.AppendUint32(b, headers)
	return appendCRC(b)
}

// withBody frames raw header bytes and a payload with right lengths and
// CRCs, so only the headers are wrong.
func withBody(headers, payload []byte) []byte {
	b := withPrelude(uint32(overhead+len(headers)+len(payload)), uint32(len(headers)))
	b = append(b, headers...)
	b = append(b, payload...)
	return appendCRC(b)
}

func appendCRC(b []byte) []byte {
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

func TestAppendRefuses(t *testing.T) {
	for _, m := range []Message{
		{Headers: []Header{{Name: "", Type: TypeString}}},
		{Headers: []Header{{Name: strings.Repeat("n", 256), Type: TypeString}}},
		{Headers: []Header{{Name: "x", Type: 10}}},
		{Headers: []Header{{Name: "x", Type: TypeInt32, Value: []byte{1}}}},
		{Headers: []Header{{Name: "x", Type: TypeString, Value: make([]byte, 1<<16)}}},
		{Payload: make([]byte, MaxMessageLen)},
	} {
		out, err := Append([]byte("keep"), m)
		require.ErrorIs(t, err, ErrMalformed)
		require.Equal(t, "keep", string(out))
	}
}

func requireSameMessage(t *testing.T, want, got Message) {
	t.Helper()
	require.Equal(t, len(want.Headers), len(got.Headers))
	for i := range want.Headers {
		require.Equal(t, want.Headers[i].Name, got.Headers[i].Name)
		require.Equal(t, want.Headers[i].Type, got.Headers[i].Type)
		require.True(t, bytes.Equal(want.Headers[i].Value, got.Headers[i].Value), "header %q", want.Headers[i].Name)
	}
	require.Equal(t, string(want.Payload), string(got.Payload))
}
