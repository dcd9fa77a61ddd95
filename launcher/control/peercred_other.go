//go:build !linux

package control

import "net"

// peerUID cannot tell the peer's uid on this OS; the socket's mode (0600) in
// a private directory is the only protection.
func peerUID(net.Conn) (uid int, known bool, err error) { return 0, false, nil }
