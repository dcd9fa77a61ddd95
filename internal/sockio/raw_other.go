//go:build !linux || race

package sockio

import "net"

// raw: see raw_linux.go.
const raw = false

func wrap(c net.Conn) net.Conn { return c }
