// Package testbin helps tests that run their own test binary again as
// another user: the go command builds a test binary in a directory only its
// owner can enter, so CopyForOthers copies it where any user can run it. It
// imports nothing of ours and is used only by tests.
package testbin

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// CopyForOthers copies the running test binary, as name, into a fresh
// directory of mode 0755 below the system's temporary directory (the test's
// own TempDir is private to its owner), removed when the test ends, and
// returns its path. It fails the test on any error.
func CopyForOthers(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "testbin-")
	if err != nil {
		t.Fatalf("copying the test binary: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, name)
	if err := copyTo(path, dir); err != nil {
		t.Fatalf("copying the test binary: %v", err)
	}
	return path
}

func copyTo(path, dir string) error {
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	src, err := os.Open(self)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	return errors.Join(err, dst.Close())
}
