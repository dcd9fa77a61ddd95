package codecbench

import (
	"bytes"
	"testing"
)

// TestDecoders checks that every decoder gets the same endpoint, path and
// content out of the request (a benchmark checks its own last result too).
func TestDecoders(t *testing.T) {
	for _, s := range sizes {
		f := load(t, s.n)
		for _, d := range decoders {
			t.Run(d.name+"/"+s.name, func(t *testing.T) {
				msg := bytes.Clone(f.request)
				ep, path, content, err := d.fn(msg)
				if err != nil {
					t.Fatal(err)
				}
				check(t, f, ep, path, content)
			})
		}
	}
}

// TestEncoders checks that every encoder writes the daemon's answer byte for
// byte.
func TestEncoders(t *testing.T) {
	for _, s := range sizes {
		f := load(t, s.n)
		for _, e := range encoders {
			t.Run(e.name+"/"+s.name, func(t *testing.T) {
				out, err := e.fn(f.content)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out, f.answer) {
					t.Fatalf("answer of %d bytes differs from the daemon's %d bytes", len(out), len(f.answer))
				}
			})
		}
	}
}

// BenchmarkDecodeModifyFile decodes the modify-file request; MB/s is of
// file content.
func BenchmarkDecodeModifyFile(b *testing.B) {
	for _, s := range sizes {
		for _, d := range decoders {
			b.Run(s.name+"/"+d.name, func(b *testing.B) {
				f := load(b, s.n)
				buf := make([]byte, len(f.request))
				msg := f.request
				if d.owned {
					msg = buf
				}
				var (
					ep, path string
					content  []byte
					err      error
				)
				b.SetBytes(int64(s.n))
				b.ReportAllocs()
				for b.Loop() {
					if d.owned {
						b.StopTimer()
						copy(buf, f.request)
						b.StartTimer()
					}
					ep, path, content, err = d.fn(msg)
					if err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				check(b, f, ep, path, content)
				if !d.owned && !bytes.Equal(msg, f.request) {
					b.Fatal("the decoder wrote over a message it does not own")
				}
			})
		}
	}
}

// BenchmarkEncodeGetFile encodes the get-file answer; MB/s is of file
// content.
func BenchmarkEncodeGetFile(b *testing.B) {
	for _, s := range sizes {
		for _, e := range encoders {
			b.Run(s.name+"/"+e.name, func(b *testing.B) {
				f := load(b, s.n)
				var (
					out []byte
					err error
				)
				b.SetBytes(int64(s.n))
				b.ReportAllocs()
				for b.Loop() {
					out, err = e.fn(f.content)
					if err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				if !bytes.Equal(out, f.answer) {
					b.Fatalf("answer of %d bytes differs from the daemon's %d bytes", len(out), len(f.answer))
				}
			})
		}
	}
}
