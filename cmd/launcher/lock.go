package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// errLocked is returned when another daemon holds the data directory.
var errLocked = errors.New("data directory in use")

// lockDataDir takes an exclusive flock on DIR/lock, so that a second daemon
// on the same data directory refuses to start. The lock goes with the
// process (also on kill -9). The file is opened without following a
// symbolic link, and refused unless it is a regular file of the user's with
// no other hard link, so a planted link never makes the daemon truncate
// another file. The returned function releases the lock.
func lockDataDir(dir string) (func(), error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, unsafef("lock file %s is a symbolic link, which the daemon never makes; remove it (rm %s) and start again", path, path)
		}
		return nil, fmt.Errorf("lock file: %w", err)
	}
	if err := checkOwnFile(f, path); err != nil {
		f.Close()
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := io.ReadAll(io.LimitReader(f, 32))
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := ""
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				who = fmt.Sprintf(" (pid %d)", pid)
			}
			return nil, fmt.Errorf("%w: another launcher daemon%s is already running with data directory %s; stop it first or use another --data", errLocked, who, dir)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
