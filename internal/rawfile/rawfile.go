// Package rawfile owns how the store appends small records to its log: as
// raw pwrite system calls, rather than through the Go runtime's syscall path,
// where that cannot stall the daemon.
//
// A write through os.File enters the scheduler's syscall state. After the
// process has been idle (as a daemon is between an app's requests), that
// entry wakes the runtime's sysmon thread, which then polls in 20 µs steps
// until the process idles again. For a create-file or delete-file round
// trip, whose one system call of its own is the log append, that wake-up
// cost the daemon a quarter of its CPU and a quarter of the round trip's
// latency on the 2-core virtual machines this project runs on (see
// docs/perf-notes.md). A raw system call leaves sysmon asleep.
//
// The price is that a raw call which sleeps in the kernel holds its P: the
// scheduler cannot hand the P to another goroutine, and a stop-the-world of
// the garbage collector waits for the call with every goroutine stopped. A
// small write to a local disk filesystem's page cache does not sleep in the
// ordinary case, but it can (writeback throttling, a journal commit, memory
// reclaim, a lock an fsync of the same file holds). So a Writer makes a raw
// call only when all of these hold, and otherwise writes through os.File:
//
//   - the build is for Linux on amd64 or arm64 (64-bit, where pwrite takes
//     its offset in one register), and not for the race, memory or address
//     sanitizers (whose builds keep the syscall package's instrumentation
//     of writes);
//   - the file is on ext2/3/4 or tmpfs, the filesystems this was measured
//     on: never on a network, FUSE, stacked or other filesystem (XFS, Btrfs
//     and the rest are not measured, and Btrfs's fsync holds the inode lock
//     a write needs), and it was not opened with O_APPEND;
//   - GOMAXPROCS is at least 2 (checked at each write), so that a held P
//     leaves another to run on;
//   - the write is of at most RawMax bytes;
//   - no Sync of the Writer is in flight (an fsync of the same file is what
//     a write is most likely to wait for);
//   - no raw write took longer than SlowAfter within the last Cooldown: one
//     that did (it must have slept) sends the writes that follow through
//     os.File until the cooldown has passed.
//
// A stall in the log append holds the store's write lock in either case, so
// every change and read of the store waits for it either way; what a raw
// call adds is that, for at most one slow write per cooldown, goroutines
// that do not touch the store (handshakes, framing) may also wait, if a
// garbage collection starts meanwhile.
package rawfile

import (
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
)

// RawMax is the largest write made as a raw system call.
const RawMax = 64 << 10

// SlowAfter is how long a raw write may take before the Writer assumes it
// slept in the kernel long enough to matter; Cooldown is how long writes
// then go through os.File.
//
// A raw write that is only preempted holds its P no more than any running
// goroutine does; on the 2-core machines here, with both cores saturated,
// preemption stretched raw appends to 4.4 ms at most (against 5–10 µs
// ordinarily; see docs/perf-notes.md). 10 ms is past that, and about where
// a stall of the whole daemon, were a garbage collection to wait for it,
// would start to be noticed by a person.
const (
	SlowAfter = 10 * time.Millisecond
	Cooldown  = 10 * time.Second
)

// Stats counts a Writer's writes by the path they took.
type Stats struct {
	Raw  uint64 // writes made as raw system calls (more than one for EINTR or a partial write)
	OS   uint64 // writes made through os.File
	Slow uint64 // raw writes that took longer than SlowAfter
}

// Writer writes at offsets of one file, as os.File.WriteAt does, with small
// writes made as raw system calls where the package's rules allow, and
// syncs it. Its methods are safe for concurrent use: a log's writes are
// serialized by their owner, but its syncs run beside them.
type Writer struct {
	f   *os.File
	rc  syscall.RawConn
	raw bool // the build, the filesystem and the open flags allow raw writes
	// syncing counts the Syncs in flight; writes are not raw meanwhile.
	syncing atomic.Int32

	slowAfter, cooldown time.Duration
	now                 func() time.Time
	epoch               time.Time
	// resumeAt is when raw writes may resume after a slow one, as
	// nanoseconds since epoch (0: not cooling down).
	resumeAt atomic.Int64

	nRaw, nOS, nSlow atomic.Uint64

	// rawWrite is rawWriteAt (replaced by tests, to reach the paths a real
	// file does not take: EAGAIN, a partial write).
	rawWrite func(rc syscall.RawConn, b []byte, off int64) (int, bool, error)
}

// New returns a Writer for f, which the caller keeps open (and closes) for
// as long as it uses the Writer.
func New(f *os.File) *Writer {
	w := &Writer{f: f, slowAfter: SlowAfter, cooldown: Cooldown, now: time.Now, rawWrite: rawWriteAt}
	w.epoch = w.now()
	if rc, err := f.SyscallConn(); err == nil {
		w.rc, w.raw = rc, rawAllowed(rc)
	}
	return w
}

// Raw reports whether the Writer's next small write would be a raw system
// call: the build, the file's filesystem and open flags, and GOMAXPROCS
// allow it, no Sync is in flight, and no slow write is cooling down.
func (w *Writer) Raw() bool {
	return w.raw && w.syncing.Load() == 0 && runtime.GOMAXPROCS(0) >= 2 && !w.coolingDown()
}

// Sync commits the file's content to stable storage, as os.File.Sync does.
// Writes that begin while it runs go through os.File.
func (w *Writer) Sync() error {
	w.syncing.Add(1)
	defer w.syncing.Add(-1)
	return w.f.Sync()
}

// Stats returns how many writes took each path so far.
func (w *Writer) Stats() Stats {
	return Stats{Raw: w.nRaw.Load(), OS: w.nOS.Load(), Slow: w.nSlow.Load()}
}

// WriteAt writes b at offset off as os.File.WriteAt does: all of b, or an
// error (an *os.PathError from the write, as os.File's).
func (w *Writer) WriteAt(b []byte, off int64) (int, error) {
	if len(b) == 0 || len(b) > RawMax || off < 0 || !w.Raw() {
		w.nOS.Add(1)
		return w.f.WriteAt(b, off)
	}
	start := w.now()
	n, done, err := w.rawWrite(w.rc, b, off)
	if !done {
		// The raw call could not be made (the file is closing) or could not
		// finish (EAGAIN, or a call that wrote nothing): os.File does the
		// rest and gives its own error.
		w.nOS.Add(1)
		m, err := w.f.WriteAt(b[n:], off+int64(n))
		return n + m, err
	}
	w.nRaw.Add(1)
	if end := w.now(); end.Sub(start) > w.slowAfter {
		w.nSlow.Add(1)
		w.resumeAt.Store(int64(end.Add(w.cooldown).Sub(w.epoch)))
	}
	if err != nil {
		return n, &os.PathError{Op: "write", Path: w.f.Name(), Err: err}
	}
	return n, nil
}

func (w *Writer) coolingDown() bool {
	r := w.resumeAt.Load()
	if r == 0 {
		return false
	}
	if int64(w.now().Sub(w.epoch)) < r {
		return true
	}
	w.resumeAt.CompareAndSwap(r, 0)
	return false
}
