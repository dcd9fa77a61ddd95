//go:build unix

package vfs

import "syscall"

// oNoFollow makes OpenFile refuse a symlink as the last path element on
// backends that pass flags to the OS (afero.OsFs, BasePathFs over it).
// In-memory backends ignore it.
const oNoFollow = syscall.O_NOFOLLOW
