package rawfile

import (
	"os"
	"time"
)

// RawBuild says whether this build makes raw writes at all.
const RawBuild = rawBuild

// LocalFS exposes localFS to the tests.
func LocalFS(magic int64) bool { return localFS(magic) }

// NewWithClock returns a Writer for f whose slow-write rule uses the given
// threshold, cooldown and clock.
func NewWithClock(f *os.File, slowAfter, cooldown time.Duration, now func() time.Time) *Writer {
	w := New(f)
	w.slowAfter, w.cooldown, w.now, w.epoch = slowAfter, cooldown, now, now()
	return w
}
