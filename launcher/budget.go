package launcher

import (
	"context"
	"sync"
	"time"
)

// budget is the in-flight byte budget shared by every session: a frame body
// holds the bytes that have arrived of it, taken chunk by chunk as they
// arrive (never its claimed size up front), until its request has run; a
// large answer holds its size until written.
//
// It is shared so that no app, or few, can take it all:
//   - one app holds at most perApp bytes at once;
//   - the last reserve bytes of the total go only to small frames (whose
//     claimed size is at most smallFrame), so that a small request of any
//     app finds room while large transfers fill the rest.
//
// A take that does not fit waits, for at most the configured wait, for
// bytes to be released; waiters retry whenever any bytes come back.
type budget struct {
	total, perApp, reserve int64

	mu    sync.Mutex
	used  int64
	byApp map[string]int64
	freed chan struct{} // closed and replaced whenever bytes are released
}

// smallFrame is the largest frame that may use the budget's reserve.
const smallFrame = 64 << 10

func newBudget(total, perApp int64) *budget {
	return &budget{
		total: total, perApp: perApp, reserve: total / 8,
		byApp: map[string]int64{}, freed: make(chan struct{}),
	}
}

// fits reports whether app may take n more bytes now. Caller holds b.mu.
func (b *budget) fits(app string, n int64, small bool) bool {
	limit := b.total
	if !small {
		limit -= b.reserve
	}
	return b.used+n <= limit && b.byApp[app]+n <= b.perApp
}

// take takes n bytes for app, waiting at most wait for room. small says the
// frame is at most smallFrame bytes. It reports false when n can never fit
// (over the app's share), when the wait ran out, or when ctx ended.
func (b *budget) take(ctx context.Context, app string, n int64, small bool, wait time.Duration) bool {
	if n > b.perApp || n > b.total {
		return false
	}
	var timer *time.Timer
	for {
		b.mu.Lock()
		if b.fits(app, n, small) {
			b.used += n
			b.byApp[app] += n
			b.mu.Unlock()
			return true
		}
		freed := b.freed
		b.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		select {
		case <-freed:
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// give returns n bytes of app's.
func (b *budget) give(app string, n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	if b.byApp[app] -= n; b.byApp[app] == 0 {
		delete(b.byApp, app)
	}
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

// inUse reports the bytes held.
func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
