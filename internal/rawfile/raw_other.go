//go:build !linux || !(amd64 || arm64) || race || msan || asan

package rawfile

import "syscall"

// rawBuild: see raw_linux.go.
const rawBuild = false

// localFS: see raw_linux.go; no filesystem is raw in this build.
func localFS(uint32) bool { return false }

func rawAllowed(syscall.RawConn) bool { return false }

func rawWriteAt(syscall.RawConn, []byte, int64) (int, bool, error) { return 0, false, nil }
