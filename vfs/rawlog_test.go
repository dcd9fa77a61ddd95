package vfs

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/safe-launcher/launcher/internal/rawfile"
	"github.com/spf13/afero"
)

// TestLogAppendsAreRaw checks that a store on a local disk appends its log
// records through a rawfile.Writer, with raw writes where the filesystem
// allows them, and that a copy of the data directory taken before Close
// (what a killed daemon leaves) replays to the same store.
func TestLogAppendsAreRaw(t *testing.T) {
	dirs := []string{t.TempDir()}
	if d, err := os.MkdirTemp("/dev/shm", "vfs-rawlog-"); err == nil {
		t.Cleanup(func() { os.RemoveAll(d) })
		dirs = append(dirs, d)
	}
	for _, base := range dirs {
		dir := filepath.Join(base, "store")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		fsys := afero.NewBasePathFs(afero.NewOsFs(), dir)
		clock := newClock()
		s := openT(t, fsys, Options{Clock: clock.Now})
		w, ok := s.wal.out.(*rawfile.Writer)
		if !ok {
			t.Fatalf("%s: the log is written by %T, not a rawfile.Writer", base, s.wal.out)
		}
		raw := w.Raw()
		before := w.Stats()
		must[DirInfo](t)(s.CreateRoot(app))
		mkdir(t, s, app, "d")
		for _, name := range []string{"d/a", "d/b", "c"} {
			mkfile(t, s, app, name, "")
		}
		if err := s.DeleteFile(bg, app, P(t, "d/a")); err != nil {
			t.Fatal(err)
		}
		st := w.Stats()
		changes := uint64(6)
		if raw && st.Raw-before.Raw < changes {
			t.Fatalf("%s: %d raw appends for %d changes (%+v)", base, st.Raw-before.Raw, changes, st)
		}
		if !raw && st.Raw != 0 {
			t.Fatalf("%s: raw appends where none are allowed (%+v)", base, st)
		}
		want := dump(t, s)

		crashed := filepath.Join(base, "crashed")
		copyDir(t, dir, crashed)
		if fi, err := os.Stat(filepath.Join(crashed, walName)); err != nil || fi.Size() <= walHeader {
			t.Fatalf("%s: the copy's log holds no records (%v)", base, err)
		}
		s.Close()
		s2 := openT(t, afero.NewBasePathFs(afero.NewOsFs(), crashed), Options{Clock: clock.Now})
		if got := dump(t, s2); got != want {
			t.Fatalf("%s: the copy taken before Close replays to:\n%s\nwant:\n%s", base, got, want)
		}
		s2.Close()
		t.Logf("%s: raw %v, %+v", base, raw, st)
	}
}

// copyDir copies the regular files and directories under src to dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o700)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}
