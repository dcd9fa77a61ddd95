package framing

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Next reads one whole frame and returns its payload in a new slice, like
// ReadFrame, except that it can be resumed: when the underlying reader
// fails with an error that leaves the stream intact (a read deadline that
// passed, for instance), Next returns that error and keeps what it had
// read of the frame, and the next call continues the same frame where it
// stopped. End of stream gives io.EOF between frames and ErrTruncated inside
// one; a length over the maximum gives ErrTooLarge. Next and the other read
// methods must not be mixed while a frame is partly read.
func (fr *Reader) Next() ([]byte, error) {
	if !fr.inBody {
		for fr.hn < HeaderSize {
			n, err := fr.r.Read(fr.hdr[fr.hn:])
			fr.hn += n
			if fr.hn == HeaderSize {
				break
			}
			if err != nil {
				if err == io.EOF {
					if fr.hn == 0 {
						return nil, io.EOF
					}
					return nil, fmt.Errorf("%w: %d of %d header bytes", ErrTruncated, fr.hn, HeaderSize)
				}
				return nil, err
			}
		}
		size := binary.LittleEndian.Uint64(fr.hdr[:])
		if size > fr.max {
			return nil, fmt.Errorf("%w: length prefix %d exceeds maximum %d", ErrTooLarge, size, fr.max)
		}
		fr.hn, fr.want, fr.inBody = 0, size, true
		fr.body = make([]byte, 0, min(size, initialChunk))
	}
	for uint64(len(fr.body)) < fr.want {
		if len(fr.body) == cap(fr.body) {
			fr.body = grow(fr.body, fr.want)
		}
		end := min(uint64(cap(fr.body)), fr.want)
		n, err := fr.r.Read(fr.body[len(fr.body):end])
		fr.body = fr.body[:len(fr.body)+n]
		if err != nil && uint64(len(fr.body)) < fr.want {
			if err == io.EOF {
				return nil, fmt.Errorf("%w: %d of %d body bytes", ErrTruncated, len(fr.body), fr.want)
			}
			return nil, err
		}
	}
	p := fr.body
	fr.body, fr.want, fr.inBody = nil, 0, false
	return p, nil
}

// grow makes room in buf, a body of want bytes, with the policy of ReadBody:
// double (at least initialChunk), or take the rest at once when restFactor
// times what has arrived covers it.
func grow(buf []byte, want uint64) []byte {
	rest := want - uint64(len(buf))
	g := max(uint64(cap(buf)), initialChunk)
	if uint64(len(buf))*restFactor >= want {
		g = rest
	}
	g = min(g, rest)
	return append(buf[:cap(buf)], make([]byte, g)...)[:len(buf)]
}
