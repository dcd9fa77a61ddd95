package vfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/afero"
)

// smallDisk mounts a tmpfs of size bytes and returns its directory; it is
// unmounted when the test ends (after the test's later cleanups, such as
// closing a store in it). It skips the test when not root.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a full disk is tested on a small tmpfs, which only root can mount: run as root to test it")
	}
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s)", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount: %v: %s", err, out)
		}
	})
	return dir
}

// TestDiskFull fills a 2 MiB disk: the write that does not fit fails with
// ErrNoSpace and is undone (the file keeps its content, no blob is left),
// the other app goes on reading and making small changes (the reserve is
// for them), and once files are deleted writes go on; everything is there
// after a reopen.
func TestDiskFull(t *testing.T) {
	dir := smallDisk(t, "2m")
	fsys := afero.NewBasePathFs(afero.NewOsFs(), dir)
	opts := Options{ReserveBytes: 640 << 10}
	s := openT(t, fsys, opts)
	// Keep SQLite's log small, as the reserve is (the default reserve,
	// 64 MiB, is 16 times the log's default checkpoint size).
	if err := s.Update(bg, func(tx *Tx) error {
		_, err := tx.SQL().ExecContext(tx.Context(), "PRAGMA wal_autocheckpoint = 32")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	a, b := AppRoot("a"), AppRoot("b")
	for _, r := range []Root{a, b} {
		must[DirInfo](t)(s.CreateRoot(r))
	}
	mkfile(t, s, b, "keep", "v1")
	chunk := bytes.Repeat([]byte("x"), 96<<10)
	var failed error
	var made []string
	for i := 0; i < 100 && failed == nil; i++ {
		name := fmt.Sprintf("f%03d", i)
		if _, err := s.CreateFile(bg, a, Path{name}, nil); err != nil {
			failed = err
			break
		}
		made = append(made, name)
		before := dump(t, s)
		if _, err := s.ModifyFile(bg, a, Path{name}, FileChange{Content: &Content{Bytes: chunk}}); err != nil {
			failed = err
			if after := dump(t, s); after != before {
				t.Fatalf("the failed write changed the store:\n%s\nwant\n%s", after, before)
			}
		}
	}
	if !errors.Is(failed, ErrNoSpace) || !errors.Is(failed, ErrTooLarge) {
		t.Fatalf("filling the disk ended with %v, want ErrNoSpace", failed)
	}
	if msg := failed.Error(); !strings.Contains(msg, "no space") && !strings.Contains(msg, "full") {
		t.Errorf("the error %q does not say the disk is full", msg)
	}
	if strings.Contains(failed.Error(), dir) {
		t.Errorf("the error %q names the host path", failed)
	}
	t.Logf("%d files made before %v", len(made), failed)
	if in := hostFiles(t, fsys, incomingDir); len(in) != 0 {
		t.Fatalf("the failed write left %v", in)
	}
	// Without the reserve, on a disk that is really full: the write fails
	// with ENOSPC, which is ErrNoSpace too, undone too.
	if err := fillDisk(dir); err != nil {
		t.Fatal(err)
	}
	before := dump(t, s)
	s.reserve = -1
	_, err := s.ModifyFile(bg, a, Path{made[0]}, FileChange{Content: &Content{Offset: ptr[int64](0), Bytes: []byte("y")}})
	s.reserve = opts.ReserveBytes
	if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("a write on a full disk: %v", err)
	}
	if in := hostFiles(t, fsys, incomingDir); len(in) != 0 {
		t.Fatalf("the failed write left %v", in)
	}
	if after := dump(t, s); after != before {
		t.Fatalf("the failed write changed the store:\n%s\nwant\n%s", after, before)
	}
	if err := os.Remove(filepath.Join(dir, "filler")); err != nil {
		t.Fatal(err)
	}
	// The other app goes on: reads, and changes that fit.
	if got := readAll(t, s, b, "keep"); got != "v1" {
		t.Fatalf("b reads %q", got)
	}
	if _, err := s.ModifyFile(bg, b, Path{"keep"}, FileChange{UserMetadata: ptr([]byte("still here"))}); err != nil {
		t.Fatalf("a small change of the other app: %v", err)
	}
	// Deleting frees the space: writes go on.
	for _, name := range made[:len(made)/2] {
		if err := s.DeleteFile(bg, a, Path{name}); err != nil {
			t.Fatalf("delete on a full disk: %v", err)
		}
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	must[FileInfo](t)(s.ModifyFile(bg, b, Path{"keep"}, FileChange{Content: &Content{Bytes: chunk}}))
	mkfile(t, s, a, "after", string(chunk))
	want := dump(t, s)
	s.Close()
	s2 := openT(t, fsys, opts)
	if got := dump(t, s2); got != want {
		t.Fatalf("after reopen:\n%s\nwant\n%s", got, want)
	}
	checkBlobs(t, s2, fsys)
}

// fillDisk writes a file "filler" in dir until the disk is full, leaving
// 64 KiB free for the database.
func fillDisk(dir string) error {
	free, ok := freeBytes(dir)
	if !ok {
		return errors.New("cannot tell the free space")
	}
	return os.WriteFile(filepath.Join(dir, "filler"), make([]byte, max(free-64<<10, 0)), 0o600)
}
