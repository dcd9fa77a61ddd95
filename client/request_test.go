package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/wire"
)

// plainRequest is a request's frame as encoding/json writes it: what
// encodeRequest's direct encodings must equal, byte for byte.
func plainRequest(tb testing.TB, endpoint string, data any) []byte {
	tb.Helper()
	var buf bytes.Buffer
	buf.Write(make([]byte, sealRoom))
	require.NoError(tb, json.NewEncoder(&buf).Encode(envelope{Endpoint: endpoint, Data: data}))
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// modifyFileCase builds a modify-file request with content from fuzzed
// parts; which optional members it has comes from opt's bits.
func modifyFileCase(path, name string, content, meta []byte, off int64, opt uint8) wire.ModifyFileRequest {
	r := wire.ModifyFileRequest{IsPathShared: opt&1 != 0, FilePath: path,
		NewValues: wire.FileNewValues{Content: &wire.FileContent{Bytes: content}}}
	if opt&2 != 0 {
		r.NewValues.Name = &name
	}
	if opt&4 != 0 {
		r.NewValues.Content.Offset = &off
	}
	if opt&8 != 0 {
		m := wire.Bytes(meta)
		r.NewValues.UserMetadata = &m
	}
	return r
}

// TestEncodeModifyFile: a modify-file with content, encoded straight into
// its frame, is what encoding/json writes, with every optional member
// present or not, and odd strings (HTML characters, bad UTF-8, controls).
func TestEncodeModifyFile(t *testing.T) {
	odd := []string{"", "a/b.txt", "<&> \"q\" \\ \n \x01 \u2028", "\xff\xfe bad", "日本/😀"}
	for i, s := range odd {
		for opt := range uint8(16) {
			content := bytes.Repeat([]byte{byte(i), 0xfb, 0xff}, i*7+int(opt))
			r := modifyFileCase(s, odd[(i+1)%len(odd)], content, []byte(s), int64(i)*1000-1, opt)
			got, err := encodeRequest("safe-api/v1.0/nfs/modify-file", r)
			require.NoError(t, err)
			require.Equal(t, string(plainRequest(t, "safe-api/v1.0/nfs/modify-file", r)), string(got), "path %q opt %d", s, opt)
		}
	}
	// Without content, the plain path.
	r := wire.ModifyFileRequest{FilePath: "x", NewValues: wire.FileNewValues{Name: &odd[2]}}
	got, err := encodeRequest("e", r)
	require.NoError(t, err)
	require.Equal(t, plainRequest(t, "e", r), got)
}

// FuzzEncodeModifyFile: the direct encoding equals encoding/json's for any
// request with content.
func FuzzEncodeModifyFile(f *testing.F) {
	f.Add("a/b", "n", []byte("content"), []byte("meta"), int64(5), uint8(15))
	f.Add("<>&", "\xff", []byte{}, []byte{}, int64(-1), uint8(0))
	f.Add("\u2028\x00", "", []byte{0, 1, 2}, []byte(nil), int64(1)<<62, uint8(6))
	f.Fuzz(func(t *testing.T, path, name string, content, meta []byte, off int64, opt uint8) {
		r := modifyFileCase(path, name, content, meta, off, opt)
		got, err := encodeRequest("safe-api/v1.0/nfs/modify-file", r)
		if err != nil {
			t.Fatal(err)
		}
		if want := plainRequest(t, "safe-api/v1.0/nfs/modify-file", r); !bytes.Equal(want, got) {
			t.Fatalf("direct encoding\n%q\nencoding/json\n%q", got, want)
		}
	})
}

// BenchmarkEncodeModifyFile encodes a modify-file of 1 and 64 MiB two
// ways: "json", encoding/json (the plain way), and "direct", what
// encodeRequest does. B/op is what one encoding allocates.
func BenchmarkEncodeModifyFile(b *testing.B) {
	for _, n := range []int{1 << 20, 64 << 20} {
		r := modifyFileCase("dir/file.bin", "", make([]byte, n), nil, 0, 0)
		b.Run(fmt.Sprintf("json/%dMiB", n>>20), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				plainRequest(b, "safe-api/v1.0/nfs/modify-file", r)
			}
		})
		b.Run(fmt.Sprintf("direct/%dMiB", n>>20), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := encodeRequest("safe-api/v1.0/nfs/modify-file", r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
