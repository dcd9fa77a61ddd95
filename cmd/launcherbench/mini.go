package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"golang.org/x/crypto/nacl/box"

	"github.com/safe-launcher/launcher/internal/benchfloor"
)

// The minimal client: what an app developer would write against the RFC in
// an afternoon, with no SDK. One goroutine; frames hand-rolled (8-byte
// little-endian length, header and body in one write, reads through a
// bufio.Reader); the handshake with nacl/box; requests and answers with
// encoding/json and nacl/secretbox in counter nonce mode, through the same
// benchfloor.App the small-request floor uses, so that the client does
// exactly the floor's app-side work plus the network. It sends one request,
// reads its answer, and only then sends the next. It speaks the wire
// protocol only, so it measures any build of the daemon alike.

// Errors of the minimal client.
var (
	errMiniValue    = errors.New("minimal client: launcher value is not tcp:<host>:<port>:<launcher_string>")
	errMiniRefused  = errors.New("minimal client: handshake refused")
	errMiniTooLarge = errors.New("minimal client: frame too large")
	errMiniAnswer   = errors.New("minimal client: unexpected answer")
)

// miniMaxFrame caps the frames the minimal client reads: its answers are
// small, and a larger header is refused before anything is allocated.
const miniMaxFrame = 1 << 20

// miniConn is one session of the minimal client. It is not safe for
// concurrent use: it carries one request at a time.
type miniConn struct {
	nc  net.Conn
	br  *bufio.Reader
	app *benchfloor.App
	out []byte // header and body of the frame being sent
	in  []byte // body of the frame last read
}

// dialMini connects to the launcher value v and does the handshake in
// counter nonce mode. It speaks IPv4 and host names (the values the bench
// mints), not bracketed IPv6.
func dialMini(ctx context.Context, v string) (*miniConn, error) {
	parts := strings.SplitN(v, ":", 4)
	if len(parts) != 4 || parts[0] != "tcp" || parts[3] == "" {
		return nil, errMiniValue
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", net.JoinHostPort(parts[1], parts[2]))
	if err != nil {
		return nil, err
	}
	m := &miniConn{nc: nc, br: bufio.NewReaderSize(nc, 32<<10)}
	if err := m.handshake(ctx, parts[3]); err != nil {
		nc.Close()
		return nil, err
	}
	return m, nil
}

// handshake is the authenticate-app exchange: plain JSON one frame each way.
func (m *miniConn) handshake(ctx context.Context, launcherString string) error {
	defer m.watch(ctx)()
	pub, priv, err := box.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	var nonce [24]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	type reqData struct {
		LauncherString string `json:"launcher_string"`
		AsymmNonce     []byte `json:"asymm_nonce"`
		AsymmPubKey    []byte `json:"asymm_pub_key"`
		NonceMode      string `json:"nonce_mode"`
	}
	req, err := json.Marshal(struct {
		Endpoint string  `json:"endpoint"`
		Data     reqData `json:"data"`
	}{"safe-api/v1.0/handshake/authenticate-app", reqData{launcherString, nonce[:], pub[:], "counter"}})
	if err != nil {
		return err
	}
	if err := m.write(append(make([]byte, 8, 8+len(req)), req...)); err != nil {
		return err
	}
	body, err := m.read()
	if err != nil {
		return err
	}
	var ans struct {
		Data *struct {
			EncryptedSymmKey  []byte `json:"encrypted_symm_key"`
			LauncherPublicKey []byte `json:"launcher_public_key"`
			NonceMode         string `json:"nonce_mode"`
		} `json:"data"`
		Error *struct {
			Code        int64  `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return fmt.Errorf("%w: handshake answer: %v", errMiniAnswer, err)
	}
	if ans.Error != nil {
		return fmt.Errorf("%w: %d %s", errMiniRefused, ans.Error.Code, ans.Error.Description)
	}
	if ans.Data == nil || len(ans.Data.LauncherPublicKey) != 32 || ans.Data.NonceMode != "counter" {
		return fmt.Errorf("%w: handshake answer without a key or counter mode", errMiniAnswer)
	}
	var lpub [32]byte
	copy(lpub[:], ans.Data.LauncherPublicKey)
	secret, ok := box.Open(nil, ans.Data.EncryptedSymmKey, &nonce, &lpub, priv)
	if !ok || len(secret) != 24+32 {
		return fmt.Errorf("%w: the session key did not open", errMiniAnswer)
	}
	var k benchfloor.Keys
	copy(k.Base[:], secret[:24]) // the nonce first, then the key
	copy(k.Key[:], secret[24:])
	clear(secret)
	clear(priv[:])
	m.app = benchfloor.NewApp(k)
	return nil
}

// watch makes the connection's reads and writes fail once ctx ends; the
// returned function stops watching.
func (m *miniConn) watch(ctx context.Context) (stop func()) {
	if ctx.Done() == nil {
		return func() {}
	}
	s := context.AfterFunc(ctx, func() { _ = m.nc.SetDeadline(time.Unix(1, 0)) })
	return func() { s() }
}

// write sends frame, whose first 8 bytes are left for the header.
func (m *miniConn) write(frame []byte) error {
	binary.LittleEndian.PutUint64(frame, uint64(len(frame)-8))
	_, err := m.nc.Write(frame)
	return err
}

// read reads one frame's body into m.in.
func (m *miniConn) read() ([]byte, error) {
	var h [8]byte
	if _, err := io.ReadFull(m.br, h[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint64(h[:])
	if n > miniMaxFrame {
		return nil, fmt.Errorf("%w: %d bytes", errMiniTooLarge, n)
	}
	if uint64(cap(m.in)) < n {
		m.in = make([]byte, n)
	}
	m.in = m.in[:n]
	_, err := io.ReadFull(m.br, m.in)
	return m.in, err
}

// roundTrip sends one request and reads its answer's frame; it returns the
// answer's body and the request's id.
func (m *miniConn) roundTrip(endpoint string, data any) ([]byte, string, error) {
	out, id, err := m.app.Request(append(m.out[:0], make([]byte, 8)...), endpoint, data)
	if err != nil {
		return nil, "", err
	}
	m.out = out
	if err := m.write(out); err != nil {
		return nil, "", err
	}
	body, err := m.read()
	return body, id, err
}

// listing is a get-dir of the bench's directory.
func (m *miniConn) listing(ctx context.Context) (*benchfloor.GetDirAnswer, error) {
	defer m.watch(ctx)()
	body, id, err := m.roundTrip(benchfloor.EndpointGetDir, benchfloor.GetDirRequest{DirPath: getDirPath})
	if err != nil {
		return nil, err
	}
	l, err := benchfloor.OpenAnswer[benchfloor.GetDirAnswer](m.app, body, id)
	if err == nil && l == nil {
		err = fmt.Errorf("%w: get-dir answered without a listing", errMiniAnswer)
	}
	return l, err
}

func (m *miniConn) getDir(ctx context.Context) error {
	l, err := m.listing(ctx)
	if err == nil && l.Entries() != getDirEntries {
		err = fmt.Errorf("%w: get-dir listed %d entries", errMiniAnswer, l.Entries())
	}
	return err
}

func (m *miniConn) createDelete(ctx context.Context, name string) error {
	defer m.watch(ctx)()
	p := cdDir + "/" + name
	for _, r := range []struct {
		endpoint string
		data     any
	}{
		{benchfloor.EndpointCreateFile, benchfloor.CreateFileRequest{FilePath: p, UserMetadata: []byte{}}},
		{benchfloor.EndpointDeleteFile, benchfloor.FileRequest{FilePath: p}},
	} {
		body, id, err := m.roundTrip(r.endpoint, r.data)
		if err != nil {
			return err
		}
		if _, err := benchfloor.OpenAnswer[struct{}](m.app, body, id); err != nil {
			return err
		}
	}
	return nil
}

func (m *miniConn) close() { m.nc.Close() }
