package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// errDataDir is matched (errors.Is) by the refusals of a data directory, or
// of a file in it, that is not the user's alone.
var errDataDir = errors.New("unsafe data directory")

// unsafeError is such a refusal; its text names the problem and the fix.
type unsafeError struct{ msg string }

func (e *unsafeError) Error() string        { return e.msg }
func (e *unsafeError) Is(target error) bool { return target == errDataDir }

func unsafef(format string, args ...any) error {
	return &unsafeError{msg: fmt.Sprintf(format, args...)}
}

// prepareDataDir creates the data directory (mode 0700, parents too) when it
// does not exist and refuses one that is not a directory, not owned by the
// user, or open to group or others: another user could plant files or links
// in it, or read the app registry and the store. The error names the problem
// and the fix.
func prepareDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the data directory: %w", err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	return checkPrivateDir("data directory "+dir, dir, st)
}

// ensurePrivateSubdir creates the directory path in the data directory (mode
// 0700) when it does not exist, and refuses a symbolic link (the daemon never
// makes one) or a directory that is not the user's alone.
func ensurePrivateSubdir(path string) error {
	if err := os.Mkdir(path, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	st, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if st.Mode()&fs.ModeSymlink != 0 {
		return unsafef("%s is a symbolic link, which the daemon never makes; remove it (rm %s) and start again", path, path)
	}
	return checkPrivateDir("directory "+path, path, st)
}

// checkPrivateDir checks that st (of path, called what in messages) is a
// directory owned by the user with no permission for group or others.
func checkPrivateDir(what, path string, st fs.FileInfo) error {
	if !st.IsDir() {
		return unsafef("%s is not a directory (%v)", what, st.Mode().Type())
	}
	if uid, ok := ownerOf(st); ok && uid != os.Geteuid() {
		return unsafef("%s belongs to uid %d, not to you (uid %d); use a directory of your own with --data, or have it removed", what, uid, os.Geteuid())
	}
	if st.Mode().Perm()&0o077 != 0 {
		return unsafef("%s is open to other users (mode %v); it must be yours alone: chmod 700 %s", what, st.Mode(), path)
	}
	return nil
}

// checkOwnFile checks that f (opened at path) is a regular file owned by the
// user with no other hard link: a link planted by someone else (who could
// make one to any file of the user's) is refused.
func checkOwnFile(f *os.File, path string) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return unsafef("%s is not a regular file (%v); remove it", path, st.Mode().Type())
	}
	if uid, ok := ownerOf(st); ok && uid != os.Geteuid() {
		return unsafef("%s belongs to uid %d, not to you (uid %d); remove it", path, uid, os.Geteuid())
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Nlink > 1 {
		return unsafef("%s has %d hard links, which the daemon never makes; remove it", path, sys.Nlink)
	}
	return nil
}

// ownerOf returns the uid owning st, where the OS tells it.
func ownerOf(st fs.FileInfo) (int, bool) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(sys.Uid), true
}
