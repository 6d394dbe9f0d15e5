package responsesapi

import (
	"bytes"
	"errors"
)

// maxSSELine bounds a line held across pieces: one chat chunk is a few
// hundred bytes; a whole tool call's arguments may be megabytes.
const maxSSELine = 64 << 20

// errSSELine is an event line past maxSSELine.
var errSSELine = errors.New("an event line from the provider is too long")

// sseReader splits a server-sent event stream into the data of its events,
// across pieces split anywhere (even inside a UTF-8 character). Lines end
// with LF or CRLF; comments and fields other than data are skipped.
type sseReader struct {
	line []byte // an incomplete line from the previous piece
	data []byte // data lines of the event being read
	has  bool   // the event has a data field
}

// feed returns the data of the events piece completes; at end, the last
// event even without its blank line.
func (p *sseReader) feed(piece []byte, end bool) ([][]byte, error) {
	var events [][]byte
	for len(piece) > 0 {
		i := bytes.IndexByte(piece, '\n')
		if i < 0 {
			if len(p.line)+len(piece) > maxSSELine {
				return events, errSSELine
			}
			p.line = append(p.line, piece...)
			break
		}
		line := piece[:i]
		if len(p.line) > 0 {
			p.line = append(p.line, line...)
			line = p.line
		}
		piece = piece[i+1:]
		if ev := p.addLine(bytes.TrimSuffix(line, []byte{'\r'})); ev != nil {
			events = append(events, ev)
		}
		p.line = p.line[:0]
	}
	if end {
		if len(p.line) > 0 {
			if ev := p.addLine(bytes.TrimSuffix(p.line, []byte{'\r'})); ev != nil {
				events = append(events, ev)
			}
			p.line = nil
		}
		if ev := p.addLine(nil); ev != nil {
			events = append(events, ev)
		}
	}
	return events, nil
}

// addLine takes one line; at a blank line it returns the finished event's
// data, if any.
func (p *sseReader) addLine(line []byte) []byte {
	if len(line) == 0 {
		if !p.has {
			return nil
		}
		ev := p.data
		p.data, p.has = nil, false
		return ev
	}
	field, value, found := bytes.Cut(line, []byte{':'})
	if string(field) != "data" {
		return nil // a comment (":...") or another field
	}
	if found {
		value = bytes.TrimPrefix(value, []byte{' '})
	}
	if p.has {
		p.data = append(p.data, '\n')
	}
	p.data = append(p.data, value...)
	p.has = true
	return nil
}
