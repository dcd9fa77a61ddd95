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

var memBackend = backend{"mem", func(t testing.TB) (afero.Fs, string) { return afero.NewMemMapFs(), "" }}
var osBackend = backend{"os", func(t testing.TB) (afero.Fs, string) {
	dir := filepath.Join(t.TempDir(), "store")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return afero.NewBasePathFs(afero.NewOsFs(), dir), dir
}}

var allBackends = []backend{memBackend, osBackend}

// forEach runs fn on every backend as a subtest.
func forEach(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range allBackends {
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

func openT(t testing.TB, fsys afero.Fs, opts Options) *Store {
	t.Helper()
	s, err := Open(fsys, opts)
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
	s.mu.RLock()
	var keys []string
	roots := map[string]Root{}
	for k, d := range s.roots {
		keys = append(keys, k)
		roots[k] = d.root
	}
	s.mu.RUnlock()
	sort.Strings(keys)
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
