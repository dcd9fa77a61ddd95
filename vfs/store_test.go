package vfs

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"io"
	"path"
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
		if n := len(blobFiles(t, fsys)); n != 1 {
			t.Fatalf("%d blobs on disk, want 1", n)
		}
		if err := s.DeleteFile(bg, app, P(t, "g")); err != nil {
			t.Fatal(err)
		}
		if err := s.Sync(); err != nil {
			t.Fatal(err)
		}
		if n := len(blobFiles(t, fsys)); n != 0 {
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

// TestOpenCleansUp plants what a crash can leave and checks Open settles it
// and keeps committed data: a committed blob not yet moved out of
// incomingDir, uncommitted blobs and strays in incomingDir, a dropped blob
// still listed in the garbage table, and an append tail past the committed
// size.
func TestOpenCleansUp(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		fsys, _ := b.make(t)
		s := openT(t, fsys, Options{})
		must[DirInfo](t)(s.CreateRoot(app))
		mkfile(t, s, app, "f", "committed")
		mkfile(t, s, app, "g", "moved back")
		fBlob := blobOf(t, s, app, Path{"f"})
		gBlob := blobOf(t, s, app, Path{"g"})
		// A change that dropped content and crashed before removing it:
		// the blob is listed in the garbage table, its file still there.
		dBlob := contentDir + "/" + strings.Repeat("de", 16)
		if err := afero.WriteFile(fsys, dBlob, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := s.Update(bg, func(tx *Tx) error {
			_, err := tx.SQL().ExecContext(tx.Context(), `INSERT INTO garbage (blob) VALUES (?)`, mustHex(t, dBlob))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		want := dump(t, s)
		s.halt(t)
		// g's blob committed but never moved into place.
		if err := fsys.Rename(gBlob, incomingDir+"/"+path.Base(gBlob)); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{incomingDir + "/0123", incomingDir + "/" + strings.Repeat("ab", 16)} {
			if err := afero.WriteFile(fsys, n, []byte("junk"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := fsys.Mkdir(incomingDir+"/"+strings.Repeat("cd", 16), 0o700); err != nil {
			t.Fatal(err)
		}
		s2 := openT(t, fsys, Options{})
		if got := dump(t, s2); got != want {
			t.Fatalf("after Open:\n%s\nwant\n%s", got, want)
		}
		if got := hostFiles(t, fsys, incomingDir); len(got) != 0 {
			t.Errorf("incoming holds %v", got)
		}
		if got := hostFiles(t, fsys, contentDir); len(got) != 2 {
			t.Errorf("content holds %v, want f's and g's blobs", got)
		}
		// An append writes a new blob, sealed for the next version.
		must[FileInfo](t)(s2.ModifyFile(bg, app, Path{"f"}, FileChange{Content: &Content{Offset: ptr[int64](9), Bytes: []byte("!")}}))
		if got := readAll(t, s2, app, "f"); got != "committed!" {
			t.Fatalf("after append: %q", got)
		}
		if nb := blobOf(t, s2, app, Path{"f"}); nb == fBlob {
			t.Fatalf("append reused blob %s", fBlob)
		}
	})
}

// halt closes s as a crash would leave it as far as vfs goes: no clean-up
// at Close. (The database is closed: SQLite's own crash safety is not what
// this tests; TestCrash kills a real process.)
func (s *Store) halt(t testing.TB) {
	t.Helper()
	s.lifeMu.Lock()
	s.closed = true
	s.lifeMu.Unlock()
	s.wg.Wait()
	s.collector.halt()
	s.closeDB()
}

func mustHex(t testing.TB, blobName string) []byte {
	t.Helper()
	b, err := hex.DecodeString(path.Base(blobName))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOpenRefuses checks what Open refuses, changing nothing.
func TestOpenRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		want   error
		break_ func(t *testing.T, fsys afero.Fs, s *Store)
	}{
		{"content is a file", ErrCorrupt, func(t *testing.T, fsys afero.Fs, s *Store) {
			if err := fsys.RemoveAll(contentDir); err != nil {
				t.Fatal(err)
			}
			if err := afero.WriteFile(fsys, contentDir, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"newer schema", ErrCorrupt, func(t *testing.T, fsys afero.Fs, s *Store) {
			db := openSQL(t, fsys)
			if _, err := db.Exec(`UPDATE schema_version SET version = 99 WHERE component = 'vfs'`); err != nil {
				t.Fatal(err)
			}
		}},
		{"schema 1, in the clear", ErrOldFormat, func(t *testing.T, fsys afero.Fs, s *Store) {
			if _, err := openSQL(t, fsys).Exec(`UPDATE schema_version SET version = 1 WHERE component = 'vfs'`); err != nil {
				t.Fatal(err)
			}
		}},
		{"schema 2, chunks with a last flag", ErrOldFormat, func(t *testing.T, fsys afero.Fs, s *Store) {
			if _, err := openSQL(t, fsys).Exec(`UPDATE schema_version SET version = 2 WHERE component = 'vfs'`); err != nil {
				t.Fatal(err)
			}
		}},
		{"old format log", ErrOldFormat, func(t *testing.T, fsys afero.Fs, s *Store) {
			if err := afero.WriteFile(fsys, "wal.log", nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"old format roots", ErrOldFormat, func(t *testing.T, fsys afero.Fs, s *Store) {
			if err := afero.WriteFile(fsys, "roots.json", []byte("{}"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"old format dirs", ErrOldFormat, func(t *testing.T, fsys afero.Fs, s *Store) {
			if err := fsys.Mkdir("dirs", 0o700); err != nil {
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
			before := hostFiles(t, fsys, ".")
			_, err := openAt(t, fsys, Options{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open = %v, want %v", err, tc.want)
			}
			if after := hostFiles(t, fsys, "."); !slices.Equal(after, before) {
				t.Fatalf("failed Open changed files: %v -> %v", before, after)
			}
		})
	}
}

// openSQL opens the database of the (closed) store kept in fsys.
func openSQL(t testing.TB, fsys afero.Fs) *sql.DB {
	t.Helper()
	_, opts := storeFS(t, fsys, Options{})
	db, err := sql.Open("sqlite", opts.Database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
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
