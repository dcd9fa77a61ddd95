//go:build linux

package peercred_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/safe-launcher/launcher/internal/peercred"
)

// openConns opens n loopback connections (2n sockets in the table) and
// returns their accepted ends.
func openConns(b *testing.B, n int) []net.Conn {
	b.Helper()
	ln := listen(b, "tcp", "127.0.0.1:0")
	d := &net.Dialer{Timeout: guard}
	accepted := make([]net.Conn, n)
	for i := range accepted {
		_, accepted[i] = connect(b, ln, d, "tcp")
	}
	return accepted
}

// tableRows counts the rows of /proc/net/tcp and /proc/net/tcp6.
func tableRows(b *testing.B) float64 {
	rows := 0
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		text, err := os.ReadFile(name)
		if err != nil {
			b.Fatal(err)
		}
		rows += bytes.Count(text, []byte("\n")) - 1
	}
	return float64(rows)
}

// cpuTime is this process's user + system CPU time (all threads), from
// /proc/self/stat, in clock ticks of 10 ms: per op it says what a lookup
// costs even when other processes keep the CPUs busy and stretch ns/op.
func cpuTime(b *testing.B) time.Duration {
	text, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which ends at the last ')'): state is
	// field 3, utime 14, stime 15.
	f := strings.Fields(string(text[bytes.LastIndexByte(text, ')')+1:]))
	utime, err1 := strconv.ParseInt(f[14-3], 10, 64)
	stime, err2 := strconv.ParseInt(f[15-3], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/self/stat: %q", text)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// reportCPU reports the CPU time per op since start.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64((cpuTime(b)-start).Microseconds())/float64(b.N), "cpu-µs/op")
}

// BenchmarkPeerUID: one lookup, as the daemon makes for each accepted
// connection, by each method, with n loopback connections open on the
// machine. The peers looked up take turns, so their rows sit anywhere in
// the table.
func BenchmarkPeerUID(b *testing.B) {
	for _, o := range owners(b) {
		for _, n := range []int{1, 1000} {
			b.Run(fmt.Sprintf("method=%s/conns=%d", o.Method(), n), func(b *testing.B) {
				conns := openConns(b, n)
				rows := tableRows(b)
				i := 0
				b.ReportAllocs()
				start := cpuTime(b)
				for b.Loop() {
					if _, err := o.PeerUID(conns[i%n]); err != nil {
						b.Fatal(err)
					}
					i++
				}
				reportCPU(b, start)
				b.ReportMetric(rows, "rows")
			})
		}
	}
}

// BenchmarkPeerUIDParallel: lookups from as many goroutines as there are
// CPUs, as when connections arrive together.
func BenchmarkPeerUIDParallel(b *testing.B) {
	for _, o := range owners(b) {
		b.Run("method="+o.Method(), func(b *testing.B) {
			const n = 100
			conns := openConns(b, n)
			b.ReportAllocs()
			start := cpuTime(b)
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := o.PeerUID(conns[i%n]); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
			reportCPU(b, start)
		})
	}
}

// BenchmarkPeerUIDNotFound: a peer that closed at once. With /proc it
// costs both tables, read to the end, twice; with sock_diag, an AF_INET and
// an AF_INET6 lookup.
func BenchmarkPeerUIDNotFound(b *testing.B) {
	for _, o := range owners(b) {
		b.Run("method="+o.Method(), func(b *testing.B) {
			openConns(b, 1000)
			ln := listen(b, "tcp", "127.0.0.1:0")
			dialed, gone := connect(b, ln, &net.Dialer{Timeout: guard}, "tcp")
			dialed.Close()
			rows := tableRows(b)
			b.ReportAllocs()
			start := cpuTime(b)
			for b.Loop() {
				if _, err := o.PeerUID(gone); err == nil {
					b.Fatal("found a closed peer")
				}
			}
			reportCPU(b, start)
			b.ReportMetric(rows, "rows")
		})
	}
}

// BenchmarkReadTables: what the kernel alone costs to print both tables, as
// a floor for BenchmarkPeerUIDNotFound.
func BenchmarkReadTables(b *testing.B) {
	openConns(b, 1000)
	rows := tableRows(b)
	buf := make([]byte, 4096)
	start := cpuTime(b)
	for b.Loop() {
		for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
			f, err := os.Open(name)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, buf); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	}
	reportCPU(b, start)
	b.ReportMetric(rows, "rows")
}

func BenchmarkParseLine(b *testing.B) {
	line := []byte(est4)
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, err := peercred.ParseLine(line); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseDiag(b *testing.B) {
	answer := encodeAnswer(diagEst6, fuzzSeq)
	b.SetBytes(int64(len(answer)))
	for b.Loop() {
		if _, err := peercred.ParseDiag(answer, fuzzSeq); err != nil {
			b.Fatal(err)
		}
	}
}
