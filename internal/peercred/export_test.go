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

// DiagQuery is a sock_diag request's content.
type DiagQuery struct {
	Seq           uint32
	Family        uint8
	Local, Remote netip.AddrPort
	Ifindex       uint32
	Dump          bool
}

// DiagRequest encodes q.
func DiagRequest(q DiagQuery) ([]byte, error) {
	return appendDiagRequest(nil, diagQuery{seq: q.Seq, family: q.Family, local: q.Local, remote: q.Remote, ifindex: q.Ifindex, dump: q.Dump})
}

// DiagAnswer is a decoded sock_diag answer.
type DiagAnswer struct {
	Type          uint16
	Errno         uint32
	Family, State uint8
	Local, Remote netip.AddrPort
	Ifindex, UID  uint32
}

// ParseDiag decodes a sock_diag answer to request seq.
func ParseDiag(b []byte, seq uint32) (DiagAnswer, error) {
	a, err := parseDiag(b, seq)
	return DiagAnswer{Type: a.typ, Errno: a.errno, Family: a.family, State: a.state,
		Local: a.local, Remote: a.remote, Ifindex: a.ifindex, UID: a.uid}, err
}

// Netlink and sock_diag numbers.
const (
	SockDiagByFamily = sockDiagByFamily
	NlmsgError       = nlmsgError
	NlmsgDone        = nlmsgDone
	AFInet           = afInet
	AFInet6          = afInet6
)
