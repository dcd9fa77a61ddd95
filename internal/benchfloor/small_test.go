package benchfloor

import (
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/nacl/secretbox"
)

func testKeys(t testing.TB) Keys {
	var k Keys
	_, _ = rand.Read(k.Key[:])
	_, _ = rand.Read(k.Base[:])
	return k
}

func testListing() *GetDirAnswer {
	l := &GetDirAnswer{Info: DirInfo{Name: "gd", UserMetadata: []byte{}}, SubDirectories: []DirInfo{}, Files: []FileInfo{}}
	for i := range 5 {
		l.SubDirectories = append(l.SubDirectories, DirInfo{Name: "sub" + string(rune('0'+i)), UserMetadata: []byte{}})
		l.Files = append(l.Files, FileInfo{Name: "file" + string(rune('0'+i)) + ".txt", UserMetadata: []byte("meta")})
	}
	return l
}

// le192 reads a nonce as a 192-bit little-endian integer.
func le192(n [24]byte) *big.Int {
	be := slices.Clone(n[:])
	slices.Reverse(be)
	return new(big.Int).SetBytes(be)
}

func TestNonceIsBasePlusN(t *testing.T) {
	mod := new(big.Int).Lsh(big.NewInt(1), 192)
	allFF := Keys{}
	for i := range allFF.Base {
		allFF.Base[i] = 0xff
	}
	carries := Keys{}
	for i := range 8 {
		carries.Base[i] = 0xff
	}
	cases := []Keys{{}, allFF, carries, testKeys(t), testKeys(t)}
	for _, k := range cases {
		for _, n := range []uint64{0, 1, 2, 255, 256, 1<<32 + 7, 1<<64 - 1} {
			want := new(big.Int).Add(le192(k.Base), new(big.Int).SetUint64(n))
			want.Mod(want, mod)
			assert.Zero(t, want.Cmp(le192(*k.nonce(n))), "base %x + %d", k.Base, n)
		}
	}
}

// The app's messages are boxes x/crypto opens with N+2k, the daemon's with
// N+2k+1, and the answer id is the base64 of the request body's SHA-512.
func TestSmallIsTheWireForm(t *testing.T) {
	k := testKeys(t)
	app, d := NewApp(k), NewDaemon(k)
	for i := range uint64(3) {
		body, id, err := app.Request(nil, EndpointGetDir, GetDirRequest{DirPath: "gd"})
		require.NoError(t, err)
		plain, ok := secretbox.Open(nil, body, k.nonce(2*i), &k.Key)
		require.True(t, ok, "request %d", i)
		assert.JSONEq(t, `{"endpoint":"safe-api/v1.0/nfs/get-dir","data":{"timeout_ms":0,"is_path_shared":false,"dir_path":"gd"}}`, string(plain))
		sum := sha512.Sum512(body)
		assert.Equal(t, base64.StdEncoding.EncodeToString(sum[:]), id)

		ep, req, err := OpenRequest[GetDirRequest](d, body)
		require.NoError(t, err)
		assert.Equal(t, EndpointGetDir, ep)
		assert.Equal(t, "gd", req.DirPath)

		ans, err := d.OK(nil, id)
		require.NoError(t, err)
		plain, ok = secretbox.Open(nil, ans, k.nonce(2*i+1), &k.Key)
		require.True(t, ok, "answer %d", i)
		assert.Equal(t, `{"id":"`+id+`","error":{"code":0,"description":""}}`, string(plain))
		got, err := OpenAnswer[struct{}](app, ans, id)
		require.NoError(t, err)
		assert.Nil(t, got)
	}
}

func TestSmallRuns(t *testing.T) {
	l := testListing()
	s := NewSmall(testKeys(t), l)
	for range 3 {
		require.NoError(t, s.GetDir("gd"))
		require.NoError(t, s.CreateDelete("cd/lat"))
	}
	sz := s.Sizes()
	// The answer carries the listing: its JSON, the id, and the box.
	js, err := json.Marshal(l)
	require.NoError(t, err)
	assert.Equal(t, len(`{"id":"`)+88+len(`","data":`)+len(js)+len(`}`)+secretbox.Overhead, sz.GetDirAnswer)
	assert.Equal(t, len(`{"id":"`)+88+len(`","error":{"code":0,"description":""}}`)+secretbox.Overhead, sz.OKAnswer)
	for _, n := range []int{sz.GetDirRequest, sz.CreateRequest, sz.DeleteRequest} {
		assert.Greater(t, n, 60)
	}
	assert.Greater(t, sz.CreateRequest, sz.DeleteRequest)
}

func TestOpenAnswerRefuses(t *testing.T) {
	k := testKeys(t)
	sealAnswer := func(plain string) []byte {
		return secretbox.Seal(nil, []byte(plain), k.nonce(1), &k.Key)
	}
	cases := []struct {
		name  string
		body  []byte
		check func(t *testing.T, err error)
	}{
		{"tampered", func() []byte { b := sealAnswer(`{"id":"x","data":{}}`); b[20] ^= 1; return b }(),
			func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrOpen) }},
		{"short", []byte{1, 2, 3}, func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrOpen) }},
		{"not json", sealAnswer(`{"id":`), func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrMalformed) }},
		{"no id", sealAnswer(`{"data":{}}`), func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrMalformed) }},
		{"other id", sealAnswer(`{"id":"y","data":{}}`), func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrMalformed) }},
		{"nothing", sealAnswer(`{"id":"x"}`), func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrMalformed) }},
		{"null data", sealAnswer(`{"id":"x","data":null}`), func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrMalformed) }},
		{"wrong type", sealAnswer(`{"id":"x","data":{"files":7}}`), func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrMalformed) }},
		{"code", sealAnswer(`{"id":"x","error":{"code":-1502,"description":"no such path"}}`), func(t *testing.T, err error) {
			var ce *CodeError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, &CodeError{Code: -1502, Description: "no such path"}, ce)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, err := OpenAnswer[GetDirAnswer](NewApp(k), c.body, "x")
			assert.Nil(t, data)
			c.check(t, err)
		})
	}
	// An answer to get-dir decodes into the listing.
	data, err := OpenAnswer[GetDirAnswer](NewApp(k), sealAnswer(`{"id":"x","data":{"info":{"name":"gd"},"sub_directories":[],"files":[{"name":"a","size":3}]}}`), "x")
	require.NoError(t, err)
	assert.Equal(t, "a", data.Files[0].Name)
	assert.Equal(t, 1, data.Entries())
}

func TestOpenRequestRefuses(t *testing.T) {
	k := testKeys(t)
	for _, plain := range []string{`{"endpoint":"safe-api/v1.0/nfs/get-dir"}`, `{"endpoint":"e","data":null}`, `[]`, `{"data":{"dir_path":5}}`} {
		body := secretbox.Seal(nil, []byte(plain), k.nonce(0), &k.Key)
		_, data, err := OpenRequest[GetDirRequest](NewDaemon(k), body)
		assert.ErrorIs(t, err, ErrMalformed, plain)
		assert.Nil(t, data)
	}
	// The app's second request does not open as the daemon's first.
	app := NewApp(k)
	_, _, err := app.Request(nil, EndpointGetDir, GetDirRequest{})
	require.NoError(t, err)
	body, _, err := app.Request(nil, EndpointGetDir, GetDirRequest{})
	require.NoError(t, err)
	_, _, err = OpenRequest[GetDirRequest](NewDaemon(k), body)
	assert.ErrorIs(t, err, ErrOpen)
}

// FuzzOpenAnswer feeds any plaintext, sealed as the launcher's first
// answer, to the app's side: it never panics, and an answer it accepts is
// the one asked for and carries data or a code-0 error.
func FuzzOpenAnswer(f *testing.F) {
	f.Add([]byte(`{"id":"x","data":{"info":{"name":"gd"},"sub_directories":[],"files":[]}}`))
	f.Add([]byte(`{"id":"x","error":{"code":0,"description":""}}`))
	f.Add([]byte(`{"id":"x","error":{"code":-1,"description":"e"}}`))
	var k Keys
	f.Fuzz(func(t *testing.T, plain []byte) {
		body := secretbox.Seal(nil, plain, k.nonce(1), &k.Key)
		data, err := OpenAnswer[GetDirAnswer](NewApp(k), body, "x")
		if err != nil {
			assert.Nil(t, data)
			return
		}
		var ans struct {
			ID    string          `json:"id"`
			Data  json.RawMessage `json:"data"`
			Error *errorBody      `json:"error"`
		}
		require.NoError(t, json.Unmarshal(plain, &ans))
		assert.Equal(t, "x", ans.ID)
		assert.True(t, data != nil || ans.Error != nil && ans.Error.Code == 0)
	})
}

// FuzzOpenRequest feeds any plaintext, sealed as the app's first request,
// to the daemon's side: it never panics, and a request it accepts has data.
func FuzzOpenRequest(f *testing.F) {
	f.Add([]byte(`{"endpoint":"safe-api/v1.0/nfs/create-file","data":{"is_path_shared":false,"file_path":"cd/a","user_metadata":""}}`))
	f.Add([]byte(`{"endpoint":"safe-api/v1.0/nfs/create-file","data":{"user_metadata":"!"}}`))
	var k Keys
	f.Fuzz(func(t *testing.T, plain []byte) {
		body := secretbox.Seal(nil, plain, k.nonce(0), &k.Key)
		_, data, err := OpenRequest[CreateFileRequest](NewDaemon(k), body)
		if err != nil {
			assert.ErrorIs(t, err, ErrMalformed)
			assert.Nil(t, data)
			return
		}
		assert.NotNil(t, data)
	})
}

func BenchmarkSmall(b *testing.B) {
	s := NewSmall(testKeys(b), testListing())
	b.Run("GetDir", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.GetDir("gd"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("CreateDelete", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.CreateDelete("cd/lat"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
