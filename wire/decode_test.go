package wire_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/wire"
)

func i64(n int64) *int64   { return &n }
func str(s string) *string { return &s }
func byts(b []byte) *wire.Bytes {
	w := wire.Bytes(b)
	return &w
}

var oddNames = []string{"", "a", "ä \"q\" <b> & \\ \n \t \x01", "\xff\xfe bad utf8", "日本語-😀", "\u2028\u2029"}

// TestResponseDecoders: the answer decoders read what encoding/json writes,
// and ParseResponse agrees with json.Unmarshal.
func TestResponseDecoders(t *testing.T) {
	times := wire.Times{CreationTimeSec: 1, CreationTimeNsec: 2, ModificationTimeSec: 3, ModificationTimeNsec: 4}
	gd := &wire.GetDirResponse{Info: wire.DirInfo{Name: oddNames[2], Times: times, UserMetadata: wire.Bytes{}},
		SubDirectories: []wire.DirInfo{{Name: "a", UserMetadata: wire.Bytes{1}}}, Files: []wire.FileInfo{{Name: "f", Size: 3, UserMetadata: wire.Bytes{}}}}
	var got wire.GetDirResponse
	require.NoError(t, wire.Decode(mustMarshal(t, gd), &got))
	assert.Equal(t, *gd, got)

	content := make([]byte, 2<<20+5)
	_, _ = rand.Read(content)
	gf := &wire.GetFileResponse{Content: content, Metadata: &wire.FileInfo{Name: "n", Size: 9, Times: times, UserMetadata: wire.Bytes{}}}
	var gotF wire.GetFileResponse
	require.NoError(t, wire.DecodeOwned(mustMarshal(t, gf), &gotF))
	assert.Equal(t, *gf, gotF)
	gotF = wire.GetFileResponse{}
	require.NoError(t, wire.Decode([]byte(`{"content":""}`), &gotF))
	assert.Nil(t, gotF.Metadata)
	assert.Empty(t, gotF.Content)
	require.Error(t, wire.Decode([]byte(`{"content":5}`), &gotF))
	require.Error(t, wire.Decode([]byte(`{"files":{}}`), &got))

	for _, in := range []string{
		`{"id":"abc","data":{"x":[1,2]}}`,
		`{"id":"","error":{"code":-5,"description":"d \"q\" \u00e9"}}`,
		`{"id":"x","error":{"code":0,"description":""}}`,
		`{"id":null,"data":null}`,
		` {"data" : { } , "id" : "y" } `,
		`{}`,
	} {
		want := wire.Response{}
		require.NoError(t, json.Unmarshal([]byte(in), &want), in)
		got, err := wire.ParseResponse([]byte(in))
		require.NoError(t, err, in)
		assert.Equal(t, want.ID, got.ID, in)
		assert.Equal(t, want.Error, got.Error, in)
		if len(want.Data) > 0 {
			assert.Equal(t, string(bytes.TrimSpace(want.Data)), string(bytes.TrimSpace(got.Data)), in)
		} else {
			assert.Empty(t, got.Data, in)
		}
	}
	for _, in := range []string{``, `[]`, `{"id":1}`, `{"id":"a"`, `{"id":"a"} x`, `{"error":{"code":"x"}}`} {
		_, err := wire.ParseResponse([]byte(in))
		assert.Error(t, err, in)
	}
}

// TestDecodeOwned: decoding in place gives what Decode gives, for contents
// on both sides of the parallel threshold, and refuses the same bad base64.
func TestDecodeOwned(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 100, 16<<10 - 1, 16 << 10, 16<<10 + 1, 1<<20 - 1, 1 << 20, 1<<20 + 1, 5<<20 + 2} {
		content := make([]byte, n)
		_, _ = rand.Read(content)
		msg := mustMarshal(t, wire.ModifyFileRequest{FilePath: "f", NewValues: wire.FileNewValues{Content: &wire.FileContent{Offset: i64(1), Bytes: content}}})
		var a, b wire.ModifyFileRequest
		require.NoError(t, wire.Decode(msg, &a))
		require.NoError(t, wire.DecodeOwned(bytes.Clone(msg), &b))
		require.True(t, bytes.Equal(content, b.NewValues.Content.Bytes), "size %d", n)
		assert.Equal(t, a.NewValues.Content.Offset, b.NewValues.Content.Offset)
	}
	enc := base64.StdEncoding.EncodeToString(make([]byte, 3<<20))
	bad := map[string]string{
		"padding early":       "QQ==" + enc,
		"padding in the half": enc[:len(enc)/2-4] + "QQ==" + enc[len(enc)/2:],
		"padding late":        enc[:len(enc)-8] + "QQ==" + enc[len(enc)-4:],
		"unpadded":            enc + "QQ",
		"bad char first":      "*" + enc[1:],
		"bad char last":       enc[:len(enc)-1] + "*",
		"short small":         "QQ=",
		"padding small":       "QQ==QQ==",
	}
	for name, s := range bad {
		msg := []byte(fmt.Sprintf(`{"is_path_shared":false,"file_path":"f","new_values":{"content":{"bytes":"%s"}}}`, s))
		var a, b wire.ModifyFileRequest
		ea, eb := wire.Decode(msg, &a), wire.DecodeOwned(msg, &b)
		require.ErrorIs(t, ea, wire.ErrBadBase64, name)
		require.ErrorIs(t, eb, wire.ErrBadBase64, name)
	}
}

// FuzzScanner: the scanner accepts exactly what encoding/json accepts as an
// object, and splits it into the same members.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a":"b\"c","a":[1,{"x":null}],"b":-0.5e+3}`, `{"a":tru}`, `{"a":01}`, `{"\u0061":"\ud800"}`,
		`{"a":"x`, "{\"a\":\"\x01\"}", `{"a":1,}`, `{"a" 1}`, `{"a":1} {}`, `{"a":"\/\b\f\n\r\t\u00e9"}`, `{"a":[[[]]],"b":{}}`, `{"a":1.}`, `{"a":-}`, `{"a":1e}`,
		// Long enough for the scanner's IndexByte path.
		`{"a":"` + strings.Repeat("x", 70) + `"` + strings.Repeat("y", 70) + "" + `"}`,
		`{"a":"` + strings.Repeat("x", 90) + `\"` + `,"b":"` + strings.Repeat(`\/`, 80) + `"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m map[string]json.RawMessage
		trimmed := bytes.TrimSpace(data) // as NewObject always did
		jerr := json.Unmarshal(trimmed, &m)
		isObj := len(trimmed) > 0 && trimmed[0] == '{'
		o := wire.NewObject("x", data)
		if !isObj {
			return
		}
		if (jerr == nil) != (o.Err() == nil) {
			var we *wire.Error
			if errors.As(o.Err(), &we) && we.Code == wire.CodeInvalidJSON || o.Err() == nil {
				t.Fatalf("encoding/json err=%v, scanner err=%v, input %q", jerr, o.Err(), data)
			}
		}
		if jerr != nil {
			return
		}
		for k, v := range m {
			if !o.Has(k) {
				t.Fatalf("member %q missing", k)
			}
			_ = v
		}
		// Every string member decodes to what encoding/json gives.
		for k, v := range m {
			if len(v) > 0 && v[0] == '"' {
				var want string
				_ = json.Unmarshal(v, &want)
				if got := o.String(k); got != want && !strings.Contains(k, "\\") {
					t.Fatalf("member %q: %q != %q", k, got, want)
				}
			}
		}
	})
}

// TestGetFileStream: the streamed get-file answer is the buffered one, byte
// for byte, and a content shorter than announced is an error.
func TestGetFileStream(t *testing.T) {
	meta := &wire.FileInfo{Name: "n <x>", Size: 9, UserMetadata: wire.Bytes{7}}
	for _, n := range []int{0, 1, 5, 3 << 20, 6<<20 + 1} {
		content := make([]byte, n)
		_, _ = rand.Read(content)
		for _, m := range []*wire.FileInfo{nil, meta} {
			want := mustMarshal(t, &wire.GetFileResponse{Content: content, Metadata: m})
			s := &wire.GetFileStream{Content: io.NopCloser(bytes.NewReader(content)), Size: int64(n), Metadata: m}
			assert.LessOrEqual(t, int64(len(want)), wire.AnswerSize(s))
			got, err := wire.AppendAnswer(nil, "id", s)
			assert.Nil(t, s.Content, "closed once encoded")
			require.NoError(t, err)
			require.Equal(t, `{"id":"id","data":`+string(want)+`}`, string(got), "size %d", n)
		}
	}
	s := &wire.GetFileStream{Content: io.NopCloser(bytes.NewReader(make([]byte, 10))), Size: 11}
	_, err := wire.AppendAnswer(nil, "id", s)
	require.Error(t, err)
	assert.Nil(t, s.Content, "closed after a failed encoding too")
}

// TestGetDirAnswer: the get-dir answer, encoded one entry at a time, is
// what json.Marshal writes, byte for byte: nil and empty lists, odd names
// (HTML characters, bad UTF-8, line separators), metadata of every length.
func TestGetDirAnswer(t *testing.T) {
	meta := make([]byte, 70)
	_, _ = rand.Read(meta)
	times := wire.Times{CreationTimeSec: -5, CreationTimeNsec: 1, ModificationTimeSec: 1 << 40, ModificationTimeNsec: 999999999}
	cases := []*wire.GetDirResponse{
		{},
		{Info: wire.DirInfo{Name: "d"}, SubDirectories: []wire.DirInfo{}, Files: []wire.FileInfo{}},
	}
	// Up to 64 entries the answer is one Encode, past it an entry at a
	// time: both are compared.
	for _, n := range append(makeRange(40), 64, 65, 66, 200, 333) {
		r := &wire.GetDirResponse{Info: wire.DirInfo{Name: oddNames[n%len(oddNames)], Times: times, IsPrivate: n%2 == 0, UserMetadata: meta[:n%7]}}
		for i := range n {
			name := oddNames[i%len(oddNames)] + strconv.Itoa(i)
			r.SubDirectories = append(r.SubDirectories, wire.DirInfo{Name: name, Times: times, IsVersioned: i%3 == 0, UserMetadata: meta[:i%len(meta)]})
			r.Files = append(r.Files, wire.FileInfo{Name: name, Size: int64(i) << 20, Times: times, UserMetadata: meta[:(i*7)%len(meta)]})
		}
		if n%5 == 0 {
			r.SubDirectories = nil
		}
		cases = append(cases, r)
	}
	for i, r := range cases {
		want := `{"id":"x","data":` + string(mustMarshal(t, r)) + `}`
		for _, prefix := range []string{"", "prefix"} {
			got, err := wire.AppendAnswer([]byte(prefix), "x", r)
			require.NoError(t, err)
			require.Equal(t, prefix+want, string(got), "case %d", i)
		}
	}
}

func makeRange(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// FuzzParseResponse: any input gives an answer or an error, never a panic,
// and what encoding/json rejects outside "data" is rejected.
func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{`{"id":"a","data":{"x":1}}`, `{"id":"","error":{"code":-1,"description":"d"}}`, `{"data":}`, `{"id":tru}`, `{"data":[1,{"a":"\""}]}`, `{"data":"x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := wire.ParseResponse(data)
		if err != nil {
			return
		}
		var want wire.Response
		if json.Unmarshal(data, &want) == nil {
			if want.ID != r.ID {
				t.Fatalf("id %q != %q", r.ID, want.ID)
			}
			return
		}
		// encoding/json refused it: only a bad "data" value may have passed.
		if r.Data == nil {
			var probe map[string]json.RawMessage
			if json.Unmarshal(data, &probe) == nil {
				return // a type mismatch encoding/json reports, e.g. "error":1
			}
		}
	})
}

// TestScannerSpecialBytes: a control byte, quote or backslash at any place of
// a long string is seen by the word-at-a-time scan, as encoding/json sees it.
func TestScannerSpecialBytes(t *testing.T) {
	specials := []byte{'"', '\\', 0x7f, 0x80, 0xff, ' ', '!'}
	for c := byte(0); c < 0x20; c++ {
		specials = append(specials, c)
	}
	for _, c := range specials {
		for pos := 0; pos < 80; pos++ {
			s := []byte(strings.Repeat("A", 80))
			s[pos] = c
			in := append(append([]byte(`{"k":"`), s...), `"}`...)
			var m map[string]json.RawMessage
			jerr := json.Unmarshal(in, &m)
			o := wire.NewObject("x", in)
			require.Equal(t, jerr == nil, o.Err() == nil, "byte %#x at %d: encoding/json %v, scanner %v", c, pos, jerr, o.Err())
			if jerr == nil {
				var want string
				require.NoError(t, json.Unmarshal(m["k"], &want))
				require.Equal(t, want, o.String("k"))
			}
		}
	}
}

// TestIDQuoting: ids are quoted as strconv.Quote does and descriptions as
// encoding/json does, whatever their bytes.
func TestIDQuoting(t *testing.T) {
	for _, id := range append([]string{strings.Repeat("A+/=", 22), "\x7f", "\"", "\\"}, oddNames...) {
		got := wire.AppendError(nil, id, wire.CodeOK, id)
		d, _ := json.Marshal(id)
		require.Equal(t, `{"id":`+strconv.Quote(id)+`,"error":{"code":0,"description":`+string(d)+`}}`, string(got))
		got, err := wire.AppendAnswer(nil, id, &wire.ServicesResponse{Services: []string{"www"}})
		require.NoError(t, err)
		require.Equal(t, `{"id":`+strconv.Quote(id)+`,"data":{"services":["www"]}}`, string(got))
		got, err = wire.AppendAnswer(nil, id, nil)
		require.NoError(t, err)
		require.Equal(t, `{"id":`+strconv.Quote(id)+`,"error":{"code":0,"description":""}}`, string(got))
	}
}

// FuzzGetDirAnswer: DecodeOwned (in place) gives exactly what the general
// path gives, value or error.
func FuzzGetDirAnswer(f *testing.F) {
	r := &wire.GetDirResponse{Info: wire.DirInfo{Name: "d <&>", IsPrivate: true, UserMetadata: wire.Bytes("meta")},
		SubDirectories: []wire.DirInfo{{Name: "s", IsVersioned: true, UserMetadata: wire.Bytes{}}},
		Files:          []wire.FileInfo{{Name: "f\u00e9", Size: 4, Times: wire.Times{CreationTimeSec: -1, ModificationTimeNsec: 999999999}}}}
	f.Add(mustMarshal(f, r))
	f.Add(mustMarshal(f, &wire.GetDirResponse{}))
	for _, s := range []string{`{}`, `{"info":null,"files":[],"sub_directories":null}`, ` {"files":[{"name":"a","name":"b"}]} `,
		`{"files":[{"size":1.5}]}`, `{"files":[{"size":12345678901234567890}]}`, `{"files":[{"user_metadata":"AQI"}]}`,
		`{"files":[{"user_metadata":"AQ\/D"}]}`, `{"files":[{"user_metadata":1}],"files":null}`, `{"info":{"n\u0061me":"x"}}`,
		`{"info":{"name":"x","x":[[{}]]},"extra":{"a":[1,2,{"b":null}]}}`, `{"info":[]}`, `{"files":{}}`, `{"files":[1]}`,
		`{"info":{"is_private":tru}}`, `{"info":{"is_private":null,"name":null,"size":"x"}}`, `{"files":[{"user_metadata":"AAAA"},{"user_metadata":""}]}`,
		`{"info":{}} x`, "{\"info\":{\"name\":\"a\x01\"}}", `{"files":[{}],}`, `{"files":[{},]}`,
		`{"files":[{"user_metadata":"","size":1 ,"name" : "x","name":"y"}],"info":{"is_versioned":true,"name":"i","size":2}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want wire.GetDirResponse
		o := wire.NewObject("data", data)
		if o.Err() == nil {
			want.DecodeFrom(o)
		}
		in := bytes.Clone(data)
		var got wire.GetDirResponse
		err := wire.DecodeOwned(in, &got)
		if fmt.Sprint(err) != fmt.Sprint(o.Err()) {
			t.Fatalf("input %q: error %v, want %v", data, err, o.Err())
		}
		if err == nil {
			require.Equal(t, want, got, "input %q", data)
			// Empty and absent lists stay apart, as with the general path.
			require.Equal(t, want.Files == nil, got.Files == nil)
			require.Equal(t, want.SubDirectories == nil, got.SubDirectories == nil)
		}
	})
}

// TestScannerLongStrings: in strings long enough for the scanner's
// IndexByte path, an escape followed later by another special byte (a
// control byte, an escaped or a closing quote, a bad escape) is judged as
// encoding/json judges it, and unterminated strings are refused.
func TestScannerLongStrings(t *testing.T) {
	seconds := [][]byte{{0x01}, {0x1f}, []byte(`\"`), []byte(`\\`), []byte(`\u00e9`), []byte(`\x`), []byte(`"`), {'\n'}}
	firsts := [][]byte{[]byte(`\/`), []byte(`\"`), []byte(`\\`), []byte(`\n`)}
	for _, first := range firsts {
		for _, second := range seconds {
			for _, p1 := range []int{0, 17, 63, 64, 65, 200} {
				for _, gap := range []int{0, 1, 31, 64, 100} {
					s := []byte(strings.Repeat("B", 400))
					p2 := p1 + len(first) + gap
					copy(s[p1:], first)
					copy(s[p2:], second)
					in := append(append([]byte(`{"k":"`), s...), `","z":1}`...)
					var m map[string]json.RawMessage
					jerr := json.Unmarshal(in, &m)
					o := wire.NewObject("x", in)
					require.Equal(t, jerr == nil, o.Err() == nil, "%q at %d, %q at %d: encoding/json %v, scanner %v", first, p1, second, p2, jerr, o.Err())
					if jerr == nil {
						var want string
						require.NoError(t, json.Unmarshal(m["k"], &want))
						require.Equal(t, want, o.String("k"))
					}
				}
			}
		}
	}
	for _, tail := range []string{``, `\`, `\"`, "\x00"} {
		in := []byte(`{"k":"` + strings.Repeat("C", 300) + tail)
		require.Error(t, wire.NewObject("x", in).Err(), "unterminated with tail %q", tail)
	}
}

// mustMarshal is json.Marshal for values that always marshal.
func mustMarshal(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
