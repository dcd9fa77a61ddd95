package peercred_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/internal/peercred"
)

var update = flag.Bool("update", false, "rewrite the table cases' seeds in testdata/fuzz")

// littleEndian says whether the kernel prints addresses as the lines below
// have them: each 32-bit word of an address in the host's byte order.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

func skipBigEndian(t *testing.T) {
	t.Helper()
	if !littleEndian {
		t.Skip("the table's lines are as a little-endian kernel prints them; the socket tests cover this host")
	}
}

// Lines as Linux 6.18 prints them (from /proc/net/tcp and tcp6), and broken
// ones. The trailing spaces are the kernel's.
const (
	hdr4        = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     "
	hdr6        = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
	listen4     = "   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 37597 1 00000000ce0a2b55 100 0 0 10 0                     "
	est4        = "  81: 0100007F:1F90 0100007F:C88C 01 00000000:00000000 00:00000000 00000000  1000        0 37604 1 000000000e6ba604 20 0 0 10 -1                     "
	peer4       = "  82: 0100007F:C88C 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 37605 1 000000000e6ba605 20 0 0 10 -1                     "
	timeWait4   = "   2: 0100007F:C88C 0100007F:1F90 06 00000000:00000000 03:00000ADD 00000000     0        0 0 3 00000000f1003510                                      "
	finWait4    = "  95: 0100007F:C88C 0100007F:1F90 04 00000001:00000000 01:00000014 00000000     0        0 0 2 00000000cc1ef4b6 20 0 0 10 -1                         "
	closeWait4  = "  66: 0100007F:1F90 0100007F:C888 08 00000000:00000001 00:00000000 00000000     0        0 37599 2 000000008420cb2e 20 0 1 10 -1                     "
	listen6     = "   0: 00000000000000000000000001000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 37600 1 00000000d888f170 100 0 0 10 0"
	est6        = "   1: 00000000000000000000000001000000:A16A 00000000000000000000000001000000:1F91 01 00000000:00000000 00:00000000 00000000  1000        0 37601 2 0000000074edec5f 20 0 0 10 -1"
	mapped6     = "   3: 0000000000000000FFFF00000100007F:C88C 0000000000000000FFFF00000100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 37603 2 0000000084b29bd5 20 0 0 10 -1"
	minimal4    = "   2: 0100007F:C88C 0100007F:1F90 01 00000000:00000000 03:00000ADD 00000000 1000 0 5"
	lowercase6  = "   1: 00000000000000000000000001000000:a16a 00000000000000000000000001000000:1f91 01 00000000:00000000 00:00000000 00000000  1000        0 37601 2 0000000074edec5f 20 0 0 10 -1"
	tabs4       = "81:\t0100007F:1F90\t0100007F:C88C\t01\t00000000:00000000\t00:00000000\t00000000\t1000\t0\t37604"
	maxUID4     = "  81: 0100007F:1F90 0100007F:C88C 01 00000000:00000000 00:00000000 00000000 4294967295 0 37604"
	docLine4    = "   0: 0100007F:1F90 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 53912 1 0000000000000000 20 0 0 10 -1"
	otherIP4    = "   7: 0200007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1001        0 53913 1 0000000000000000 20 0 0 10 -1"
	linkLocal6  = "   4: 000080FE000000000000000001000000:9C40 000080FE000000000000000002000000:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 53914 1 0000000000000000 20 0 0 10 -1"
	nobodyPeer4 = "   9: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000 65534        0 53915 1 0000000000000000 20 0 0 10 -1"
)

var lineCases = []struct {
	name, line     string
	ok             bool
	local, remote  string
	state          uint8
	uid            uint32
	malformedCause string // part of the error text
}{
	{name: "listen-v4", line: listen4, ok: true, local: "127.0.0.1:8080", remote: "0.0.0.0:0", state: 0x0A, uid: 0},
	{name: "established-v4", line: est4, ok: true, local: "127.0.0.1:8080", remote: "127.0.0.1:51340", state: 0x01, uid: 1000},
	{name: "time-wait-v4", line: timeWait4, ok: true, local: "127.0.0.1:51340", remote: "127.0.0.1:8080", state: 0x06, uid: 0},
	{name: "fin-wait1-orphan-v4", line: finWait4, ok: true, local: "127.0.0.1:51340", remote: "127.0.0.1:8080", state: 0x04, uid: 0},
	{name: "close-wait-v4", line: closeWait4, ok: true, local: "127.0.0.1:8080", remote: "127.0.0.1:51336", state: 0x08, uid: 0},
	{name: "listen-v6", line: listen6, ok: true, local: "[::1]:8081", remote: "[::]:0", state: 0x0A, uid: 0},
	{name: "established-v6", line: est6, ok: true, local: "[::1]:41322", remote: "[::1]:8081", state: 0x01, uid: 1000},
	{name: "mapped-v6", line: mapped6, ok: true, local: "[::ffff:127.0.0.1]:51340", remote: "[::ffff:127.0.0.1]:8080", state: 0x01, uid: 1000},
	{name: "link-local-v6", line: linkLocal6, ok: true, local: "[fe80::1]:40000", remote: "[fe80::2]:8080", state: 0x01, uid: 1000},
	{name: "ten-fields", line: minimal4, ok: true, local: "127.0.0.1:51340", remote: "127.0.0.1:8080", state: 0x01, uid: 1000},
	{name: "lowercase-hex", line: lowercase6, ok: true, local: "[::1]:41322", remote: "[::1]:8081", state: 0x01, uid: 1000},
	{name: "tabs", line: tabs4, ok: true, local: "127.0.0.1:8080", remote: "127.0.0.1:51340", state: 0x01, uid: 1000},
	{name: "uid-max", line: maxUID4, ok: true, local: "127.0.0.1:8080", remote: "127.0.0.1:51340", state: 0x01, uid: 4294967295},

	{name: "empty", line: "", malformedCause: "0 fields"},
	{name: "spaces", line: "      ", malformedCause: "0 fields"},
	{name: "header-v4", line: hdr4, malformedCause: "slot"},
	{name: "header-v6", line: hdr6, malformedCause: "slot"},
	{name: "nine-fields", line: "   2: 0100007F:C88C 0100007F:1F90 01 00000000:00000000 03:00000ADD 00000000 1000 0", malformedCause: "9 fields"},
	{name: "slot-no-colon", line: strings.Replace(est4, "81:", "81 ", 1), malformedCause: "slot"},
	{name: "slot-letters", line: strings.Replace(est4, "81:", "8x:", 1), malformedCause: "slot"},
	{name: "slot-colon-only", line: strings.Replace(est4, "81:", " :", 1), malformedCause: "slot"},
	{name: "addr-7-digits", line: strings.Replace(est4, "0100007F:1F90", "100007F:1F90", 1), malformedCause: "neither 8 nor 32"},
	{name: "addr-9-digits", line: strings.Replace(est4, "0100007F:1F90", "00100007F:1F90", 1), malformedCause: "neither 8 nor 32"},
	{name: "addr-16-digits", line: strings.Replace(est4, "0100007F:1F90", "000000000100007F:1F90", 1), malformedCause: "neither 8 nor 32"},
	{name: "addr-31-digits", line: strings.Replace(est6, "00000000000000000000000001000000:A16A", "0000000000000000000000001000000:A16A", 1), malformedCause: "neither 8 nor 32"},
	{name: "addr-no-colon", line: strings.Replace(est4, "0100007F:1F90", "0100007F1F90", 1), malformedCause: "4-digit port"},
	{name: "addr-two-colons", line: strings.Replace(est4, "0100007F:1F90", "0100007F::1F90", 1), malformedCause: "4-digit port"},
	{name: "port-3-digits", line: strings.Replace(est4, "0100007F:1F90", "0100007F:F90", 1), malformedCause: "4-digit port"},
	{name: "port-5-digits", line: strings.Replace(est4, "0100007F:1F90", "0100007F:01F90", 1), malformedCause: "4-digit port"},
	{name: "port-sign", line: strings.Replace(est4, "0100007F:1F90", "0100007F:+F90", 1), malformedCause: "port is not"},
	{name: "addr-not-hex", line: strings.Replace(est4, "0100007F:1F90", "0100007G:1F90", 1), malformedCause: "IPv4 address"},
	{name: "addr-v6-not-hex", line: strings.Replace(est6, "00000000000000000000000001000000:A16A", "000000000000000000000000010000x0:A16A", 1), malformedCause: "IPv6 address"},
	{name: "addr-0x", line: strings.Replace(est4, "0100007F:1F90", "0x00007F:1F90", 1), malformedCause: "IPv4 address"},
	{name: "families-differ", line: "   1: 0100007F:A16A 00000000000000000000000001000000:1F91 01 00000000:00000000 00:00000000 00000000  1000        0 37601", malformedCause: "different families"},
	{name: "state-1-digit", line: strings.Replace(est4, " 01 ", " 1 ", 1), malformedCause: "state"},
	{name: "state-3-digits", line: strings.Replace(est4, " 01 ", " 001 ", 1), malformedCause: "state"},
	{name: "state-not-hex", line: strings.Replace(est4, " 01 ", " 0Z ", 1), malformedCause: "state"},
	{name: "uid-negative", line: strings.Replace(est4, "  1000 ", " -1000 ", 1), malformedCause: "uid"},
	{name: "uid-2^32", line: strings.Replace(maxUID4, "4294967295", "4294967296", 1), malformedCause: "uid"},
	{name: "uid-hex", line: strings.Replace(est4, "  1000 ", "  3E8 ", 1), malformedCause: "uid"},
	{name: "uid-21-digits", line: strings.Replace(est4, "  1000 ", "  000000000000000001000 ", 1), malformedCause: "uid"},
	{name: "inode-negative", line: strings.Replace(est4, "37604", "-37604", 1), malformedCause: "inode"},
	{name: "inode-2^64", line: strings.Replace(est4, "37604", "18446744073709551616", 1), malformedCause: "inode"},
	{name: "nul-in-address", line: strings.Replace(est4, "0100007F:1F90", "0100\x0007F:1F90", 1), malformedCause: "IPv4 address"},
	{name: "utf8-garbage", line: "   0: \u00e9\u00e9\u00e9\u00e9:1F90 0100007F:9C40 01 0 0 0 1000 0 1", malformedCause: "IPv4 address"},
	{name: "binary", line: "\xff\xfe\x00\x01 \x80:\x80 \x01 \x02 \x03 \x04 \x05 \x06 \x07 \x08 \x09", malformedCause: "slot"},
}

func TestParseLine(t *testing.T) {
	for _, tc := range lineCases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := peercred.ParseLine([]byte(tc.line))
			if !tc.ok {
				require.ErrorIs(t, err, peercred.ErrMalformed)
				require.Contains(t, err.Error(), tc.malformedCause)
				return
			}
			skipBigEndian(t)
			require.NoError(t, err)
			require.Equal(t, netip.MustParseAddrPort(tc.local), r.Local, "local")
			require.Equal(t, netip.MustParseAddrPort(tc.remote), r.Remote, "remote")
			require.Equal(t, tc.state, r.State, "state")
			require.Equal(t, tc.uid, r.UID, "uid")
		})
	}
}

func TestParseLineAllocations(t *testing.T) {
	line := []byte(est6)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := peercred.ParseLine(line); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs, "parsing a well-formed line allocates")
}

// table joins lines into a socket table's text.
func table(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

var (
	daemon = netip.MustParseAddrPort("127.0.0.1:8080")
	app    = netip.MustParseAddrPort("127.0.0.1:51340")
)

var scanCases = []struct {
	name           string
	text           string
	local, remote  netip.AddrPort // the peer socket's
	found          bool
	uid            uint32
	malformedCause string
}{
	{name: "found", text: table(hdr4, listen4, est4, peer4, timeWait4), local: app, remote: daemon, found: true, uid: 1000},
	{name: "found-last-line-unterminated", text: hdr4 + "\n" + listen4 + "\n" + peer4, local: app, remote: daemon, found: true, uid: 1000},
	// The other direction of the same connection is the daemon's own socket.
	{name: "reversed-is-other-socket", text: table(hdr4, est4), local: app, remote: daemon},
	{name: "time-wait-uid-0-ignored", text: table(hdr4, timeWait4, finWait4), local: app, remote: daemon},
	{name: "time-wait-then-established", text: table(hdr4, timeWait4, peer4), local: app, remote: daemon, found: true, uid: 1000},
	{name: "listener-ignored", text: table(hdr4, listen4), local: daemon, remote: netip.MustParseAddrPort("0.0.0.0:0")},
	{name: "other-address", text: table(hdr4, otherIP4, nobodyPeer4), local: netip.MustParseAddrPort("127.0.0.3:40000"), remote: daemon},
	{name: "other-loopback-address", text: table(hdr4, otherIP4, nobodyPeer4), local: netip.MustParseAddrPort("127.0.0.2:40000"), remote: daemon, found: true, uid: 1001},
	{name: "other-uid", text: table(hdr4, otherIP4, nobodyPeer4), local: netip.MustParseAddrPort("127.0.0.1:40000"), remote: daemon, found: true, uid: 65534},
	{name: "mapped-in-tcp6", text: table(hdr6, listen6, est6, mapped6), local: app, remote: daemon, found: true, uid: 1000},
	{name: "v6", text: table(hdr6, listen6, est6, mapped6), local: netip.MustParseAddrPort("[::1]:41322"), remote: netip.MustParseAddrPort("[::1]:8081"), found: true, uid: 1000},
	{name: "header-only", text: table(hdr4), local: app, remote: daemon},
	{name: "empty", text: "", local: app, remote: daemon, malformedCause: "no header"},
	{name: "no-header", text: table(peer4), local: app, remote: daemon, malformedCause: "line 1 is not the header"},
	{name: "blank-first-line", text: table("", hdr4, peer4), local: app, remote: daemon, malformedCause: "line 1 is not the header"},
	{name: "malformed-before-match", text: table(hdr4, listen4, "   3: garbage", peer4), local: app, remote: daemon, malformedCause: "line 3"},
	{name: "blank-line", text: table(hdr4, listen4, "", peer4), local: app, remote: daemon, malformedCause: "line 3"},
	{name: "long-line", text: table(hdr4, listen4+strings.Repeat(" ", peercred.MaxLine), peer4), local: app, remote: daemon, malformedCause: "line 2 longer than"},
	// The lookup stops at the match: what follows is not read.
	{name: "garbage-after-match", text: table(hdr4, peer4, "\x00\x01 garbage"), local: app, remote: daemon, found: true, uid: 1000},
	{name: "crlf", text: strings.ReplaceAll(table(hdr4, listen4, peer4), "\n", "\r\n"), local: app, remote: daemon, found: true, uid: 1000},
}

func TestScan(t *testing.T) {
	skipBigEndian(t)
	for _, tc := range scanCases {
		t.Run(tc.name, func(t *testing.T) {
			uid, found, err := peercred.Scan(strings.NewReader(tc.text), tc.local, tc.remote)
			if tc.malformedCause != "" {
				require.ErrorIs(t, err, peercred.ErrMalformed)
				require.Contains(t, err.Error(), tc.malformedCause)
				require.False(t, found)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.found, found, "found")
			require.Equal(t, tc.uid, uid, "uid")
		})
	}
}

// errReader fails after its text.
type errReader struct {
	r   *strings.Reader
	err error
}

func (e errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil {
		return n, e.err
	}
	return n, nil
}

func TestScanReadError(t *testing.T) {
	boom := errors.New("read failed")
	_, found, err := peercred.Scan(errReader{strings.NewReader(table(hdr4, listen4)), boom}, app, daemon)
	require.ErrorIs(t, err, boom)
	require.NotErrorIs(t, err, peercred.ErrMalformed)
	require.False(t, found)
}

// The seeds of the fuzz targets are the table cases (lineCases, scanCases,
// diagCases), one file each, named table-<case>. go test -run TestFuzzSeeds -update rewrites them.
func TestFuzzSeeds(t *testing.T) {
	seeds := map[string]map[string]string{"FuzzParseLine": {}, "FuzzScan": {}, "FuzzParseDiag": {}}
	for _, tc := range lineCases {
		seeds["FuzzParseLine"]["table-"+tc.name] = tc.line
	}
	for _, tc := range scanCases {
		seeds["FuzzScan"]["table-"+tc.name] = tc.text
	}
	for _, tc := range diagCases {
		seeds["FuzzParseDiag"]["table-"+tc.name] = string(tc.answer)
	}
	for target, files := range seeds {
		dir := filepath.Join("testdata", "fuzz", target)
		if *update {
			require.NoError(t, os.MkdirAll(dir, 0o755))
		}
		for name, text := range files {
			want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", text)
			path := filepath.Join(dir, name)
			if *update {
				require.NoError(t, os.WriteFile(path, []byte(want), 0o644))
				continue
			}
			got, err := os.ReadFile(path)
			require.NoError(t, err, "seed missing: run go test -run TestFuzzSeeds -update")
			require.Equal(t, want, string(got), "%s is stale: run go test -run TestFuzzSeeds -update", path)
		}
	}
}

// canonical prints r as the kernel would (the fields the decoder reads).
func canonical(r peercred.Row) string {
	addr := func(ap netip.AddrPort) string {
		var s strings.Builder
		b := ap.Addr().AsSlice()
		for i := 0; i < len(b); i += 4 {
			fmt.Fprintf(&s, "%08X", binary.NativeEndian.Uint32(b[i:]))
		}
		fmt.Fprintf(&s, ":%04X", ap.Port())
		return s.String()
	}
	return fmt.Sprintf("   0: %s %s %02X 00000000:00000000 00:00000000 00000000 %5d        0 1 1 0000000000000000 20 0 0 10 -1",
		addr(r.Local), addr(r.Remote), r.State, r.UID)
}

// FuzzParseLine: any line decodes or fails with ErrMalformed, never panics;
// a decoded row has two addresses of one family and prints back, the
// kernel's way, to a line that decodes to the same row.
func FuzzParseLine(f *testing.F) {
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := peercred.ParseLine(line)
		if err != nil {
			if !errors.Is(err, peercred.ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		if !r.Local.IsValid() || !r.Remote.IsValid() || r.Local.Addr().Is4() != r.Remote.Addr().Is4() {
			t.Fatalf("addresses %v, %v", r.Local, r.Remote)
		}
		again, err := peercred.ParseLine([]byte(canonical(r)))
		if err != nil || again != r {
			t.Fatalf("%q decodes to %+v; printed back %q decodes to %+v, %v", line, r, canonical(r), again, err)
		}
	})
}

// FuzzScan: any table gives a uid, not found, or ErrMalformed, never a panic;
// a uid found is that of an established line of the table with the socket's
// addresses, which no earlier line has.
func FuzzScan(f *testing.F) {
	f.Fuzz(func(t *testing.T, text []byte) {
		uid, found, err := peercred.Scan(bytes.NewReader(text), app, daemon)
		if err != nil {
			if !errors.Is(err, peercred.ErrMalformed) || found {
				t.Fatalf("error %v, found %v", err, found)
			}
			return
		}
		if !found {
			return
		}
		lines := strings.Split(string(text), "\n")
		for _, l := range lines[1:] {
			r, err := peercred.ParseLine([]byte(strings.TrimSuffix(l, "\r")))
			if err != nil {
				t.Fatalf("found uid %d past a malformed line %q", uid, l)
			}
			if r.State == 1 && unmap(r.Local) == app && unmap(r.Remote) == daemon {
				if r.UID != uid {
					t.Fatalf("found uid %d, line %q has %d", uid, l, r.UID)
				}
				return
			}
		}
		t.Fatalf("found uid %d in a table without the socket", uid)
	})
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
