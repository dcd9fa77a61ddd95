//go:build !linux || race

package rawfile

import "syscall"

// rawBuild: see raw_linux.go.
const rawBuild = false

// localFS: see raw_linux.go; no filesystem is raw in this build.
func localFS(int64) bool { return false }

func rawAllowed(syscall.RawConn) bool { return false }

func rawWriteAt(syscall.RawConn, []byte, int64) (int, bool, error) { return 0, false, nil }
