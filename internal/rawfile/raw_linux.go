//go:build linux && (amd64 || arm64) && !race && !msan && !asan

package rawfile

import (
	"syscall"
	"unsafe"
)

// rawBuild says whether this build makes raw writes at all.
const rawBuild = true

// Filesystem magic numbers (statfs f_type) of the filesystems whose small
// writes are made raw.
const (
	magicExt4  = 0xEF53 // ext2, ext3 and ext4
	magicTmpfs = 0x01021994
)

// localFS reports whether a filesystem of type magic is one whose small
// writes are made raw.
func localFS(magic uint32) bool {
	return magic == magicExt4 || magic == magicTmpfs
}

// rawAllowed says whether the build, the file's filesystem and its open
// flags allow raw writes to it.
func rawAllowed(rc syscall.RawConn) bool {
	var st syscall.Statfs_t
	var flags uintptr
	var serr error
	var ferr syscall.Errno
	err := rc.Control(func(fd uintptr) {
		serr = syscall.Fstatfs(int(fd), &st)
		flags, _, ferr = syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
	})
	if err != nil || serr != nil || ferr != 0 || flags&syscall.O_APPEND != 0 {
		return false
	}
	return localFS(uint32(st.Type))
}

// rawWriteAt writes b at off with raw pwrite calls. done is false when the
// call could not be made or could not finish (n bytes were written); then
// the caller writes the rest through os.File. Otherwise err is the
// system call's error (with n bytes written) or nil.
func rawWriteAt(rc syscall.RawConn, b []byte, off int64) (n int, done bool, err error) {
	done = true
	cerr := rc.Control(func(fd uintptr) {
		for n < len(b) {
			r, _, e := syscall.RawSyscall6(syscall.SYS_PWRITE64, fd, uintptr(unsafe.Pointer(&b[n])), uintptr(len(b)-n), uintptr(off+int64(n)), 0, 0)
			switch {
			case e == syscall.EINTR:
			case e == syscall.EAGAIN:
				done = false
				return
			case e != 0:
				err = e
				return
			case r == 0:
				done = false // no progress: let os.File decide
				return
			default:
				n += int(r)
			}
		}
	})
	if cerr != nil {
		return 0, false, nil
	}
	return n, done, err
}
