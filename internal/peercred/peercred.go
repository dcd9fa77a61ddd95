// Package peercred finds the user that owns the other end of a loopback TCP
// connection, so that the daemon can refuse, before the handshake, a
// connection made by another local user: an app's launcher string is in its
// argv, which every local user can read in /proc/PID/cmdline.
//
// The package owns the lookup only. Which uid to accept, and what to do with
// a connection that fails, are the caller's: the daemon passes its own
// uint32(os.Getuid()) to Check and closes the connection, unanswered, on any
// error. There is deliberately no Self function: os.Getuid is the uid the
// kernel gives the daemon's own sockets (a daemon that is not setuid has
// real = effective = file-system uid), and the caller may want another.
//
// On Linux, New returns an Owner that asks the kernel, through the
// sock_diag netlink interface (NETLINK_SOCK_DIAG, see sock_diag(7)), for the
// one TCP socket with the peer's exact addresses: about the cost of a few
// system calls, whatever the number of sockets on the machine. New decides
// once, with a probe that costs the kernel nothing, whether sock_diag works
// here; where it does not (a kernel without it, a sandbox that forbids
// netlink sockets), New falls back to an Owner that reads /proc/net/tcp and
// /proc/net/tcp6 for each lookup, whose cost grows with the number of TCP
// sockets on the machine (see BenchmarkPeerUID). Owner.Method says which
// lookup New chose, for the daemon's log; NewSockDiag's error says why
// sock_diag was not. Neither lookup caches (a stale answer would be a
// security bug), and both answer only for an established socket, and fail
// closed: a peer not found, or an answer that cannot be read, is an error,
// never a guess.
//
// On other systems New returns an error wrapping ErrUnsupported, and the
// daemon runs with the check off and says so. A system gets its own lookup
// in a file owner_<goos>.go that defines newOwner, newSockDiag and newProc,
// and leaves owner_other.go's build constraint.
//
// What the answer means: the uid the kernel records for the peer's socket,
// which is the uid of the process that created it. A socket handed to another
// process (inherited, passed over a Unix socket) keeps its creator's uid, and
// a relay run by the same user (ssh -L, socat, a browser) passes the check
// for whoever talks through it. Sockets of other network namespaces are never
// found, so a connection that does not come from this machine's loopback in
// this namespace fails with ErrNotFound.
package peercred

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// Owner finds the uid owning the peer end of a loopback TCP connection.
//
// PeerUID does not block on the network, and takes no context. With
// sock_diag (Method returns MethodSockDiag) a lookup is one exchange with
// the kernel on one of the few netlink sockets the Owner keeps (up to four
// for a peer that is not found), each bounded by a 1-second timeout: it costs a few microseconds of CPU time
// whatever the number of sockets on the machine. With /proc (MethodProc) it reads the kernel's socket tables,
// which costs CPU time in proportion to the number of TCP sockets on the
// machine (TIME_WAIT ones included, any user's) plus a walk of the kernel's
// established-socket hash table, whose size grows with the machine's memory;
// a peer that is not found costs two full readings of both tables. See
// BenchmarkPeerUID.
//
// Implementations return an error wrapping ErrNotTCP for a connection whose
// addresses are not TCP addresses, ErrNotFound when the peer's socket is not
// an established socket of this machine, and ErrMalformed when the kernel's
// answer or table cannot be read as expected. Any other error (the netlink
// socket's, wrapping its syscall.Errno, or os.ErrDeadlineExceeded when the
// kernel does not answer in time; the table file's) also means that the
// owner is unknown. An Owner is safe for concurrent use.
type Owner interface {
	PeerUID(conn net.Conn) (uid uint32, err error)
	// Method says how PeerUID looks up a socket: MethodSockDiag or
	// MethodProc.
	Method() string
	// Close releases what the Owner keeps open (the sock_diag lookup's
	// idle netlink sockets). PeerUID fails after Close with an error
	// wrapping net.ErrClosed. Close is idempotent.
	Close() error
}

// The lookups an Owner makes, as its Method names them.
const (
	// MethodSockDiag asks the kernel's sock_diag netlink interface for the
	// socket with the peer's exact addresses.
	MethodSockDiag = "sock_diag"
	// MethodProc reads /proc/net/tcp and /proc/net/tcp6.
	MethodProc = "procfs"
)

var (
	// ErrUnsupported is wrapped by New's error on systems where the package
	// has no lookup. It wraps errors.ErrUnsupported.
	ErrUnsupported = fmt.Errorf("peercred: %w", errors.ErrUnsupported)

	// ErrNotFound means that no established socket is the peer of the
	// connection: the peer has closed its end already, or is not on this
	// machine's loopback in this network namespace. The caller refuses.
	ErrNotFound = errors.New("peercred: peer socket not found")

	// ErrNotTCP means that the connection's addresses are not TCP addresses.
	ErrNotTCP = errors.New("peercred: not a TCP connection")

	// ErrMalformed means that the kernel's answer (sock_diag), or a line of
	// its socket table (/proc), is not what the lookup can read. The caller
	// refuses.
	ErrMalformed = errors.New("peercred: malformed socket table")

	// ErrOtherUser is wrapped by Check's error when the peer's socket
	// belongs to another uid than the one wanted.
	ErrOtherUser = errors.New("peercred: peer belongs to another user")
)

// Check returns nil if o finds that the peer of conn runs as uid, an error
// wrapping ErrOtherUser (naming both uids) if it runs as another, and o's
// error otherwise. The caller refuses the connection on any error.
func Check(o Owner, conn net.Conn, uid uint32) error {
	got, err := o.PeerUID(conn)
	if err != nil {
		return err
	}
	if got != uid {
		return fmt.Errorf("%w: peer %v is uid %d, not %d", ErrOtherUser, conn.RemoteAddr(), got, uid)
	}
	return nil
}

// New returns this system's Owner, or an error wrapping ErrUnsupported if
// there is none (the error names the system). On Linux it returns the
// sock_diag lookup if the kernel answers New's probe, and the /proc lookup
// if NewSockDiag's error wraps ErrUnsupported; any other error of
// NewSockDiag is New's. The /proc lookup fails, with the error of os.Open,
// if /proc/net/tcp cannot be read (/proc not mounted): that is not
// ErrUnsupported, and the daemon should not start with the check silently
// off.
func New() (Owner, error) {
	return newOwner()
}

// NewSockDiag returns the sock_diag lookup if this kernel answers its
// probe (a dump of the TCP sockets in no state), and otherwise an error
// that wraps ErrUnsupported when the kernel or a sandbox refuses the probe
// (no NETLINK_SOCK_DIAG, no TCP diagnostics, or the socket forbidden) and
// says why. It is New without the fallback.
func NewSockDiag() (Owner, error) {
	return newSockDiag()
}

// NewProc returns the /proc/net/tcp lookup, or the error of os.Open if that
// file cannot be read. It is New's fallback, for tests and comparisons.
func NewProc() (Owner, error) {
	return newProc()
}

// tcpAddrs returns conn's local and remote TCP addresses.
func tcpAddrs(conn net.Conn) (local, remote *net.TCPAddr, err error) {
	la, ok1 := conn.LocalAddr().(*net.TCPAddr)
	ra, ok2 := conn.RemoteAddr().(*net.TCPAddr)
	if !ok1 || !ok2 || la == nil || ra == nil {
		return nil, nil, fmt.Errorf("%w: %T", ErrNotTCP, conn)
	}
	return la, ra, nil
}

// endpoints returns conn's local and remote addresses as the kernel's
// tables print them: IPv4-mapped IPv6 addresses as IPv4, without zones.
func endpoints(conn net.Conn) (local, remote netip.AddrPort, err error) {
	la, ra, err := tcpAddrs(conn)
	if err != nil {
		return local, remote, err
	}
	return plain(la.AddrPort()), plain(ra.AddrPort()), nil
}

// plain unmaps an IPv4-mapped address and drops the zone.
func plain(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port())
}
