// Package eventstream reads and writes AWS's binary event stream framing
// (content type application/vnd.amazon.eventstream), in which Bedrock's
// ConverseStream answers. Each message is
//
//	total length      uint32, big-endian, the whole message
//	headers length    uint32, big-endian
//	prelude CRC       CRC-32 (IEEE) of the 8 bytes above
//	headers           name length (1 byte), name, value type (1 byte), value
//	payload           the rest
//	message CRC       CRC-32 (IEEE) of everything before it
//
// A Decoder takes the stream in pieces cut anywhere and hands out whole
// messages; Append writes one (the mock provider's side).
package eventstream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Header value types, as the encoding numbers them.
const (
	TypeBoolTrue  byte = 0
	TypeBoolFalse byte = 1
	TypeByte      byte = 2
	TypeInt16     byte = 3
	TypeInt32     byte = 4
	TypeInt64     byte = 5
	TypeBytes     byte = 6
	TypeString    byte = 7
	TypeTimestamp byte = 8
	TypeUUID      byte = 9
)

// Sizes of the framing.
const (
	preludeLen = 12 // two lengths and the prelude CRC
	overhead   = preludeLen + 4
	// MaxMessageLen bounds one message (AWS's own limit is 16 MiB), so a
	// corrupt length cannot make a Decoder buffer without end.
	MaxMessageLen = 16 << 20
	// MaxHeadersLen is AWS's limit on the headers of one message.
	MaxHeadersLen = 128 << 10
)

// ErrMalformed marks a stream that is not event stream framing: a bad
// length, a header that runs past its section, a CRC that does not match.
var ErrMalformed = errors.New("malformed event stream")

// Header is one message header. Value is the raw value: the bytes of a
// string or byte array without their length, big-endian integers, ...
type Header struct {
	Name  string
	Type  byte
	Value []byte
}

// String is a string-typed header.
func String(name, value string) Header {
	return Header{Name: name, Type: TypeString, Value: []byte(value)}
}

// Message is one decoded message.
type Message struct {
	Headers []Header
	Payload []byte
}

// Header returns the value of a string-typed header, and whether there is
// one by that name.
func (m Message) Header(name string) (string, bool) {
	for _, h := range m.Headers {
		if h.Name == name && h.Type == TypeString {
			return string(h.Value), true
		}
	}
	return "", false
}

// Append appends the encoding of m to dst.
func Append(dst []byte, m Message) ([]byte, error) {
	headersLen := 0
	for _, h := range m.Headers {
		n, err := valueLen(h)
		if err != nil {
			return dst, err
		}
		if len(h.Name) == 0 || len(h.Name) > 255 {
			return dst, fmt.Errorf("%w: header name of %d bytes", ErrMalformed, len(h.Name))
		}
		headersLen += 1 + len(h.Name) + 1 + n
	}
	if headersLen > MaxHeadersLen {
		return dst, fmt.Errorf("%w: %d bytes of headers", ErrMalformed, headersLen)
	}
	total := overhead + headersLen + len(m.Payload)
	if total > MaxMessageLen {
		return dst, fmt.Errorf("%w: message of %d bytes", ErrMalformed, total)
	}
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, uint32(total))
	dst = binary.BigEndian.AppendUint32(dst, uint32(headersLen))
	dst = binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:start+8]))
	for _, h := range m.Headers {
		dst = append(dst, byte(len(h.Name)))
		dst = append(dst, h.Name...)
		dst = append(dst, h.Type)
		if h.Type == TypeBytes || h.Type == TypeString {
			dst = binary.BigEndian.AppendUint16(dst, uint16(len(h.Value)))
		}
		dst = append(dst, h.Value...)
	}
	dst = append(dst, m.Payload...)
	return binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:])), nil
}

// fixedLen is the value size of the fixed-size types; -1 for the types
// with a 2-byte length before the value.
var fixedLen = [...]int{
	TypeBoolTrue: 0, TypeBoolFalse: 0, TypeByte: 1, TypeInt16: 2, TypeInt32: 4,
	TypeInt64: 8, TypeBytes: -1, TypeString: -1, TypeTimestamp: 8, TypeUUID: 16,
}

// valueLen is the encoded size of h's value, its length prefix included.
func valueLen(h Header) (int, error) {
	if int(h.Type) >= len(fixedLen) {
		return 0, fmt.Errorf("%w: header %q has unknown value type %d", ErrMalformed, h.Name, h.Type)
	}
	n := fixedLen[h.Type]
	if n < 0 {
		if len(h.Value) > 0xffff {
			return 0, fmt.Errorf("%w: header %q value of %d bytes", ErrMalformed, h.Name, len(h.Value))
		}
		return 2 + len(h.Value), nil
	}
	if len(h.Value) != n {
		return 0, fmt.Errorf("%w: header %q of type %d wants %d bytes, has %d", ErrMalformed, h.Name, h.Type, n, len(h.Value))
	}
	return n, nil
}

// Decoder reassembles messages from a stream that arrives in pieces. The
// zero value is ready to use. After an error the stream cannot be trusted
// any further; every later call returns the same error.
type Decoder struct {
	buf   []byte
	start int // bytes of buf already handed out as messages
	err   error
}

// Write adds the next piece of the stream. It does not keep p.
func (d *Decoder) Write(p []byte) {
	if d.err != nil || len(p) == 0 {
		return
	}
	if d.start > 0 {
		// Messages handed out before are no longer used: move what is
		// left to the front instead of growing without end.
		n := copy(d.buf, d.buf[d.start:])
		d.buf, d.start = d.buf[:n], 0
	}
	d.buf = append(d.buf, p...)
}

// Buffered is the number of bytes held that are not a whole message yet.
func (d *Decoder) Buffered() int { return len(d.buf) - d.start }

// Next returns the next whole message, if the bytes written so far hold
// one. The message's headers and payload point into the Decoder's buffer:
// they are valid until the next Write.
func (d *Decoder) Next() (Message, bool, error) {
	if d.err != nil {
		return Message{}, false, d.err
	}
	b := d.buf[d.start:]
	if len(b) < preludeLen {
		return Message{}, false, nil
	}
	total := binary.BigEndian.Uint32(b[0:4])
	headersLen := binary.BigEndian.Uint32(b[4:8])
	if want, got := crc32.ChecksumIEEE(b[:8]), binary.BigEndian.Uint32(b[8:12]); want != got {
		return d.fail(fmt.Errorf("%w: prelude CRC mismatch (computed %08x, message says %08x)", ErrMalformed, want, got))
	}
	switch {
	case total < overhead || total > MaxMessageLen:
		return d.fail(fmt.Errorf("%w: message length %d", ErrMalformed, total))
	case headersLen > MaxHeadersLen || headersLen > total-overhead:
		return d.fail(fmt.Errorf("%w: headers length %d in a message of %d bytes", ErrMalformed, headersLen, total))
	}
	if uint32(len(b)) < total {
		return Message{}, false, nil
	}
	msg := b[:total]
	if want, got := crc32.ChecksumIEEE(msg[:total-4]), binary.BigEndian.Uint32(msg[total-4:]); want != got {
		return d.fail(fmt.Errorf("%w: message CRC mismatch (computed %08x, message says %08x)", ErrMalformed, want, got))
	}
	headers, err := parseHeaders(msg[preludeLen : preludeLen+headersLen])
	if err != nil {
		return d.fail(err)
	}
	d.start += int(total)
	return Message{Headers: headers, Payload: msg[preludeLen+headersLen : total-4]}, true, nil
}

func (d *Decoder) fail(err error) (Message, bool, error) {
	d.err, d.buf, d.start = err, nil, 0
	return Message{}, false, err
}

func parseHeaders(b []byte) ([]Header, error) {
	var out []Header
	for i := 0; i < len(b); {
		nameLen := int(b[i])
		i++
		if nameLen == 0 || i+nameLen+1 > len(b) {
			return nil, fmt.Errorf("%w: header name runs past the headers", ErrMalformed)
		}
		h := Header{Name: string(b[i : i+nameLen]), Type: b[i+nameLen]}
		i += nameLen + 1
		if int(h.Type) >= len(fixedLen) {
			return nil, fmt.Errorf("%w: header %q has unknown value type %d", ErrMalformed, h.Name, h.Type)
		}
		n := fixedLen[h.Type]
		if n < 0 {
			if i+2 > len(b) {
				return nil, fmt.Errorf("%w: header %q value length runs past the headers", ErrMalformed, h.Name)
			}
			n = int(binary.BigEndian.Uint16(b[i:]))
			i += 2
		}
		if i+n > len(b) {
			return nil, fmt.Errorf("%w: header %q value runs past the headers", ErrMalformed, h.Name)
		}
		h.Value = b[i : i+n]
		i += n
		out = append(out, h)
	}
	return out, nil
}
