//go:build linux

package peercred

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
)

// newOwner returns the sock_diag lookup if the kernel has it for TCP, and
// the /proc/net/tcp lookup if it does not.
func newOwner() (Owner, error) {
	d, err := newSockDiag()
	if err == nil {
		return d, nil
	}
	if !errors.Is(err, ErrUnsupported) {
		return nil, err
	}
	p, perr := newProc()
	if perr != nil {
		return nil, fmt.Errorf("%w (and %v)", perr, err)
	}
	return p, nil
}

// The kernel's tables of this network namespace's TCP sockets.
const (
	procTCP  = "/proc/net/tcp"
	procTCP6 = "/proc/net/tcp6"
)

// attempts is how many times a lookup reads the tables before it answers
// ErrNotFound. The kernel prints a table a page at a time and resumes by
// position within a hash bucket, so a socket closing ahead of the peer's in
// the same bucket between two pages can make one reading skip the peer's
// row. A second reading makes a false ErrNotFound (a refused app, never a
// wrong uid) need that to happen twice in a row.
const attempts = 2

// procOwner reads /proc/net/tcp and /proc/net/tcp6 for each lookup.
type procOwner struct {
	closed atomic.Bool
}

var _ Owner = (*procOwner)(nil)

func newProc() (Owner, error) {
	f, err := os.Open(procTCP)
	if err != nil {
		return nil, fmt.Errorf("peercred: %w", err)
	}
	f.Close()
	return &procOwner{}, nil
}

// Method returns MethodProc.
func (*procOwner) Method() string { return MethodProc }

// Close keeps lookups from being made: it holds nothing open.
func (o *procOwner) Close() error {
	o.closed.Store(true)
	return nil
}

// PeerUID finds the established socket whose local address is conn's remote
// address and whose remote address is conn's local address, in /proc/net/tcp
// and then /proc/net/tcp6 for an IPv4 peer (IPv4-mapped rows), in
// /proc/net/tcp6 only for an IPv6 peer, and returns its uid. A system
// without IPv6 has no /proc/net/tcp6; that table is then taken as empty.
func (o *procOwner) PeerUID(conn net.Conn) (uint32, error) {
	if o.closed.Load() {
		return 0, fmt.Errorf("peercred: %w", net.ErrClosed)
	}
	local, remote, err := endpoints(conn)
	if err != nil {
		return 0, err
	}
	tables := []string{procTCP6}
	if remote.Addr().Is4() {
		tables = []string{procTCP, procTCP6}
	}
	buf := make([]byte, 4096)
	for range attempts {
		for _, name := range tables {
			uid, found, err := scanFile(name, buf, remote, local)
			if err != nil {
				return 0, err
			}
			if found {
				return uid, nil
			}
		}
	}
	return 0, fmt.Errorf("%w: %v to %v", ErrNotFound, remote, local)
}

// scanFile runs scan over the table in the file name.
func scanFile(name string, buf []byte, local, remote netip.AddrPort) (uint32, bool, error) {
	f, err := os.Open(name)
	if err != nil {
		if name == procTCP6 && errors.Is(err, fs.ErrNotExist) {
			return 0, false, nil
		}
		return 0, false, fmt.Errorf("peercred: %w", err)
	}
	defer f.Close()
	uid, found, err := scan(f, buf, local, remote)
	if err != nil {
		return 0, false, fmt.Errorf("%s: %w", name, err)
	}
	return uid, found, nil
}
