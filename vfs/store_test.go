package vfs

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/afero"
)

func TestRoots(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		fsys, _ := b.make(t)
		s := openT(t, fsys, Options{})
		roots := []Root{AppRoot("mail-Root-Dir"), AppRoot("dns"), SharedRoot(), ReservedRoot("dns")}
		ids := map[ID]bool{}
		for _, r := range roots {
			if s.RootExists(r) {
				t.Fatalf("%s exists before creation", r)
			}
			d, err := s.CreateRoot(r)
			if err != nil {
				t.Fatal(err)
			}
			if d.Name != "" || len(d.ID) != 32 || ids[d.ID] || d.UserMetadata == nil {
				t.Fatalf("root info %+v", d)
			}
			ids[d.ID] = true
			if !s.RootExists(r) {
				t.Fatalf("%s missing after creation", r)
			}
		}
		// Same names in different kinds of root are different trees.
		mkfile(t, s, AppRoot("dns"), "x", "app")
		mkfile(t, s, ReservedRoot("dns"), "x", "reserved")
		if got := readAll(t, s, AppRoot("dns"), "x"); got != "app" {
			t.Fatalf("app root reads %q", got)
		}
		if got := readAll(t, s, ReservedRoot("dns"), "x"); got != "reserved" {
			t.Fatalf("reserved root reads %q", got)
		}
		mkdir(t, s, SharedRoot(), "docs")
		if err := s.DeleteRoot(AppRoot("dns")); err != nil {
			t.Fatal(err)
		}
		if s.RootExists(AppRoot("dns")) || !s.RootExists(ReservedRoot("dns")) {
			t.Fatal("DeleteRoot removed the wrong root")
		}
		if _, err := s.StatFile(bg, AppRoot("dns"), Path{"x"}); !errors.Is(err, ErrNoRoot) {
			t.Fatalf("stat in deleted root: %v", err)
		}
		// Recreating gives an empty root with a new ID.
		d := must[DirInfo](t)(s.CreateRoot(AppRoot("dns")))
		if ids[d.ID] {
			t.Fatal("ID reused")
		}
		l := must[Listing](t)(s.GetDir(bg, AppRoot("dns"), nil))
		if len(l.Files)+len(l.Dirs) != 0 {
			t.Fatalf("recreated root not empty: %+v", l)
		}
	})
}

func TestDirs(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		s, _, _ := newT(t, b, Options{})
		root0 := must[Listing](t)(s.GetDir(bg, app, nil)).Info
		meta := []byte{20, 30, 255, 254, 0, 119}
		a := must[DirInfo](t)(s.CreateDir(bg, app, P(t, "/a/"), true, true, meta))
		if a.Name != "a" || !a.Private || !a.Versioned || !bytes.Equal(a.UserMetadata, meta) || !a.Created.Equal(a.Modified) {
			t.Fatalf("created %+v", a)
		}
		root1 := must[Listing](t)(s.GetDir(bg, app, nil)).Info
		if !root1.Modified.After(root0.Modified) || !root1.Created.Equal(root0.Created) {
			t.Fatalf("root times %v -> %v", root0, root1)
		}
		for _, n := range []string{"b", "B", "a b", "é", "_"} {
			mkdir(t, s, app, "a/"+n)
		}
		mkfile(t, s, app, "a/z", "")
		mkfile(t, s, app, "a/Z", "")
		l := must[Listing](t)(s.GetDir(bg, app, P(t, "a")))
		var names []string
		for _, d := range l.Dirs {
			names = append(names, d.Name)
		}
		if want := []string{"B", "_", "a b", "b", "é"}; !slices.Equal(names, want) {
			t.Fatalf("dirs %q, want %q", names, want)
		}
		if len(l.Files) != 2 || l.Files[0].Name != "Z" || l.Files[1].Name != "z" {
			t.Fatalf("files %+v", l.Files)
		}
		if l.Info.ID != a.ID || !l.Info.Modified.After(a.Modified) {
			t.Fatalf("info %+v after adding children to %+v", l.Info, a)
		}

		// Returned metadata is a copy.
		l.Info.UserMetadata[0] = 99
		if again := must[Listing](t)(s.GetDir(bg, app, P(t, "a"))); again.Info.UserMetadata[0] != 20 {
			t.Fatal("caller changed stored metadata")
		}

		// Rename keeps ID and Created, bumps Modified of it and of the parent.
		beforeRoot := must[Listing](t)(s.GetDir(bg, app, nil)).Info
		beforeA := must[Listing](t)(s.GetDir(bg, app, P(t, "a"))).Info
		r := must[DirInfo](t)(s.ModifyDir(bg, app, P(t, "a"), DirChange{Name: ptr("renamed")}))
		if r.ID != a.ID || !r.Created.Equal(a.Created) || !r.Modified.After(beforeA.Modified) || r.Name != "renamed" {
			t.Fatalf("renamed %+v from %+v", r, beforeA)
		}
		if root := must[Listing](t)(s.GetDir(bg, app, nil)).Info; !root.Modified.After(beforeRoot.Modified) {
			t.Fatal("parent Modified unchanged by rename")
		}
		if _, err := s.GetDir(bg, app, P(t, "a")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("old name: %v", err)
		}
		if got := must[Listing](t)(s.GetDir(bg, app, P(t, "renamed"))); len(got.Dirs) != 5 {
			t.Fatal("children lost in rename")
		}
		// Metadata change bumps Modified only of the directory.
		beforeRoot = must[Listing](t)(s.GetDir(bg, app, nil)).Info
		m := must[DirInfo](t)(s.ModifyDir(bg, app, P(t, "renamed"), DirChange{UserMetadata: ptr([]byte("new"))}))
		if string(m.UserMetadata) != "new" || !m.Modified.After(r.Modified) {
			t.Fatalf("meta change %+v", m)
		}
		if root := must[Listing](t)(s.GetDir(bg, app, nil)).Info; !root.Modified.Equal(beforeRoot.Modified) {
			t.Fatal("parent Modified changed by a metadata change")
		}
		// No change, and a rename to the same name, change nothing.
		for _, ch := range []DirChange{{}, {Name: ptr("renamed")}} {
			n := must[DirInfo](t)(s.ModifyDir(bg, app, P(t, "renamed"), ch))
			if !n.Modified.Equal(m.Modified) {
				t.Fatalf("no-op change bumped Modified: %+v", ch)
			}
		}
		// Root metadata may change.
		if rm := must[DirInfo](t)(s.ModifyDir(bg, app, nil, DirChange{UserMetadata: ptr([]byte("r"))})); string(rm.UserMetadata) != "r" {
			t.Fatal("root metadata not set")
		}

		// LookupDir follows renames and moves.
		c := mkdir(t, s, app, "renamed/b/c")
		mkdir(t, s, app, "other")
		rt, p, info := must3(t)(s.LookupDir(bg, c.ID))
		if rt != app || p.String() != "/renamed/b/c" || info.ID != c.ID {
			t.Fatalf("LookupDir = %v %v %+v", rt, p, info)
		}
		otherBefore := must[Listing](t)(s.GetDir(bg, app, P(t, "other"))).Info
		moved := must[DirInfo](t)(s.MoveDir(bg, app, P(t, "renamed/b"), P(t, "other")))
		if moved.Name != "b" {
			t.Fatalf("moved %+v", moved)
		}
		if o := must[Listing](t)(s.GetDir(bg, app, P(t, "other"))).Info; !o.Modified.After(otherBefore.Modified) {
			t.Fatal("destination Modified unchanged by move")
		}
		_, p, _ = must3(t)(s.LookupDir(bg, c.ID))
		if p.String() != "/other/b/c" {
			t.Fatalf("after move LookupDir path %v", p)
		}
		if _, err := s.GetDir(bg, app, P(t, "renamed/b")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("old place after move: %v", err)
		}
		// Moving into the current parent changes nothing.
		same := must[DirInfo](t)(s.MoveDir(bg, app, P(t, "other/b"), P(t, "other")))
		if same.ID != moved.ID {
			t.Fatal("no-op move changed the directory")
		}

		// DeleteDir removes the whole tree.
		mkfile(t, s, app, "other/b/c/f", "data")
		if err := s.DeleteDir(bg, app, P(t, "other")); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"other", "other/b", "other/b/c"} {
			if _, err := s.GetDir(bg, app, P(t, p)); !errors.Is(err, ErrNotFound) {
				t.Fatalf("%s after DeleteDir: %v", p, err)
			}
		}
		if _, _, _, err := s.LookupDir(bg, c.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("LookupDir of deleted: %v", err)
		}
	})
}

func must3(t testing.TB) func(r Root, p Path, d DirInfo, err error) (Root, Path, DirInfo) {
	return func(r Root, p Path, d DirInfo, err error) (Root, Path, DirInfo) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r, p, d
	}
}

func TestReadFileRanges(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		s, _, _ := newT(t, b, Options{})
		mkfile(t, s, app, "f", "0123456789")
		mkfile(t, s, app, "empty", "")
		for _, tc := range []struct {
			file        string
			off, length int64
			want        string
			err         error
		}{
			{"f", 0, -1, "0123456789", nil},
			{"f", 0, 10, "0123456789", nil},
			{"f", 0, 100, "0123456789", nil},
			{"f", 2, 3, "234", nil},
			{"f", 2, 0, "", nil},
			{"f", 9, -5, "9", nil},
			{"f", 5, 1 << 62, "56789", nil},
			{"f", 3, 9223372036854775807, "3456789", nil},
			{"f", 10, 5, "", nil},
			{"f", 10, -1, "", nil},
			{"f", 11, 0, "", ErrOutOfRange},
			{"f", -1, -1, "", ErrOutOfRange},
			{"empty", 0, -1, "", nil},
			{"empty", 1, -1, "", ErrOutOfRange},
		} {
			got, fi, err := s.ReadFile(bg, app, Path{tc.file}, tc.off, tc.length)
			if !errors.Is(err, tc.err) {
				t.Fatalf("%s[%d:+%d]: err %v, want %v", tc.file, tc.off, tc.length, err, tc.err)
			}
			if err == nil && (string(got) != tc.want || got == nil || fi.Name != tc.file) {
				t.Fatalf("%s[%d:+%d] = %q (%+v), want %q", tc.file, tc.off, tc.length, got, fi, tc.want)
			}
		}
	})
}

func TestModifyFileContent(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		s, fsys, _ := newT(t, b, Options{})
		created := must[FileInfo](t)(s.CreateFile(bg, app, P(t, "f"), []byte("m")))
		if created.Size != 0 || string(created.UserMetadata) != "m" || len(created.ID) != 32 {
			t.Fatalf("created %+v", created)
		}
		at := func(o int64) *int64 { return &o }
		last := created
		for i, step := range []struct {
			c    Content
			want string
		}{
			{Content{Offset: at(0), Bytes: []byte("abc")}, "abc"},        // append to empty
			{Content{Offset: at(3), Bytes: []byte("def")}, "abcdef"},     // append in place
			{Content{Offset: at(1), Bytes: []byte("XY")}, "aXYdef"},      // patch inside
			{Content{Offset: at(5), Bytes: []byte("1234")}, "aXYde1234"}, // overlap the end
			{Content{Offset: at(9), Bytes: nil}, "aXYde1234"},            // empty write
			{Content{Bytes: []byte("new")}, "new"},                       // replace
			{Content{Offset: at(0), Bytes: []byte("N")}, "New"},
			{Content{Bytes: nil}, ""}, // truncate to empty
			{Content{Offset: at(0), Bytes: []byte("zz")}, "zz"},
		} {
			fi, err := s.ModifyFile(bg, app, P(t, "f"), FileChange{Content: &step.c})
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if fi.Size != int64(len(step.want)) || fi.ID != created.ID || !fi.Created.Equal(created.Created) || !fi.Modified.After(last.Modified) {
				t.Fatalf("step %d: info %+v after %+v", i, fi, last)
			}
			if got := readAll(t, s, app, "f"); got != step.want {
				t.Fatalf("step %d: content %q, want %q", i, got, step.want)
			}
			last = fi
		}
		// Name, metadata and content in one change.
		fi := must[FileInfo](t)(s.ModifyFile(bg, app, P(t, "f"), FileChange{Name: ptr("g"), UserMetadata: ptr([]byte{}), Content: &Content{Bytes: []byte("final")}}))
		if fi.Name != "g" || len(fi.UserMetadata) != 0 || fi.Size != 5 || fi.ID != created.ID {
			t.Fatalf("combined change %+v", fi)
		}
		if _, err := s.StatFile(bg, app, P(t, "f")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("old name: %v", err)
		}
		st := must[FileInfo](t)(s.StatFile(bg, app, P(t, "g")))
		if st.Size != 5 || st.Name != "g" || !st.Modified.Equal(fi.Modified) {
			t.Fatalf("stat %+v", st)
		}
		// Only the current blob is left on disk, once the changes that
		// replaced the others are durable.
		if err := s.Sync(); err != nil {
			t.Fatal(err)
		}
		if n := len(hostFiles(t, fsys, blobsDir)); n != 1 {
			t.Fatalf("%d blobs on disk, want 1", n)
		}
		if err := s.DeleteFile(bg, app, P(t, "g")); err != nil {
			t.Fatal(err)
		}
		if err := s.Sync(); err != nil {
			t.Fatal(err)
		}
		if n := len(hostFiles(t, fsys, blobsDir)); n != 0 {
			t.Fatalf("%d blobs after delete", n)
		}
		if _, err := s.StatFile(bg, app, P(t, "g")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleted file: %v", err)
		}
	})
}

// TestReopen checks that everything survives Close and Open, times to the
// nanosecond.
func TestReopen(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		fsys, _ := b.make(t)
		clock := newClock()
		clock.step = 7*time.Nanosecond + time.Second
		s := openT(t, fsys, Options{Clock: clock.Now})
		for _, r := range []Root{app, SharedRoot(), ReservedRoot("dns")} {
			must[DirInfo](t)(s.CreateRoot(r))
			mkdir(t, s, r, "d")
			must[DirInfo](t)(s.CreateDir(bg, r, P(t, "d/p"), true, false, []byte{0, 1, 2}))
			mkfile(t, s, r, "d/p/f", strings.Repeat("x", 1000))
			mkfile(t, s, r, "e", "")
		}
		must[FileInfo](t)(s.ModifyFile(bg, app, P(t, "d/p/f"), FileChange{Content: &Content{Offset: ptr[int64](1000), Bytes: []byte("tail")}}))
		must[DirInfo](t)(s.ModifyDir(bg, app, P(t, "d"), DirChange{Name: ptr("d2")}))
		must[DirInfo](t)(s.CreateDir(bg, app, P(t, "dest"), false, true, nil))
		must[DirInfo](t)(s.MoveDir(bg, app, P(t, "d2/p"), P(t, "dest")))
		if err := s.DeleteRoot(ReservedRoot("dns")); err != nil {
			t.Fatal(err)
		}
		want := dump(t, s)
		s.Close()
		s2 := openT(t, fsys, Options{Clock: clock.Now})
		if got := dump(t, s2); got != want {
			t.Fatalf("after reopen:\n%s\nwant:\n%s", got, want)
		}
		if !strings.Contains(want, "/dest/p/f") || !strings.Contains(want, "tail") {
			t.Fatalf("dump lacks expected content:\n%s", want)
		}
	})
}

// TestOpenCleansUp plants what a crash can leave and checks Open removes it
// and keeps committed data.
func TestOpenCleansUp(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		fsys, _ := b.make(t)
		s := openT(t, fsys, Options{})
		must[DirInfo](t)(s.CreateRoot(app))
		mkfile(t, s, app, "f", "committed")
		want := dump(t, s)
		s.Close()
		s.mu.RLock()
		blob := s.roots[app.String()].files["f"].blob
		s.mu.RUnlock()
		// An uncommitted append tail, a temp file, an orphan blob and manifest.
		h, err := fsys.OpenFile(blobName(blob), 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.WriteAt([]byte("+uncommitted"), 9); err != nil {
			t.Fatal(err)
		}
		h.Close()
		for _, n := range []string{tmpDir + "/0123", blobsDir + "/" + strings.Repeat("ab", 16), manifestName(ID(strings.Repeat("cd", 16)))} {
			if err := afero.WriteFile(fsys, n, []byte("junk"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		s2 := openT(t, fsys, Options{})
		if got := dump(t, s2); got != want {
			t.Fatalf("after Open:\n%s\nwant\n%s", got, want)
		}
		for _, dir := range []string{tmpDir, blobsDir, dirsDir} {
			files := hostFiles(t, fsys, dir)
			wantN := map[string]int{tmpDir: 0, blobsDir: 1, dirsDir: 1}[dir]
			if len(files) != wantN {
				t.Errorf("%s holds %v, want %d files", dir, files, wantN)
			}
		}
		if fi, err := fsys.Stat(blobName(blob)); err != nil || fi.Size() != 9 {
			t.Fatalf("blob not trimmed: %v %v", fi, err)
		}
	})
}

func TestOpenRefusesCorruption(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(t *testing.T, fsys afero.Fs, s *Store)
	}{
		{"missing manifest", func(t *testing.T, fsys afero.Fs, s *Store) {
			if err := fsys.Remove(manifestName(s.roots[app.String()].dirs["d"].id)); err != nil {
				t.Fatal(err)
			}
		}},
		{"short blob", func(t *testing.T, fsys afero.Fs, s *Store) {
			h, err := fsys.OpenFile(blobName(s.roots[app.String()].files["f"].blob), os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := h.Truncate(2); err != nil {
				t.Fatal(err)
			}
			h.Close()
		}},
		{"bad roots", func(t *testing.T, fsys afero.Fs, s *Store) {
			if err := afero.WriteFile(fsys, rootsName, []byte("{"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"bad name in manifest", func(t *testing.T, fsys afero.Fs, s *Store) {
			n := manifestName(s.roots[app.String()].id)
			data, err := afero.ReadFile(fsys, n)
			if err != nil {
				t.Fatal(err)
			}
			data = bytes.Replace(data, []byte(`"d":`), []byte(`"..":`), 1)
			if err := afero.WriteFile(fsys, n, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"cycle", func(t *testing.T, fsys afero.Fs, s *Store) {
			d := s.roots[app.String()].dirs["d"]
			n := manifestName(d.id)
			data, err := afero.ReadFile(fsys, n)
			if err != nil {
				t.Fatal(err)
			}
			data = bytes.Replace(data, []byte(`"dirs":{}`), []byte(fmt.Sprintf(`"dirs":{"loop":%q}`, s.roots[app.String()].id)), 1)
			if err := afero.WriteFile(fsys, n, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := afero.NewMemMapFs()
			s := openT(t, fsys, Options{})
			must[DirInfo](t)(s.CreateRoot(app))
			mkdir(t, s, app, "d")
			mkfile(t, s, app, "f", "content")
			s.Close()
			tc.break_(t, fsys, s)
			before := len(hostFiles(t, fsys, "."))
			_, err := Open(fsys, Options{})
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open = %v, want ErrCorrupt", err)
			}
			if after := len(hostFiles(t, fsys, ".")); after != before {
				t.Fatalf("failed Open removed files: %d -> %d", before, after)
			}
		})
	}
}

func TestRandErrors(t *testing.T) {
	var fail atomic.Bool
	s := openT(t, afero.NewMemMapFs(), Options{Rand: readerFunc(func(b []byte) (int, error) {
		if fail.Load() {
			return 0, io.ErrUnexpectedEOF
		}
		return rand.Read(b)
	})})
	must[DirInfo](t)(s.CreateRoot(app))
	fail.Store(true)
	if _, err := s.CreateDir(bg, app, P(t, "a"), false, false, nil); !errors.Is(err, ErrIO) {
		t.Fatalf("CreateDir with exhausted Rand: %v", err)
	}
	if l := must[Listing](t)(s.GetDir(bg, app, nil)); len(l.Dirs) != 0 {
		t.Fatal("failed CreateDir left a directory")
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(b []byte) (int, error) { return f(b) }
