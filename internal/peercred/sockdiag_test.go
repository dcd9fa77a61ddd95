package peercred_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/internal/peercred"
)

// Requests and answers as Linux 6.18 on x86-64 sent and answered them (a
// test run as root: the uids are 0). Every request below got the answer
// after it, except that the answers of sockets were to requests with the
// addresses they show.
const (
	// An exact lookup of 127.0.0.1:51340 to 127.0.0.1:8080, request 1.
	reqV4 = "48000000" + "1400" + "0100" + "01000000" + "00000000" + // nlmsghdr
		"02" + "06" + "00" + "00" + "02000000" + // AF_INET, TCP, states 1<<ESTABLISHED
		"c88c" + "1f90" + // ports
		"7f000001000000000000000000000000" + "7f000001000000000000000000000000" +
		"00000000" + "ffffffffffffffff" // no interface, no cookie
	// The same with [::1].
	reqV6 = "480000001400010001000000000000000a06000002000000c88c1f90" +
		"00000000000000000000000000000001" + "00000000000000000000000000000001" + "00000000ffffffffffffffff"
	// New's probe: a dump (flags 0x301) of the TCP sockets in no state.
	reqProbe = "48000000140001030100000000000000020600000000000000000000" +
		"00000000000000000000000000000000" + "00000000000000000000000000000000" + "00000000ffffffffffffffff"

	// No such socket: NLMSG_ERROR, -ENOENT, the request echoed.
	ansNoSocketV4 = "5c000000020000000100000059040000" + "feffffff" + reqV4
	ansNoSocketV6 = "5c000000020000000100000059040000" + "feffffff" + reqV6
	// The probe's answer: NLMSG_DONE (flags NLM_F_MULTI), 0.
	ansProbe = "1400000003000200010000005904000000000000"
	// A dump for a protocol the kernel has no diagnostics for: NLMSG_DONE, -ENOENT.
	ansProbeNoTCP = "140000000300020009000000ee640000feffffff"

	// An established IPv4 socket, 127.0.0.1:35000 to 127.0.0.1:45257, and
	// its attributes (shutdown, cgroup, socket options...).
	ansEst4 = "7c0000001400000001000000bb6d0000" + "02010200" + "88b8b0c9" +
		"7f000001000000000000000000000000" + "7f000001000000000000000000000000" +
		"00000000" + "0e00000000000000" + // interface, cookie
		"943a0000" + "00000000" + "00000000" + "00000000" + "9d340a00" + // expires, queues, uid, inode
		"05000800000000000800" + "0f00000000000c00150001000000000000000600160052000000"
	// The same socket after it closed: TIME_WAIT, no attributes but one.
	ansTimeWait4 = "600000001400000004000000bb6d00000206030088b8b0c9" +
		"7f000001000000000000000000000000" + "7f000001000000000000000000000000" +
		"000000000e0000000000000060ea0000000000000000000000000000000000" + "0008000f0000000000"
	// An established IPv6 socket, [::1]:42824 to [::1]:45155.
	ansEst6 = "7c0000001400000005000000bb6d00000a010200a748b063" +
		"00000000000000000000000000000001" + "00000000000000000000000000000001" +
		"00000000c910000000000000983a0000000000000000000000000000a5340a00" +
		"050008000000000008000f00000000000c00150001000000000000000600160012000000"
	// A listener, [::1]:45155, answering an exact lookup of [::1]:45155 to
	// [::1]:45155: finding no established socket, the kernel looks for a
	// listener on the socket's own address.
	ansListen6 = "840000001400000006000000bb6d00000a0a0000b0630000" +
		"00000000000000000000000000000001" + "00000000000000000000000000000000" +
		"00000000ca1000000000000000000000010000000010000000000000a3340a00" +
		"050008000000000005000b000100000008000f00000000000c00150001000000000000000600160012000000"
	// An IPv4 connection on an IPv6 socket, answering an AF_INET lookup.
	ansMapped = "7c0000001400000007000000bb6d00000a010200ad67a7ca" +
		"00000000000000000000ffff7f000001" + "00000000000000000000ffff7f000001" +
		"00000000cb10000000000000983a000000000000000000000000000097380a00" +
		"050008000000000008000f00000000000c00150001000000000000000600160012000000"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// withSeq returns a copy of the answer a with its sequence number, and
// that of the request an error message echoes, set to seq.
func withSeq(a []byte, seq uint32) []byte {
	b := bytes.Clone(a)
	binary.NativeEndian.PutUint32(b[8:], seq)
	if binary.NativeEndian.Uint16(b[4:]) == peercred.NlmsgError && len(b) >= 36 {
		binary.NativeEndian.PutUint32(b[28:], seq)
	}
	return b
}

// fuzzSeq is the request number the answers of the table cases and the
// fuzz target answer.
const fuzzSeq = 1

// encodeAnswer prints a as the kernel would, without attributes.
func encodeAnswer(a peercred.DiagAnswer, seq uint32) []byte {
	ne := binary.NativeEndian
	var p []byte
	switch a.Type {
	case peercred.SockDiagByFamily:
		p = make([]byte, 72)
		p[0], p[1] = a.Family, a.State
		binary.BigEndian.PutUint16(p[4:], a.Local.Port())
		binary.BigEndian.PutUint16(p[6:], a.Remote.Port())
		for i, ap := range []netip.AddrPort{a.Local, a.Remote} {
			if a.Family == peercred.AFInet {
				v4 := ap.Addr().As4()
				copy(p[8+16*i:], v4[:])
			} else {
				v6 := ap.Addr().As16()
				copy(p[8+16*i:], v6[:])
			}
		}
		ne.PutUint32(p[40:], a.Ifindex)
		ne.PutUint32(p[64:], a.UID)
	case peercred.NlmsgError:
		p = make([]byte, 20)
		ne.PutUint32(p, uint32(-int32(a.Errno)))
		ne.PutUint32(p[4:], 72)
		ne.PutUint16(p[8:], peercred.SockDiagByFamily)
		ne.PutUint16(p[10:], 1)
		ne.PutUint32(p[12:], seq)
	case peercred.NlmsgDone:
		p = make([]byte, 4)
		ne.PutUint32(p, uint32(-int32(a.Errno)))
	}
	b := ne.AppendUint32(nil, uint32(16+len(p)))
	b = ne.AppendUint16(b, a.Type)
	b = ne.AppendUint16(b, 0)
	b = ne.AppendUint32(b, seq)
	b = ne.AppendUint32(b, 0)
	return append(b, p...)
}

var (
	loop4a = netip.MustParseAddrPort("127.0.0.1:35000")
	loop4b = netip.MustParseAddrPort("127.0.0.1:45257")
	loop6a = netip.MustParseAddrPort("[::1]:42824")
	loop6b = netip.MustParseAddrPort("[::1]:45155")

	diagEst4 = peercred.DiagAnswer{Type: peercred.SockDiagByFamily, Family: peercred.AFInet, State: 1, Local: loop4a, Remote: loop4b, UID: 1000}
	diagEst6 = peercred.DiagAnswer{Type: peercred.SockDiagByFamily, Family: peercred.AFInet6, State: 1, Local: loop6a, Remote: loop6b, UID: 1000}
)

// mutate returns a copy of b with f applied.
func mutate(b []byte, f func(b []byte) []byte) []byte { return f(bytes.Clone(b)) }

func put32(off int, v uint32) func([]byte) []byte {
	return func(b []byte) []byte { binary.NativeEndian.PutUint32(b[off:], v); return b }
}

func put16(off int, v uint16) func([]byte) []byte {
	return func(b []byte) []byte { binary.NativeEndian.PutUint16(b[off:], v); return b }
}

var diagCases = []struct {
	name           string
	answer         []byte
	kernelOrder    bool // the answer is a little-endian kernel's
	want           peercred.DiagAnswer
	malformedCause string // part of the error text; "" for an answer that decodes
}{
	{name: "real-established-v4", answer: unhex(ansEst4), kernelOrder: true,
		want: peercred.DiagAnswer{Type: peercred.SockDiagByFamily, Family: peercred.AFInet, State: 1, Local: loop4a, Remote: loop4b}},
	{name: "real-time-wait-v4", answer: withSeq(unhex(ansTimeWait4), fuzzSeq), kernelOrder: true,
		want: peercred.DiagAnswer{Type: peercred.SockDiagByFamily, Family: peercred.AFInet, State: 6, Local: loop4a, Remote: loop4b}},
	{name: "real-established-v6", answer: withSeq(unhex(ansEst6), fuzzSeq), kernelOrder: true,
		want: peercred.DiagAnswer{Type: peercred.SockDiagByFamily, Family: peercred.AFInet6, State: 1, Local: loop6a, Remote: loop6b}},
	{name: "real-listener-v6", answer: withSeq(unhex(ansListen6), fuzzSeq), kernelOrder: true,
		want: peercred.DiagAnswer{Type: peercred.SockDiagByFamily, Family: peercred.AFInet6, State: 0x0a, Local: loop6b, Remote: netip.MustParseAddrPort("[::]:0")}},
	{name: "real-mapped", answer: withSeq(unhex(ansMapped), fuzzSeq), kernelOrder: true,
		want: peercred.DiagAnswer{Type: peercred.SockDiagByFamily, Family: peercred.AFInet6, State: 1,
			Local: netip.MustParseAddrPort("[::ffff:127.0.0.1]:44391"), Remote: netip.MustParseAddrPort("[::ffff:127.0.0.1]:42954")}},
	{name: "real-no-socket-v4", answer: unhex(ansNoSocketV4), kernelOrder: true, want: peercred.DiagAnswer{Type: peercred.NlmsgError, Errno: 2}},
	{name: "real-no-socket-v6", answer: unhex(ansNoSocketV6), kernelOrder: true, want: peercred.DiagAnswer{Type: peercred.NlmsgError, Errno: 2}},
	{name: "real-probe", answer: unhex(ansProbe), kernelOrder: true, want: peercred.DiagAnswer{Type: peercred.NlmsgDone}},
	{name: "real-probe-no-tcp", answer: withSeq(unhex(ansProbeNoTCP), fuzzSeq), kernelOrder: true, want: peercred.DiagAnswer{Type: peercred.NlmsgDone, Errno: 2}},

	{name: "established-v4", answer: encodeAnswer(diagEst4, fuzzSeq), want: diagEst4},
	{name: "established-v6", answer: encodeAnswer(diagEst6, fuzzSeq), want: diagEst6},
	{name: "uid-max", answer: encodeAnswer(peercred.DiagAnswer{Type: peercred.SockDiagByFamily, Family: peercred.AFInet, State: 1, Local: loop4a, Remote: loop4b, UID: 1<<32 - 1}, fuzzSeq),
		want: peercred.DiagAnswer{Type: peercred.SockDiagByFamily, Family: peercred.AFInet, State: 1, Local: loop4a, Remote: loop4b, UID: 1<<32 - 1}},
	{name: "interface", answer: encodeAnswer(peercred.DiagAnswer{Type: peercred.SockDiagByFamily, Family: peercred.AFInet6, State: 1, Local: loop6a, Remote: loop6b, Ifindex: 7}, fuzzSeq),
		want: peercred.DiagAnswer{Type: peercred.SockDiagByFamily, Family: peercred.AFInet6, State: 1, Local: loop6a, Remote: loop6b, Ifindex: 7}},
	{name: "error-einval", answer: encodeAnswer(peercred.DiagAnswer{Type: peercred.NlmsgError, Errno: 22}, fuzzSeq), want: peercred.DiagAnswer{Type: peercred.NlmsgError, Errno: 22}},
	{name: "error-max-errno", answer: encodeAnswer(peercred.DiagAnswer{Type: peercred.NlmsgError, Errno: 4095}, fuzzSeq), want: peercred.DiagAnswer{Type: peercred.NlmsgError, Errno: 4095}},
	{name: "done-padded", answer: append(mutate(encodeAnswer(peercred.DiagAnswer{Type: peercred.NlmsgDone}, fuzzSeq), put32(0, 21)), 0, 0, 0, 0),
		want: peercred.DiagAnswer{Type: peercred.NlmsgDone}},

	{name: "empty", answer: nil, malformedCause: "answer of 0 bytes"},
	{name: "header-15-bytes", answer: encodeAnswer(diagEst4, fuzzSeq)[:15], malformedCause: "answer of 15 bytes"},
	{name: "length-below-header", answer: mutate(encodeAnswer(diagEst4, fuzzSeq), put32(0, 15)), malformedCause: "message length 15"},
	{name: "length-zero", answer: mutate(encodeAnswer(diagEst4, fuzzSeq), put32(0, 0)), malformedCause: "message length 0"},
	{name: "length-past-answer", answer: mutate(encodeAnswer(diagEst4, fuzzSeq), put32(0, 89)), malformedCause: "message length 89 in an answer of 88 bytes"},
	{name: "length-2^32-1", answer: mutate(encodeAnswer(diagEst4, fuzzSeq), put32(0, 1<<32-1)), malformedCause: "message length 4294967295"},
	{name: "truncated-socket", answer: encodeAnswer(diagEst4, fuzzSeq)[:60], malformedCause: "message length 88 in an answer of 60 bytes"},
	{name: "bytes-after-message", answer: append(encodeAnswer(diagEst4, fuzzSeq), 0, 0, 0, 0), malformedCause: "4 bytes after the message"},
	{name: "two-messages", answer: append(encodeAnswer(diagEst4, fuzzSeq), encodeAnswer(diagEst6, fuzzSeq)...), malformedCause: "bytes after the message"},
	{name: "other-request", answer: encodeAnswer(diagEst4, fuzzSeq+1), malformedCause: "answer to request 2, not 1"},
	{name: "type-noop", answer: mutate(encodeAnswer(diagEst4, fuzzSeq), put16(4, 1)), malformedCause: "message type 1"},
	{name: "type-overrun", answer: mutate(encodeAnswer(diagEst4, fuzzSeq), put16(4, 4)), malformedCause: "message type 4"},
	{name: "type-other-family", answer: mutate(encodeAnswer(diagEst4, fuzzSeq), put16(4, 21)), malformedCause: "message type 21"},
	{name: "socket-71-bytes", answer: mutate(encodeAnswer(diagEst4, fuzzSeq), put32(0, 16+71)), malformedCause: "socket message of 71 bytes"},
	{name: "socket-no-payload", answer: mutate(encodeAnswer(diagEst4, fuzzSeq)[:16], put32(0, 16)), malformedCause: "socket message of 0 bytes"},
	{name: "family-0", answer: mutate(encodeAnswer(diagEst4, fuzzSeq), func(b []byte) []byte { b[16] = 0; return b }), malformedCause: "socket of family 0"},
	{name: "family-unix", answer: mutate(encodeAnswer(diagEst4, fuzzSeq), func(b []byte) []byte { b[16] = 1; return b }), malformedCause: "socket of family 1"},
	{name: "v4-source-long", answer: mutate(encodeAnswer(diagEst4, fuzzSeq), func(b []byte) []byte { b[16+8+4] = 1; return b }), malformedCause: "IPv4 address with bytes after"},
	{name: "v4-destination-long", answer: mutate(encodeAnswer(diagEst4, fuzzSeq), func(b []byte) []byte { b[16+24+15] = 1; return b }), malformedCause: "IPv4 address with bytes after"},
	{name: "error-ack", answer: mutate(encodeAnswer(peercred.DiagAnswer{Type: peercred.NlmsgError, Errno: 2}, fuzzSeq), put32(16, 0)), malformedCause: "error message with error 0"},
	{name: "error-positive", answer: mutate(encodeAnswer(peercred.DiagAnswer{Type: peercred.NlmsgError, Errno: 2}, fuzzSeq), put32(16, 2)), malformedCause: "error message with error 2"},
	{name: "error-below-max-errno", answer: encodeAnswer(peercred.DiagAnswer{Type: peercred.NlmsgError, Errno: 4096}, fuzzSeq), malformedCause: "error message with error -4096"},
	{name: "error-int-min", answer: mutate(encodeAnswer(peercred.DiagAnswer{Type: peercred.NlmsgError, Errno: 2}, fuzzSeq), put32(16, 1<<31)), malformedCause: "error message with error -2147483648"},
	{name: "error-19-bytes", answer: mutate(encodeAnswer(peercred.DiagAnswer{Type: peercred.NlmsgError, Errno: 2}, fuzzSeq)[:35], put32(0, 35)), malformedCause: "error message of 19 bytes"},
	{name: "error-errno-only", answer: mutate(encodeAnswer(peercred.DiagAnswer{Type: peercred.NlmsgError, Errno: 2}, fuzzSeq)[:20], put32(0, 20)), malformedCause: "error message of 4 bytes"},
	{name: "error-about-other-request", answer: mutate(encodeAnswer(peercred.DiagAnswer{Type: peercred.NlmsgError, Errno: 2}, fuzzSeq), put32(28, 9)), malformedCause: "error message about request 9, not 1"},
	{name: "done-3-bytes", answer: mutate(encodeAnswer(peercred.DiagAnswer{Type: peercred.NlmsgDone}, fuzzSeq)[:19], put32(0, 19)), malformedCause: "done message of 3 bytes"},
	{name: "done-positive", answer: mutate(encodeAnswer(peercred.DiagAnswer{Type: peercred.NlmsgDone}, fuzzSeq), put32(16, 1)), malformedCause: "done message with error 1"},
	{name: "done-below-max-errno", answer: encodeAnswer(peercred.DiagAnswer{Type: peercred.NlmsgDone, Errno: 5000}, fuzzSeq), malformedCause: "done message with error -5000"},
}

func TestParseDiag(t *testing.T) {
	for _, tc := range diagCases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.kernelOrder && !littleEndian {
				t.Skip("a little-endian kernel's answer")
			}
			a, err := peercred.ParseDiag(tc.answer, fuzzSeq)
			if tc.malformedCause != "" {
				require.ErrorIs(t, err, peercred.ErrMalformed)
				require.Contains(t, err.Error(), tc.malformedCause)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, a)
		})
	}
}

func TestParseDiagAllocations(t *testing.T) {
	answer := encodeAnswer(diagEst6, fuzzSeq)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := peercred.ParseDiag(answer, fuzzSeq); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs, "decoding an answer allocates")
}

func TestDiagRequest(t *testing.T) {
	skipBigEndian(t)
	app4, daemon4 := netip.MustParseAddrPort("127.0.0.1:51340"), netip.MustParseAddrPort("127.0.0.1:8080")
	app6, daemon6 := netip.MustParseAddrPort("[::1]:51340"), netip.MustParseAddrPort("[::1]:8080")
	mapped := func(ap netip.AddrPort) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom16(ap.Addr().As16()), ap.Port())
	}
	cases := []struct {
		name string
		q    peercred.DiagQuery
		want string
	}{
		{"v4", peercred.DiagQuery{Seq: 1, Family: peercred.AFInet, Local: app4, Remote: daemon4}, reqV4},
		{"v6", peercred.DiagQuery{Seq: 1, Family: peercred.AFInet6, Local: app6, Remote: daemon6}, reqV6},
		{"probe", peercred.DiagQuery{Seq: 1, Family: peercred.AFInet, Dump: true}, reqProbe},
		// An AF_INET query carries IPv4-mapped addresses unmapped.
		{"v4-from-mapped", peercred.DiagQuery{Seq: 1, Family: peercred.AFInet, Local: mapped(app4), Remote: mapped(daemon4)}, reqV4},
		// An AF_INET6 query carries IPv4 addresses mapped.
		{"v6-of-v4", peercred.DiagQuery{Seq: 1, Family: peercred.AFInet6, Local: app4, Remote: daemon4},
			"480000001400010001000000000000000a06000002000000c88c1f90" +
				"00000000000000000000ffff7f000001" + "00000000000000000000ffff7f000001" + "00000000ffffffffffffffff"},
		{"seq-and-interface", peercred.DiagQuery{Seq: 0x01020304, Family: peercred.AFInet6, Local: app6, Remote: daemon6, Ifindex: 0x0a0b0c0d},
			"4800000014000100" + "04030201" + "000000000a06000002000000c88c1f90" +
				"00000000000000000000000000000001" + "00000000000000000000000000000001" + "0d0c0b0a" + "ffffffffffffffff"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := peercred.DiagRequest(tc.q)
			require.NoError(t, err)
			require.Equal(t, tc.want, hex.EncodeToString(got))
		})
	}
	t.Run("v6-in-v4-query", func(t *testing.T) {
		_, err := peercred.DiagRequest(peercred.DiagQuery{Seq: 1, Family: peercred.AFInet, Local: app6, Remote: daemon4})
		require.Error(t, err)
		_, err = peercred.DiagRequest(peercred.DiagQuery{Seq: 1, Family: peercred.AFInet, Local: app4, Remote: daemon6})
		require.Error(t, err)
	})
}

// FuzzParseDiag: any answer decodes or fails with ErrMalformed, never
// panics; a decoded answer is of a type the lookup knows, with an errno a
// kernel can give, or a socket with two addresses of its family, and prints
// back, the kernel's way, to an answer that decodes to the same.
func FuzzParseDiag(f *testing.F) {
	f.Fuzz(func(t *testing.T, answer []byte) {
		a, err := peercred.ParseDiag(answer, fuzzSeq)
		if err != nil {
			if !errors.Is(err, peercred.ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		switch a.Type {
		case peercred.SockDiagByFamily:
			v4 := a.Family == peercred.AFInet
			if a.Errno != 0 || (!v4 && a.Family != peercred.AFInet6) ||
				!a.Local.IsValid() || !a.Remote.IsValid() || a.Local.Addr().Is4() != v4 || a.Remote.Addr().Is4() != v4 {
				t.Fatalf("socket %+v", a)
			}
		case peercred.NlmsgError:
			if a.Errno == 0 || a.Errno > 4095 {
				t.Fatalf("error %+v", a)
			}
		case peercred.NlmsgDone:
			if a.Errno > 4095 {
				t.Fatalf("done %+v", a)
			}
		default:
			t.Fatalf("type %d", a.Type)
		}
		again, err := peercred.ParseDiag(encodeAnswer(a, fuzzSeq), fuzzSeq)
		if err != nil || again != a {
			t.Fatalf("%x decodes to %+v; printed back it decodes to %+v, %v", answer, a, again, err)
		}
	})
}
