package translate

import (
	"bytes"
	"errors"
)

// geminiMaxSSELine bounds a line held across pieces: one Gemini event is a few
// kilobytes, an image part a few megabytes.
const geminiMaxSSELine = 64 << 20

// geminiSSE splits a server-sent event stream (text/event-stream) into the
// data of its events, across pieces split anywhere. Lines end with LF or
// CRLF; comments and fields other than data are skipped.
type geminiSSE struct {
	line []byte // an incomplete line from the previous piece
	data []byte // data lines of the event being read
	has  bool   // the event has a data field
}

func (p *geminiSSE) feed(piece []byte, end bool) ([][]byte, error) {
	var events [][]byte
	for len(piece) > 0 {
		i := bytes.IndexByte(piece, '\n')
		if i < 0 {
			if len(p.line)+len(piece) > geminiMaxSSELine {
				return events, errors.New("event line too long")
			}
			p.line = append(p.line, piece...)
			break
		}
		var line []byte
		if len(p.line) > 0 {
			p.line = append(p.line, piece[:i]...)
			line = p.line
		} else {
			line = piece[:i]
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
func (p *geminiSSE) addLine(line []byte) []byte {
	if len(line) == 0 {
		if !p.has {
			return nil
		}
		ev := p.data
		p.data, p.has = nil, false
		if string(ev) == "[DONE]" {
			return nil
		}
		return ev
	}
	field, value, found := bytes.Cut(line, []byte{':'})
	if len(field) == 0 || string(field) != "data" {
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
