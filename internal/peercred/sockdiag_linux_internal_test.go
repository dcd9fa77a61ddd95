//go:build linux

package peercred

import (
	"encoding/binary"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDiagTimeout: a netlink socket on which no answer comes gives up after
// the Owner's timeout, with an error wrapping os.ErrDeadlineExceeded.
func TestDiagTimeout(t *testing.T) {
	o := &diagOwner{timeout: 10 * time.Millisecond}
	fd, err := o.open()
	require.NoError(t, err)
	defer syscall.Close(fd)
	_, err = o.receive(fd, 1, time.Now().Add(o.timeout))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.ErrorIs(t, err, syscall.EAGAIN)
	require.Contains(t, err.Error(), "no progress within 10ms")
}

// TestDiagForgedAnswer: an answer that does not come from the kernel is
// refused, even if it is well formed and answers the request's number. Only
// a process with CAP_NET_ADMIN can send one to another's netlink socket.
func TestDiagForgedAnswer(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: only a process with CAP_NET_ADMIN can send to another's netlink socket")
	}
	o := &diagOwner{timeout: time.Second}
	fd, err := o.open()
	require.NoError(t, err)
	defer syscall.Close(fd)
	// Bind to learn the socket's port id.
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}))
	sa, err := syscall.Getsockname(fd)
	require.NoError(t, err)
	victim := sa.(*syscall.SockaddrNetlink)
	require.NotZero(t, victim.Pid)

	forger, err := o.open()
	require.NoError(t, err)
	defer syscall.Close(forger)
	// Socket 127.0.0.1:1 to 127.0.0.1:2, established, uid 0.
	forged := make([]byte, nlmsgHdrLen+diagMsgLen)
	ne := binary.NativeEndian
	ne.PutUint32(forged[0:], uint32(len(forged)))
	ne.PutUint16(forged[4:], sockDiagByFamily)
	ne.PutUint32(forged[8:], 7)
	p := forged[nlmsgHdrLen:]
	p[0], p[1] = afInet, stateEstablished
	binary.BigEndian.PutUint16(p[4:], 1)
	binary.BigEndian.PutUint16(p[6:], 2)
	copy(p[8:], []byte{127, 0, 0, 1})
	copy(p[24:], []byte{127, 0, 0, 1})
	a, err := parseDiag(forged, 7)
	require.NoError(t, err, "the forged answer is well formed")
	require.Equal(t, uint8(stateEstablished), a.state)

	require.NoError(t, syscall.Sendto(forger, forged, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK, Pid: victim.Pid}))
	_, err = o.receive(fd, 7, time.Now().Add(o.timeout))
	require.ErrorIs(t, err, ErrMalformed)
	require.Contains(t, err.Error(), "answer not from the kernel")
}

// TestDiagIdleSockets: the Owner keeps at most diagIdleMax sockets after
// lookups beyond that many at once, and none after Close.
func TestDiagIdleSockets(t *testing.T) {
	owner, err := newSockDiag()
	if err != nil {
		t.Skipf("no sock_diag here: %v", err)
	}
	o := owner.(*diagOwner)
	require.Empty(t, o.idle, "the probe's socket is not kept")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()

	const n = 4 * diagIdleMax
	gate := make(chan struct{})
	errs := make(chan error, n)
	for range n {
		go func() {
			<-gate
			_, err := o.PeerUID(c)
			errs <- err
		}()
	}
	close(gate)
	for range n {
		require.NoError(t, <-errs)
	}
	o.mu.Lock()
	idle := len(o.idle)
	o.mu.Unlock()
	require.Positive(t, idle)
	require.LessOrEqual(t, idle, diagIdleMax)

	require.NoError(t, o.Close())
	require.Empty(t, o.idle)
	_, err = o.PeerUID(c)
	require.ErrorIs(t, err, net.ErrClosed)
}

// TestUnavailable: the errors that make New fall back to /proc.
func TestUnavailable(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EPROTONOSUPPORT, syscall.EAFNOSUPPORT, syscall.EACCES, syscall.EPERM} {
		require.True(t, unavailable(&net.OpError{Err: errno}), "%v", errno)
	}
	for _, err := range []error{syscall.EMFILE, syscall.ENOBUFS, syscall.EAGAIN, os.ErrDeadlineExceeded} {
		require.False(t, unavailable(err), "%v", err)
	}
}
