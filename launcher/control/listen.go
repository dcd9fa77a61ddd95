package control

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
)

// ErrSocket is wrapped by errors creating the control socket.
var ErrSocket = errors.New("control: control socket")

// maxSocketPath is the longest Unix socket path (sun_path is 108 bytes on
// Linux, 104 on the BSDs, including the NUL).
const maxSocketPath = 103

// Listen creates the control socket at path with mode 0600. A file left at
// path by a daemon that died is removed first: the caller must hold the data
// directory's lock, so no live daemon owns it. The directory holding path
// should be private to the user (the daemon makes the data directory 0700), so
// the socket is never reachable by others, even before its mode is set.
func Listen(path string) (net.Listener, error) {
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("%w: path %s is %d bytes, more than the %d a Unix socket allows; use a shorter data directory", ErrSocket, path, len(path), maxSocketPath)
	}
	if st, err := os.Lstat(path); err == nil {
		if st.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("%w: %s exists and is not a socket", ErrSocket, path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("%w: removing the stale socket: %v", ErrSocket, err)
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSocket, err)
	}
	// Closing the listener removes the socket file.
	ln.SetUnlinkOnClose(true)
	// Chmod follows links: check first that path is the socket just made
	// (only the user can change the private directory in between).
	if st, err := os.Lstat(path); err != nil || st.Mode()&fs.ModeSocket == 0 {
		ln.Close()
		return nil, fmt.Errorf("%w: %s is not the socket just created", ErrSocket, path)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("%w: %v", ErrSocket, err)
	}
	return ln, nil
}

// peerListener closes, unanswered, the connections whose peer uid is not uid.
type peerListener struct {
	net.Listener
	uid int
	log *slog.Logger
}

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid, known, err := peerUID(c)
		if err != nil {
			l.log.Warn("control: cannot tell the peer's uid; closing", "err", err)
			c.Close()
			continue
		}
		if known && uid != l.uid {
			l.log.Warn("control: connection from another user refused", "uid", uid)
			c.Close()
			continue
		}
		return c, nil
	}
}
