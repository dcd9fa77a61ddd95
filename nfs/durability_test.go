package nfs_test

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/launchertest"
	"github.com/safe-launcher/launcher/nfs"
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

// TestPipelinedChangesShareSyncs drives one connection of the real daemon
// with 32 pipelined create-file requests and a get-dir behind them, while the
// store's first log sync is held: every create runs (the store holds all 32
// files) but no answer arrives before the sync is released, the get-dir's
// answer does not overtake theirs, and then all 32 changes are made durable
// by at most two syncs.
func TestPipelinedChangesShareSyncs(t *testing.T) {
	hfs := &syncHookFs{Fs: afero.NewBasePathFs(afero.NewOsFs(), t.TempDir())}
	store, err := vfs.Open(hfs, vfs.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	d := launchertest.Start(t, launcher.Config{}, nfs.New(store))
	a := d.AddAppWithRoot(t, store, "piper", false)
	c := d.Dial(t, a.ID)
	ctx := ctxT(t)
	require.NoError(t, c.CreateDir(ctx, mkdir("d")))

	release := make(chan struct{})
	unblock := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unblock) // before the daemon stops, should the test fail early
	var once sync.Once
	hfs.syncs.Store(0)
	hold := func() { once.Do(func() { <-release }) }
	hfs.hook.Store(&hold)

	const n = 32
	var answered atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = c.CreateFile(ctx, wire.CreateFileRequest{FilePath: fmt.Sprintf("d/f%02d", i), UserMetadata: wire.Bytes{}})
			answered.Add(1)
		})
	}
	root := vfs.AppRoot(a.RootDir)
	require.Eventually(t, func() bool {
		l, err := store.GetDir(ctx, root, vfs.Path{"d"})
		return err == nil && len(l.Files) == n
	}, 10*time.Second, time.Millisecond, "the pipelined creates did not all run while the first sync was held")

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
	assert.Zero(t, answered.Load(), "a change was acknowledged before its log sync")
	select {
	case <-listDone:
		t.Fatal("get-dir answered before the changes queued ahead of it")
	default:
	}

	unblock()
	wg.Wait()
	<-listDone
	for i, err := range errs {
		require.NoError(t, err, "create %d", i)
	}
	assert.Equal(t, int64(n), listed.Load())
	assert.LessOrEqual(t, hfs.syncs.Load(), int64(2), "32 pipelined changes on one connection took %d log syncs", hfs.syncs.Load())
}
