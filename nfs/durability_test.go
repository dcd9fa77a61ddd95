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

// TestPipelinedChangesShareSyncs drives one connection of the real daemon
// with pipelined create-file requests while the store's log syncs are held.
// A first create is sent alone and held in its sync; 31 more are sent behind
// it. Once it is released, the 31 all run while the next sync is held (the
// store holds all 32 files) but none is answered, and a get-dir sent behind
// them does not overtake them; released, they all take one more sync or two.
func TestPipelinedChangesShareSyncs(t *testing.T) {
	e := newHeldEnv(t, "piper", vfs.SyncCommit)
	c, ctx := e.c, e.ctx
	require.NoError(t, c.CreateDir(ctx, mkdir("d")))
	files := func() int { return e.files(vfs.Path{"d"}) }
	opens, started := e.holdSyncs(t)

	const n = 32
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
	for i := 1; i < n; i++ {
		create(i)
	}
	time.Sleep(100 * time.Millisecond) // let them reach the daemon, stuck in the first
	opens[0]()
	require.Eventually(t, func() bool { return files() == n }, 10*time.Second, time.Millisecond,
		"the pipelined creates did not all run while a sync was held")

	var listed atomic.Int64
	listDone := make(chan struct{})
	go func() {
		defer close(listDone)
		l, err := c.GetDir(ctx, wire.GetDirRequest{DirPath: "d"})
		if err == nil {
			listed.Store(int64(len(l.Files)))
		}
	}()
	time.Sleep(50 * time.Millisecond)
	assert.LessOrEqual(t, answered.Load(), int64(1), "a change was acknowledged before its log sync")
	select {
	case <-listDone:
		t.Fatal("get-dir answered before the changes queued ahead of it")
	default:
	}

	opens[1]()
	wg.Wait()
	<-listDone
	for i, err := range errs {
		require.NoError(t, err, "create %d", i)
	}
	assert.Equal(t, int64(n), listed.Load())
	assert.LessOrEqual(t, e.hfs.syncs.Load(), int64(4), "32 pipelined changes on one connection took %d log syncs", e.hfs.syncs.Load())
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
	t.Handle("test", "echo", wire.V1_0, func(_ context.Context, _ route.Caller, data json.RawMessage) (any, error) {
		return data, nil
	})
}

// TestQueuedAnswersKeepTheirRequestBuffers: answers that point into their
// request's buffer (echoes of 1 MiB and more) queue behind a change waiting
// for its log sync while later large requests are read, which would reuse a
// buffer given back too early (the daemon keeps the last large one for the
// next). Every echo must come back intact.
func TestQueuedAnswersKeepTheirRequestBuffers(t *testing.T) {
	e := newHeldEnv(t, "echoer", vfs.SyncCommit, echoModule{})
	c, ctx := e.c, e.ctx
	files := func() int { return e.files(nil) }
	// The first create waits for the first sync on the serve goroutine; the
	// second, with the echoes already behind it, goes to the finisher and
	// waits for the second sync there, and the echoes queue behind it.
	opens, started := e.holdSyncs(t)

	var wg sync.WaitGroup
	created := make([]error, 2)
	create := func(i int) {
		wg.Go(func() {
			created[i] = c.CreateFile(ctx, wire.CreateFileRequest{FilePath: fmt.Sprintf("held%d", i), UserMetadata: wire.Bytes{}})
		})
	}
	create(0)
	require.Eventually(t, func() bool { return files() == 1 && started() == 1 }, 10*time.Second, time.Millisecond)
	create(1)
	time.Sleep(50 * time.Millisecond) // create 1 is sent before the echoes

	const n = 6
	got := make([]string, n)
	want := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		want[i] = strings.Repeat(string(rune('a'+i)), 1<<20+i*4096)
		wg.Go(func() {
			var out struct{ V string }
			errs[i] = c.Call(ctx, "safe-api/v1.0/test/echo", map[string]string{"V": want[i]}, &out)
			got[i] = out.V
		})
	}
	time.Sleep(100 * time.Millisecond) // the echoes reach the daemon, stuck in create 0
	opens[0]()
	require.Eventually(t, func() bool { return files() == 2 && started() == 2 }, 10*time.Second, time.Millisecond)
	time.Sleep(200 * time.Millisecond) // the echoes run and queue behind create 1
	opens[1]()
	wg.Wait()
	require.NoError(t, created[0])
	require.NoError(t, created[1])
	for i := range n {
		require.NoError(t, errs[i])
		assert.True(t, got[i] == want[i], "echo %d came back changed (%d bytes, want %d)", i, len(got[i]), len(want[i]))
	}
}

// TestQueuedChangeHoldsItsBudget: a change whose answer waits (queued behind
// its log sync) keeps its frame's in-flight budget until the answer is
// written, so requests queued in sessions stay within the budget.
func TestQueuedChangeHoldsItsBudget(t *testing.T) {
	e := newHeldEnv(t, "budgeted", vfs.SyncCommit)
	c, ctx, d := e.c, e.ctx, e.d
	require.NoError(t, c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "big", UserMetadata: wire.Bytes{}}))
	opens, started := e.holdSyncs(t)

	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Go(func() {
		errs[0] = c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "first", UserMetadata: wire.Bytes{}})
	})
	require.Eventually(t, func() bool { return started() == 1 }, 10*time.Second, time.Millisecond)
	// Behind the first create (held in the first sync on the serve
	// goroutine): a second create, which goes to the finisher and waits for
	// the second sync there since the upload is already behind it, and the
	// upload, whose answer then queues behind it.
	wg.Go(func() {
		errs[1] = c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "second", UserMetadata: wire.Bytes{}})
	})
	time.Sleep(50 * time.Millisecond)
	content := bytes.Repeat([]byte("x"), 1<<20)
	wg.Go(func() {
		errs[2] = c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: "big", NewValues: wire.FileNewValues{Content: &wire.FileContent{Bytes: content}}})
	})
	time.Sleep(100 * time.Millisecond) // both reach the daemon, stuck in the first create
	opens[0]()
	require.Eventually(t, func() bool {
		fi, err := e.store.StatFile(ctx, e.root, vfs.Path{"big"})
		return err == nil && fi.Size == 1<<20 && started() == 2
	}, 10*time.Second, time.Millisecond, "the upload did not run")
	// The upload's answer now waits for the second sync in the finisher.
	assert.GreaterOrEqual(t, d.Srv.Stats().InFlightBytes, int64(len(content)), "a queued change gave its budget back before its answer")
	opens[1]()
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "request %d", i)
	}
	require.Eventually(t, func() bool { return d.Srv.Stats().InFlightBytes == 0 }, 5*time.Second, time.Millisecond)
}
