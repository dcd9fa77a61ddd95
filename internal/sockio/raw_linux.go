//go:build linux && !race

package sockio

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// raw says whether this build makes raw calls: on Linux, and not under the
// race detector, whose build keeps the syscall package's instrumentation
// of reads and writes.
const raw = true

// conn is a TCP connection whose small reads and writes are raw.
type conn struct {
	*net.TCPConn
	rc syscall.RawConn
}

func wrap(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	return &conn{TCPConn: tc, rc: rc}
}

// Read reads into p as net.Conn.Read does: at least one byte, io.EOF at the
// end of the stream, and the deadline's or Close's error while waiting.
func (c *conn) Read(p []byte) (int, error) {
	if len(p) == 0 || len(p) > RawMax {
		return c.TCPConn.Read(p)
	}
	var n int
	var errno syscall.Errno
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait for the poller, then try again
			}
			n, errno = int(r), e
			return true
		}
	})
	switch {
	case err != nil:
		return 0, renameOp(err, "read")
	case errno != 0:
		return 0, c.opError("read", errno)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write writes all of p as net.Conn.Write does, waiting for room as needed.
func (c *conn) Write(p []byte) (int, error) {
	if len(p) == 0 || len(p) > RawMax {
		return c.TCPConn.Write(p)
	}
	done := 0
	var errno syscall.Errno
	err := c.rc.Write(func(fd uintptr) bool {
		for done < len(p) {
			r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[done])), uintptr(len(p)-done))
			switch e {
			case 0:
				done += int(r)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false
			default:
				errno = e
				return true
			}
		}
		return true
	})
	if err != nil {
		err = renameOp(err, "write")
	} else if errno != 0 {
		err = c.opError("write", errno)
	}
	return done, err
}

// renameOp gives an error of the RawConn ("raw-read", "raw-write": a
// deadline, a closed connection) the operation net's own Read and Write
// name.
func renameOp(err error, op string) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		e := *oe
		e.Op = op
		return &e
	}
	return err
}

// opError wraps errno as the net package wraps a failed read or write.
func (c *conn) opError(op string, errno syscall.Errno) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError(op, errno)}
}
