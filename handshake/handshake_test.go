package handshake_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/handshake"
)

var update = flag.Bool("update", false, "rewrite golden files")

// detRand is a deterministic byte stream for golden vectors: byte i is
// (seed + i*7) mod 256.
type detRand struct {
	seed byte
	i    int
}

func (r *detRand) Read(p []byte) (int, error) {
	for k := range p {
		p[k] = r.seed + byte(r.i*7)
		r.i++
	}
	return len(p), nil
}

// golden is the file format of testdata/golden.json.
type golden struct {
	Note         string            `json:"note"`
	RequestPlain string            `json:"request_plain"`
	AnswerPlain  string            `json:"answer_plain"`
	Modes        map[string]sealed `json:"modes"`
}

type sealed struct {
	HandshakeRequest  string   `json:"handshake_request"`
	HandshakeResponse string   `json:"handshake_response"`
	Requests          []string `json:"sealed_requests_b64"`
	Answers           []string `json:"sealed_answers_b64"`
}

const (
	reqPlain = `{"endpoint":"safe-api/v1.0/nfs/get-dir","data":{"timeout_ms":0,"is_path_shared":false,"dir_path":"/"}}`
	ansPlain = `{"id":"","error":{"code":0,"description":""}}`
)

// exchange runs a whole deterministic exchange in one mode: handshake, then two
// requests and two answers each way.
func exchange(t *testing.T, mode handshake.Mode) sealed {
	t.Helper()
	app, req, err := handshake.NewApp(&detRand{seed: 1}, "launcher-string-1", "v1.0", mode)
	require.NoError(t, err)
	parsed, err := handshake.ParseRequest(req)
	require.NoError(t, err)
	resp, lch, err := handshake.Accept(&detRand{seed: 100}, parsed, true)
	require.NoError(t, err)
	ach, err := app.Finish(resp)
	require.NoError(t, err)
	require.Equal(t, mode, ach.Mode())
	require.Equal(t, mode, lch.Mode())
	s := sealed{HandshakeRequest: string(req), HandshakeResponse: string(resp)}
	for i := 0; i < 2; i++ {
		box := ach.Seal(nil, []byte(reqPlain))
		got, err := lch.Open(nil, box)
		require.NoError(t, err)
		require.Equal(t, reqPlain, string(got))
		ans := lch.Seal(nil, []byte(ansPlain))
		got, err = ach.Open(nil, ans)
		require.NoError(t, err)
		require.Equal(t, ansPlain, string(got))
		s.Requests = append(s.Requests, base64.StdEncoding.EncodeToString(box))
		s.Answers = append(s.Answers, base64.StdEncoding.EncodeToString(ans))
	}
	return s
}

func TestGolden(t *testing.T) {
	g := golden{Note: "app randomness: byte i = 1+7i; launcher randomness: byte i = 100+7i (symmetric key, then nonce, then box private key)", RequestPlain: reqPlain, AnswerPlain: ansPlain, Modes: map[string]sealed{}}
	for _, m := range []handshake.Mode{handshake.Fixed, handshake.Counter} {
		g.Modes[m.String()] = exchange(t, m)
	}
	got, err := json.MarshalIndent(g, "", "  ")
	require.NoError(t, err)
	path := filepath.Join("testdata", "golden.json")
	if *update {
		require.NoError(t, os.WriteFile(path, append(got, '\n'), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./handshake -run TestGolden -update")
	assert.Equal(t, string(want), string(got)+"\n", "golden vectors changed")

	// Properties of the vectors themselves.
	fixed, counter := g.Modes["fixed"], g.Modes["counter"]
	assert.Equal(t, fixed.Requests[0], fixed.Requests[1], "fixed mode: same nonce, same ciphertext")
	assert.NotEqual(t, counter.Requests[0], counter.Requests[1], "counter mode: fresh nonce per message")
	assert.NotContains(t, fixed.HandshakeResponse, `"error"`, "a successful answer carries no error key")
	assert.Contains(t, counter.HandshakeRequest, `"nonce_mode":"counter"`)
	assert.Contains(t, counter.HandshakeResponse, `"nonce_mode":"counter"`)
	assert.NotContains(t, fixed.HandshakeRequest, "nonce_mode")
	assert.True(t, strings.HasPrefix(fixed.HandshakeResponse, `{"id":"","data":{"encrypted_symm_key":"`))
}

// TestSealedKeyLayout checks the original's layout: the sealed plaintext is the
// 24-byte nonce first, then the 32-byte key.
func TestSealedKeyLayout(t *testing.T) {
	app, req, err := handshake.NewApp(rand.Reader, "s", "v1.0", handshake.Fixed)
	require.NoError(t, err)
	parsed, err := handshake.ParseRequest(req)
	require.NoError(t, err)
	resp, lch, err := handshake.Accept(rand.Reader, parsed, true)
	require.NoError(t, err)
	ach, err := app.Finish(resp)
	require.NoError(t, err)
	// Both ends agree: a message sealed by one opens at the other.
	msg := []byte("hello")
	got, err := lch.Open(nil, ach.Seal(nil, msg))
	require.NoError(t, err)
	assert.Equal(t, msg, got)
	var r handshake.ResponseMsg
	require.NoError(t, json.Unmarshal(resp, &r))
	assert.Len(t, r.Data.EncryptedSymmKey, handshake.NonceSize+handshake.KeySize+16)
	assert.Len(t, r.Data.LauncherPublicKey, handshake.KeySize)
}

func TestCounterNonces(t *testing.T) {
	// A base whose low words are all ones exercises the carry; the top wraps.
	var key handshake.Key
	var base handshake.Nonce
	for i := range base {
		base[i] = 0xff
	}
	app := handshake.NewChannel(key, base, handshake.Counter, false)
	lau := handshake.NewChannel(key, base, handshake.Counter, true)
	for i := 0; i < 5; i++ {
		m := []byte{byte(i)}
		got, err := lau.Open(nil, app.Seal(nil, m))
		require.NoError(t, err)
		assert.Equal(t, m, got)
		got, err = app.Open(nil, lau.Seal(nil, m))
		require.NoError(t, err)
		assert.Equal(t, m, got)
	}
	// Out of order: a replayed or skipped message fails.
	first := app.Seal(nil, []byte("a"))
	second := app.Seal(nil, []byte("b"))
	_, err := lau.Open(nil, second)
	require.ErrorIs(t, err, handshake.ErrOpen)
	_, err = lau.Open(nil, first)
	require.NoError(t, err)
	_, err = lau.Open(nil, first)
	require.ErrorIs(t, err, handshake.ErrOpen, "replay fails")
	// A launcher message is not accepted as an app message (different parity).
	x := handshake.NewChannel(key, base, handshake.Counter, true)
	y := handshake.NewChannel(key, base, handshake.Counter, true)
	_, err = y.Open(nil, x.Seal(nil, []byte("reflect")))
	require.ErrorIs(t, err, handshake.ErrOpen, "reflection fails")
}

func TestFixedNonceIsTheBase(t *testing.T) {
	var key handshake.Key
	var base handshake.Nonce
	base[0] = 9
	a := handshake.NewChannel(key, base, handshake.Fixed, false)
	b := handshake.NewChannel(key, base, handshake.Fixed, true)
	m1 := a.Seal(nil, []byte("same"))
	m2 := b.Seal(nil, []byte("same"))
	assert.Equal(t, m1, m2, "fixed mode uses one nonce in both directions")
	got, err := b.Open(nil, m1)
	require.NoError(t, err)
	assert.Equal(t, "same", string(got))
	_, err = b.Open(nil, m1)
	require.NoError(t, err, "fixed mode accepts a replay: it is the original's flaw")
}

func TestParseRequestErrors(t *testing.T) {
	good := func() map[string]any {
		return map[string]any{"endpoint": "safe-api/v1.0/handshake/authenticate-app", "data": map[string]any{
			"launcher_string": "x",
			"asymm_nonce":     base64.StdEncoding.EncodeToString(make([]byte, 24)),
			"asymm_pub_key":   base64.StdEncoding.EncodeToString(make([]byte, 32)),
		}}
	}
	enc := func(m map[string]any) []byte { b, _ := json.Marshal(m); return b }
	_, err := handshake.ParseRequest(enc(good()))
	require.NoError(t, err)
	cases := map[string]struct {
		in   []byte
		want error
		text string
	}{
		"not json":       {[]byte("nope"), handshake.ErrMalformed, "invalid JSON"},
		"trailing":       {append(enc(good()), "{}"...), handshake.ErrMalformed, "trailing"},
		"no endpoint":    {enc(func() map[string]any { m := good(); delete(m, "endpoint"); return m }()), handshake.ErrMalformed, "endpoint"},
		"no data":        {enc(func() map[string]any { m := good(); delete(m, "data"); return m }()), handshake.ErrMalformed, "data"},
		"no string":      {enc(func() map[string]any { m := good(); delete(m["data"].(map[string]any), "launcher_string"); return m }()), handshake.ErrMalformed, "launcher_string"},
		"short nonce":    {enc(func() map[string]any { m := good(); m["data"].(map[string]any)["asymm_nonce"] = "AAAA"; return m }()), handshake.ErrMalformed, "asymm_nonce"},
		"short key":      {enc(func() map[string]any { m := good(); m["data"].(map[string]any)["asymm_pub_key"] = "AAAA"; return m }()), handshake.ErrMalformed, "asymm_pub_key"},
		"bad base64":     {enc(func() map[string]any { m := good(); m["data"].(map[string]any)["asymm_pub_key"] = "***"; return m }()), handshake.ErrMalformed, "base64"},
		"wrong type":     {enc(func() map[string]any { m := good(); m["data"].(map[string]any)["launcher_string"] = 5; return m }()), handshake.ErrMalformed, "launcher_string"},
		"bad nonce mode": {enc(func() map[string]any { m := good(); m["data"].(map[string]any)["nonce_mode"] = "random"; return m }()), handshake.ErrBadNonceMode, "random"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := handshake.ParseRequest(tc.in)
			require.ErrorIs(t, err, tc.want)
			assert.Contains(t, err.Error(), tc.text)
		})
	}
}

func TestAcceptRefusesFixed(t *testing.T) {
	_, req, err := handshake.NewApp(rand.Reader, "s", "v1.0", handshake.Fixed)
	require.NoError(t, err)
	parsed, err := handshake.ParseRequest(req)
	require.NoError(t, err)
	_, _, err = handshake.Accept(rand.Reader, parsed, false)
	require.ErrorIs(t, err, handshake.ErrFixedRefused)
}

func TestFinishErrors(t *testing.T) {
	app, _, err := handshake.NewApp(rand.Reader, "s", "v1.0", handshake.Counter)
	require.NoError(t, err)
	_, err = app.Finish([]byte(`{"id":"","error":{"code":-130,"description":"nope"}}`))
	var re *handshake.RefusedError
	require.ErrorAs(t, err, &re)
	assert.EqualValues(t, -130, re.Code)
	// Counter asked but not granted (an original launcher) is refused by the app.
	app2, req, _ := handshake.NewApp(rand.Reader, "s", "v1.0", handshake.Counter)
	parsed, _ := handshake.ParseRequest(bytes.Replace(req, []byte(`,"nonce_mode":"counter"`), nil, 1))
	resp, _, err := handshake.Accept(rand.Reader, parsed, true)
	require.NoError(t, err)
	_, err = app2.Finish(resp)
	require.ErrorIs(t, err, handshake.ErrModeRefused)
	// A tampered sealed key does not open.
	app3, req3, _ := handshake.NewApp(rand.Reader, "s", "v1.0", handshake.Fixed)
	parsed3, _ := handshake.ParseRequest(req3)
	resp3, _, _ := handshake.Accept(rand.Reader, parsed3, true)
	var r handshake.ResponseMsg
	require.NoError(t, json.Unmarshal(resp3, &r))
	r.Data.EncryptedSymmKey[3] ^= 1
	tampered, _ := json.Marshal(r)
	_, err = app3.Finish(tampered)
	require.True(t, errors.Is(err, handshake.ErrOpen), "%v", err)
}

// FuzzParseRequest: the decoder never panics, and whatever it accepts has the
// sizes it promises.
func FuzzParseRequest(f *testing.F) {
	_, req, _ := handshake.NewApp(&detRand{seed: 3}, "seed-string", "v1.0", handshake.Counter)
	f.Add(req)
	_, req, _ = handshake.NewApp(&detRand{seed: 4}, "seed:with:colons", "v1.1", handshake.Fixed)
	f.Add(req)
	f.Add([]byte(`{"endpoint":"safe-api/v1.0/handshake/authenticate-app","data":{}}`))
	f.Add([]byte(`{"data":{"asymm_nonce":null}}`))
	f.Add([]byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := handshake.ParseRequest(data)
		if err != nil {
			if !errors.Is(err, handshake.ErrMalformed) && !errors.Is(err, handshake.ErrBadNonceMode) {
				t.Fatalf("undocumented error: %v", err)
			}
			return
		}
		if len(m.Data.AsymmNonce) != handshake.NonceSize || len(m.Data.AsymmPubKey) != handshake.KeySize {
			t.Fatalf("accepted wrong sizes")
		}
		if m.Data.NonceMode != "" && m.Data.NonceMode != handshake.ModeCounter {
			t.Fatalf("accepted nonce mode %q", m.Data.NonceMode)
		}
	})
}
