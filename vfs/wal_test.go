package vfs

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/internal/lockedbuf"
)

var errInjected = errors.New("injected fault /secret/host/path")

// faultFs injects failures: renames whose new name failRename accepts, and
// writes, syncs and truncates of the write-ahead log while the matching
// flag is set. onSync, if set, runs before every sync of the log.
type faultFs struct {
	afero.Fs
	failRename   func(newname string) bool
	failWrite    atomic.Bool
	failSync     atomic.Bool
	failTruncate atomic.Bool
	syncs        atomic.Int64
	onSync       func()
	onRemove     atomic.Pointer[func(name string)] // runs before every Remove
}

func (f *faultFs) Remove(name string) error {
	if h := f.onRemove.Load(); h != nil {
		(*h)(name)
	}
	return f.Fs.Remove(name)
}

func injected(op, name string) error {
	return &fs.PathError{Op: op, Path: "/secret/host/path/" + name, Err: errInjected}
}

func (f *faultFs) Rename(o, n string) error {
	if f.failRename != nil && f.failRename(n) {
		return injected("rename", n)
	}
	return f.Fs.Rename(o, n)
}

func (f *faultFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	h, err := f.Fs.OpenFile(name, flag, perm)
	if err != nil || name != walName {
		return h, err
	}
	return &faultFile{File: h, fs: f}, nil
}

type faultFile struct {
	afero.File
	fs *faultFs
}

func (f *faultFile) WriteAt(b []byte, off int64) (int, error) {
	if f.fs.failWrite.Load() {
		// A partial append: half the record reaches the file.
		f.File.WriteAt(b[:len(b)/2], off)
		return len(b) / 2, injected("write", walName)
	}
	return f.File.WriteAt(b, off)
}

func (f *faultFile) Sync() error {
	if f.fs.onSync != nil {
		f.fs.onSync()
	}
	f.fs.syncs.Add(1)
	if f.fs.failSync.Load() {
		return injected("sync", walName)
	}
	return f.File.Sync()
}

func (f *faultFile) Truncate(n int64) error {
	if f.fs.failTruncate.Load() {
		return injected("truncate", walName)
	}
	return f.File.Truncate(n)
}

type namedErr struct {
	name string
	err  error
}

// failingOps runs every kind of change once, in a fixed order (the root's
// deletion last), and returns each one's error.
func failingOps(t *testing.T, s *Store) []namedErr {
	t.Helper()
	var errs []namedErr
	for _, op := range []struct {
		name string
		do   func() error
	}{
		{"create", func() error { _, err := s.CreateFile(bg, app, P(t, "n"), nil); return err }},
		{"mkdir", func() error { _, err := s.CreateDir(bg, app, P(t, "n"), false, false, nil); return err }},
		{"write", func() error {
			_, err := s.ModifyFile(bg, app, P(t, "f"), FileChange{Content: &Content{Bytes: []byte("new")}})
			return err
		}},
		{"append", func() error {
			_, err := s.ModifyFile(bg, app, P(t, "f"), FileChange{Content: &Content{Bytes: []byte("+"), Offset: ptr[int64](3)}})
			return err
		}},
		{"rename", func() error { _, err := s.ModifyDir(bg, app, P(t, "a"), DirChange{Name: ptr("b")}); return err }},
		{"renamefile", func() error { _, err := s.ModifyFile(bg, app, P(t, "f"), FileChange{Name: ptr("g")}); return err }},
		{"delete", func() error { return s.DeleteFile(bg, app, P(t, "f")) }},
		{"deletedir", func() error { return s.DeleteDir(bg, app, P(t, "a")) }},
		{"root", func() error { _, err := s.CreateRoot(SharedRoot()); return err }},
		{"move", func() error { _, err := s.MoveDir(bg, app, P(t, "a/c"), nil); return err }},
		{"deleteroot", func() error { return s.DeleteRoot(app) }},
	} {
		errs = append(errs, namedErr{op.name, op.do()})
	}
	return errs
}

func seedFaultStore(t *testing.T, opts Options) (*Store, *faultFs, afero.Fs) {
	t.Helper()
	mem := afero.NewMemMapFs()
	ff := &faultFs{Fs: mem}
	s := openT(t, ff, opts)
	must[DirInfo](t)(s.CreateRoot(app))
	mkdir(t, s, app, "a")
	mkdir(t, s, app, "a/c")
	mkfile(t, s, app, "f", "old")
	return s, ff, mem
}

func checkNoLeak(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrIO) {
		t.Fatalf("%s: %v, want ErrIO", what, err)
	}
	if strings.Contains(err.Error(), "/secret/host") {
		t.Fatalf("%s: error leaks the backend path: %v", what, err)
	}
}

func TestLogAppendFailureRollsBack(t *testing.T) {
	s, ff, mem := seedFaultStore(t, Options{})
	want := dump(t, s)
	ff.failWrite.Store(true)
	for _, e := range failingOps(t, s) {
		name, err := e.name, e.err
		checkNoLeak(t, name, err)
		if got := dump(t, s); got != want {
			t.Fatalf("%s: state changed after a failed append:\n%s", name, got)
		}
	}
	ff.failWrite.Store(false)
	mkfile(t, s, app, "n", "ok") // the partial records were cut off: still writable
	want = dump(t, s)
	crashReopen(t, mem, want)
}

func TestLogAppendUncutStopsStore(t *testing.T) {
	s, ff, mem := seedFaultStore(t, Options{})
	want := dump(t, s)
	ff.failWrite.Store(true)
	ff.failTruncate.Store(true)
	_, err := s.CreateFile(bg, app, P(t, "n"), nil)
	checkNoLeak(t, "create", err)
	ff.failWrite.Store(false)
	ff.failTruncate.Store(false)
	// A partial record is left in the log: nothing may be appended after it.
	if _, err := s.CreateFile(bg, app, P(t, "m"), nil); !errors.Is(err, ErrIO) {
		t.Fatalf("write after an uncut partial record: %v", err)
	}
	if got := dump(t, s); got != want {
		t.Fatalf("state changed:\n%s", got)
	}
	crashReopen(t, mem, want) // replay stops at the torn record
}

func TestLogSyncFailureStopsStore(t *testing.T) {
	s, ff, mem := seedFaultStore(t, Options{Sync: SyncCommit})
	ff.failSync.Store(true)
	_, err := s.CreateFile(bg, app, P(t, "n"), nil)
	checkNoLeak(t, "create", err)
	ff.failSync.Store(false)
	if _, err := s.CreateFile(bg, app, P(t, "m"), nil); !errors.Is(err, ErrIO) {
		t.Fatalf("write after a failed log sync: %v", err)
	}
	// The failed change was never acknowledged; whether it survives is up
	// to the device. Here (memory) the append reached the file, so a reopen
	// finds it, and nothing else.
	s2 := crashOpen(t, mem)
	l := must[Listing](t)(s2.GetDir(bg, app, nil))
	if len(l.Files) != 2 || l.Files[1].Name != "n" {
		t.Fatalf("after reopen: %+v", l.Files)
	}
}

func TestCheckpointFailureKeepsLog(t *testing.T) {
	s, ff, mem := seedFaultStore(t, Options{CheckpointBytes: 1})
	ff.failRename = func(n string) bool { return strings.HasPrefix(n, dirsDir+"/") || n == rootsName }
	for _, e := range failingOps(t, s) {
		name, err := e.name, e.err
		if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrExists) {
			t.Fatalf("%s: %v (a failed checkpoint must not fail the change)", name, err)
		}
	}
	want := dump(t, s)
	if s.wal.size == 0 {
		t.Fatal("log emptied although its checkpoint failed")
	}
	ff.failRename = nil
	crashReopen(t, mem, want)
}

func TestCheckpointEmptiesLog(t *testing.T) {
	s, _, mem := seedFaultStore(t, Options{CheckpointBytes: 4 << 10})
	for i := range 200 {
		mkfile(t, s, app, fmt.Sprintf("a/c/f%03d", i), strings.Repeat("x", i))
		if i%3 == 0 {
			if err := s.DeleteFile(bg, app, P(t, fmt.Sprintf("a/c/f%03d", i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if s.wal.size >= 4<<10+8<<10 {
		t.Fatalf("log holds %d bytes; the limit is 4 KiB", s.wal.size)
	}
	want := dump(t, s)
	crashReopen(t, mem, want)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := mem.Stat(walName); err != nil || fi.Size() != 0 {
		t.Fatalf("log after Close: %v %v", fi, err)
	}
	s3 := openT(t, mem, Options{})
	if got := dump(t, s3); got != want {
		t.Fatalf("after Close and Open:\n%s\nwant\n%s", got, want)
	}
}

// crashOpen opens a second store on fsys while the first is still open, as
// a restart after a crash would find it: the log not checkpointed.
func crashOpen(t *testing.T, fsys afero.Fs) *Store {
	t.Helper()
	s, err := Open(fsys, Options{})
	if err != nil {
		t.Fatalf("Open after crash: %v", err)
	}
	return s
}

func crashReopen(t *testing.T, fsys afero.Fs, want string) {
	t.Helper()
	s := crashOpen(t, fsys)
	if got := dump(t, s); got != want {
		t.Fatalf("after crash and Open:\n%s\nwant\n%s", got, want)
	}
	if fi, err := fsys.Stat(walName); err != nil || fi.Size() != 0 {
		t.Fatalf("log not emptied by replay: %v %v", fi, err)
	}
}

// TestGroupCommit holds the first log sync until 64 concurrent changes have
// been appended: they must then share one more sync, not take one each.
func TestGroupCommit(t *testing.T) {
	fsys, _ := osBackend.make(t)
	ff := &faultFs{Fs: fsys}
	s := openT(t, ff, Options{Sync: SyncCommit})
	must[DirInfo](t)(s.CreateRoot(app))
	const n = 64
	release := make(chan struct{})
	var once sync.Once
	ff.syncs.Store(0)
	ff.onSync = func() { once.Do(func() { <-release }) }
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := s.CreateFile(bg, app, P(t, fmt.Sprintf("f%d", i)), nil)
			errs <- err
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.RLock()
		got := len(s.roots[app.String()].files)
		s.mu.RUnlock()
		if got == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d changes appended", got, n)
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := ff.syncs.Load(); got > 2 {
		t.Fatalf("%d changes took %d log syncs, want at most 2", n, got)
	}
}

// frame makes a log record of any payload, with a valid checksum.
func frame(payload []byte) []byte {
	b := []byte(walMagic)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(payload, crc32.MakeTable(crc32.Castagnoli)))
	return append(b, payload...)
}

func record(t testing.TB, r *logRecord) []byte {
	t.Helper()
	rec, err := (&wal{crc: crc32.MakeTable(crc32.Castagnoli)}).encodeRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestOpenLogTail(t *testing.T) {
	build := func(t *testing.T) (afero.Fs, string, []byte) {
		mem := afero.NewMemMapFs()
		s := openT(t, mem, Options{})
		must[DirInfo](t)(s.CreateRoot(app))
		mkdir(t, s, app, "a")
		want := dump(t, s)
		data, err := afero.ReadFile(mem, walName)
		if err != nil || len(data) == 0 {
			t.Fatalf("log: %d bytes, %v", len(data), err)
		}
		return mem, want, data
	}
	// rootChange is a well-formed change of the root's metadata.
	rootChange := func(t *testing.T, mem afero.Fs) *logRecord {
		s := crashOpen(t, mem)
		s.mu.Lock()
		defer s.mu.Unlock()
		l := s.roots[app.String()].logDir(nil)
		l.Meta = []byte("torn")
		return &logRecord{V: 1, Dirs: []logDir{l}}
	}
	id := strings.Repeat("ab", 16)
	for _, tc := range []struct {
		name    string
		tail    func(t *testing.T, mem afero.Fs) []byte
		corrupt bool
	}{
		{"zeros", func(*testing.T, afero.Fs) []byte { return make([]byte, 4096) }, false},
		{"half a header", func(*testing.T, afero.Fs) []byte { return []byte(walMagic + "\x10") }, false},
		{"short record", func(t *testing.T, mem afero.Fs) []byte {
			r := record(t, rootChange(t, mem))
			return r[:len(r)-1]
		}, false},
		{"bad checksum", func(t *testing.T, mem afero.Fs) []byte {
			r := record(t, rootChange(t, mem))
			r[len(r)-2] ^= 1
			return r
		}, false},
		{"checksummed traversing id", func(*testing.T, afero.Fs) []byte {
			return frame([]byte(`{"v":1,"fresh":[{"v":1,"id":"../../etc/passwd","dirs":{},"files":{}}]}`))
		}, true},
		{"checksummed bad name", func(*testing.T, afero.Fs) []byte {
			return frame([]byte(`{"v":1,"dirs":[{"id":"` + id + `","dirs":{"..":"` + id + `"}}]}`))
		}, true},
		{"checksummed bad blob", func(*testing.T, afero.Fs) []byte {
			return frame([]byte(`{"v":1,"dirs":[{"id":"` + id + `","files":{"f":{"id":"` + id + `","size":3,"blob":"../x"}}}]}`))
		}, true},
		{"checksummed bad root", func(*testing.T, afero.Fs) []byte {
			return frame([]byte(`{"v":1,"roots":{"v":1,"roots":{"nonsense":"` + id + `"}}}`))
		}, true},
		{"checksummed empty", func(*testing.T, afero.Fs) []byte { return frame([]byte(`{"v":1}`)) }, true},
		{"checksummed bad json", func(*testing.T, afero.Fs) []byte { return frame([]byte(`{`)) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem, want, data := build(t)
			tail := tc.tail(t, mem)
			if err := afero.WriteFile(mem, walName, append(bytes.Clone(data), tail...), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(mem, Options{})
			if tc.corrupt {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Open = %v, want ErrCorrupt", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if got := dump(t, s); got != want {
				t.Fatalf("after Open:\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// FuzzDecodeLog: any bytes in wal.log decode without a panic or an error
// other than ErrCorrupt, never use more bytes than given, decode the same
// from the prefix they used, and only ever yield records naming valid IDs.
func FuzzDecodeLog(f *testing.F) {
	tab := crc32.MakeTable(crc32.Castagnoli)
	f.Add([]byte{})
	id := ID(strings.Repeat("ab", 16))
	f.Add(record(f, &logRecord{V: 1, Roots: &rootsFile{V: 1, Roots: map[string]ID{"app:a": id}}}))
	f.Add(append(record(f, &logRecord{V: 1, Fresh: []dirManifest{{V: 1, ID: id}},
		Dirs: []logDir{{ID: id, Files: map[string]fileRecord{"f": {ID: id}}, Gone: []string{"g"}}}}), walMagic...))
	f.Add([]byte(walMagic + "\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, used, err := decodeLog(data, tab)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if used > len(data) {
			t.Fatalf("used %d of %d bytes", used, len(data))
		}
		if used == 0 {
			if len(recs) != 0 {
				t.Fatal("records from no bytes")
			}
			return
		}
		again, used2, err := decodeLog(data[:used], tab)
		if err != nil || used2 != used || len(again) != len(recs) {
			t.Fatalf("prefix decodes differently: %d %v", used2, err)
		}
		for i := range recs {
			if err := recs[i].check(); err != nil {
				t.Fatalf("accepted a record that fails its check: %v", err)
			}
			for _, m := range recs[i].Fresh {
				if !validHexID(string(m.ID)) {
					t.Fatalf("accepted id %q", m.ID)
				}
			}
			for _, d := range recs[i].Dirs {
				if !validHexID(string(d.ID)) {
					t.Fatalf("accepted id %q", d.ID)
				}
			}
		}
	})
}

// TestOpenRefusesLinkedLog: a wal.log that is a symlink is refused, and its
// target is neither read into the store nor written.
func TestOpenRefusesLinkedLog(t *testing.T) {
	fsys, dir := osBackend.make(t)
	s := openT(t, fsys, Options{})
	must[DirInfo](t)(s.CreateRoot(app))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("do not touch"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, walName)); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, walName)); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(fsys, Options{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open = %v, want ErrCorrupt", err)
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != "do not touch" {
		t.Fatalf("victim: %q %v", b, err)
	}
}

// TestLogRecordsStaySmall: a change in a directory of 2,000 files logs that
// change, not the directory.
func TestLogRecordsStaySmall(t *testing.T) {
	s, _, _ := seedFaultStore(t, Options{CheckpointBytes: 1 << 30})
	for i := range 2000 {
		must[FileInfo](t)(s.CreateFile(bg, app, P(t, fmt.Sprintf("a/c/f%04d", i)), []byte("some metadata")))
	}
	before := s.wal.size
	must[FileInfo](t)(s.CreateFile(bg, app, P(t, "a/c/one-more"), nil))
	if n := s.wal.size - before; n > 1024 {
		t.Fatalf("creating one file in a 2,000-file directory logged %d bytes", n)
	}
	before = s.wal.size
	if err := s.DeleteFile(bg, app, P(t, "a/c/f0007")); err != nil {
		t.Fatal(err)
	}
	if n := s.wal.size - before; n > 1024 {
		t.Fatalf("deleting one file of a 2,000-file directory logged %d bytes", n)
	}
}

// TestReplaySkipsRemovedManifest: changes logged for a directory that a
// later, durable change deleted (its manifest already removed) replay to
// the same store.
func TestReplaySkipsRemovedManifest(t *testing.T) {
	s, _, mem := seedFaultStore(t, Options{})
	s.mu.Lock()
	if err := s.checkpoint(); err != nil {
		t.Fatal(err)
	}
	x := s.roots[app.String()].dirs["a"].dirs["c"]
	s.mu.Unlock()
	if ok, _ := afero.Exists(mem, manifestName(x.id)); !ok {
		t.Fatal("checkpoint did not write the manifest")
	}
	mkfile(t, s, app, "a/c/in-x", "data")
	if err := s.DeleteDir(bg, app, P(t, "a/c")); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := afero.Exists(mem, manifestName(x.id)); ok {
		t.Fatal("deleted directory's manifest not removed")
	}
	crashReopen(t, mem, dump(t, s))
}

// blobOf is the blob holding the content of the file name in the root of app.
func blobOf(s *Store, name string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.roots[app.String()].files[name].blob
}

// TestDeferred: under Defer a change returns applied but not synced, its
// clean-up waits with it, and one Wait syncs every change collected.
func TestDeferred(t *testing.T) {
	s, ff, mem := seedFaultStore(t, Options{Sync: SyncCommit})
	blob := blobOf(s, "f")
	ctx, d := Defer(bg)
	syncs := ff.syncs.Load()
	for i := range 20 {
		if _, err := s.CreateFile(ctx, app, P(t, fmt.Sprintf("a/n%d", i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteFile(ctx, app, P(t, "f")); err != nil {
		t.Fatal(err)
	}
	if got := ff.syncs.Load(); got != syncs {
		t.Fatalf("deferred changes synced the log %d times", got-syncs)
	}
	if !d.Pending() || d.Ready() {
		t.Fatal("nothing pending (or already durable) after 21 deferred changes")
	}
	if l := must[Listing](t)(s.GetDir(bg, app, P(t, "a"))); len(l.Files) != 20 {
		t.Fatalf("deferred changes not visible: %d files", len(l.Files))
	}
	if ok, _ := afero.Exists(mem, blobName(blob)); !ok {
		t.Fatal("the deleted file's content was removed before the deletion was durable")
	}
	if err := d.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := ff.syncs.Load() - syncs; got != 1 {
		t.Fatalf("Wait took %d syncs for 21 changes, want 1", got)
	}
	if ok, _ := afero.Exists(mem, blobName(blob)); ok {
		t.Fatal("the deleted file's content is still there after Wait")
	}
	if d.Pending() || !d.Ready() {
		t.Fatal("still pending after Wait")
	}
	// A change another sync already covered is ready without waiting.
	ctx2, d2 := Defer(bg)
	if _, err := s.CreateFile(ctx2, app, P(t, "a/late"), nil); err != nil {
		t.Fatal(err)
	}
	if d2.Ready() {
		t.Fatal("ready before any sync")
	}
	if _, err := s.CreateFile(bg, app, P(t, "a/synced"), nil); err != nil {
		t.Fatal(err)
	}
	if !d2.Ready() {
		t.Fatal("not ready after a later change's sync covered it")
	}
	crashReopen(t, mem, dump(t, s))
}

func TestDeferredSyncFailure(t *testing.T) {
	s, ff, mem := seedFaultStore(t, Options{Sync: SyncCommit})
	blob := blobOf(s, "f")
	ctx, d := Defer(bg)
	if err := s.DeleteFile(ctx, app, P(t, "f")); err != nil {
		t.Fatal(err)
	}
	ff.failSync.Store(true)
	checkNoLeak(t, "Wait", d.Wait())
	if ok, _ := afero.Exists(mem, blobName(blob)); !ok {
		t.Fatal("content removed although its deletion never became durable")
	}
	if _, err := s.CreateFile(bg, app, P(t, "m"), nil); !errors.Is(err, ErrIO) {
		t.Fatalf("write after a failed deferred sync: %v", err)
	}
}

// TestOpenReplaysLegacyJournal: a store written before the log may hold a
// journal.json of a multi-manifest commit that a crash interrupted; Open
// finishes it (writes every manifest in it) and removes it. A journal naming
// anything but a manifest or roots.json is ErrCorrupt.
func TestOpenReplaysLegacyJournal(t *testing.T) {
	mem := afero.NewMemMapFs()
	s := openT(t, mem, Options{})
	must[DirInfo](t)(s.CreateRoot(app))
	a := mkdir(t, s, app, "a")
	renamed := must[DirInfo](t)(s.ModifyDir(bg, app, P(t, "a"), DirChange{Name: ptr("b")}))
	s.mu.Lock()
	rootW, err := s.manifestWrite(s.roots[app.String()])
	require.NoError(t, err)
	dirW, err := s.manifestWrite(s.dirs[a.ID])
	require.NoError(t, err)
	s.mu.Unlock()
	require.NoError(t, s.Close())

	// Put the root's manifest back as it was before the rename, as if the
	// crash came after the journal and before its manifests.
	legacy := func(ws ...write) []byte {
		j := journal{V: 1}
		for _, w := range ws {
			j.Writes = append(j.Writes, journalWrite{Name: w.name, Data: w.data})
		}
		b, err := json.Marshal(j)
		require.NoError(t, err)
		return b
	}
	stale := bytes.Replace(rootW.data, []byte(`"b":`), []byte(`"a":`), 1)
	require.NotEqual(t, string(rootW.data), string(stale))
	require.NoError(t, afero.WriteFile(mem, rootW.name, stale, 0o600))
	require.NoError(t, afero.WriteFile(mem, journalName, legacy(rootW, dirW), 0o600))
	s2 := openT(t, mem, Options{})
	l := must[Listing](t)(s2.GetDir(bg, app, nil))
	require.Len(t, l.Dirs, 1)
	assert.Equal(t, "b", l.Dirs[0].Name)
	assert.Equal(t, renamed.Modified, l.Dirs[0].Modified)
	ok, _ := afero.Exists(mem, journalName)
	assert.False(t, ok, "journal left after replay")
	require.NoError(t, s2.Close())

	require.NoError(t, afero.WriteFile(mem, journalName, legacy(write{name: "../escape", data: []byte("{}")}), 0o600))
	_, err = Open(mem, Options{})
	assert.ErrorIs(t, err, ErrCorrupt)
}

// gatedFs is a faultFs whose log syncs wait, while hold is set, until the
// test sends on release. It is set up before the store opens, since the
// flusher syncs from its own goroutine.
func gatedFs(t *testing.T) (ff *faultFs, mem afero.Fs, hold *atomic.Bool, release chan struct{}) {
	mem = afero.NewMemMapFs()
	hold = &atomic.Bool{}
	release = make(chan struct{})
	ff = &faultFs{Fs: mem}
	ff.onSync = func() {
		if hold.Load() {
			<-release
		}
	}
	return ff, mem, hold, release
}

// TestBackgroundReturnsBeforeSync: under SyncBackground a change returns
// while the log sync is held, the flusher then syncs it, and what a change
// dropped is removed only once a sync covers the change.
func TestBackgroundReturnsBeforeSync(t *testing.T) {
	ff, mem, hold, release := gatedFs(t)
	s := openT(t, ff, Options{})
	must[DirInfo](t)(s.CreateRoot(app))
	mkfile(t, s, app, "f", "old")
	require.NoError(t, s.Sync())
	blob := blobOf(s, "f")
	hold.Store(true)
	syncs := ff.syncs.Load()
	// The flusher takes the first change and blocks in its sync; the
	// changes after it return all the same.
	for i := range 10 {
		mkfile(t, s, app, fmt.Sprintf("n%d", i), "")
	}
	require.NoError(t, s.DeleteFile(bg, app, P(t, "f")))
	if ok, _ := afero.Exists(mem, blobName(blob)); !ok {
		t.Fatal("the deleted file's content was removed before the deletion was durable")
	}
	want := dump(t, s)
	hold.Store(false)
	close(release)
	require.NoError(t, s.Sync())
	if ok, _ := afero.Exists(mem, blobName(blob)); ok {
		t.Fatal("the deleted file's content is still there after Sync")
	}
	if got := ff.syncs.Load() - syncs; got < 1 || got > 3 {
		t.Fatalf("%d syncs for 11 changes (one held, then the rest together and Sync's), want 1..3", got)
	}
	crashReopen(t, mem, want)
}

// TestBackgroundFlusherSyncs: with nobody waiting, the flusher syncs what
// was appended and runs its clean-up.
func TestBackgroundFlusherSyncs(t *testing.T) {
	s, _, mem := seedFaultStore(t, Options{})
	blob := blobOf(s, "f")
	require.NoError(t, s.DeleteFile(bg, app, P(t, "f")))
	deadline := time.Now().Add(10 * time.Second)
	for {
		gone, _ := afero.Exists(mem, blobName(blob))
		if !gone && s.wal.durable.Load() == s.wal.appended.Load() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the flusher did not sync the deletion and remove the content within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestBackgroundSyncFailure: a change already returned when its sync
// fails; the flusher logs it, the store then refuses changes, Sync reports
// the failure, and nothing the change dropped is removed.
func TestBackgroundSyncFailure(t *testing.T) {
	var logged lockedbuf.Buffer
	s, ff, mem := seedFaultStore(t, Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	require.NoError(t, s.Sync())
	blob := blobOf(s, "f")
	ff.failSync.Store(true)
	require.NoError(t, s.DeleteFile(bg, app, P(t, "f")))
	// Nobody waits for the flusher's sync: it logs the failure.
	require.Eventually(t, func() bool { return strings.Contains(logged.String(), "syncing the log failed") },
		10*time.Second, time.Millisecond, "the failed background sync was not logged")
	checkNoLeak(t, "Sync", s.Sync())
	if _, err := s.CreateFile(bg, app, P(t, "m"), nil); !errors.Is(err, ErrIO) {
		t.Fatalf("write after a failed background sync: %v", err)
	}
	if ok, _ := afero.Exists(mem, blobName(blob)); !ok {
		t.Fatal("content removed although its deletion never became durable")
	}
}

// TestBackgroundClose: Close syncs what the flusher had not, runs the
// pending clean-ups and stops the flusher.
func TestBackgroundClose(t *testing.T) {
	ff, mem, hold, release := gatedFs(t)
	s, err := Open(ff, Options{})
	require.NoError(t, err)
	must[DirInfo](t)(s.CreateRoot(app))
	mkfile(t, s, app, "f", "old")
	require.NoError(t, s.Sync())
	blob := blobOf(s, "f")
	hold.Store(true)
	require.NoError(t, s.DeleteFile(bg, app, P(t, "f")))
	want := dump(t, s)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	hold.Store(false)
	close(release)
	require.NoError(t, <-closed)
	if ok, _ := afero.Exists(mem, blobName(blob)); ok {
		t.Fatal("Close left the deleted file's content")
	}
	require.ErrorIs(t, s.Sync(), ErrClosed)
	crashReopen(t, mem, want)
}

func TestParseSync(t *testing.T) {
	for _, m := range []Sync{SyncBackground, SyncCommit} {
		got, err := ParseSync(m.String())
		require.NoError(t, err)
		require.Equal(t, m, got)
	}
	_, err := ParseSync("always")
	require.Error(t, err)
	_, err = Open(afero.NewMemMapFs(), Options{Sync: Sync(7)})
	require.Error(t, err)
}

// TestSyncWaitsForRunningCleanup: Sync returns only once the clean-ups the
// flusher is already running have finished, not just the ones left queued.
func TestSyncWaitsForRunningCleanup(t *testing.T) {
	s, ff, mem := seedFaultStore(t, Options{})
	require.NoError(t, s.Sync())
	blob := blobOf(s, "f")
	entered, release := make(chan struct{}), make(chan struct{})
	let := sync.OnceFunc(func() { close(release) })
	t.Cleanup(let) // the store's Close waits for the flusher
	var once sync.Once
	hook := func(name string) {
		if name == blobName(blob) {
			once.Do(func() { close(entered); <-release })
		}
	}
	ff.onRemove.Store(&hook)
	require.NoError(t, s.DeleteFile(bg, app, P(t, "f")))
	<-entered // the flusher is removing the content
	synced := make(chan error, 1)
	go func() { synced <- s.Sync() }()
	select {
	case err := <-synced:
		t.Fatalf("Sync returned (%v) while the flusher was still removing the deleted file's content", err)
	case <-time.After(100 * time.Millisecond):
	}
	let()
	require.NoError(t, <-synced)
	if ok, _ := afero.Exists(mem, blobName(blob)); ok {
		t.Fatal("content still there after Sync")
	}
}

// TestBackgroundSyncsOncePerDelay: changes appended while the flusher syncs
// wait for the next delay and then share one sync; the flusher does not
// sync again at once to catch up (under a steady stream of changes that made
// syncs back to back, hundreds a second).
func TestBackgroundSyncsOncePerDelay(t *testing.T) {
	const delay = 150 * time.Millisecond
	mem := afero.NewMemMapFs()
	ff := &faultFs{Fs: mem}
	var hold atomic.Bool
	started, release := make(chan struct{}, 1), make(chan struct{})
	ff.onSync = func() {
		if hold.Load() {
			started <- struct{}{}
			<-release
		}
	}
	s := openT(t, ff, Options{SyncDelay: delay})
	released := false
	t.Cleanup(func() {
		if !released {
			hold.Store(false)
			close(release) // let Close's sync through
		}
	})
	must[DirInfo](t)(s.CreateRoot(app))
	require.NoError(t, s.Sync())
	hold.Store(true)
	syncs := ff.syncs.Load()
	mkfile(t, s, app, "first", "")
	// The flusher waits the delay, then blocks in the sync of "first".
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the flusher did not start syncing the first change")
	}
	for i := range 10 {
		mkfile(t, s, app, fmt.Sprintf("n%d", i), "")
	}
	hold.Store(false)
	at := time.Now()
	released = true
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for s.wal.durable.Load() < s.wal.appended.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the flusher did not sync the changes made during its sync")
		}
		time.Sleep(time.Millisecond)
	}
	if waited := time.Since(at); waited < delay {
		t.Fatalf("the changes made during a sync were synced %s after it, before the %s delay", waited, delay)
	}
	if got := ff.syncs.Load() - syncs; got != 2 {
		t.Fatalf("%d syncs, want 2: the first change's, then one for the 10 made during it", got)
	}
}
