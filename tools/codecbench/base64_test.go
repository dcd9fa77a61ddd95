package codecbench

import (
	"bytes"
	"encoding/base64"
	"testing"

	"github.com/cloudwego/base64x"
)

// BenchmarkBase64 is the floor under both directions: the content alone,
// without JSON, through the standard library's scalar base64 and through
// base64x, the SIMD base64 that sonic uses. MB/s is of file content.
func BenchmarkBase64(b *testing.B) {
	type codec struct {
		name   string
		encode func(dst, src []byte)
		decode func(dst, src []byte) (int, error)
	}
	codecs := []codec{
		{"encoding_base64", base64.StdEncoding.Encode, base64.StdEncoding.Decode},
		{"base64x", base64x.StdEncoding.Encode, base64x.StdEncoding.Decode},
	}
	for _, s := range sizes {
		f := load(b, s.n)
		text := []byte(base64.StdEncoding.EncodeToString(f.content))
		for _, c := range codecs {
			b.Run("Decode/"+s.name+"/"+c.name, func(b *testing.B) {
				out := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
				var n int
				b.SetBytes(int64(s.n))
				for b.Loop() {
					var err error
					if n, err = c.decode(out, text); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				if !bytes.Equal(out[:n], f.content) {
					b.Fatal("decoded content differs")
				}
			})
			b.Run("Encode/"+s.name+"/"+c.name, func(b *testing.B) {
				out := make([]byte, len(text))
				b.SetBytes(int64(s.n))
				for b.Loop() {
					c.encode(out, f.content)
				}
				b.StopTimer()
				if !bytes.Equal(out, text) {
					b.Fatal("encoded content differs")
				}
			})
		}
	}
}
