package sse

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

const stream = ": a comment\r\n" +
	"event: message\n" +
	"data: {\"a\":1}\n\n" +
	"data: first line\r\n" +
	"data:second line\r\n" +
	"id: 7\r\n\r\n" +
	"data: [DONE]\n\n" +
	"data: no blank line at the end"

var want = []string{`{"a":1}`, "first line\nsecond line", "[DONE]", "no blank line at the end"}

func feedAll(t *testing.T, pieces [][]byte) []string {
	t.Helper()
	var r Reader
	var got []string
	for i, p := range pieces {
		events, err := r.Feed(p, i == len(pieces)-1)
		require.NoError(t, err)
		for _, ev := range events {
			got = append(got, string(ev))
		}
	}
	return got
}

// Events come out the same whether the stream arrives whole or split
// anywhere, one byte at a time included.
func TestEventsAcrossPieces(t *testing.T) {
	require.Equal(t, want, feedAll(t, [][]byte{[]byte(stream)}))
	for size := 1; size <= 7; size++ {
		var pieces [][]byte
		for b := []byte(stream); len(b) > 0; {
			n := min(size, len(b))
			pieces = append(pieces, b[:n])
			b = b[n:]
		}
		require.Equal(t, want, feedAll(t, pieces), "pieces of %d bytes", size)
	}
}

func TestLineTooLong(t *testing.T) {
	var r Reader
	piece := bytes.Repeat([]byte("x"), 1<<20)
	var err error
	for i := 0; i <= MaxLine>>20 && err == nil; i++ {
		_, err = r.Feed(piece, false)
	}
	require.ErrorIs(t, err, ErrLineTooLong)
}
