//go:build linux

package peercred

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// diagTimeout bounds each exchange with the kernel (sending the request,
// and waiting for its answer). The kernel answers while the request is being
// sent, so the wait only guards against the unexpected.
const diagTimeout = time.Second

// diagAnswerMax is the size of the buffer an answer is read into: an
// answer is under 200 bytes; one that does not fit is malformed.
const diagAnswerMax = 1024

// diagIdleMax is how many netlink sockets a diagOwner keeps between
// lookups. A lookup holds one for a few microseconds; lookups beyond that
// many at once open sockets of their own and close them after.
const diagIdleMax = 8

// diagOwner asks the kernel's sock_diag netlink interface for the peer's
// socket. It keeps up to diagIdleMax netlink sockets for the next lookups:
// opening and closing one costs twice what a lookup on it costs. A socket
// is kept only after an exchange that went as expected; after any error it
// is closed, so that no late answer can be read by another lookup.
type diagOwner struct {
	// seq numbers the requests, so that an answer is known to be the
	// answer to its request.
	seq atomic.Uint32
	// timeout bounds each send and each receive.
	timeout time.Duration

	mu     sync.Mutex
	idle   []int // netlink sockets ready for a lookup
	closed bool  // Close was called: keep no socket
}

var _ Owner = (*diagOwner)(nil)

// unavailable says whether err, an error of New's probe, means that this
// kernel, or the sandbox the daemon runs in, gives no sock_diag: no netlink
// or no NETLINK_SOCK_DIAG, or the socket is forbidden.
func unavailable(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case syscall.EPROTONOSUPPORT, syscall.EAFNOSUPPORT, syscall.ESOCKTNOSUPPORT,
		syscall.EACCES, syscall.EPERM, syscall.ENOSYS, syscall.EOPNOTSUPP:
		return true
	}
	return false
}

// newSockDiag probes the kernel with a dump of the TCP sockets in no state
// (which costs the kernel nothing), and returns the sock_diag lookup if the
// kernel answers it. Its error wraps ErrUnsupported when the kernel refuses
// the probe or the socket.
func newSockDiag() (Owner, error) {
	o := &diagOwner{timeout: diagTimeout}
	a, err := o.probe()
	if err != nil {
		if unavailable(err) {
			return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
		}
		return nil, err
	}
	if a.typ != nlmsgDone {
		return nil, fmt.Errorf("peercred: sock_diag: message type %d answering a dump of no socket", a.typ)
	}
	if a.errno != 0 {
		return nil, fmt.Errorf("%w: sock_diag: the kernel answers %w to a TCP dump", ErrUnsupported, syscall.Errno(a.errno))
	}
	return o, nil
}

// probe sends New's probe on a socket of its own, which it closes: a dump's
// answer may be more than one datagram.
func (o *diagOwner) probe() (diagAnswer, error) {
	fd, err := o.open()
	if err != nil {
		return diagAnswer{}, err
	}
	defer syscall.Close(fd)
	return o.exchange(fd, diagQuery{seq: o.seq.Add(1), family: afInet, dump: true})
}

// Method returns MethodSockDiag.
func (o *diagOwner) Method() string { return MethodSockDiag }

// PeerUID asks the kernel for the socket whose own address is conn's remote
// address and whose peer's is conn's local address: for an IPv4 peer (or an
// IPv4-mapped one) as AF_INET with IPv4 addresses and then, if there is no
// such socket, as AF_INET6 with IPv4-mapped ones; for an IPv6 peer as
// AF_INET6. The socket found must be established and have exactly those
// addresses (compared with IPv4-mapped addresses unmapped); its uid is the
// answer.
//
// The kernel finds a socket bound to an interface (SO_BINDTODEVICE, or
// connected to a link-local IPv6 address) only if the request names that
// interface. A request names the interface of the zone of a link-local
// peer's address; for any other peer PeerUID asks for a socket bound to no
// interface and then for one bound to the loopback interface. So a peer
// not found costs four exchanges for an IPv4 peer, two for an IPv6 one.
func (o *diagOwner) PeerUID(conn net.Conn) (uint32, error) {
	la, ra, err := tcpAddrs(conn)
	if err != nil {
		return 0, err
	}
	local, remote := plain(ra.AddrPort()), plain(la.AddrPort())
	ifindex, err := zoneIndex(ra.Zone)
	if err != nil {
		return 0, fmt.Errorf("%w: %v to %v: %w", ErrNotFound, local, remote, err)
	}
	families := []uint8{afInet6}
	if local.Addr().Is4() {
		families = []uint8{afInet, afInet6}
	}
	ifindexes := []uint32{ifindex}
	if ifindex == 0 {
		ifindexes = []uint32{0, loopbackIfindex}
	}
	for _, family := range families {
		for _, ifindex := range ifindexes {
			q := diagQuery{seq: o.seq.Add(1), family: family, local: local, remote: remote, ifindex: ifindex}
			uid, found, err := o.lookup(q)
			if err != nil || found {
				return uid, err
			}
		}
	}
	return 0, fmt.Errorf("%w: %v to %v", ErrNotFound, local, remote)
}

// loopbackIfindex is the index of the loopback interface in every network
// namespace (the kernel's LOOPBACK_IFINDEX).
const loopbackIfindex = 1

// lookup asks q and returns the uid of the socket the kernel answers, if it
// is the established socket q asks for.
func (o *diagOwner) lookup(q diagQuery) (uid uint32, found bool, err error) {
	a, err := o.ask(q)
	if err != nil {
		return 0, false, err
	}
	switch {
	case a.typ == nlmsgError && a.errno == enoent:
		return 0, false, nil
	case a.typ == nlmsgError:
		return 0, false, fmt.Errorf("peercred: sock_diag: %v to %v: %w", q.local, q.remote, syscall.Errno(a.errno))
	case a.typ != sockDiagByFamily:
		return 0, false, malformedDiag("message type %d answering a lookup", a.typ)
	case a.state != stateEstablished || plain(a.local) != q.local || plain(a.remote) != q.remote:
		// Not the peer's socket, or not established any more: the
		// kernel's lookup, finding no established socket, answers the
		// socket in TIME_WAIT with those addresses, or a listener on the
		// peer's address and port.
		return 0, false, nil
	}
	return a.uid, true, nil
}

// zoneIndex returns the index of the interface named by an IPv6 address's
// zone (a name or a number), or 0 for no zone.
func zoneIndex(zone string) (uint32, error) {
	if zone == "" {
		return 0, nil
	}
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n), nil
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, err
	}
	return uint32(ifi.Index), nil
}

// Close closes the idle netlink sockets. Lookups after Close fail with an
// error wrapping net.ErrClosed.
func (o *diagOwner) Close() error {
	o.mu.Lock()
	idle := o.idle
	o.idle, o.closed = nil, true
	o.mu.Unlock()
	var errs []error
	for _, fd := range idle {
		if err := syscall.Close(fd); err != nil {
			errs = append(errs, fmt.Errorf("peercred: sock_diag: close: %w", err))
		}
	}
	return errors.Join(errs...)
}

// ask sends q's request on an idle netlink socket, or on a new one, reads
// the answer, and keeps the socket for the next lookup if all went well.
func (o *diagOwner) ask(q diagQuery) (diagAnswer, error) {
	o.mu.Lock()
	closed := o.closed
	fd := -1
	if n := len(o.idle); n > 0 {
		fd = o.idle[n-1]
		o.idle = o.idle[:n-1]
	}
	o.mu.Unlock()
	if closed {
		return diagAnswer{}, fmt.Errorf("peercred: sock_diag: %w", net.ErrClosed)
	}
	if fd < 0 {
		var err error
		if fd, err = o.open(); err != nil {
			return diagAnswer{}, err
		}
	}
	a, err := o.exchange(fd, q)
	if err != nil {
		syscall.Close(fd)
		return a, err
	}
	o.mu.Lock()
	if !o.closed && len(o.idle) < diagIdleMax {
		o.idle = append(o.idle, fd)
		fd = -1
	}
	o.mu.Unlock()
	if fd >= 0 {
		syscall.Close(fd)
	}
	return a, nil
}

// open opens a netlink socket for sock_diag, with o's timeout on sends and
// receives.
func (o *diagOwner) open() (int, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, netlinkSockDiag)
	if err != nil {
		return -1, fmt.Errorf("peercred: sock_diag: socket: %w", err)
	}
	tv := syscall.NsecToTimeval(o.timeout.Nanoseconds())
	for _, opt := range [2]int{syscall.SO_SNDTIMEO, syscall.SO_RCVTIMEO} {
		if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, opt, &tv); err != nil {
			syscall.Close(fd)
			return -1, fmt.Errorf("peercred: sock_diag: setsockopt: %w", err)
		}
	}
	return fd, nil
}

// exchange sends q's request on fd and reads its answer.
func (o *diagOwner) exchange(fd int, q diagQuery) (diagAnswer, error) {
	var req [diagRequestLen]byte
	b, err := appendDiagRequest(req[:0], q)
	if err != nil {
		return diagAnswer{}, err
	}
	deadline := time.Now().Add(o.timeout)
	kernel := syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}
	for {
		err = syscall.Sendto(fd, b, 0, &kernel)
		if err != syscall.EINTR || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		return diagAnswer{}, o.ioError("send", err)
	}
	return o.receive(fd, q.seq, deadline)
}

// receive reads the answer to request seq from fd.
func (o *diagOwner) receive(fd int, seq uint32, deadline time.Time) (diagAnswer, error) {
	var buf [diagAnswerMax]byte
	var (
		n    int
		from syscall.Sockaddr
		err  error
	)
	for {
		n, from, err = syscall.Recvfrom(fd, buf[:], 0)
		if err != syscall.EINTR || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		return diagAnswer{}, o.ioError("receive", err)
	}
	if sa, ok := from.(*syscall.SockaddrNetlink); !ok || sa.Pid != 0 {
		return diagAnswer{}, malformedDiag("answer not from the kernel (%T %+v)", from, from)
	}
	return parseDiag(buf[:n], seq)
}

// ioError describes an error of the netlink socket; a timeout wraps
// os.ErrDeadlineExceeded.
func (o *diagOwner) ioError(op string, err error) error {
	if err == syscall.EAGAIN {
		return fmt.Errorf("peercred: sock_diag: %s: no progress within %v: %w (%w)", op, o.timeout, os.ErrDeadlineExceeded, err)
	}
	return fmt.Errorf("peercred: sock_diag: %s: %w", op, err)
}
