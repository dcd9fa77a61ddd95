package peercred

import (
	"io"
	"net/netip"
)

// Row is a decoded line of a socket table.
type Row struct {
	Local, Remote netip.AddrPort
	State         uint8
	UID           uint32
}

// ParseLine decodes one line of a socket table.
func ParseLine(line []byte) (Row, error) {
	r, err := parseLine(line)
	return Row{Local: r.local, Remote: r.remote, State: r.state, UID: r.uid}, err
}

// Scan finds the uid of the established socket from local to remote in a
// socket table.
func Scan(r io.Reader, local, remote netip.AddrPort) (uid uint32, found bool, err error) {
	return scan(r, make([]byte, 4096), local, remote)
}

// MaxLine is the longest line Scan reads.
const MaxLine = maxLine
