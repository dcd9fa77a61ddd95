//go:build unix

package dns

import "syscall"

// openFileLimit returns the process's RLIMIT_NOFILE soft limit.
func openFileLimit() (uint64, bool) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, false
	}
	return uint64(r.Cur), true
}
