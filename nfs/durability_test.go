package nfs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/launchertest"
	"github.com/safe-launcher/launcher/nfs"
	"github.com/safe-launcher/launcher/route"
	"github.com/safe-launcher/launcher/vfs"
	"github.com/safe-launcher/launcher/wire"
)

// syncHookFs calls hook before every sync of the store's log, and counts them.
type syncHookFs struct {
	afero.Fs
	hook  atomic.Pointer[func()]
	syncs atomic.Int64
}

func (f *syncHookFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	h, err := f.Fs.OpenFile(name, flag, perm)
	if err != nil || name != "wal.log" {
		return h, err
	}
	return hookedFile{h, f}, nil
}

type hookedFile struct {
	afero.File
	fs *syncHookFs
}

func (h hookedFile) Sync() error {
	if hook := h.fs.hook.Load(); hook != nil {
		(*hook)()
	}
	h.fs.syncs.Add(1)
	return h.File.Sync()
}

// heldEnv is the real daemon over an on-disk store (in the given sync mode)
// whose log syncs the test can hold, with one app connected.
type heldEnv struct {
	hfs   *syncHookFs
	store *vfs.Store
	d     *launchertest.Daemon
	c     *client.Client
	ctx   context.Context
	root  vfs.Root
}

func newHeldEnv(t *testing.T, app string, mode vfs.Sync, extra ...launcher.Module) *heldEnv {
	t.Helper()
	hfs := &syncHookFs{Fs: afero.NewBasePathFs(afero.NewOsFs(), t.TempDir())}
	store, err := vfs.Open(hfs, vfs.Options{Sync: mode})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	d := launchertest.Start(t, launcher.Config{}, append([]launcher.Module{nfs.New(store)}, extra...)...)
	a := d.AddAppWithRoot(t, store, app, false)
	return &heldEnv{hfs: hfs, store: store, d: d, c: d.Dial(t, a.ID), ctx: ctxT(t), root: vfs.AppRoot(a.RootDir)}
}

// files counts the files in dir of the app's root (-1 on an error).
func (e *heldEnv) files(dir vfs.Path) int {
	l, err := e.store.GetDir(e.ctx, e.root, dir)
	if err != nil {
		return -1
	}
	return len(l.Files)
}

// holdSyncs makes the next two log syncs wait until open(0) and open(1)
// (both are opened when the test ends, before the daemon stops, should it
// fail early), and resets the sync count. started reports how many syncs
// have begun since.
func (e *heldEnv) holdSyncs(t *testing.T) (open [2]func(), started func() int64) {
	gates := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	open = [2]func(){sync.OnceFunc(func() { close(gates[0]) }), sync.OnceFunc(func() { close(gates[1]) })}
	t.Cleanup(func() { open[0](); open[1]() })
	var nth atomic.Int64
	hold := func() {
		if k := nth.Add(1) - 1; k < 2 {
			<-gates[k]
		}
	}
	e.hfs.syncs.Store(0)
	e.hfs.hook.Store(&hold)
	return open, nth.Load
}

// info returns what the daemon reports of the env's one session.
func (e *heldEnv) info(t *testing.T) launcher.SessionInfo {
	t.Helper()
	s := e.d.Srv.Sessions()
	require.Len(t, s, 1)
	return s[0]
}

// waitRead waits until the daemon has read n requests of the env's session
// (SessionInfo.Requests counts a request once its frame is read, before it
// runs). The reader runs a request and queues its answer before it reads
// the next frame: once n are read, the first n-1 have run and are queued.
func (e *heldEnv) waitRead(t *testing.T, n int64) {
	t.Helper()
	var got atomic.Int64
	got.Store(-1)
	require.Eventually(t, func() bool {
		s := e.d.Srv.Sessions()
		if len(s) != 1 {
			return false
		}
		got.Store(s[0].Requests)
		return s[0].Requests >= n
	}, 10*time.Second, time.Millisecond, "the daemon did not read %d requests (read %d)", n, got.Load())
	require.Equal(t, n, got.Load(), "the daemon read more requests than were sent")
}

// TestPipelinedChangesShareSyncs drives one connection of the real daemon
// (--sync commit) with pipelined create-file requests while the store's log
// syncs are held. A first create is sent alone; its answer waits in the
// session's writer for the first sync, which is held. 31 more are sent
// behind it: the reader runs them all meanwhile (the store holds the 32
// files) but none is answered and no second sync begins. Once the first sync
// is let go, the first create is answered and the writer waits for the
// second sync, which covers the other 31; a get-dir sent now runs at once
// but its answer queues behind theirs. Released, everything is answered in
// two syncs in all.
func TestPipelinedChangesShareSyncs(t *testing.T) {
	e := newHeldEnv(t, "piper", vfs.SyncCommit)
	c, ctx := e.c, e.ctx
	require.NoError(t, c.CreateDir(ctx, mkdir("d"))) // request 1
	files := func() int { return e.files(vfs.Path{"d"}) }
	opens, started := e.holdSyncs(t)

	const n = 32 // requests 2 to n+1
	var answered atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, n)
	create := func(i int) {
		wg.Go(func() {
			errs[i] = c.CreateFile(ctx, wire.CreateFileRequest{FilePath: fmt.Sprintf("d/f%02d", i), UserMetadata: wire.Bytes{}})
			answered.Add(1)
		})
	}
	create(0)
	require.Eventually(t, func() bool { return files() == 1 && started() == 1 }, 10*time.Second, time.Millisecond,
		"the first create did not reach its sync")
	// The writer is in the first sync: everything before it is written.
	written := e.info(t).BytesOut
	for i := 1; i < n; i++ {
		create(i)
	}
	e.waitRead(t, 1+n)
	require.Eventually(t, func() bool { return files() == n }, 10*time.Second, time.Millisecond,
		"the pipelined creates did not all run while the first one's sync was held")
	assert.Zero(t, answered.Load(), "a change was acknowledged before its log sync")
	assert.Equal(t, written, e.info(t).BytesOut, "the writer wrote while the first create's sync was held")
	assert.EqualValues(t, 1, started(), "a second sync began while the first was held")

	opens[0]()
	// The writer answers the first create, flushes, and waits for the
	// second sync for the next.
	require.Eventually(t, func() bool { return answered.Load() == 1 && started() == 2 }, 10*time.Second, time.Millisecond,
		"the first create was not answered, or the second sync did not begin")
	written = e.info(t).BytesOut

	// A get-dir behind the held creates, then a get-dir of the root behind
	// it: once the daemon has read the second, the first has run and its
	// answer is queued.
	var listed atomic.Int64
	listDone, rootDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(listDone)
		l, err := c.GetDir(ctx, wire.GetDirRequest{DirPath: "d"})
		if err == nil {
			listed.Store(int64(len(l.Files)))
		}
	}()
	e.waitRead(t, n+2)
	go func() {
		defer close(rootDone)
		_, _ = c.GetDir(ctx, wire.GetDirRequest{DirPath: "/"})
	}()
	e.waitRead(t, n+3)
	assert.EqualValues(t, 1, answered.Load(), "a change was acknowledged before its log sync")
	assert.Equal(t, written, e.info(t).BytesOut, "an answer was written ahead of changes waiting for their sync")
	select {
	case <-listDone:
		t.Fatal("get-dir answered before the changes queued ahead of it")
	default:
	}

	opens[1]()
	wg.Wait()
	<-listDone
	<-rootDone
	for i, err := range errs {
		require.NoError(t, err, "create %d", i)
	}
	assert.Equal(t, int64(n), listed.Load())
	assert.LessOrEqual(t, e.hfs.syncs.Load(), int64(2), "32 pipelined changes on one connection took %d log syncs", e.hfs.syncs.Load())
}

// TestBackgroundAnswersBeforeSync: in the daemon's default mode
// (vfs.SyncBackground) changes are answered while the log's sync is held,
// and the content of a deleted file stays on disk until a sync covers the
// deletion.
func TestBackgroundAnswersBeforeSync(t *testing.T) {
	e := newHeldEnv(t, "quick", vfs.SyncBackground)
	c, ctx := e.c, e.ctx
	require.NoError(t, c.CreateDir(ctx, mkdir("d")))
	require.NoError(t, c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "d/f", UserMetadata: wire.Bytes{}}))
	require.NoError(t, c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: "d/f",
		NewValues: wire.FileNewValues{Content: &wire.FileContent{Bytes: wire.Bytes("content")}}}))
	require.NoError(t, e.store.Sync())
	blobs := func() int {
		l, err := afero.ReadDir(e.hfs.Fs, "blobs")
		require.NoError(t, err)
		return len(l)
	}
	require.Equal(t, 1, blobs())
	opens, started := e.holdSyncs(t)

	const n = 8
	for i := range n {
		require.NoError(t, c.CreateFile(ctx, wire.CreateFileRequest{FilePath: fmt.Sprintf("d/n%d", i), UserMetadata: wire.Bytes{}}))
	}
	require.NoError(t, c.DeleteFile(ctx, false, "d/f"))
	// Every answer above came back although the flusher's first sync is
	// held (it stays held until opens[0]).
	require.Eventually(t, func() bool { return started() == 1 }, 10*time.Second, time.Millisecond,
		"the flusher never reached its sync")
	assert.Equal(t, 1, blobs(), "the deleted file's content was removed before its deletion was durable")
	assert.Equal(t, n, e.files(vfs.Path{"d"}))

	opens[0]()
	opens[1]()
	require.NoError(t, e.store.Sync())
	assert.Equal(t, 0, blobs(), "the deleted file's content outlived the sync that covered its deletion")
}

// echoModule answers test/echo with the request's own data: an answer that
// points into the request's buffer.
type echoModule struct{}

func (echoModule) Register(t *route.Table) {
	t.Handle("test", "echo", wire.V1_0, func(_ context.Context, _ route.Caller, data json.RawMessage) (route.Result, error) {
		return route.Answer(wire.RawObject(data)), nil
	})
}

// TestQueuedEchoesComeBackIntact: answers that point into their request's
// buffer (echoes of 1 MiB and more) wait in the session's writer behind a
// change waiting for its log sync, while the reader goes on reading large
// requests (and a second change) into buffers of their own; a buffer given
// back or reused before its answer is written would corrupt an echo. The
// second change runs meanwhile (the store has its file before the first
// change is answered). Every echo must come back intact.
func TestQueuedEchoesComeBackIntact(t *testing.T) {
	e := newHeldEnv(t, "echoer", vfs.SyncCommit, echoModule{})
	c, ctx := e.c, e.ctx
	files := func() int { return e.files(nil) }
	opens, started := e.holdSyncs(t)

	var wg sync.WaitGroup
	var answered atomic.Int64
	var read int64 // requests sent and read by the daemon, in order
	created := make([]error, 2)
	create := func(i int) {
		wg.Go(func() {
			created[i] = c.CreateFile(ctx, wire.CreateFileRequest{FilePath: fmt.Sprintf("held%d", i), UserMetadata: wire.Bytes{}})
			answered.Add(1)
		})
		read++
		e.waitRead(t, read)
	}
	const n = 6
	got := make([]string, n)
	want := make([]string, n)
	errs := make([]error, n)
	echo := func(i int) {
		want[i] = strings.Repeat(string(rune('a'+i)), 1<<20+i*4096)
		wg.Go(func() {
			var out struct{ V string }
			errs[i] = c.Call(ctx, "safe-api/v1.0/test/echo", map[string]string{"V": want[i]}, &out)
			got[i] = out.V
			answered.Add(1)
		})
		read++
		e.waitRead(t, read)
	}

	// The first create's answer waits for the first sync (held); then
	// three echoes, the second create and three more echoes, each read by
	// the daemon before the next is sent.
	create(0)
	require.Eventually(t, func() bool { return started() == 1 }, 10*time.Second, time.Millisecond,
		"the first create did not reach its sync")
	for i := range n / 2 {
		echo(i)
	}
	create(1)
	for i := n / 2; i < n; i++ {
		echo(i)
	}
	require.Eventually(t, func() bool { return files() == 2 }, 10*time.Second, time.Millisecond,
		"the second create did not run while the first one's answer waited")
	assert.Zero(t, answered.Load(), "an answer was written ahead of a change waiting for its sync")

	// Let the first sync go: the first create and three echoes are
	// written, and the writer waits for the second create's sync.
	opens[0]()
	require.Eventually(t, func() bool { return started() == 2 }, 10*time.Second, time.Millisecond,
		"the second create did not reach its sync")
	opens[1]()
	wg.Wait()
	require.NoError(t, created[0])
	require.NoError(t, created[1])
	for i := range n {
		require.NoError(t, errs[i])
		assert.True(t, got[i] == want[i], "echo %d came back changed (%d bytes, want %d)", i, len(got[i]), len(want[i]))
	}
}

// TestQueuedChangeReleasesItsBudget: a request's frame holds in-flight
// budget for its bytes until the request has run, not until its answer is
// written: an upload applied to the store, whose answer waits in the writer
// behind a change held in its log sync, holds none, so a slow disk does not
// pin the budget. A get-file queued behind them sees the upload and holds no
// budget until its answer is written; then all is given back.
func TestQueuedChangeReleasesItsBudget(t *testing.T) {
	e := newHeldEnv(t, "budgeted", vfs.SyncCommit)
	c, ctx, d := e.c, e.ctx, e.d
	require.NoError(t, c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "big", UserMetadata: wire.Bytes{}})) // request 1
	opens, started := e.holdSyncs(t)

	var wg sync.WaitGroup
	var answered atomic.Int64
	errs := make([]error, 3)
	wg.Go(func() {
		errs[0] = c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "first", UserMetadata: wire.Bytes{}})
		answered.Add(1)
	})
	require.Eventually(t, func() bool { return started() == 1 }, 10*time.Second, time.Millisecond,
		"the first create did not reach its sync")
	content := bytes.Repeat([]byte("x"), 1<<20)
	wg.Go(func() {
		errs[1] = c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: "big", NewValues: wire.FileNewValues{Content: &wire.FileContent{Bytes: content}}})
		answered.Add(1)
	})
	e.waitRead(t, 3)
	var read *wire.GetFileResponse
	wg.Go(func() {
		read, errs[2] = c.GetFile(ctx, wire.GetFileRequest{FilePath: "big", Length: -1})
		answered.Add(1)
	})
	e.waitRead(t, 4)
	require.Eventually(t, func() bool {
		fi, err := e.store.StatFile(ctx, e.root, vfs.Path{"big"})
		return err == nil && fi.Size == 1<<20 && d.Srv.Stats().InFlightBytes == 0
	}, 10*time.Second, time.Millisecond, "the upload did not run, or its frame held its budget after it ran")
	assert.Zero(t, answered.Load(), "an answer was written ahead of a change waiting for its sync")
	assert.EqualValues(t, 1, started())

	opens[0]()
	opens[1]()
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "request %d", i)
	}
	assert.True(t, bytes.Equal(content, read.Content), "the queued get-file did not read the upload")
	require.Eventually(t, func() bool { return d.Srv.Stats().InFlightBytes == 0 }, 5*time.Second, time.Millisecond)
}
