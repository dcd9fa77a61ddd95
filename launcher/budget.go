package launcher

import (
	"context"
	"sync"
	"time"
)

// budget is a byte semaphore shared by all connections: frames hold their size
// from the moment the header is read until the answer is written.
type budget struct {
	mu      sync.Mutex
	total   int64
	used    int64
	waiters []*budgetWaiter
}

type budgetWaiter struct {
	n     int64
	ready chan struct{}
}

func newBudget(total int64) *budget { return &budget{total: total} }

// acquire takes n bytes, waiting at most wait. It reports false when n is over
// the total or the wait ran out or ctx ended.
func (b *budget) acquire(ctx context.Context, n int64, wait time.Duration) bool {
	if n > b.total {
		return false
	}
	b.mu.Lock()
	if b.takeLocked(n) {
		b.mu.Unlock()
		return true
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()

	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-w.ready:
		return true
	case <-ctx.Done():
	case <-timer.C:
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready: // granted while we were giving up: give it back
		b.used -= n
		b.wakeLocked()
		return false
	default:
	}
	for i, x := range b.waiters {
		if x == w {
			b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
			break
		}
	}
	b.wakeLocked()
	return false
}

// tryAcquire takes n bytes if they are free now and nobody is waiting.
func (b *budget) tryAcquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.takeLocked(n)
}

// takeLocked takes n bytes if they are free and nobody is waiting (waiters
// go first). Caller holds b.mu.
func (b *budget) takeLocked(n int64) bool {
	if len(b.waiters) > 0 || b.used+n > b.total {
		return false
	}
	b.used += n
	return true
}

// release returns n bytes.
func (b *budget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.wakeLocked()
	b.mu.Unlock()
}

// wakeLocked grants waiters in order while they fit.
func (b *budget) wakeLocked() {
	for len(b.waiters) > 0 && b.used+b.waiters[0].n <= b.total {
		w := b.waiters[0]
		b.waiters = b.waiters[1:]
		b.used += w.n
		close(w.ready)
	}
}

// inUse reports the bytes held.
func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
