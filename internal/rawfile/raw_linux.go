//go:build linux && !race

package rawfile

import (
	"runtime"
	"syscall"
	"unsafe"
)

// rawBuild says whether this build makes raw writes at all.
const rawBuild = true

// Filesystem magic numbers (statfs f_type) of the local disk and memory
// filesystems whose small writes are made raw.
const (
	magicExt4  = 0xEF53 // ext2, ext3 and ext4
	magicXFS   = 0x58465342
	magicBtrfs = 0x9123683E
	magicF2FS  = 0xF2F52010
	magicTmpfs = 0x01021994
)

// localFS reports whether a filesystem of type magic is one whose small
// writes are made raw.
func localFS(magic int64) bool {
	switch magic {
	case magicExt4, magicXFS, magicBtrfs, magicF2FS, magicTmpfs:
		return true
	}
	return false
}

// rawAllowed says whether the build, f's filesystem and GOMAXPROCS allow
// raw writes to f.
func rawAllowed(rc syscall.RawConn) bool {
	if runtime.GOMAXPROCS(0) < 2 {
		return false
	}
	var st syscall.Statfs_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = syscall.Fstatfs(int(fd), &st) }); err != nil || serr != nil {
		return false
	}
	return localFS(int64(st.Type))
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
