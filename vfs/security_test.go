package vfs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/afero"
)

// hostileNames are names and raw paths that try to leave a root or confuse
// name comparison.
var hostileNames = []string{
	"a", "b", "A", "..", ".", "%2e%2e", "..%2f..", "a/../b", "../outside", "../../outside/secret",
	"x\x00y", "\uff0e\uff0e", "\u2024\u2024", "\xc0\xae\xc0\xae", "\xff", "escape", "escape/x",
	"blobs", "dirs", "tmp", "roots.json", "journal.json", "wal.log", "outside", "..\\..\\outside",
	strings.Repeat("n", 255), strings.Repeat("L", 300), "ÉCOLE", "école", "e\u0301cole", " ", "~",
}

// sandbox is a temp dir holding the store (store/) and a victim directory
// (outside/) that a symlink inside the store points to.
type sandbox struct {
	top, store, outside string
	before              map[string]string
}

func newSandbox(t testing.TB) *sandbox {
	t.Helper()
	top := t.TempDir()
	sb := &sandbox{top: top, store: filepath.Join(top, "store"), outside: filepath.Join(top, "outside")}
	for _, d := range []string{sb.store, sb.outside} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(sb.outside, "secret"), []byte("SECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Planted links, named like things a request might ask for.
	for _, n := range []string{"escape", "outside", "a", ".." + "x"} {
		if err := os.Symlink(sb.outside, filepath.Join(sb.store, n)); err != nil {
			t.Fatal(err)
		}
	}
	sb.before = sb.snapshotOutside(t)
	return sb
}

// snapshotOutside lists everything under top except store/, with content.
func (sb *sandbox) snapshotOutside(t testing.TB) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(sb.top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == sb.store {
			return filepath.SkipDir
		}
		if d.IsDir() {
			m[p] = "dir"
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		m[p] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (sb *sandbox) check(t testing.TB) {
	t.Helper()
	after := sb.snapshotOutside(t)
	if fmt.Sprint(after) != fmt.Sprint(sb.before) {
		t.Fatalf("something changed outside the store:\nbefore %v\nafter  %v", sb.before, after)
	}
	for _, n := range []string{"escape", "outside", "a", "..x"} {
		fi, err := os.Lstat(filepath.Join(sb.store, n))
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Fatalf("planted link %s was touched: %v %v", n, fi, err)
		}
	}
}

func (sb *sandbox) fs() afero.Fs { return afero.NewBasePathFs(afero.NewOsFs(), sb.store) }

// model is what a root should hold: path ("/"-joined, names never hold "/")
// -> nil for a directory, content for a file.
type model map[string]*[]byte

func (m model) isDir(p Path) bool {
	if len(p) == 0 {
		return true
	}
	v, ok := m[strings.Join(p, "/")]
	return ok && v == nil
}

func (m model) has(p Path) bool { _, ok := m[strings.Join(p, "/")]; return ok }

func (m model) file(p Path) *[]byte {
	if len(p) == 0 {
		return nil
	}
	return m[strings.Join(p, "/")]
}

func (m model) removeTree(p Path) {
	k := strings.Join(p, "/")
	for q := range m {
		if q == k || strings.HasPrefix(q, k+"/") {
			delete(m, q)
		}
	}
}

func (m model) rename(p Path, name string) {
	old := strings.Join(p, "/")
	nw := strings.Join(append(append(Path{}, p[:len(p)-1]...), name), "/")
	for q, v := range m {
		if q == old || strings.HasPrefix(q, old+"/") {
			delete(m, q)
			m[nw+q[len(old):]] = v
		}
	}
}

// runOps drives a store with ops decoded from data, checks every result
// against a model, and checks that nothing outside the store changes.
func runOps(t *testing.T, data []byte) (succeeded int) {
	sb := newSandbox(t)
	s := openT(t, sb.fs(), Options{MaxDepth: 6, MaxEntries: 20})
	roots := []Root{AppRoot("r1"), AppRoot("r2")}
	models := []model{{}, {}}
	for _, r := range roots {
		must[DirInfo](t)(s.CreateRoot(r))
	}
	next := func() int {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return int(b)
	}
	pick := func(m model) (Path, string) {
		// A raw hostile string, or an existing directory plus a hostile name.
		name := hostileNames[next()%len(hostileNames)]
		if next()%4 == 0 {
			return nil, name
		}
		var dirs []string
		for k, v := range m {
			if v == nil {
				dirs = append(dirs, k)
			}
		}
		sort.Strings(dirs)
		base := ""
		if len(dirs) > 0 && next()%3 != 0 {
			base = dirs[next()%len(dirs)]
		}
		if base == "" {
			return nil, name
		}
		return nil, base + "/" + name
	}
	for step := 0; len(data) > 0 && step < 200; step++ {
		op, ri := next()%9, next()%2
		r, m := roots[ri], models[ri]
		_, raw := pick(m)
		p, perr := ParsePath(raw)
		if perr != nil {
			// The same string forced in as a literal Path is refused too.
			lit := Path(strings.Split(raw, "/"))
			if _, err := s.CreateFile(bg, r, lit, nil); !errors.Is(err, ErrInvalidPath) {
				t.Fatalf("CreateFile(literal %q) = %v, want ErrInvalidPath", raw, err)
			}
			continue
		}
		parentOK := len(p) > 0 && m.isDir(p[:len(p)-1]) && len(p) <= 6
		content := bytes.Repeat([]byte{byte(step)}, next()%50)
		var err error
		var wantOK bool
		switch op {
		case 0: // create dir
			wantOK = parentOK && !m.has(p) && countIn(m, p[:len(p)-1]) < 20
			_, err = s.CreateDir(bg, r, p, false, false, content)
			if err == nil {
				m[strings.Join(p, "/")] = nil
			}
		case 1, 2: // create file with content
			wantOK = parentOK && !m.has(p) && countIn(m, p[:len(p)-1]) < 20
			if _, err = s.CreateFile(bg, r, p, nil); err == nil {
				_, err = s.ModifyFile(bg, r, p, FileChange{Content: &Content{Bytes: content}})
				c := bytes.Clone(content)
				m[strings.Join(p, "/")] = &c
			}
		case 3: // write at an offset
			f := m.file(p)
			off := int64(next() % 60)
			wantOK = f != nil && off <= int64(len(*f))
			_, err = s.ModifyFile(bg, r, p, FileChange{Content: &Content{Offset: &off, Bytes: content}})
			if err == nil {
				c := append([]byte{}, (*f)[:off]...)
				c = append(c, content...)
				if end := off + int64(len(content)); end < int64(len(*f)) {
					c = append(c, (*f)[end:]...)
				}
				*f = c
			}
		case 4: // delete file
			wantOK = m.file(p) != nil
			err = s.DeleteFile(bg, r, p)
			if err == nil {
				delete(m, strings.Join(p, "/"))
			}
		case 5: // delete dir
			wantOK = len(p) > 0 && m.isDir(p)
			err = s.DeleteDir(bg, r, p)
			if err == nil {
				m.removeTree(p)
			}
		case 6, 7: // rename file or dir to a hostile name
			name := hostileNames[next()%len(hostileNames)]
			target := append(append(Path{}, p[:max(len(p)-1, 0)]...), name)
			wantOK = len(p) > 0 && m.has(p) && ValidName(name) == nil && (!m.has(target) || name == p[len(p)-1])
			if len(p) > 0 && m.isDir(p) {
				_, err = s.ModifyDir(bg, r, p, DirChange{Name: &name})
			} else {
				_, err = s.ModifyFile(bg, r, p, FileChange{Name: &name})
			}
			if err == nil {
				m.rename(p, name)
			}
		case 8: // read
			f := m.file(p)
			wantOK = f != nil
			var got []byte
			got, _, err = s.ReadFile(bg, r, p, 0, -1)
			if err == nil && !bytes.Equal(got, *f) {
				t.Fatalf("read %s %s = %q, want %q", r, p, got, *f)
			}
		}
		if (err == nil) != wantOK {
			t.Fatalf("step %d op %d on %s %q: err %v, model expected ok=%v", step, op, r, p, err, wantOK)
		}
		if err == nil {
			succeeded++
		}
		if err != nil && strings.Contains(err.Error(), sb.top) {
			t.Fatalf("error reveals host path: %v", err)
		}
	}
	for i, r := range roots {
		checkModel(t, s, r, models[i])
	}
	sb.check(t)
	s.Close()
	s2 := openT(t, sb.fs(), Options{MaxDepth: 6, MaxEntries: 20})
	for i, r := range roots {
		checkModel(t, s2, r, models[i])
	}
	sb.check(t)
	return succeeded
}

func countIn(m model, dir Path) int {
	k := strings.Join(dir, "/")
	n := 0
	for q := range m {
		rest, ok := strings.CutPrefix(q, k)
		if k != "" {
			rest, ok = strings.CutPrefix(rest, "/")
			ok = ok && strings.HasPrefix(q, k+"/")
		}
		if ok && rest != "" && !strings.Contains(rest, "/") {
			n++
		}
	}
	return n
}

// checkModel compares the whole tree of r with m.
func checkModel(t *testing.T, s *Store, r Root, m model) {
	t.Helper()
	got := model{}
	var walk func(p Path)
	walk = func(p Path) {
		l := must[Listing](t)(s.GetDir(bg, r, p))
		for _, d := range l.Dirs {
			q := append(append(Path{}, p...), d.Name)
			got[strings.Join(q, "/")] = nil
			walk(q)
		}
		for _, f := range l.Files {
			q := append(append(Path{}, p...), f.Name)
			b, _, err := s.ReadFile(bg, r, q, 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			got[strings.Join(q, "/")] = &b
		}
	}
	walk(nil)
	if render(got) != render(m) {
		t.Fatalf("root %s holds\n%s\nmodel\n%s", r, render(got), render(m))
	}
}

func render(m model) string {
	var lines []string
	for k, v := range m {
		if v == nil {
			lines = append(lines, fmt.Sprintf("%q/", k))
		} else {
			lines = append(lines, fmt.Sprintf("%q=%x", k, *v))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestHostileOps(t *testing.T) {
	n := 12
	if testing.Short() {
		n = 3
	}
	for seed := range n {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 42))
			data := make([]byte, 600)
			for i := range data {
				data[i] = byte(rng.UintN(256))
			}
			if n := runOps(t, data); n < 10 {
				t.Fatalf("only %d operations succeeded: the sequence tests little", n)
			} else {
				t.Logf("%d operations succeeded", n)
			}
		})
	}
}

// FuzzStoreOps drives random op sequences with hostile names on a real
// file system and checks confinement and consistency (see runOps).
func FuzzStoreOps(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 1, 0, 0, 5, 3, 3, 0, 0, 1, 10})
	f.Add([]byte{1, 0, 3, 0, 1, 7, 1, 0, 3, 0, 1, 9, 2, 8, 0, 0, 3, 4, 0, 0, 3, 5, 5})
	f.Fuzz(func(t *testing.T, data []byte) { runOps(t, data) })
}

// TestPlantedSymlinks replaces the store's own files and directories with
// symlinks to a victim outside and checks they are never followed.
func TestPlantedSymlinks(t *testing.T) {
	setup := func(t *testing.T) (*sandbox, *Store, string) {
		sb := newSandbox(t)
		s := openT(t, sb.fs(), Options{})
		must[DirInfo](t)(s.CreateRoot(app))
		mkfile(t, s, app, "f", "mine")
		return sb, s, blobOf(t, s, app, Path{"f"})
	}
	victim := func(sb *sandbox) string { return filepath.Join(sb.outside, "secret") }

	t.Run("blob replaced while open", func(t *testing.T) {
		sb, s, blob := setup(t)
		bp := filepath.Join(sb.store, blob)
		if err := os.Remove(bp); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(victim(sb), bp); err != nil {
			t.Fatal(err)
		}
		check := func(s *Store) {
			b, _, err := s.ReadFile(bg, app, Path{"f"}, 0, -1)
			if err == nil || bytes.Contains(b, []byte("SECRET")) {
				t.Fatalf("read through planted link: %q %v", b, err)
			}
			if !errors.Is(err, ErrCorrupt) || strings.Contains(err.Error(), sb.top) {
				t.Fatalf("error %v", err)
			}
			// An append in place must not write through the link either.
			if _, err := s.ModifyFile(bg, app, Path{"f"}, FileChange{Content: &Content{Offset: ptr[int64](4), Bytes: []byte("X")}}); err == nil {
				t.Fatal("append through planted link succeeded")
			}
			// A patch copies from the old blob: refused too.
			if _, err := s.ModifyFile(bg, app, Path{"f"}, FileChange{Content: &Content{Offset: ptr[int64](0), Bytes: []byte("X")}}); err == nil {
				t.Fatal("copy through planted link succeeded")
			}
			sb.check(t)
		}
		check(s)
		// After a reopen too (Open does not look at every blob: reads do).
		s.Close()
		check(openT(t, sb.fs(), Options{}))
	})
	for _, d := range []string{contentDir, incomingDir} {
		t.Run(d+" replaced", func(t *testing.T) {
			sb, s, _ := setup(t)
			s.Close()
			p := filepath.Join(sb.store, d)
			if err := os.RemoveAll(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(sb.outside, p); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(sb.fs(), Options{}); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open with %s linked out: %v", d, err)
			}
			sb.check(t)
		})
	}
	t.Run("database replaced", func(t *testing.T) {
		sb, s, _ := setup(t)
		s.Close()
		p := filepath.Join(sb.store, DatabaseName)
		os.Remove(p)
		if err := os.Symlink(victim(sb), p); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(sb.fs(), Options{}); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Open with the database linked out: %v", err)
		}
		sb.check(t)
	})
	t.Run("stray links are removed, not followed", func(t *testing.T) {
		sb, s, _ := setup(t)
		s.Close()
		for _, n := range []string{strings.Repeat("ab", 16), "t"} {
			if err := os.Symlink(sb.outside, filepath.Join(sb.store, incomingDir, n)); err != nil {
				t.Fatal(err)
			}
		}
		s2 := openT(t, sb.fs(), Options{})
		if got := readAll(t, s2, app, "f"); got != "mine" {
			t.Fatalf("content %q", got)
		}
		sb.check(t)
		ents, _ := os.ReadDir(filepath.Join(sb.store, incomingDir))
		if len(ents) != 0 {
			t.Fatalf("incoming holds %v", ents)
		}
	})
}
