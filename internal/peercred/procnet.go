package peercred

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
)

// The decoder of Linux's /proc/net/tcp and /proc/net/tcp6. It is not built
// for Linux only so that its tests and fuzz targets run everywhere.
//
// A table is a header line ("  sl  local_address rem_address   st ...")
// followed by one line per socket, each a run of fields separated by spaces:
//
//	   0: 0100007F:1F90 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 53912 1 ...
//	   sl local         remote        st tx:rx             tr:when     retrnsmt  uid   timeout inode
//
// An address is 8 hex digits (IPv4) or 4 groups of 8 (IPv6), each group the
// kernel's 32-bit word in the host's byte order; the port is 4 hex digits.
// Rows in tcp6 for IPv4 traffic on IPv6 sockets carry IPv4-mapped addresses.
// The lookup wants only the addresses, the state and the uid, but checks
// every line it reads: a line it cannot read is an error (ErrMalformed), not
// a line skipped, so that a change of format is reported as such.

// maxLine bounds the length of a line (the kernel's are under 200 bytes).
const maxLine = 4096

// minFields is the number of fields a row has at least: up to the inode.
const minFields = 10

// stateEstablished is TCP_ESTABLISHED in the st column. The peer of a
// connection being checked is established: the daemon has not closed its
// end, and an app that closed its own (to send a stolen string and go) or
// whose socket is gone is not looked at. This also keeps out the rows the
// kernel prints for TIME_WAIT and orphaned FIN_WAIT2 sockets, whose uid
// column is always 0.
const stateEstablished = 0x01

// row is one socket of a table.
type row struct {
	local, remote netip.AddrPort
	state         uint8
	uid           uint32
}

// errLine is the reason a line is malformed; parseLine's errors wrap
// ErrMalformed.
type errLine string

func (e errLine) Error() string { return string(e) }

func malformed(reason string) error {
	return fmt.Errorf("%w: %w", ErrMalformed, errLine(reason))
}

// parseLine decodes one row of a table. It never allocates on success.
func parseLine(line []byte) (row, error) {
	var r row
	var f [minFields][]byte
	rest := line
	for i := range f {
		f[i], rest = nextField(rest)
		if f[i] == nil {
			return r, malformed(fmt.Sprintf("%d fields, want at least %d", i, minFields))
		}
	}
	sl := f[0]
	if len(sl) < 2 || sl[len(sl)-1] != ':' {
		return r, malformed("slot is not a number and a colon")
	}
	if _, ok := decimal(sl[:len(sl)-1], 64); !ok {
		return r, malformed("slot is not a number and a colon")
	}
	var err error
	if r.local, err = parseAddrPort(f[1]); err != nil {
		return r, err
	}
	if r.remote, err = parseAddrPort(f[2]); err != nil {
		return r, err
	}
	if r.local.Addr().Is4() != r.remote.Addr().Is4() {
		return r, malformed("local and remote addresses of different families")
	}
	st, ok := hexWord(f[3])
	if !ok || len(f[3]) != 2 {
		return r, malformed("state is not 2 hex digits")
	}
	r.state = uint8(st)
	uid, ok := decimal(f[7], 32)
	if !ok {
		return r, malformed("uid is not a 32-bit decimal number")
	}
	r.uid = uint32(uid)
	if _, ok := decimal(f[9], 64); !ok {
		return r, malformed("inode is not a decimal number")
	}
	return r, nil
}

// nextField returns the first run of non-space bytes of b and what follows
// it, or nil if there is none.
func nextField(b []byte) (field, rest []byte) {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	j := i
	for j < len(b) && b[j] != ' ' && b[j] != '\t' {
		j++
	}
	if i == j {
		return nil, nil
	}
	return b[i:j], b[j:]
}

// parseAddrPort decodes "HHHHHHHH:PPPP" (IPv4) or 32 hex digits, a colon and
// 4 (IPv6).
func parseAddrPort(b []byte) (netip.AddrPort, error) {
	var zero netip.AddrPort
	colon := bytes.IndexByte(b, ':')
	if colon < 0 || len(b)-colon-1 != 4 {
		return zero, malformed("address is not hex digits, a colon and a 4-digit port")
	}
	port, ok := hexWord(b[colon+1:])
	if !ok {
		return zero, malformed("port is not 4 hex digits")
	}
	h := b[:colon]
	var a netip.Addr
	switch len(h) {
	case 8:
		w, ok := hexWord(h)
		if !ok {
			return zero, malformed("IPv4 address is not 8 hex digits")
		}
		var v [4]byte
		binary.NativeEndian.PutUint32(v[:], w)
		a = netip.AddrFrom4(v)
	case 32:
		var v [16]byte
		for i := 0; i < 4; i++ {
			w, ok := hexWord(h[8*i : 8*i+8])
			if !ok {
				return zero, malformed("IPv6 address is not 32 hex digits")
			}
			binary.NativeEndian.PutUint32(v[4*i:], w)
		}
		a = netip.AddrFrom16(v)
	default:
		return zero, malformed("address is neither 8 nor 32 hex digits")
	}
	return netip.AddrPortFrom(a, uint16(port)), nil
}

// hexWord decodes 1 to 8 hex digits of either case.
func hexWord(b []byte) (uint32, bool) {
	if len(b) == 0 || len(b) > 8 {
		return 0, false
	}
	var v uint32
	for _, c := range b {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint32(d)
	}
	return v, true
}

// decimal decodes 1 to 20 decimal digits whose value fits in bits bits.
func decimal(b []byte, bits uint) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	limit := uint64(1)<<bits - 1
	if bits == 64 {
		limit = ^uint64(0)
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (limit-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// scan reads a table from r and returns the uid of the first established
// socket whose local address is local and whose remote address is remote
// (both compared with IPv4-mapped addresses unmapped), and found false if
// there is none. It stops reading at the match. Its errors wrap ErrMalformed
// or are r's.
func scan(r io.Reader, buf []byte, local, remote netip.AddrPort) (uid uint32, found bool, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(buf, maxLine)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if n == 1 {
			if f, _ := nextField(line); !bytes.Equal(f, []byte("sl")) {
				return 0, false, malformed("line 1 is not the header")
			}
			continue
		}
		rw, err := parseLine(line)
		if err != nil {
			return 0, false, fmt.Errorf("line %d: %w", n, err)
		}
		if rw.state == stateEstablished && plain(rw.local) == local && plain(rw.remote) == remote {
			return rw.uid, true, nil
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return 0, false, malformed(fmt.Sprintf("line %d longer than %d bytes", n+1, maxLine))
		}
		return 0, false, err
	}
	if n == 0 {
		return 0, false, malformed("no header")
	}
	return 0, false, nil
}
