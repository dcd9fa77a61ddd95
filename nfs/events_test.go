package nfs_test

// Push events end to end (the launcher module, v1.1), driven by hand over
// real TCP so that the frames themselves are checked: a watcher session
// reads its push frames while another session of the SDK changes the tree.

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/framing"
	"github.com/safe-launcher/launcher/handshake"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/wire"
)

// rawSession is a session driven by hand, reading every frame.
type rawSession struct {
	nc net.Conn
	fr *framing.Reader
	ch *handshake.Channel
}

func (e *env) rawSession(t *testing.T, appID string, mode handshake.Mode) *rawSession {
	t.Helper()
	return e.rawSessionBuf(t, appID, mode, 0)
}

// rawSessionBuf is rawSession with the socket's receive buffer set to rcvbuf
// bytes (0: the system's).
func (e *env) rawSessionBuf(t *testing.T, appID string, mode handshake.Mode, rcvbuf int) *rawSession {
	t.Helper()
	tok, err := e.d.Srv.MintLauncherString(appID)
	require.NoError(t, err)
	var d net.Dialer
	if rcvbuf > 0 {
		// Set before connecting, so that the window is negotiated for it
		// (shrinking it on a live connection stalls loopback TCP).
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
			return errors.Join(err, serr)
		}
	}
	nc, err := d.Dial("tcp", e.d.Addr.String())
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	app, req, err := handshake.NewApp(randReader{}, tok, "v1.1", mode)
	require.NoError(t, err)
	require.NoError(t, framing.WriteFrame(nc, req))
	fr := framing.NewReader(nc, 0)
	ans, err := fr.ReadFrame()
	require.NoError(t, err)
	ch, err := app.Finish(ans)
	require.NoError(t, err)
	return &rawSession{nc: nc, fr: fr, ch: ch}
}

// randReader is crypto/rand for handshake.NewApp.
type randReader struct{}

func (randReader) Read(p []byte) (int, error) { return rand.Read(p) }

// send sends a request and returns its answer id.
func (s *rawSession) send(t *testing.T, endpoint string, data any) string {
	t.Helper()
	msg, err := json.Marshal(map[string]any{"endpoint": endpoint, "data": data})
	require.NoError(t, err)
	sealed := s.ch.Seal(nil, msg)
	require.NoError(t, framing.WriteFrame(s.nc, sealed))
	return wire.ID(sealed)
}

// frame reads one frame: an answer or a push.
type frame struct {
	resp  wire.Response
	event *wire.Event
}

func (s *rawSession) read(t *testing.T) frame {
	t.Helper()
	b, err := s.fr.ReadFrame()
	require.NoError(t, err)
	plain, err := s.ch.Open(nil, b)
	require.NoError(t, err)
	var probe map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(plain, &probe))
	if ev, ok := probe["event"]; ok {
		_, hasID := probe["id"]
		require.False(t, hasID, "a push frame has no id: %s", plain)
		var e wire.Event
		require.NoError(t, json.Unmarshal(ev, &e))
		return frame{event: &e}
	}
	var f frame
	require.NoError(t, json.Unmarshal(plain, &f.resp))
	return f
}

// call sends a request and reads until its answer, returning the answer and
// the push frames that came before it.
func (s *rawSession) call(t *testing.T, endpoint string, data any) (wire.Response, []wire.Event) {
	t.Helper()
	id := s.send(t, endpoint, data)
	var evs []wire.Event
	for {
		f := s.read(t)
		if f.event != nil {
			evs = append(evs, *f.event)
			continue
		}
		require.Equal(t, id, f.resp.ID)
		return f.resp, evs
	}
}

// watch starts a watch and returns its id.
func (s *rawSession) watch(t *testing.T, shared bool, dir string, recursive bool) string {
	t.Helper()
	resp, evs := s.call(t, "safe-api/v1.1/launcher/watch", map[string]any{"is_path_shared": shared, "dir_path": dir, "recursive": recursive})
	require.Empty(t, evs)
	require.NoError(t, resp.Err())
	var w wire.WatchResponse
	require.NoError(t, json.Unmarshal(resp.Data, &w))
	require.NotEmpty(t, w.WatchID)
	return w.WatchID
}

// events reads n push frames.
func (s *rawSession) events(t *testing.T, n int) []wire.Event {
	t.Helper()
	var out []wire.Event
	for len(out) < n {
		f := s.read(t)
		require.NotNil(t, f.event, "expected a push frame, got an answer %+v", f.resp)
		out = append(out, *f.event)
	}
	return out
}

// expectQuiet checks that nothing more arrives: a ping's answer is the next
// frame.
func (s *rawSession) expectQuiet(t *testing.T) {
	t.Helper()
	resp, evs := s.call(t, "safe-api/v1.1/launcher/ping", nil)
	require.NoError(t, resp.Err())
	require.Empty(t, evs, "no event was due")
}

type ev struct {
	kind, path, newPath string
	dir                 bool
}

func kinds(evs []wire.Event) []ev {
	out := make([]ev, len(evs))
	for i, e := range evs {
		out[i] = ev{e.Kind, e.Path, e.NewPath, e.IsDir}
	}
	return out
}

func TestWatchEveryKind(t *testing.T) {
	e := newEnv(t)
	app, c := e.app(t, "watcher", false)
	ctx := ctxT(t)
	require.NoError(t, c.CreateDir(ctx, mkdir("docs")))
	w := e.rawSession(t, app.ID, handshake.Counter)
	id := w.watch(t, false, "/docs/", false)

	require.NoError(t, c.CreateDir(ctx, mkdir("docs/sub")))
	require.NoError(t, c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "docs/a.txt", UserMetadata: wire.Bytes{}}))
	require.NoError(t, c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: "docs/a.txt", NewValues: wire.FileNewValues{Content: &wire.FileContent{Bytes: []byte("hi")}}}))
	require.NoError(t, c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: "docs/a.txt", NewValues: wire.FileNewValues{Name: strp("b.txt"), UserMetadata: bp([]byte{1})}}))
	require.NoError(t, c.ModifyDir(ctx, wire.ModifyDirRequest{DirPath: "docs/sub", NewValues: wire.DirNewValues{UserMetadata: bp([]byte{2})}}))
	require.NoError(t, c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "docs/sub/deep", UserMetadata: wire.Bytes{}})) // below: not reported
	require.NoError(t, c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "elsewhere", UserMetadata: wire.Bytes{}}))     // outside: not reported
	require.NoError(t, c.DeleteFile(ctx, false, "docs/b.txt"))
	require.NoError(t, c.DeleteDir(ctx, false, "docs/sub"))
	require.NoError(t, c.DeleteDir(ctx, false, "docs")) // the watched directory itself

	evs := w.events(t, 9)
	assert.Equal(t, []ev{
		{"created", "docs/sub", "", true},
		{"created", "docs/a.txt", "", false},
		{"modified", "docs/a.txt", "", false},
		{"renamed", "docs/a.txt", "docs/b.txt", false},
		{"modified", "docs/b.txt", "", false},
		{"modified", "docs/sub", "", true},
		{"deleted", "docs/b.txt", "", false},
		{"deleted", "docs/sub", "", true},
		{"deleted", "docs", "", true},
	}, kinds(evs))
	for i, e := range evs {
		assert.Equal(t, id, e.WatchID)
		assert.Equal(t, uint64(i+1), e.Seq, "seq counts from 1 in the session")
	}
	w.expectQuiet(t)

	// Unwatch: nothing more; an unknown id is -161.
	resp, _ := w.call(t, "safe-api/v1.1/launcher/unwatch", map[string]string{"watch_id": id})
	require.NoError(t, resp.Err())
	require.NoError(t, c.CreateDir(ctx, mkdir("docs")))
	w.expectQuiet(t)
	resp, _ = w.call(t, "safe-api/v1.1/launcher/unwatch", map[string]string{"watch_id": id})
	require.ErrorIs(t, resp.Err(), wire.ErrUnknownWatch)
}

func TestWatchRecursiveAndOwnChanges(t *testing.T) {
	e := newEnv(t)
	app, c := e.app(t, "rec", false)
	ctx := ctxT(t)
	w := e.rawSession(t, app.ID, handshake.Counter)
	id := w.watch(t, false, "", true) // the whole root

	require.NoError(t, c.CreateDir(ctx, mkdir("a")))
	require.NoError(t, c.CreateDir(ctx, mkdir("a/b")))
	require.NoError(t, c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "a/b/c", UserMetadata: wire.Bytes{}}))
	assert.Equal(t, []ev{{"created", "a", "", true}, {"created", "a/b", "", true}, {"created", "a/b/c", "", false}}, kinds(w.events(t, 3)))

	// A change the watching session makes itself: its answer comes first,
	// then its event.
	id2 := w.send(t, "safe-api/v1.0/nfs/create-dir", mkdir("a/mine"))
	f := w.read(t)
	require.Nil(t, f.event, "the answer comes before the event of its own change")
	require.Equal(t, id2, f.resp.ID)
	require.NoError(t, f.resp.Err())
	got := w.events(t, 1)[0]
	assert.Equal(t, ev{"created", "a/mine", "", true}, kinds([]wire.Event{got})[0])
	assert.Equal(t, id, got.WatchID)
	assert.Equal(t, uint64(4), got.Seq)
}

func TestWatchOnlyOwnTrees(t *testing.T) {
	e := newEnv(t)
	a, ca := e.app(t, "alice", true)
	b, cb := e.app(t, "bob", true)
	ctx := ctxT(t)
	wa := e.rawSession(t, a.ID, handshake.Counter)
	wb := e.rawSession(t, b.ID, handshake.Counter)
	wa.watch(t, false, "", true)
	wb.watch(t, false, "", true)
	sharedA := wa.watch(t, true, "", true)

	require.NoError(t, cb.CreateDir(ctx, mkdir("bobs"))) // bob's private root
	require.NoError(t, ca.CreateDir(ctx, mkdir("alices")))
	assert.Equal(t, []ev{{"created", "alices", "", true}}, kinds(wa.events(t, 1)), "alice hears only of her own root")
	assert.Equal(t, []ev{{"created", "bobs", "", true}}, kinds(wb.events(t, 1)))

	// SAFEDrive: bob writes, alice (granted) hears it on her SAFEDrive watch.
	require.NoError(t, cb.CreateDir(ctx, wire.CreateDirRequest{IsPathShared: true, DirPath: "common", UserMetadata: wire.Bytes{}}))
	got := wa.events(t, 1)
	assert.Equal(t, []ev{{"created", "common", "", true}}, kinds(got))
	assert.Equal(t, sharedA, got[0].WatchID)
	wb.expectQuiet(t) // bob watches only his private root

	// Revoke alice: access-changed on each watch, her SAFEDrive watch ends.
	a.SharedDrive = false
	e.d.Apps.Put(a)
	e.d.Srv.AccessChanged(a.ID)
	ac := wa.events(t, 2)
	for _, x := range ac {
		assert.Equal(t, "access-changed", x.Kind)
		assert.Equal(t, "", x.Path)
	}
	require.NoError(t, cb.CreateDir(ctx, wire.CreateDirRequest{IsPathShared: true, DirPath: "later", UserMetadata: wire.Bytes{}}))
	wa.expectQuiet(t)
	resp, _ := wa.call(t, "safe-api/v1.1/launcher/watch", map[string]any{"is_path_shared": true, "dir_path": ""})
	require.ErrorIs(t, resp.Err(), wire.ErrSharedDenied)

	// Grant again: access-changed on the watch left; a new SAFEDrive watch works.
	a.SharedDrive = true
	e.d.Apps.Put(a)
	e.d.Srv.AccessChanged(a.ID)
	assert.Equal(t, "access-changed", wa.events(t, 1)[0].Kind)
	wa.watch(t, true, "", false)
	require.NoError(t, cb.CreateDir(ctx, wire.CreateDirRequest{IsPathShared: true, DirPath: "again", UserMetadata: wire.Bytes{}}))
	assert.Equal(t, []ev{{"created", "again", "", true}}, kinds(wa.events(t, 1)))
}

// TestWatchOverflow: a watcher that stops reading never slows the writer of
// changes: its queue is bounded, and once it reads again it gets an
// overflow event, after which events flow again.
func TestWatchOverflow(t *testing.T) {
	e := newEnv(t)
	app, c := e.app(t, "flood", false)
	ctx := ctxT(t)
	// A small receive buffer, so that the daemon's writer meets a full
	// socket soon.
	w := e.rawSessionBuf(t, app.ID, handshake.Counter, 64<<10)
	// Events of about 2.5 KB (deep paths of long names), so that what the
	// sockets can hold (a few MB) is soon full.
	long := strings.Repeat("n", 240)
	deep := ""
	for i := range 10 {
		deep += long + strconv.Itoa(i)
		require.NoError(t, c.CreateDir(ctx, mkdir(deep)))
		deep += "/"
	}
	w.watch(t, false, "", true)
	// The watcher reads nothing while 6,000 changes are made.
	start := time.Now()
	for i := range 3000 {
		name := deep + long + strconv.Itoa(i)
		require.NoError(t, c.CreateFile(ctx, wire.CreateFileRequest{FilePath: name, UserMetadata: wire.Bytes{}}))
		require.NoError(t, c.DeleteFile(ctx, false, name))
	}
	t.Logf("6,000 changes with a stalled watcher: %v", time.Since(start))
	// Reading again: events, then an overflow, then nothing is lost after it.
	sawOverflow := false
	var last uint64
	for !sawOverflow {
		f := w.read(t)
		require.NotNil(t, f.event)
		require.Greater(t, f.event.Seq, last)
		last = f.event.Seq
		if f.event.Kind == "overflow" {
			sawOverflow = true
			assert.Equal(t, "", f.event.WatchID)
		}
	}
	// Whatever was queued after the overflow drains; then a fresh change
	// arrives last.
	require.NoError(t, c.CreateDir(ctx, mkdir("after")))
	for {
		f := w.read(t)
		require.NotNil(t, f.event)
		if f.event.Kind == "created" && f.event.Path == "after" {
			break
		}
	}
}

func TestLauncherModule(t *testing.T) {
	e := newEnvCfg(t, launcher.Config{Version: "1.2.3", GatewayURL: func() string { return "http://localhost:30080" }})
	app := e.d.AddAppWithRoot(t, e.store, "mod", false)

	fixed := e.rawSession(t, app.ID, handshake.Fixed)
	resp, _ := fixed.call(t, "safe-api/v1.1/launcher/watch", map[string]any{"is_path_shared": false, "dir_path": ""})
	require.ErrorIs(t, resp.Err(), wire.ErrNeedsCounter)
	assert.Contains(t, resp.Error.Description, "counter")
	resp, _ = fixed.call(t, "safe-api/v1.1/launcher/version", nil)
	require.NoError(t, resp.Err())
	var v wire.VersionResponse
	require.NoError(t, json.Unmarshal(resp.Data, &v))
	assert.Equal(t, wire.VersionResponse{Version: "1.2.3", APIVersions: []string{"v1.0", "v1.1"}, Started: v.Started, NonceMode: "fixed", Gateway: "http://localhost:30080"}, v)
	assert.InDelta(t, time.Now().Unix(), v.Started, 60)

	s := e.rawSession(t, app.ID, handshake.Counter)
	resp, _ = s.call(t, "safe-api/v1.1/launcher/version", map[string]any{})
	require.NoError(t, json.Unmarshal(resp.Data, &v))
	assert.Equal(t, "counter", v.NonceMode)

	// ping, with and without payload, and a payload over 1 KiB.
	var p wire.PingResponse
	resp, _ = s.call(t, "safe-api/v1.1/launcher/ping", nil)
	require.NoError(t, json.Unmarshal(resp.Data, &p))
	assert.Empty(t, p.Payload)
	assert.InDelta(t, time.Now().UnixMilli(), p.TimeMs, 60_000)
	assert.Contains(t, string(resp.Data), `"payload":""`)
	resp, _ = s.call(t, "safe-api/v1.1/launcher/ping", map[string]any{"payload": wire.Bytes("hello")})
	require.NoError(t, json.Unmarshal(resp.Data, &p))
	assert.Equal(t, "hello", string(p.Payload))
	resp, _ = s.call(t, "safe-api/v1.1/launcher/ping", map[string]any{"payload": wire.Bytes(make([]byte, 1025))})
	require.ErrorIs(t, resp.Err(), wire.ErrLimit)

	// The launcher module is v1.1 only.
	resp, _ = s.call(t, "safe-api/v1.0/launcher/ping", nil)
	require.ErrorIs(t, resp.Err(), wire.ErrUnknownRequest)

	// bye: code 0, then the connection closes.
	resp, _ = s.call(t, "safe-api/v1.1/launcher/bye", nil)
	require.NoError(t, resp.Err())
	require.Equal(t, wire.CodeOK, resp.Error.Code)
	_, err := s.fr.ReadFrame()
	require.Error(t, err, "the launcher closes the session after bye")
}

// TestWatchClosingOnAppRemoval: removing the app tells its watches
// "closing", then ends the session.
func TestWatchClosingOnAppRemoval(t *testing.T) {
	e := newEnv(t)
	app := e.d.AddAppWithRoot(t, e.store, "gone", false)
	w := e.rawSession(t, app.ID, handshake.Counter)
	id := w.watch(t, false, "", true)
	e.d.Apps.Delete(app.ID)
	e.d.Srv.EndApp(app.ID)
	got := w.events(t, 1)[0]
	assert.Equal(t, wire.Event{WatchID: id, Seq: 1, Kind: "closing"}, got)
	_, err := w.fr.ReadFrame()
	require.Error(t, err)
}
