package launcher

import "net"

// PeerOwner finds the user owning the other end of a loopback TCP
// connection. Implementations (package internal/peercred on Linux) must
// return an error, never a guess, when the owner cannot be found.
type PeerOwner interface {
	PeerUID(conn net.Conn) (uint32, error)
}

// PeerCheck restricts the daemon to one user's processes: by default an app
// receives its launcher string in argv, which every local user can read
// (/proc/PID/cmdline), so a connection from another user's process is
// refused before its handshake, and so is one whose owner cannot be found.
type PeerCheck struct {
	// Owner finds a connection's peer user.
	Owner PeerOwner
	// UID is the only user whose connections are served (the daemon's own).
	UID uint32
}

// unknownUID counts the connections whose user is not known (no PeerCheck)
// together, for Config.MaxHandshakesPerUser.
const unknownUID = ^uint32(0)
