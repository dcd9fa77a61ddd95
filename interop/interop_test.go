// Package interop runs clients written in other languages, with other NaCl
// libraries, against the real daemon.
package interop_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/launchertest"
	"github.com/safe-launcher/launcher/nfs"
	"github.com/safe-launcher/launcher/vfs"
	"github.com/safe-launcher/launcher/wire"
)

// TestNodeLibsodium runs interop/node/client.js (libsodium-wrappers, the
// library the original apps used) in both nonce modes.
func TestNodeLibsodium(t *testing.T) {
	node := nodeOrSkip(t)
	store, _ := launchertest.Store(t)
	d := launchertest.Start(t, launcher.Config{}, nfs.New(store))
	app := d.AddAppWithRoot(t, store, "node", false)

	for _, mode := range []string{"fixed", "counter"} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, node, "node/client.js", d.Value(t, app.ID), mode).Output()
			require.NoError(t, err, "client output: %s", out)
			var res struct {
				OK                bool   `json:"ok"`
				Mode              string `json:"mode"`
				CreateDirCode     int64  `json:"create_dir_code"`
				GetDirName        string `json:"get_dir_name"`
				UnknownModuleCode int64  `json:"unknown_module_code"`
			}
			require.NoError(t, json.Unmarshal(out, &res), string(out))
			assert.True(t, res.OK, string(out))
			assert.Equal(t, mode, res.Mode)
			assert.EqualValues(t, 0, res.CreateDirCode)
			assert.Equal(t, "interop-"+mode, res.GetDirName)
			assert.EqualValues(t, wire.CodeUnknownModule, res.UnknownModuleCode)
		})
	}
	// What the Node app created is really in its root.
	l, err := store.GetDir(context.Background(), vfs.AppRoot(app.RootDir), nil)
	require.NoError(t, err)
	require.Len(t, l.Dirs, 2)
}

// TestNodeSelftest runs node/selftest.js (npm test): client.js against a
// fake launcher written independently of it (BigInt nonces, its own
// framing), for the cases the real daemon does not produce on demand (push
// frames before a watch's answer, malformed frames, seq gaps). CI runs it
// through go test; it is skipped with -short.
func TestNodeSelftest(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the Node self-test takes seconds")
	}
	node := nodeOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "selftest.js")
	cmd.Dir = "node"
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "selftest.js:\n%s", out)
	assert.Contains(t, string(out), "tests passed")
	assert.NotContains(t, string(out), "FAIL")
}

// nodeOrSkip returns the node binary, or skips the test when node or the
// client's dependencies are not installed (it fails in CI instead).
func nodeOrSkip(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join("node", "node_modules", "libsodium-wrappers"))
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node or interop/node/node_modules missing in CI (.ci/run runs npm ci): %v", err)
		}
		t.Skipf("node interop client not installed (cd interop/node && npm ci): %v", err)
	}
	return node
}

// The v1.1 launcher module from Node: node/driver.js runs a session of
// client.js line by line (commands on its stdin, results and push events as
// JSON lines on its stdout) while the Go SDK changes the tree. The two sides
// are ordered by those lines, never by sleeping: the Go side changes the tree
// only once the driver has printed that its watch is answered.

// nodeLine is one line the driver prints: a command's result, a push event,
// the end of a watch or of the session (see driver.js).
type nodeLine struct {
	raw string

	Ready bool   `json:"ready"`
	Mode  string `json:"mode"`

	Op      string          `json:"op"`
	OK      bool            `json:"ok"`
	Code    *wire.Code      `json:"code"`
	Error   *string         `json:"error"`
	Data    json.RawMessage `json:"data"`
	Payload *string         `json:"payload"`
	TimeMs  int64           `json:"time_ms"`
	WatchID string          `json:"watch_id"`

	Via   string      `json:"via"`
	Event *wire.Event `json:"event"`

	WatchEnd   *string `json:"watch_end"`
	SessionEnd bool    `json:"session_end"`
}

// nodeEvent is a push event as the driver printed it.
type nodeEvent struct {
	via string
	ev  wire.Event
}

// nodeDriver is a running driver.js. Its lines are read by one goroutine,
// owned by the driver: it ends when the process closes its stdout, and
// wait waits for it.
type nodeDriver struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan nodeLine
	read   chan error // the reader's end: nil at EOF
	stderr *bytes.Buffer
	ctx    context.Context

	// What arrived while waiting for something else.
	events    []nodeEvent
	watchEnds map[string]*string // watch id -> its error (nil: ended in order)
	ended     *nodeLine          // the session_end line
}

// startDriver starts node/driver.js with a new launcher string for appID.
// It has 60 s to finish; the process is killed when the test ends.
func startDriver(t *testing.T, d *launchertest.Daemon, appID, mode string) *nodeDriver {
	t.Helper()
	node := nodeOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, node, "node/driver.js", d.Value(t, appID), mode)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	p := &nodeDriver{cmd: cmd, stdin: stdin, lines: make(chan nodeLine), read: make(chan error, 1),
		stderr: new(bytes.Buffer), ctx: ctx, watchEnds: map[string]*string{}}
	cmd.Stderr = p.stderr
	require.NoError(t, cmd.Start())
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			l := nodeLine{raw: sc.Text()}
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				p.read <- fmt.Errorf("driver printed a line that is not JSON: %q: %w", sc.Text(), err)
				return
			}
			select {
			case p.lines <- l:
			case <-ctx.Done():
				p.read <- ctx.Err()
				return
			}
		}
		p.read <- sc.Err()
	}()
	t.Cleanup(func() {
		// Ends the process if the test stopped early; a no-op after wait.
		_ = stdin.Close()
		cancel()
		for range p.lines {
		}
		_ = cmd.Wait()
	})
	ready := p.next(t)
	require.True(t, ready.Ready, "driver did not connect: %s", ready.raw)
	require.Equal(t, mode, ready.Mode)
	return p
}

// next returns the next line the driver prints.
func (p *nodeDriver) next(t *testing.T) nodeLine {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			err := <-p.read
			p.read <- err
			t.Fatalf("driver ended its output (%v); stderr: %s", err, p.stderr)
		}
		return l
	case <-p.ctx.Done():
		t.Fatalf("driver: no line before the deadline; stderr: %s", p.stderr)
	}
	panic("unreachable")
}

// nextResult returns the next command result, keeping the events, watch
// ends and session end printed before it.
func (p *nodeDriver) nextResult(t *testing.T) nodeLine {
	t.Helper()
	for {
		l := p.next(t)
		if p.keep(l) {
			continue
		}
		require.NotEmpty(t, l.Op, "unexpected line from the driver: %s", l.raw)
		return l
	}
}

// keep records an event, watch end or session end line and reports whether
// l was one.
func (p *nodeDriver) keep(l nodeLine) bool {
	switch {
	case l.Event != nil:
		p.events = append(p.events, nodeEvent{via: l.Via, ev: *l.Event})
	case l.WatchEnd != nil:
		p.watchEnds[*l.WatchEnd] = l.Error
	case l.SessionEnd:
		p.ended = &l
	default:
		return false
	}
	return true
}

// do sends one command and returns its result.
func (p *nodeDriver) do(t *testing.T, cmd map[string]any) nodeLine {
	t.Helper()
	b, err := json.Marshal(cmd)
	require.NoError(t, err)
	_, err = p.stdin.Write(append(b, '\n'))
	require.NoError(t, err)
	l := p.nextResult(t)
	require.Equal(t, cmd["op"], l.Op, "result of %s", b)
	return l
}

// ok is do for a command that must succeed.
func (p *nodeDriver) ok(t *testing.T, cmd map[string]any) nodeLine {
	t.Helper()
	l := p.do(t, cmd)
	require.True(t, l.OK, "%v failed: %s", cmd, l.raw)
	return l
}

// until reads lines until cond holds for what was kept.
func (p *nodeDriver) until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		l := p.next(t)
		require.True(t, p.keep(l), "waiting for %s, got the unexpected line %s", what, l.raw)
	}
}

// wait ends the driver's input and checks that it exits 0 with every line
// read as expected.
func (p *nodeDriver) wait(t *testing.T) {
	t.Helper()
	require.NoError(t, p.stdin.Close())
	for l := range p.lines {
		require.True(t, p.keep(l), "unexpected line after the last command: %s", l.raw)
	}
	require.NoError(t, <-p.read)
	require.NoError(t, p.cmd.Wait(), "stderr: %s", p.stderr)
}

// eventsOf returns the events kept for a watch.
func (p *nodeDriver) eventsOf(id string) []nodeEvent {
	var out []nodeEvent
	for _, e := range p.events {
		if e.ev.WatchID == id {
			out = append(out, e)
		}
	}
	return out
}

// seen reports whether watch id has an event at path.
func (p *nodeDriver) seen(id, kind, path string) bool {
	for _, e := range p.eventsOf(id) {
		if e.ev.Kind == kind && e.ev.Path == path {
			return true
		}
	}
	return false
}

// change is an event without its watch id and seq.
type change struct {
	Kind, Path, NewPath string
	IsDir               bool
}

func changes(evs []nodeEvent) []change {
	out := make([]change, len(evs))
	for i, e := range evs {
		out[i] = change{e.ev.Kind, e.ev.Path, e.ev.NewPath, e.ev.IsDir}
	}
	return out
}

func vias(evs []nodeEvent) map[string]int {
	out := map[string]int{}
	for _, e := range evs {
		out[e.via]++
	}
	return out
}

// checkSeqs checks that the session's push frames were numbered 1..n with
// none missing or repeated, and that each watch saw them in order.
func checkSeqs(t *testing.T, evs []nodeEvent) {
	t.Helper()
	seqs := map[uint64]bool{}
	last := map[string]uint64{}
	for _, e := range evs {
		require.False(t, seqs[e.ev.Seq], "seq %d twice", e.ev.Seq)
		seqs[e.ev.Seq] = true
		require.Greater(t, e.ev.Seq, last[e.ev.WatchID], "watch %s: seq out of order", e.ev.WatchID)
		last[e.ev.WatchID] = e.ev.Seq
	}
	for i := 1; i <= len(evs); i++ {
		require.True(t, seqs[uint64(i)], "seq %d missing among %d events", i, len(evs))
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mkdir(p string) client.CreateDirRequest {
	return client.CreateDirRequest{DirPath: p, IsPrivate: true, UserMetadata: client.Bytes{}}
}

func mkfile(p string) client.CreateFileRequest {
	return client.CreateFileRequest{FilePath: p, UserMetadata: client.Bytes{}}
}

// TestNodeLauncherModule: version, ping with and without payload, watch
// (recursive and not, one through a callback, one through an async
// iterator) while the Go SDK writes, unwatch, and bye, all from Node.
func TestNodeLauncherModule(t *testing.T) {
	store, _ := launchertest.Store(t)
	d := launchertest.Start(t, launcher.Config{Version: "9.8.7-interop"}, nfs.New(store))
	app := d.AddAppWithRoot(t, store, "node-watch", false)
	ctx := ctxT(t)
	c := d.Dial(t, app.ID) // the Go SDK, the writer
	require.NoError(t, c.CreateDir(ctx, mkdir("docs")))

	p := startDriver(t, d, app.ID, "counter")

	// version
	l := p.ok(t, map[string]any{"op": "version"})
	var v wire.VersionResponse
	require.NoError(t, json.Unmarshal(l.Data, &v), l.raw)
	assert.Equal(t, wire.VersionResponse{Version: "9.8.7-interop", APIVersions: []string{"v1.0", "v1.1"},
		Started: v.Started, NonceMode: "counter", Gateway: ""}, v)
	assert.InDelta(t, time.Now().Unix(), v.Started, 60)

	// ping: no payload (the request has no data), a 1 KiB payload of every
	// byte value, and one byte too many.
	l = p.ok(t, map[string]any{"op": "ping"})
	require.NotNil(t, l.Payload, l.raw)
	assert.Equal(t, "", *l.Payload)
	assert.InDelta(t, time.Now().UnixMilli(), l.TimeMs, 60_000)
	payload := make([]byte, wire.MaxPingPayload)
	for i := range payload {
		payload[i] = byte(i)
	}
	b64 := base64.StdEncoding.EncodeToString(payload)
	l = p.ok(t, map[string]any{"op": "ping", "payload": b64})
	require.NotNil(t, l.Payload, l.raw)
	assert.Equal(t, b64, *l.Payload)
	l = p.do(t, map[string]any{"op": "ping", "payload": base64.StdEncoding.EncodeToString(append(payload, 0))})
	require.False(t, l.OK, l.raw)
	require.NotNil(t, l.Code, l.raw)
	assert.Equal(t, wire.CodeLimit, *l.Code)

	// Two watches of docs: its entries through a callback, the whole tree
	// through an async iterator.
	flat := p.ok(t, map[string]any{"op": "watch", "dir_path": "docs", "recursive": false, "via": "callback"}).WatchID
	deep := p.ok(t, map[string]any{"op": "watch", "dir_path": "/docs/", "recursive": true, "via": "iterator"}).WatchID
	require.NotEmpty(t, flat)
	require.NotEmpty(t, deep)
	require.NotEqual(t, flat, deep)

	// The Go SDK writes; the last change is a marker both watches see.
	require.NoError(t, c.CreateDir(ctx, mkdir("docs/sub")))
	require.NoError(t, c.CreateFile(ctx, mkfile("docs/a.txt")))
	require.NoError(t, c.ModifyFile(ctx, client.ModifyFileRequest{FilePath: "docs/a.txt",
		NewValues: client.FileNewValues{Content: &client.FileContent{Bytes: []byte("hi")}}}))
	name := "b.txt"
	require.NoError(t, c.ModifyFile(ctx, client.ModifyFileRequest{FilePath: "docs/a.txt",
		NewValues: client.FileNewValues{Name: &name}}))
	require.NoError(t, c.CreateFile(ctx, mkfile("docs/sub/deep"))) // below docs: the recursive watch only
	require.NoError(t, c.CreateFile(ctx, mkfile("elsewhere")))     // outside docs: neither
	require.NoError(t, c.DeleteFile(ctx, false, "docs/b.txt"))     //
	require.NoError(t, c.DeleteDir(ctx, false, "docs/sub"))        // one event for the tree
	require.NoError(t, c.CreateFile(ctx, mkfile("docs/zz-end")))   // the marker
	p.until(t, "both watches to see the marker", func() bool {
		return p.seen(flat, "created", "docs/zz-end") && p.seen(deep, "created", "docs/zz-end")
	})

	common := []change{
		{"created", "docs/sub", "", true},
		{"created", "docs/a.txt", "", false},
		{"modified", "docs/a.txt", "", false},
		{"renamed", "docs/a.txt", "docs/b.txt", false},
	}
	tail := []change{
		{"deleted", "docs/b.txt", "", false},
		{"deleted", "docs/sub", "", true},
		{"created", "docs/zz-end", "", false},
	}
	flatEvs, deepEvs := p.eventsOf(flat), p.eventsOf(deep)
	assert.Equal(t, append(append([]change{}, common...), tail...), changes(flatEvs))
	assert.Equal(t, append(append(append([]change{}, common...), change{"created", "docs/sub/deep", "", false}), tail...), changes(deepEvs))
	assert.Equal(t, map[string]int{"callback": 7}, vias(flatEvs))
	assert.Equal(t, map[string]int{"iterator": 8}, vias(deepEvs))
	require.Len(t, p.events, 15, "no event for another watch")
	checkSeqs(t, p.events)

	// A change Node makes itself is reported too.
	p.ok(t, map[string]any{"op": "call", "endpoint": "safe-api/v1.0/nfs/create-dir",
		"data": map[string]any{"is_path_shared": false, "dir_path": "docs/mine", "is_private": true, "is_versioned": false, "user_metadata": ""}})
	p.until(t, "the events of Node's own change", func() bool {
		return p.seen(flat, "created", "docs/mine") && p.seen(deep, "created", "docs/mine")
	})

	// Unwatch the callback watch: it ends, and hears nothing more.
	p.ok(t, map[string]any{"op": "unwatch", "watch_id": flat})
	require.NoError(t, c.CreateFile(ctx, mkfile("docs/after-unwatch")))
	p.until(t, "the recursive watch to see docs/after-unwatch", func() bool {
		return p.seen(deep, "created", "docs/after-unwatch")
	})
	p.until(t, "the end of the callback watch", func() bool { _, ok := p.watchEnds[flat]; return ok })
	assert.Nil(t, p.watchEnds[flat], "the callback watch ended in order")
	assert.False(t, p.seen(flat, "created", "docs/after-unwatch"), "an unwatched watch hears nothing")
	require.Len(t, p.events, 18)
	checkSeqs(t, p.events)

	// Unwatch the iterator's watch: its for-await loop ends; a second
	// unwatch is -161.
	p.ok(t, map[string]any{"op": "unwatch", "watch_id": deep})
	p.until(t, "the end of the iterator's loop", func() bool { _, ok := p.watchEnds[deep]; return ok })
	assert.Nil(t, p.watchEnds[deep])
	l = p.do(t, map[string]any{"op": "unwatch", "watch_id": deep})
	require.False(t, l.OK, l.raw)
	require.NotNil(t, l.Code, l.raw)
	assert.Equal(t, wire.CodeUnknownWatch, *l.Code)

	// bye: answered, then the launcher closes the connection; the session
	// ends in order and the driver exits 0.
	p.ok(t, map[string]any{"op": "close"})
	p.until(t, "the session's end", func() bool { return p.ended != nil })
	assert.Nil(t, p.ended.Error, p.ended.raw)
	l = p.do(t, map[string]any{"op": "ping"})
	require.False(t, l.OK, "no request after bye: %s", l.raw)
	p.wait(t)
	require.Len(t, p.events, 18)

	// The Go SDK's session is untouched.
	_, err := c.GetDir(ctx, client.GetDirRequest{DirPath: "docs"})
	require.NoError(t, err)
}

// TestNodeFixedMode: a fixed-nonce session from Node gets version, ping and
// bye, and its watch is refused with -160.
func TestNodeFixedMode(t *testing.T) {
	store, _ := launchertest.Store(t)
	d := launchertest.Start(t, launcher.Config{}, nfs.New(store))
	app := d.AddAppWithRoot(t, store, "node-fixed", false)

	p := startDriver(t, d, app.ID, "fixed")
	l := p.ok(t, map[string]any{"op": "version"})
	var v wire.VersionResponse
	require.NoError(t, json.Unmarshal(l.Data, &v), l.raw)
	assert.Equal(t, "fixed", v.NonceMode)
	l = p.do(t, map[string]any{"op": "watch", "dir_path": "", "recursive": true})
	require.False(t, l.OK, l.raw)
	require.NotNil(t, l.Code, l.raw)
	assert.Equal(t, wire.CodeNeedsCounter, *l.Code)
	require.NotNil(t, l.Error)
	assert.Contains(t, *l.Error, "counter")
	l = p.ok(t, map[string]any{"op": "ping", "payload": "aGk="})
	assert.Equal(t, "aGk=", *l.Payload)
	p.ok(t, map[string]any{"op": "close"})
	p.wait(t)
	require.NotNil(t, p.ended)
	assert.Nil(t, p.ended.Error, p.ended.raw)
	assert.Empty(t, p.events)
}

// TestNodeAccessAndClosing: SAFEDrive events reach Node while the grant
// holds; a revoke sends access-changed to every watch; removing the app
// sends closing to the watches left, and the session ends in order.
func TestNodeAccessAndClosing(t *testing.T) {
	store, _ := launchertest.Store(t)
	d := launchertest.Start(t, launcher.Config{}, nfs.New(store))
	app := d.AddAppWithRoot(t, store, "node-shared", true)
	other := d.AddAppWithRoot(t, store, "other", true)
	ctx := ctxT(t)
	c := d.Dial(t, other.ID)

	p := startDriver(t, d, app.ID, "counter")
	private := p.ok(t, map[string]any{"op": "watch", "dir_path": "", "recursive": true, "via": "iterator"}).WatchID
	shared := p.ok(t, map[string]any{"op": "watch", "dir_path": "", "is_path_shared": true, "via": "callback"}).WatchID

	// Another app writes: its private root is not Node's to hear of; SAFEDrive is.
	require.NoError(t, c.CreateDir(ctx, mkdir("others-private")))
	require.NoError(t, c.CreateDir(ctx, client.CreateDirRequest{IsPathShared: true, DirPath: "common", UserMetadata: client.Bytes{}}))
	p.until(t, "the SAFEDrive event", func() bool { return p.seen(shared, "created", "common") })
	require.Len(t, p.events, 1, "nothing of the other app's private root")
	assert.Equal(t, change{"created", "common", "", true}, changes(p.events)[0])

	// Revoke: access-changed on both watches; the SAFEDrive watch ends on
	// the launcher (Node cannot tell from the event).
	app.SharedDrive = false
	d.Apps.Put(app)
	d.Srv.AccessChanged(app.ID)
	p.until(t, "access-changed on both watches", func() bool {
		return p.seen(private, "access-changed", "") && p.seen(shared, "access-changed", "")
	})
	require.NoError(t, c.CreateDir(ctx, client.CreateDirRequest{IsPathShared: true, DirPath: "later", UserMetadata: client.Bytes{}}))

	// The app is removed: closing on the watch left, then the end.
	d.Apps.Delete(app.ID)
	d.Srv.EndApp(app.ID)
	p.until(t, "the session's end", func() bool { return p.ended != nil })
	assert.Nil(t, p.ended.Error, "closing, then the launcher closes: an orderly end: %s", p.ended.raw)
	p.wait(t)

	assert.Equal(t, []change{{"access-changed", "", "", false}, {"closing", "", "", false}}, changes(p.eventsOf(private)))
	assert.Equal(t, []change{{"created", "common", "", true}, {"access-changed", "", "", false}}, changes(p.eventsOf(shared)),
		"nothing after the revoke, and no closing: the revoke ended it")
	checkSeqs(t, p.events)
	assert.Contains(t, p.watchEnds, private)
	assert.Nil(t, p.watchEnds[private])
	assert.Contains(t, p.watchEnds, shared)
	assert.Nil(t, p.watchEnds[shared])
}

// TestNodeLock: locking the launcher sends closing to Node's watch, then a
// last encrypted -134 frame: the session ends with that error.
func TestNodeLock(t *testing.T) {
	store, _ := launchertest.Store(t)
	d := launchertest.Start(t, launcher.Config{}, nfs.New(store))
	app := d.AddAppWithRoot(t, store, "node-lock", false)

	p := startDriver(t, d, app.ID, "counter")
	w := p.ok(t, map[string]any{"op": "watch", "dir_path": "", "recursive": true}).WatchID
	d.Srv.Lock()
	p.until(t, "the session's end", func() bool { return p.ended != nil })
	require.NotNil(t, p.ended.Code, p.ended.raw)
	assert.Equal(t, wire.CodeLocked, *p.ended.Code)
	p.wait(t)
	assert.Equal(t, []change{{"closing", "", "", false}}, changes(p.eventsOf(w)))
	assert.Contains(t, p.watchEnds, w)
	assert.Nil(t, p.watchEnds[w], "closing ended the watch before the -134")
}
