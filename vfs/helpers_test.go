package vfs

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"
)

// backend makes a fresh file system for a store. dir is the host directory
// behind it ("" for memory).
type backend struct {
	name string
	make func(t testing.TB) (fs afero.Fs, dir string)
}

// memBackend keeps blobs in a MemMapFs and the database in a temp file
// (named in the fs itself, see openT), so that a store survives a reopen.
var memBackend = backend{"mem", func(t testing.TB) (afero.Fs, string) { return afero.NewMemMapFs(), "" }}

// memDBBackend is a MemMapFs with the store's private in-memory database:
// gone at Close, so only for tests that do not reopen.
var memDBBackend = backend{"memdb", func(t testing.TB) (afero.Fs, string) {
	return &memDBFs{afero.NewMemMapFs().(*afero.MemMapFs)}, ""
}}

// memDBFs marks a MemMapFs whose store keeps its database in memory.
type memDBFs struct{ *afero.MemMapFs }

var osBackend = backend{"os", func(t testing.TB) (afero.Fs, string) {
	dir := filepath.Join(t.TempDir(), "store")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return afero.NewBasePathFs(afero.NewOsFs(), dir), dir
}}

var allBackends = []backend{memBackend, osBackend}

// forEach runs fn on every backend as a subtest.
func forEach(t *testing.T, fn func(t *testing.T, b backend)) { forEachOf(t, allBackends, fn) }

// forEachOf runs fn on each of backends as a subtest.
func forEachOf(t *testing.T, backends []backend, fn func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

// fakeClock advances by step on every reading.
type fakeClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2016, 1, 2, 3, 4, 5, 123456789, time.UTC), step: time.Millisecond + time.Nanosecond}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

// testDBPath is the file, in a MemMapFs, naming the database of the store
// kept in it (a temp file of the test that made the fs).
const testDBPath = "test-database-path"

// storeFS returns the fs and options to open the store kept in fsys: a
// MemMapFs gets a database file that outlives Close; a memDBFs is the bare
// MemMapFs, with the store's in-memory database.
func storeFS(t testing.TB, fsys afero.Fs, opts Options) (afero.Fs, Options) {
	t.Helper()
	if m, ok := fsys.(*memDBFs); ok {
		return m.MemMapFs, opts
	}
	if _, ok := fsys.(*afero.MemMapFs); ok && opts.Database == "" {
		b, err := afero.ReadFile(fsys, testDBPath)
		if err != nil {
			b = []byte(filepath.Join(t.TempDir(), "store.db"))
			if err := afero.WriteFile(fsys, testDBPath, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		opts.Database = string(b)
	}
	return fsys, opts
}

// openAt opens the store kept in fsys (see storeFS).
func openAt(t testing.TB, fsys afero.Fs, opts Options) (*Store, error) {
	t.Helper()
	fsys, opts = storeFS(t, fsys, opts)
	return openUnlocked(fsys, opts)
}

// testKeys are the fixed keys test stores are unlocked with.
func testKeys() *Keys {
	k := new(Keys)
	for i, b := range k.all() {
		for j := range b {
			b[j] = byte(i*KeySize + j + 1)
		}
	}
	return k
}

// openUnlocked opens a store and unlocks it with testKeys.
func openUnlocked(fsys afero.Fs, opts Options) (*Store, error) {
	s, err := Open(fsys, opts)
	if err != nil {
		return nil, err
	}
	if err := s.Unlock(testKeys()); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func openT(t testing.TB, fsys afero.Fs, opts Options) *Store {
	t.Helper()
	s, err := openAt(t, fsys, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newT opens a fresh store on b with a fake clock and the root "app".
func newT(t testing.TB, b backend, opts Options) (*Store, afero.Fs, string) {
	t.Helper()
	fsys, dir := b.make(t)
	if opts.Clock == nil {
		opts.Clock = newClock().Now
	}
	s := openT(t, fsys, opts)
	if _, err := s.CreateRoot(AppRoot("app")); err != nil {
		t.Fatal(err)
	}
	return s, fsys, dir
}

var app = AppRoot("app")
var bg = context.Background()

func P(t testing.TB, s string) Path {
	t.Helper()
	p, err := ParsePath(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ptr[T any](v T) *T { return &v }

func must[T any](t testing.TB) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func mkdir(t testing.TB, s *Store, r Root, p string) DirInfo {
	t.Helper()
	d, err := s.CreateDir(bg, r, P(t, p), false, false, nil)
	if err != nil {
		t.Fatalf("CreateDir %s: %v", p, err)
	}
	return d
}

func mkfile(t testing.TB, s *Store, r Root, p string, content string) FileInfo {
	t.Helper()
	if _, err := s.CreateFile(bg, r, P(t, p), nil); err != nil {
		t.Fatalf("CreateFile %s: %v", p, err)
	}
	fi, err := s.ModifyFile(bg, r, P(t, p), FileChange{Content: &Content{Bytes: []byte(content)}})
	if err != nil {
		t.Fatalf("ModifyFile %s: %v", p, err)
	}
	return fi
}

func readAll(t testing.TB, s *Store, r Root, p string) string {
	t.Helper()
	b, _, err := s.ReadFile(bg, r, P(t, p), 0, -1)
	if err != nil {
		t.Fatalf("ReadFile %s: %v", p, err)
	}
	return string(b)
}

// dump describes every root of s as text: names, IDs, flags, times,
// metadata and content, to compare two stores.
func dump(t testing.TB, s *Store) string {
	t.Helper()
	keys := rootKeys(t, s)
	roots := map[string]Root{}
	for _, k := range keys {
		r, ok := parseRootKey(k)
		if !ok {
			t.Fatalf("bad root key %q", k)
		}
		roots[k] = r
	}
	var sb strings.Builder
	var walk func(r Root, p Path)
	walk = func(r Root, p Path) {
		l, err := s.GetDir(bg, r, p)
		if err != nil {
			t.Fatalf("GetDir %s %s: %v", r, p, err)
		}
		fmt.Fprintf(&sb, "D %s%s %s %d %d %v %v %x\n", r, p, l.Info.ID, l.Info.Created.UnixNano(), l.Info.Modified.UnixNano(), l.Info.Private, l.Info.Versioned, l.Info.UserMetadata)
		for _, f := range l.Files {
			fp := append(append(Path{}, p...), f.Name)
			b, fi, err := s.ReadFile(bg, r, fp, 0, -1)
			if err != nil {
				t.Fatalf("ReadFile %s %s: %v", r, fp, err)
			}
			if fi.Size != int64(len(b)) {
				t.Fatalf("%s: size %d, content %d bytes", fp, fi.Size, len(b))
			}
			fmt.Fprintf(&sb, "F %s%s %s %d %d %d %x %q\n", r, fp, f.ID, f.Size, f.Created.UnixNano(), f.Modified.UnixNano(), f.UserMetadata, b)
		}
		for _, d := range l.Dirs {
			walk(r, append(append(Path{}, p...), d.Name))
		}
	}
	for _, k := range keys {
		walk(roots[k], nil)
	}
	return sb.String()
}

// hostFiles lists the regular files under dir (relative paths).
func hostFiles(t testing.TB, fsys afero.Fs, dir string) []string {
	t.Helper()
	var out []string
	err := afero.Walk(fsys, dir, func(p string, fi fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rootKeys lists the keys of the store's roots, sorted.
func rootKeys(t testing.TB, s *Store) []string {
	t.Helper()
	var keys []string
	err := s.View(bg, func(tx *Tx) error {
		rows, err := tx.SQL().QueryContext(tx.Context(), `SELECT node FROM roots`)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		for _, id := range ids {
			n, err := tx.nodeByID(id)
			if err != nil {
				return err
			}
			keys = append(keys, n.rootKey)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	return keys
}

// blobOf returns the host name (in the store's fs) of the blob of the file
// at p.
func blobOf(t testing.TB, s *Store, r Root, p Path) string {
	t.Helper()
	var b []byte
	err := s.View(bg, func(tx *Tx) error {
		f, err := tx.resolveFile(r, p)
		if err != nil {
			return err
		}
		b = f.blob
		return nil
	})
	if err != nil || b == nil {
		t.Fatalf("blob of %s: %v (%x)", p, err, b)
	}
	return contentName(b)
}

// blobFiles lists the blob files of the store kept in fsys (committed and
// incoming).
func blobFiles(t testing.TB, fsys afero.Fs) []string {
	t.Helper()
	if m, ok := fsys.(*memDBFs); ok {
		fsys = m.MemMapFs
	}
	return append(hostFiles(t, fsys, contentDir), hostFiles(t, fsys, incomingDir)...)
}
