package wire_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/safe-launcher/launcher/wire"
)

// getDirAnswer is the answer to a get-dir of a directory of five
// subdirectories and five files, as the daemon encodes it.
func getDirAnswer(tb testing.TB) []byte {
	tb.Helper()
	r := &wire.GetDirResponse{Info: wire.DirInfo{Name: "gd", IsPrivate: true, UserMetadata: wire.Bytes("meta")}}
	for i := range 5 {
		t := wire.Times{CreationTimeSec: 1763916000 + int64(i), CreationTimeNsec: 123456789, ModificationTimeSec: 1763916000, ModificationTimeNsec: 987654321}
		r.SubDirectories = append(r.SubDirectories, wire.DirInfo{Name: fmt.Sprintf("sub%d", i), Times: t, IsPrivate: true, UserMetadata: wire.Bytes{}})
		r.Files = append(r.Files, wire.FileInfo{Name: fmt.Sprintf("file%d.txt", i), Size: 4, Times: t, UserMetadata: wire.Bytes("meta")})
	}
	b, err := wire.AppendAnswer(nil, strings.Repeat("A", wire.IDSize), r)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkDecodeGetDirAnswer is what the SDK does with a get-dir answer:
// parse the envelope, then decode the data in the answer's own buffer.
func BenchmarkDecodeGetDirAnswer(b *testing.B) {
	msg := getDirAnswer(b)
	buf := make([]byte, len(msg))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, msg)
		r, err := wire.ParseResponse(buf)
		if err != nil {
			b.Fatal(err)
		}
		var out wire.GetDirResponse
		if err := wire.DecodeOwned(r.Data, &out); err != nil {
			b.Fatal(err)
		}
		if len(out.Files) != 5 {
			b.Fatal("files")
		}
	}
}

// BenchmarkParseRequest is what the daemon does with a small request before
// its handler: the envelope within the depth limit, and the handler's
// decoding.
func BenchmarkParseRequest(b *testing.B) {
	msg := []byte(`{"endpoint":"safe-api/v1.0/nfs/get-dir","data":{"timeout_ms":0,"is_path_shared":false,"dir_path":"gd"}}`)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := wire.ParseRequestLimit(msg, 32)
		if err != nil {
			b.Fatal(err)
		}
		var d wire.GetDirRequest
		if err := wire.Decode(r.Data, &d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseModifyFile is what the daemon does with a 1 MiB upload's
// request before the store: the envelope within the depth limit (validating
// the 1.4 MB base64 string), then the handler's decoding of the content in
// place. MB/s is of file content.
func BenchmarkParseModifyFile(b *testing.B) {
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	req := wire.ModifyFileRequest{FilePath: "f", NewValues: wire.FileNewValues{Content: &wire.FileContent{Bytes: data}}}
	body, err := json.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	msg := append(append([]byte(`{"endpoint":"safe-api/v1.0/nfs/modify-file","data":`), body...), '}')
	buf := make([]byte, len(msg))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		copy(buf, msg)
		r, err := wire.ParseRequestLimit(buf, 32)
		if err != nil {
			b.Fatal(err)
		}
		var m wire.ModifyFileRequest
		if err := wire.DecodeOwned(r.Data, &m); err != nil || len(m.NewValues.Content.Bytes) != len(data) {
			b.Fatal(err)
		}
	}
}

// BenchmarkScanEscapedString validates a 1 MiB JSON string made only of
// escapes (`\/`, as some encoders write every slash of base64): the scanner
// must stay linear in the string's length (a quadratic scan shows here as
// seconds per operation).
func BenchmarkScanEscapedString(b *testing.B) {
	msg := []byte(`{"k":"` + strings.Repeat(`\/`, 512<<10) + `"}`)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if o := wire.NewObject("x", msg); o.Err() != nil {
			b.Fatal(o.Err())
		}
	}
}

// listing is a get-dir answer of n files with 16 bytes of metadata each.
func listing(n int) *wire.GetDirResponse {
	r := &wire.GetDirResponse{Info: wire.DirInfo{Name: "big"}, SubDirectories: []wire.DirInfo{}}
	meta := wire.Bytes("0123456789abcdef")
	for i := range n {
		r.Files = append(r.Files, wire.FileInfo{Name: fmt.Sprintf("file-%07d.txt", i), Size: int64(i),
			Times: wire.Times{CreationTimeSec: 1763916000, CreationTimeNsec: 123456789, ModificationTimeSec: 1763916000, ModificationTimeNsec: 987654321}, UserMetadata: meta})
	}
	return r
}

// BenchmarkGetDirAnswer encodes listings of 10 and 100,000 files into a
// frame buffer two ways: "marshal", json.Marshal of the whole answer
// appended to the buffer (the plain way), and "stream", AppendAnswer, which
// grows the buffer once and encodes into it (a small answer in one Encode,
// a large one an entry at a time). B/op is the memory a listing's encoding
// takes beside the listing itself.
func BenchmarkGetDirAnswer(b *testing.B) {
	id := strings.Repeat("A", wire.IDSize)
	for _, n := range []int{10, 100_000} {
		r := listing(n)
		b.Run(fmt.Sprintf("marshal/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buf := append(make([]byte, 0, 4096), `{"id":"`+id+`","data":`...)
				data, err := json.Marshal(r)
				if err != nil {
					b.Fatal(err)
				}
				buf = append(append(buf, data...), '}')
				b.SetBytes(int64(len(buf)))
			}
		})
		b.Run(fmt.Sprintf("stream/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buf, err := wire.AppendAnswer(make([]byte, 0, 4096), id, r)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(buf)))
			}
		})
	}
}
