// Package sse reads server-sent event streams (text/event-stream) as they
// arrive in pieces split anywhere, even inside a UTF-8 character: each
// finished event comes out as the data of its data lines. Lines end with LF
// or CRLF; comments and fields other than data are skipped. Every
// translator of a streamed answer reads its provider's (or chat's) events
// with it.
package sse

import (
	"bytes"
	"errors"
)

// MaxLine bounds a line held across pieces: one chat chunk is a few hundred
// bytes, a Gemini image part or a whole tool call's arguments a few
// megabytes.
const MaxLine = 64 << 20

// ErrLineTooLong is a line past MaxLine: the stream is not one to read.
var ErrLineTooLong = errors.New("an event line from the provider is too long")

// Reader splits one stream into the data of its events. The zero value is
// ready to use.
type Reader struct {
	line []byte // an incomplete line from the previous piece
	data []byte // data lines of the event being read
	has  bool   // the event has a data field
}

// Feed returns the data of the events piece completes (several data lines
// joined with LF); at end, the last event even without its blank line. An
// error leaves the events read before it.
func (r *Reader) Feed(piece []byte, end bool) ([][]byte, error) {
	var events [][]byte
	for len(piece) > 0 {
		i := bytes.IndexByte(piece, '\n')
		if i < 0 {
			if len(r.line)+len(piece) > MaxLine {
				return events, ErrLineTooLong
			}
			r.line = append(r.line, piece...)
			break
		}
		line := piece[:i]
		if len(r.line) > 0 {
			r.line = append(r.line, line...)
			line = r.line
		}
		piece = piece[i+1:]
		if ev := r.addLine(bytes.TrimSuffix(line, []byte{'\r'})); ev != nil {
			events = append(events, ev)
		}
		r.line = r.line[:0]
	}
	if end {
		if len(r.line) > 0 {
			if ev := r.addLine(bytes.TrimSuffix(r.line, []byte{'\r'})); ev != nil {
				events = append(events, ev)
			}
			r.line = nil
		}
		if ev := r.addLine(nil); ev != nil {
			events = append(events, ev)
		}
	}
	return events, nil
}

// addLine takes one line; at a blank line it returns the finished event's
// data, if any.
func (r *Reader) addLine(line []byte) []byte {
	if len(line) == 0 {
		if !r.has {
			return nil
		}
		ev := r.data
		r.data, r.has = nil, false
		return ev
	}
	field, value, found := bytes.Cut(line, []byte{':'})
	if string(field) != "data" {
		return nil // a comment (":...") or another field
	}
	if found {
		value = bytes.TrimPrefix(value, []byte{' '})
	}
	if r.has {
		r.data = append(r.data, '\n')
	}
	r.data = append(r.data, value...)
	r.has = true
	return nil
}
