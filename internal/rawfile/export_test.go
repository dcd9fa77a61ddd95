package rawfile

import (
	"os"
	"syscall"
	"time"
)

// RawBuild says whether this build makes raw writes at all.
const RawBuild = rawBuild

// LocalFS exposes localFS to the tests.
func LocalFS(magic uint32) bool { return localFS(magic) }

// NewWithClock returns a Writer for f whose slow-write rule uses the given
// threshold, cooldown and clock.
func NewWithClock(f *os.File, slowAfter, cooldown time.Duration, now func() time.Time) *Writer {
	w := New(f)
	w.slowAfter, w.cooldown, w.now, w.epoch = slowAfter, cooldown, now, now()
	return w
}

// SetRawWrite replaces w's raw write with fn, which is handed the real one.
func SetRawWrite(w *Writer, fn func(real func() (int, bool, error), b []byte, off int64) (int, bool, error)) {
	w.rawWrite = func(rc syscall.RawConn, b []byte, off int64) (int, bool, error) {
		return fn(func() (int, bool, error) { return rawWriteAt(rc, b, off) }, b, off)
	}
}

// HoldSync makes w behave as if a Sync were in flight until the returned
// function is called.
func HoldSync(w *Writer) (release func()) {
	w.syncing.Add(1)
	return func() { w.syncing.Add(-1) }
}
