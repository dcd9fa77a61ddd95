package launcher_test

// Fuzz targets that drive a real in-process daemon over TCP. Seeds live in
// testdata/fuzz/<FuzzName>/ (written by `go run ./cmd/framegen corpus -out .`);
// docs/fuzzing.md says how to run them for long.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"

	"github.com/safe-launcher/launcher/framing"
	"github.com/safe-launcher/launcher/handshake"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/launchertest"
	"github.com/safe-launcher/launcher/route"
	"github.com/safe-launcher/launcher/wire"
)

// fuzzIO bounds every read and write of the fuzz targets: an answer that does
// not come within it is a hang.
const fuzzIO = 10 * time.Second

// tokenPlaceholder in a FuzzHandshakeWire input is replaced by a fresh
// launcher string (the same placeholder cmd/framegen writes in its seeds).
const tokenPlaceholder = "@TOKEN@"

// fuzzAppKey is the app private key the FuzzHandshakeWire seeds carry the
// public half of (bytes 1..32, as in cmd/framegen): a handshake made with it
// can be completed into a session.
func fuzzAppKey() (priv, pub [32]byte) {
	for i := range priv {
		priv[i] = byte(i + 1)
	}
	p, err := curve25519.X25519(priv[:], curve25519.Basepoint)
	if err != nil {
		panic(err)
	}
	copy(pub[:], p)
	return priv, pub
}

// checkAnswer checks an answer's envelope: an object with a string id equal
// to wantID, and exactly one of data or error{code<=0, description}, with a
// bounded description that leaks no panic. It returns the code (0 for data).
func checkAnswer(t *testing.T, plain []byte, wantID string) wire.Code {
	t.Helper()
	var raw struct {
		ID    *string         `json:"id"`
		Data  json.RawMessage `json:"data"`
		Error *struct {
			Code        *int64  `json:"code"`
			Description *string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(plain, &raw); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %q", err, plain)
	}
	if raw.ID == nil || *raw.ID != wantID {
		t.Fatalf("answer id %v, want %q: %q", raw.ID, wantID, plain)
	}
	hasData := len(raw.Data) > 0 && string(raw.Data) != "null"
	switch {
	case hasData && raw.Error != nil:
		t.Fatalf("answer has data and error: %q", plain)
	case hasData:
		return 0
	case raw.Error == nil || raw.Error.Code == nil || raw.Error.Description == nil:
		t.Fatalf("answer has neither data nor a complete error: %q", plain)
	}
	code, desc := *raw.Error.Code, *raw.Error.Description
	if code > 0 {
		t.Fatalf("positive error code: %q", plain)
	}
	if len(desc) > 2048 {
		t.Fatalf("error description of %d bytes", len(desc))
	}
	if bytes.Contains([]byte(desc), []byte("goroutine ")) || bytes.Contains([]byte(desc), []byte("boom")) {
		t.Fatalf("error description leaks a panic: %q", desc)
	}
	return wire.Code(code)
}

// fuzzConn is a raw connection owned by a fuzz target.
type fuzzConn struct {
	nc net.Conn
	fr *framing.Reader
}

func dialFuzz(tb testing.TB, d *launchertest.Daemon) *fuzzConn {
	tb.Helper()
	nc, err := net.DialTimeout("tcp", d.Addr.String(), fuzzIO)
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	// Reset on close: thousands of connections per second must not leave
	// TIME_WAIT sockets behind and exhaust the ephemeral ports.
	_ = nc.(*net.TCPConn).SetLinger(0)
	return &fuzzConn{nc: nc, fr: framing.NewReader(nc, 0)}
}

func (c *fuzzConn) write(tb testing.TB, b []byte) {
	tb.Helper()
	_ = c.nc.SetWriteDeadline(time.Now().Add(fuzzIO))
	if err := framing.WriteFrame(c.nc, b); err != nil {
		tb.Fatalf("write: %v", err)
	}
}

func (c *fuzzConn) read(tb testing.TB) []byte {
	tb.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(fuzzIO))
	b, err := c.fr.ReadFrame()
	if err != nil {
		tb.Fatalf("no answer (hang or close): %v", err)
	}
	return b
}

// expectEOF requires the daemon to close the connection, with nothing more sent.
func (c *fuzzConn) expectEOF(tb testing.TB) {
	tb.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(fuzzIO))
	n, err := c.nc.Read(make([]byte, 1))
	if n > 0 || err == nil {
		tb.Fatalf("daemon sent more after a plain error")
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		tb.Fatalf("daemon did not close after a plain error")
	}
}

// fuzzSession is an encrypted session kept across fuzz iterations.
type fuzzSession struct {
	*fuzzConn
	ch *handshake.Channel
}

func openFuzzSession(tb testing.TB, d *launchertest.Daemon, appID string) *fuzzSession {
	tb.Helper()
	tok, err := d.Srv.MintLauncherString(appID)
	if err != nil {
		tb.Fatal(err)
	}
	c := dialFuzz(tb, d)
	app, req, err := handshake.NewApp(randReader{}, tok, "v1.0", handshake.Counter)
	if err != nil {
		tb.Fatal(err)
	}
	c.write(tb, req)
	ch, err := app.Finish(c.read(tb))
	if err != nil {
		tb.Fatalf("handshake: %v", err)
	}
	return &fuzzSession{fuzzConn: c, ch: ch}
}

var panicEndpoint = regexp.MustCompile(`^safe-api/v1\.[01]/test/panic$`)

// FuzzSession sends data as the plaintext of a well-encrypted request through
// one real session (kept across inputs) and requires a decryptable, valid JSON
// answer whose id is the SHA-512 of the ciphertext, within fuzzIO, with the
// session still open. Only the test module's panic route may answer an
// internal error.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		`{"endpoint":"safe-api/v1.0/test/echo","data":{"k":"v"}}`,
		`{"endpoint":"safe-api/v1.0/nfs/get-dir","data":{"timeout_ms":0,"is_path_shared":false,"dir_path":"/"}}`,
		`{"endpoint":"safe-api/v1.1/test/added"}`,
		`{"endpoint":"safe-api/v1.0/test/panic","data":{}}`,
		`{"endpoint":"safe-api/v1.0/handshake/authenticate-app","data":{}}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`,
		`{"endpoint":5}`,
		"",
	} {
		f.Add([]byte(s))
	}
	d := launchertest.Start(f, launcher.Config{MaxJSONDepth: 32}, &testModule{})
	app := d.AddApp("fuzz", false)
	var s *fuzzSession
	f.Cleanup(func() {
		if s != nil {
			s.nc.Close()
		}
	})
	f.Fuzz(func(t *testing.T, plain []byte) {
		if s == nil {
			s = openFuzzSession(t, d, app.ID)
		}
		cur := s
		s = nil // reopened next time unless this input ends well
		sealed := cur.ch.Seal(nil, plain)
		cur.write(t, sealed)
		ans, err := cur.ch.Open(nil, cur.read(t))
		if err != nil {
			t.Fatalf("answer does not decrypt: %v", err)
		}
		code := checkAnswer(t, ans, wire.ID(sealed))
		if code == wire.CodeInternal {
			req, err := wire.ParseRequest(plain)
			if err != nil || !panicEndpoint.MatchString(req.Endpoint) {
				t.Fatalf("internal error for %q", plain)
			}
		}
		s = cur
	})
}

// FuzzHandshakeWire sends data as the first frame of a connection (with
// @TOKEN@ replaced by a fresh launcher string). The daemon must answer within
// fuzzIO with either a plain error (empty id, negative code) and then close, or
// a valid handshake answer, only for a request handshake.ParseRequest accepts;
// a handshake made with the seeds' app key must then carry a working session.
func FuzzHandshakeWire(f *testing.F) {
	priv, pub := fuzzAppKey()
	for _, mode := range []string{"", `,"nonce_mode":"counter"`} {
		f.Add(fmt.Appendf(nil, `{"endpoint":"safe-api/v1.0/handshake/authenticate-app","data":{"launcher_string":%q,"asymm_nonce":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYX","asymm_pub_key":%q%s}}`,
			tokenPlaceholder, base64.StdEncoding.EncodeToString(pub[:]), mode))
	}
	f.Add([]byte(`{"endpoint":"safe-api/v1.0/handshake/authenticate-app","data":{"launcher_string":"x","asymm_nonce":"AAAA","asymm_pub_key":"AAAA"}}`))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{})
	d := launchertest.Start(f, launcher.Config{HandshakeTimeout: 2 * time.Second, TokenTTL: 10 * time.Second}, &testModule{})
	app := d.AddApp("fuzz", false)
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.Contains(data, []byte(tokenPlaceholder)) {
			tok, err := d.Srv.MintLauncherString(app.ID)
			if err != nil {
				t.Fatal(err)
			}
			data = bytes.ReplaceAll(data, []byte(tokenPlaceholder), []byte(tok))
		}
		c := dialFuzz(t, d)
		defer c.nc.Close()
		c.write(t, data)
		ans := c.read(t)
		var raw struct {
			ID    *string          `json:"id"`
			Data  *json.RawMessage `json:"data"`
			Error json.RawMessage  `json:"error"`
		}
		if err := json.Unmarshal(ans, &raw); err != nil {
			t.Fatalf("answer is not JSON: %q", ans)
		}
		if raw.Error != nil {
			checkAnswer(t, ans, "")
			c.expectEOF(t)
			return
		}
		req, err := handshake.ParseRequest(data)
		if err != nil {
			t.Fatalf("daemon accepted a handshake ParseRequest refuses (%v): %q", err, data)
		}
		var resp handshake.ResponseMsg
		if err := json.Unmarshal(ans, &resp); err != nil || raw.ID == nil || *raw.ID != "" || raw.Data == nil ||
			len(resp.Data.LauncherPublicKey) != handshake.KeySize {
			t.Fatalf("malformed handshake answer: %q", ans)
		}
		if (req.Data.NonceMode == handshake.ModeCounter) != (resp.Data.NonceMode == handshake.ModeCounter) {
			t.Fatalf("nonce mode %q answered %q", req.Data.NonceMode, resp.Data.NonceMode)
		}
		if !bytes.Equal(req.Data.AsymmPubKey, pub[:]) {
			return // not our key: the session cannot be opened
		}
		var nonce [24]byte
		var lpub [32]byte
		copy(nonce[:], req.Data.AsymmNonce)
		copy(lpub[:], resp.Data.LauncherPublicKey)
		secret, ok := box.Open(nil, resp.Data.EncryptedSymmKey, &nonce, &lpub, &priv)
		if !ok || len(secret) != handshake.NonceSize+handshake.KeySize {
			t.Fatalf("encrypted_symm_key does not open to nonce||key")
		}
		var key handshake.Key
		var base handshake.Nonce
		copy(base[:], secret[:handshake.NonceSize])
		copy(key[:], secret[handshake.NonceSize:])
		mode := handshake.Fixed
		if req.Data.NonceMode == handshake.ModeCounter {
			mode = handshake.Counter
		}
		ch := handshake.NewChannel(key, base, mode, false)
		defer ch.Close()
		sealed := ch.Seal(nil, []byte(`{"endpoint":"safe-api/v1.0/test/echo","data":{"ok":true}}`))
		c.write(t, sealed)
		plain, err := ch.Open(nil, c.read(t))
		if err != nil {
			t.Fatalf("session answer does not decrypt: %v", err)
		}
		if checkAnswer(t, plain, wire.ID(sealed)) != 0 {
			t.Fatalf("echo in a fresh session failed: %q", plain)
		}
	})
}

// badAnswers is a module whose handlers return answers that cannot be encoded.
type badAnswers struct{}

func (badAnswers) Register(t *route.Table) {
	for name, raw := range map[string]string{"not-json": `{"a":`, "not-object": `[1,2]`, "empty": ``} {
		t.Handle("bad", name, wire.V1_0, func(context.Context, route.Caller, json.RawMessage) (route.Result, error) {
			return route.Answer(wire.RawObject(raw)), nil
		})
	}
}

// TestAnswerWithoutDataIsCodeZero is the regression test for the first
// FuzzSession crash: test/echo without data was answered {"id":…,"data":null},
// which apps written for the original launcher cannot read (they test
// error.code). Every nil answer must be the code-0 answer, and an answer that
// cannot be encoded an internal error, with the session going on.
func TestAnswerWithoutDataIsCodeZero(t *testing.T) {
	d := launchertest.Start(t, launcher.Config{}, &testModule{}, badAnswers{})
	app := d.AddApp("nils", false)
	s := openSession(t, d, app.ID, handshake.Counter)
	cases := map[string]wire.Code{
		`{"endpoint":"safe-api/v1.0/test/echo"}`:                 wire.CodeOK,
		`{"endpoint":"safe-api/v1.0/test/echo","data":null}`:     wire.CodeOK,
		`{"endpoint":"safe-api/v1.0/test/empty"}`:                wire.CodeOK,
		`{"endpoint":"safe-api/v1.0/bad/not-json"}`:              wire.CodeInternal,
		`{"endpoint":"safe-api/v1.0/bad/not-object"}`:            wire.CodeInternal,
		`{"endpoint":"safe-api/v1.0/bad/empty"}`:                 wire.CodeInternal,
		`{"endpoint":"safe-api/v1.0/test/echo","data":{"a":[]}}`: -1, // data
	}
	for msg, want := range cases {
		sealed := s.ch.Seal(nil, []byte(msg))
		require.NoError(t, framing.WriteFrame(s, sealed))
		b, err := s.fr.ReadFrame()
		require.NoError(t, err, msg)
		plain, err := s.ch.Open(nil, b)
		require.NoError(t, err)
		if want == -1 {
			assert.JSONEq(t, fmt.Sprintf(`{"id":%q,"data":{"a":[]}}`, wire.ID(sealed)), string(plain), msg)
			continue
		}
		desc := ""
		if want == wire.CodeInternal {
			desc = "internal error"
		}
		assert.JSONEq(t, fmt.Sprintf(`{"id":%q,"error":{"code":%d,"description":%q}}`, wire.ID(sealed), want, desc), string(plain), msg)
	}
}
