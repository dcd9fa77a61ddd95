// Package sockio owns how the launcher and the SDK make small reads and
// writes on their loopback TCP connections: as raw system calls on the
// socket (which is non-blocking, so a call never sleeps in the kernel),
// rather than through the Go runtime's syscall path.
//
// Go's net package enters the scheduler's syscall state around every read
// and write (entersyscall/exitsyscall). Each entry wakes the runtime's
// sysmon thread if it was asleep, which then polls in 20 µs steps while the
// process is busy, and a P that sysmon sees in a syscall for two of its
// ticks is handed to another thread. For a daemon answering small requests
// over loopback that is most of the cost of a round trip on the 2-core
// virtual machines this project runs on: perf put sysmon at about a quarter
// of the daemon's and a third of the SDK's CPU per get-dir round trip (see
// docs/perf-notes.md). A read or write on a non-blocking socket returns at
// once (with EAGAIN when it would block), so it can be made without telling
// the scheduler; waiting for readiness still goes through the runtime's
// poller (syscall.RawConn), so deadlines and Close work as before.
//
// Only calls of up to RawMax bytes are raw: a large write copies megabytes
// in the kernel, and a P held that long belongs in the scheduler's hands.
// Builds for the race detector make no raw calls, so that it keeps seeing
// every read and write.
package sockio

import "net"

// RawMax is the largest read or write made as a raw system call; larger ones
// go through the net package.
const RawMax = 64 << 10

// Wrap returns c with small reads and writes made as raw system calls when
// c is a TCP connection on Linux (not under the race detector); otherwise
// it returns c unchanged. The
// result is the same connection: deadlines, Close and addresses are c's.
func Wrap(c net.Conn) net.Conn { return wrap(c) }
