// Package framing reads and writes the launcher protocol's frames.
//
// Every message on the wire, in both directions, is {S}{P}: S is the length of P
// as an 8-byte little-endian unsigned integer, P is the payload (plain JSON during
// the handshake, secretbox ciphertext after it).
//
// A Reader checks S against its maximum before allocating anything, and the
// buffer for P grows only as bytes actually arrive, so a peer that claims a huge
// frame and then stalls costs at most a small multiple of what it sent (8x, or
// 64 KiB). WriteFrame sends header and
// body in one Write call.
//
// The package uses the standard library only.
package framing

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// HeaderSize is the size of the length prefix.
const HeaderSize = 8

// DefaultMaxSize is the largest payload accepted unless configured otherwise:
// 300 MiB, the cap of the original launcher.
const DefaultMaxSize = 300 << 20

// initialChunk is the most a Reader allocates for a body before any byte of it
// has arrived; the buffer then doubles as data comes in, until restFactor
// times what has arrived covers the whole body, when the rest is allocated at
// once. A body's buffer is thus at most max(initialChunk, restFactor x bytes
// received), and a large body is copied while growing only about size/4.
const (
	initialChunk = 64 << 10
	restFactor   = 8
)

var (
	// ErrTooLarge is returned when a frame's length prefix exceeds the maximum.
	ErrTooLarge = errors.New("framing: frame too large")
	// ErrTruncated is returned when the stream ends inside a header or a body.
	ErrTruncated = errors.New("framing: truncated frame")
)

// Reader reads frames from an underlying io.Reader. It is not safe for
// concurrent use.
type Reader struct {
	r   io.Reader
	max uint64
	hdr [HeaderSize]byte

	// The frame Next is part way through.
	hn     int    // header bytes read
	inBody bool   // the header is read; body holds the payload so far
	want   uint64 // the payload's size
	body   []byte
}

// NewReader returns a Reader that refuses payloads larger than max bytes.
// A max of 0 means DefaultMaxSize.
func NewReader(r io.Reader, max uint64) *Reader {
	if max == 0 {
		max = DefaultMaxSize
	}
	return &Reader{r: r, max: max}
}

// Max returns the largest payload size the Reader accepts.
func (fr *Reader) Max() uint64 { return fr.max }

// ReadHeader reads one length prefix and checks it against the maximum. It
// returns io.EOF if the stream ended cleanly before the header, ErrTruncated if
// it ended inside it, and an error wrapping ErrTooLarge if the length is over
// the maximum (the body has not been read; the stream cannot be resynchronised).
func (fr *Reader) ReadHeader() (uint64, error) {
	n, err := io.ReadFull(fr.r, fr.hdr[:])
	if err != nil {
		if err == io.EOF && n == 0 {
			return 0, io.EOF
		}
		if err == io.ErrUnexpectedEOF {
			return 0, fmt.Errorf("%w: %d of %d header bytes", ErrTruncated, n, HeaderSize)
		}
		return 0, err
	}
	size := binary.LittleEndian.Uint64(fr.hdr[:])
	if size > fr.max {
		return 0, fmt.Errorf("%w: length prefix %d exceeds maximum %d", ErrTooLarge, size, fr.max)
	}
	return size, nil
}

// ReadBody reads a payload of exactly size bytes, appending to buf[:0] (which may
// be nil). Memory grows only with the bytes received. size must have come from
// ReadHeader.
func (fr *Reader) ReadBody(buf []byte, size uint64) ([]byte, error) {
	if size > fr.max {
		return nil, fmt.Errorf("%w: length prefix %d exceeds maximum %d", ErrTooLarge, size, fr.max)
	}
	if buf == nil {
		buf = []byte{}
	}
	buf = buf[:0]
	for uint64(len(buf)) < size {
		want := size - uint64(len(buf))
		if free := uint64(cap(buf) - len(buf)); free == 0 {
			grow := uint64(cap(buf))
			if grow < initialChunk {
				grow = initialChunk
			}
			if uint64(len(buf))*restFactor >= size {
				// Enough has arrived to believe the claim: take the rest at
				// once, rather than doubling (and copying) up to it.
				grow = want
			}
			if grow > want {
				grow = want
			}
			buf = append(buf[:cap(buf)], make([]byte, grow)...)[:len(buf)]
		}
		chunk := min(want, uint64(cap(buf)-len(buf)))
		n, err := io.ReadFull(fr.r, buf[len(buf):len(buf)+int(chunk)])
		buf = buf[:len(buf)+n]
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return buf, fmt.Errorf("%w: %d of %d body bytes", ErrTruncated, len(buf), size)
			}
			return buf, err
		}
	}
	return buf, nil
}

// ReadFrame reads one whole frame and returns its payload in a new slice.
func (fr *Reader) ReadFrame() ([]byte, error) {
	size, err := fr.ReadHeader()
	if err != nil {
		return nil, err
	}
	return fr.ReadBody(nil, size)
}

// AppendFrame appends the frame for payload p (header then p) to dst.
func AppendFrame(dst, p []byte) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, uint64(len(p)))
	return append(dst, p...)
}

// WriteFrame writes the frame for payload p to w in a single Write call.
func WriteFrame(w io.Writer, p []byte) error {
	buf := AppendFrame(make([]byte, 0, HeaderSize+len(p)), p)
	_, err := w.Write(buf)
	return err
}

// WriteFramed writes an already framed buffer: buf must hold HeaderSize bytes of
// space followed by the payload. It fills in the header and writes buf in one
// call, so callers that build payloads in place avoid a copy.
func WriteFramed(w io.Writer, buf []byte) error {
	if len(buf) < HeaderSize {
		return fmt.Errorf("framing: buffer of %d bytes has no room for a header", len(buf))
	}
	binary.LittleEndian.PutUint64(buf[:HeaderSize], uint64(len(buf)-HeaderSize))
	_, err := w.Write(buf)
	return err
}
