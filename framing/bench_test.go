package framing_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/safe-launcher/launcher/framing"
)

var benchSizes = []int{64, 1 << 10, 64 << 10, 1 << 20, 16 << 20}

func sizeLabel(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// loop is an io.Reader that replays one buffer forever.
type loop struct {
	buf []byte
	off int
}

func (l *loop) Read(p []byte) (int, error) {
	n := copy(p, l.buf[l.off:])
	l.off = (l.off + n) % len(l.buf)
	return n, nil
}

func BenchmarkReadFrame(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeLabel(n), func(b *testing.B) {
			frame := framing.AppendFrame(nil, bytes.Repeat([]byte{'x'}, n))
			fr := framing.NewReader(bufio.NewReaderSize(&loop{buf: frame}, 64<<10), 0)
			var buf []byte
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				size, err := fr.ReadHeader()
				if err != nil {
					b.Fatal(err)
				}
				if buf, err = fr.ReadBody(buf, size); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReadFrameFresh(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeLabel(n), func(b *testing.B) {
			frame := framing.AppendFrame(nil, bytes.Repeat([]byte{'x'}, n))
			fr := framing.NewReader(bufio.NewReaderSize(&loop{buf: frame}, 64<<10), 0)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := fr.ReadFrame(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkWriteFrame(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeLabel(n), func(b *testing.B) {
			p := bytes.Repeat([]byte{'x'}, n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if err := framing.WriteFrame(io.Discard, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkWriteFramed(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeLabel(n), func(b *testing.B) {
			buf := make([]byte, framing.HeaderSize+n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if err := framing.WriteFramed(io.Discard, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
