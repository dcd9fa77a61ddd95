package vfs

import (
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spf13/afero"
)

// blobSyncFs fails the fsync of the blobs directory or of a blob file while
// the matching flag is set.
type blobSyncFs struct {
	afero.Fs
	failDir, failFile atomic.Bool
}

type failSyncFile struct {
	afero.File
	fail *atomic.Bool
}

func (f failSyncFile) Sync() error {
	if f.fail.Load() {
		return injected("sync", f.Name())
	}
	return f.File.Sync()
}

func (f *blobSyncFs) Open(name string) (afero.File, error) {
	h, err := f.Fs.Open(name)
	if err != nil || name != blobsDir {
		return h, err
	}
	return failSyncFile{h, &f.failDir}, nil
}

func (f *blobSyncFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	h, err := f.Fs.OpenFile(name, flag, perm)
	if err != nil || !strings.HasPrefix(name, blobsDir+"/") {
		return h, err
	}
	return failSyncFile{h, &f.failFile}, nil
}

// TestBlobSyncFailure: new content whose blob or blobs-directory fsync fails
// is refused with ErrIO (the two fsyncs run side by side; either failing
// fails the change), the file keeps its old content, the blob is removed,
// and the store goes on.
func TestBlobSyncFailure(t *testing.T) {
	for _, which := range []string{"directory", "file"} {
		t.Run(which, func(t *testing.T) {
			mem := afero.NewMemMapFs()
			ff := &blobSyncFs{Fs: mem}
			s := openT(t, ff, Options{})
			must[DirInfo](t)(s.CreateRoot(app))
			mkfile(t, s, app, "f", "old")
			before := dump(t, s)
			blobs := func() int {
				ents, err := afero.ReadDir(mem, blobsDir)
				if err != nil {
					t.Fatal(err)
				}
				return len(ents)
			}
			n := blobs()
			flag := &ff.failDir
			if which == "file" {
				flag = &ff.failFile
			}
			flag.Store(true)
			_, err := s.ModifyFile(bg, app, P(t, "f"), FileChange{Content: &Content{Bytes: []byte("new content")}})
			flag.Store(false)
			if !errors.Is(err, ErrIO) {
				t.Fatalf("modify with a failing %s sync: %v, want ErrIO", which, err)
			}
			if got := dump(t, s); got != before {
				t.Fatalf("state changed:\n%s\nwant\n%s", got, before)
			}
			if got := blobs(); got != n {
				t.Fatalf("%d blobs after the failed change, want %d", got, n)
			}
			mkfile(t, s, app, "g", "after") // the store goes on
		})
	}
}
