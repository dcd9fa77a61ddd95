// Package gcfloor keeps the garbage collector from running every few
// megabytes while a process's live heap is small. A daemon serving many small
// requests keeps a live heap of a few MB, so at the default GOGC=100 it
// collects every few MB allocated, each time scanning every goroutine's
// stack. A Tuner raises GOGC after each collection so that the heap goal is
// a floor, and puts GOGC back to the process's own (100 by default) when
// the live heap is half the floor or more, or when a large message is coming
// (Large), so that large transfers keep the default pace and its memory
// bound.
//
// GOGC is process-wide: a process runs at most one Tuner, started by its
// main function.
package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// DefaultFloor is the heap goal the launcher keeps: 32 MiB.
const DefaultFloor = 32 << 20

// maxPercent bounds the GOGC a Tuner sets.
const maxPercent = 1000

// hold is how long after a large message the Tuner leaves GOGC alone.
const hold = 5 * time.Second

// Tuner adjusts GOGC; see the package doc. Its methods are safe for
// concurrent use.
type Tuner struct {
	floor uint64
	now   func() time.Time

	base int // the GOGC the process had: kept whenever the floor does not raise it

	mu        sync.Mutex
	percent   int // the GOGC set
	lastLarge time.Time
	stopped   bool
	cycles    int // collections seen
	sample    []metrics.Sample
}

// sentinel is garbage whose finalizer runs after a collection: it tells the
// Tuner a cycle has ended. It holds a pointer, so it is never a tiny
// allocation (whose finalizers may not run).
type sentinel struct{ t *Tuner }

// Start returns a Tuner keeping the heap goal at least floor bytes while the
// live heap is under half of it. Stop undoes it. If the collector is off
// (GOGC=off) or already at least as lax as the Tuner would make it, the
// Tuner leaves it alone.
func Start(floor uint64) *Tuner {
	cur := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(cur)
	base := 100
	if cur[0].Value.Kind() == metrics.KindUint64 {
		base = int(cur[0].Value.Uint64())
	}
	t := &Tuner{floor: floor, now: time.Now, base: base, percent: base,
		sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	if base <= 0 || base >= maxPercent {
		t.stopped = true // off, or already lax: nothing to do
		return t
	}
	t.arm()
	return t
}

// arm makes the next collection call cycle (from the finalizer goroutine).
func (t *Tuner) arm() {
	s := &sentinel{t: t}
	runtime.SetFinalizer(s, func(s *sentinel) { s.t.cycle() })
}

// cycle runs after a collection: it sets GOGC from the live heap, and arms
// itself for the next one.
func (t *Tuner) cycle() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	t.cycles++
	metrics.Read(t.sample)
	live := uint64(0)
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		live = t.sample[0].Value.Uint64()
	}
	t.set(t.percentFor(live))
	t.arm()
}

// percentFor is the GOGC for a live heap of live bytes: the heap goal (live
// times 1+GOGC/100) at the floor, or the process's own if that is higher or
// a large message came within hold.
func (t *Tuner) percentFor(live uint64) int {
	if live == 0 || t.now().Sub(t.lastLarge) < hold {
		return t.base
	}
	return max(t.base, int(min(t.floor*100/live, maxPercent+100))-100)
}

// set applies GOGC p if it differs from the one set. Caller holds t.mu.
func (t *Tuner) set(p int) {
	if p != t.percent {
		debug.SetGCPercent(p)
		t.percent = p
	}
}

// Large tells the Tuner a large message is about to be allocated: GOGC goes
// back to the process's own at once (it takes effect on the current heap
// goal) and stays there for a while.
func (t *Tuner) Large() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastLarge = t.now()
	if !t.stopped {
		t.set(t.base)
	}
}

// Percent reports the GOGC the Tuner has set.
func (t *Tuner) Percent() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.percent
}

// Stop puts GOGC back to the process's own and stops adjusting it.
func (t *Tuner) Stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.stopped {
		t.set(t.base)
		t.stopped = true
	}
}
