package peercred

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// The encoder of Linux's sock_diag requests and the decoder of its answers
// (see sock_diag(7)). They are not built for Linux only so that their tests
// and fuzz target run everywhere; owner_linux.go sends and receives.
//
// A request is one netlink message, all fields in the host's byte order
// unless said otherwise:
//
//	nlmsghdr (16 bytes): length 72, type SOCK_DIAG_BY_FAMILY (20),
//	    flags NLM_F_REQUEST, sequence number, port id 0
//	inet_diag_req_v2 (56 bytes): family (AF_INET 2, AF_INET6 10),
//	    protocol IPPROTO_TCP (6), extensions 0, padding 0,
//	    states (a bit per TCP state: 1<<TCP_ESTABLISHED), then
//	inet_diag_sockid (48 bytes): source port, destination port (network
//	    order), source address, destination address (16 bytes each, network
//	    order, an IPv4 address in the first 4 and zeros after), interface
//	    index, cookie (two words, all ones: none)
//
// Without NLM_F_DUMP the request asks for the one socket with exactly that
// source and destination (the kernel's own hash lookup, as for an arriving
// packet), in any state. The answer is one datagram holding one message:
//
//	SOCK_DIAG_BY_FAMILY: nlmsghdr, then inet_diag_msg (72 bytes): family,
//	    state, timer, retransmits, inet_diag_sockid (48 bytes, as above),
//	    expires, receive queue, send queue, uid, inode; then attributes,
//	    which the lookup does not read
//	NLMSG_ERROR (2): nlmsghdr, then the negated errno (a 32-bit signed
//	    number) and the request's nlmsghdr: ENOENT (2) when there is no such
//	    socket
//
// New's probe is a dump (NLM_F_DUMP) of the TCP sockets in no state, which
// the kernel answers with NLMSG_DONE (3): nlmsghdr and 0, or the negated
// errno when it has no TCP diagnostics.
//
// The decoder checks everything it relies on: lengths, message type,
// sequence number, family, and the zeros after an IPv4 address. Anything
// else is an error wrapping ErrMalformed, never a guess.

// Netlink and sock_diag numbers, from the kernel's uapi headers.
const (
	netlinkSockDiag  = 4  // NETLINK_SOCK_DIAG
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	nlmsgError       = 2  // NLMSG_ERROR
	nlmsgDone        = 3  // NLMSG_DONE

	nlmFRequest = 0x1   // NLM_F_REQUEST
	nlmFDump    = 0x300 // NLM_F_ROOT | NLM_F_MATCH

	afInet     = 2  // AF_INET
	afInet6    = 10 // AF_INET6
	ipprotoTCP = 6  // IPPROTO_TCP

	nlmsgHdrLen = 16 // sizeof(struct nlmsghdr)
	diagReqLen  = 56 // sizeof(struct inet_diag_req_v2)
	diagMsgLen  = 72 // sizeof(struct inet_diag_msg)
	nlmsgErrLen = 20 // sizeof(struct nlmsgerr)

	// diagRequestLen is the length of a whole request.
	diagRequestLen = nlmsgHdrLen + diagReqLen

	// noCookie is INET_DIAG_NOCOOKIE: the lookup matches any socket with
	// the addresses, whatever its cookie.
	noCookie = 0xFFFFFFFF

	// enoent is Linux's ENOENT, which the kernel answers when no socket has
	// the addresses asked for (the same number on every architecture).
	enoent = 2

	// maxErrno bounds the errno in an answer (the kernel's MAX_ERRNO).
	maxErrno = 4095
)

// errIPv6InIPv4Query is appendDiagRequest's error for an AF_INET query with
// an IPv6 address: a bug of the caller, which builds the queries.
var errIPv6InIPv4Query = errors.New("peercred: IPv6 address in an AF_INET sock_diag query")

// diagQuery asks for the TCP socket whose own address is local and whose
// peer's is remote.
type diagQuery struct {
	seq    uint32
	family uint8 // afInet: local and remote are IPv4 (mapped ones unmapped); afInet6: sent as 16 bytes
	local  netip.AddrPort
	remote netip.AddrPort
	// ifindex is the interface a socket bound to one (a link-local IPv6
	// peer's) must be bound to; 0 matches sockets bound to none.
	ifindex uint32
	// dump makes the query New's probe: a dump of the sockets in no state.
	dump bool
}

// appendDiagRequest appends q's request to dst.
func appendDiagRequest(dst []byte, q diagQuery) ([]byte, error) {
	flags := uint16(nlmFRequest)
	states := uint32(1) << stateEstablished
	if q.dump {
		flags |= nlmFDump
		states = 0
	}
	ne := binary.NativeEndian
	dst = ne.AppendUint32(dst, diagRequestLen)
	dst = ne.AppendUint16(dst, sockDiagByFamily)
	dst = ne.AppendUint16(dst, flags)
	dst = ne.AppendUint32(dst, q.seq)
	dst = ne.AppendUint32(dst, 0) // port id: the kernel's
	dst = append(dst, q.family, ipprotoTCP, 0, 0)
	dst = ne.AppendUint32(dst, states)
	dst = binary.BigEndian.AppendUint16(dst, q.local.Port())
	dst = binary.BigEndian.AppendUint16(dst, q.remote.Port())
	for _, a := range [2]netip.Addr{q.local.Addr(), q.remote.Addr()} {
		var b [16]byte
		switch {
		case q.family == afInet6:
			b = a.As16()
		case q.dump && !a.IsValid():
		case a.Unmap().Is4():
			v4 := a.Unmap().As4()
			copy(b[:], v4[:])
		default:
			return dst, errIPv6InIPv4Query
		}
		dst = append(dst, b[:]...)
	}
	dst = ne.AppendUint32(dst, q.ifindex)
	dst = ne.AppendUint32(dst, noCookie)
	dst = ne.AppendUint32(dst, noCookie)
	return dst, nil
}

// diagAnswer is a decoded answer.
type diagAnswer struct {
	// typ is sockDiagByFamily (a socket, described by the fields below),
	// nlmsgError or nlmsgDone (errno says how it went).
	typ uint16
	// errno is the kernel's error for nlmsgError (never 0) and nlmsgDone
	// (0 for a dump that went well).
	errno uint32

	family        uint8 // afInet or afInet6
	state         uint8 // TCP state: stateEstablished, ...
	local, remote netip.AddrPort
	ifindex       uint32
	uid           uint32
}

// parseDiag decodes the datagram b, which answers the request numbered
// seq. It does not allocate on success. Its errors wrap ErrMalformed.
func parseDiag(b []byte, seq uint32) (diagAnswer, error) {
	var a diagAnswer
	ne := binary.NativeEndian
	if len(b) < nlmsgHdrLen {
		return a, malformedDiag("answer of %d bytes, shorter than a netlink header", len(b))
	}
	n := ne.Uint32(b[0:4])
	if n < nlmsgHdrLen || uint64(n) > uint64(len(b)) {
		return a, malformedDiag("message length %d in an answer of %d bytes", n, len(b))
	}
	if aligned := (uint64(n) + 3) &^ 3; uint64(len(b)) > aligned {
		return a, malformedDiag("%d bytes after the message", uint64(len(b))-aligned)
	}
	a.typ = ne.Uint16(b[4:6])
	if got := ne.Uint32(b[8:12]); got != seq {
		return a, malformedDiag("answer to request %d, not %d", got, seq)
	}
	p := b[nlmsgHdrLen:n]
	switch a.typ {
	case sockDiagByFamily:
		return parseDiagMsg(a, p)
	case nlmsgError:
		if len(p) < nlmsgErrLen {
			return a, malformedDiag("error message of %d bytes, want at least %d", len(p), nlmsgErrLen)
		}
		e := int32(ne.Uint32(p[0:4]))
		if e >= 0 || e < -maxErrno {
			return a, malformedDiag("error message with error %d", e)
		}
		if got := ne.Uint32(p[12:16]); got != seq {
			return a, malformedDiag("error message about request %d, not %d", got, seq)
		}
		a.errno = uint32(-e)
		return a, nil
	case nlmsgDone:
		if len(p) < 4 {
			return a, malformedDiag("done message of %d bytes, want at least 4", len(p))
		}
		e := int32(ne.Uint32(p[0:4]))
		if e > 0 || e < -maxErrno {
			return a, malformedDiag("done message with error %d", e)
		}
		a.errno = uint32(-e)
		return a, nil
	default:
		return a, malformedDiag("message type %d", a.typ)
	}
}

// parseDiagMsg decodes p, the inet_diag_msg and attributes of a
// SOCK_DIAG_BY_FAMILY message, into a.
func parseDiagMsg(a diagAnswer, p []byte) (diagAnswer, error) {
	if len(p) < diagMsgLen {
		return a, malformedDiag("socket message of %d bytes, want at least %d", len(p), diagMsgLen)
	}
	a.family, a.state = p[0], p[1]
	sport := binary.BigEndian.Uint16(p[4:6])
	dport := binary.BigEndian.Uint16(p[6:8])
	src, dst := [16]byte(p[8:24]), [16]byte(p[24:40])
	switch a.family {
	case afInet:
		if !allZero(src[4:]) || !allZero(dst[4:]) {
			return a, malformedDiag("IPv4 address with bytes after its 4th")
		}
		a.local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(src[:4])), sport)
		a.remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(dst[:4])), dport)
	case afInet6:
		a.local = netip.AddrPortFrom(netip.AddrFrom16(src), sport)
		a.remote = netip.AddrPortFrom(netip.AddrFrom16(dst), dport)
	default:
		return a, malformedDiag("socket of family %d", a.family)
	}
	ne := binary.NativeEndian
	a.ifindex = ne.Uint32(p[40:44])
	a.uid = ne.Uint32(p[64:68])
	return a, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// malformedDiag returns an error wrapping ErrMalformed that says what is
// wrong with a sock_diag answer.
func malformedDiag(format string, args ...any) error {
	return fmt.Errorf("%w: sock_diag: %w", ErrMalformed, errLine(fmt.Sprintf(format, args...)))
}
