package main

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAutoLocker drives the auto-lock loop with a made-up clock: it waits
// for the rest of the idle period after the last request, locks once the
// period has passed without one, looks again each period while locked, and
// stops with its context.
func TestAutoLocker(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var now, last atomic.Int64 // offsets from t0 in ns
	var locked atomic.Bool
	locks := make(chan struct{}, 10)
	waits := make(chan time.Duration)
	fire := make(chan time.Time)
	a := &autoLocker{
		idle:   10 * time.Minute,
		last:   func() time.Time { return t0.Add(time.Duration(last.Load())) },
		locked: locked.Load,
		lock:   func() { locked.Store(true); locks <- struct{}{} },
		now:    func() time.Time { return t0.Add(time.Duration(now.Load())) },
		after: func(d time.Duration) <-chan time.Time {
			waits <- d
			return fire
		},
		log: slog.New(slog.DiscardHandler),
	}
	now.Store(int64(4 * time.Minute)) // the last request came at t0 (before the locker starts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.run(ctx); close(done) }()

	assert.Equal(t, 6*time.Minute, <-waits, "waits for the rest of the period")
	last.Store(int64(5 * time.Minute)) // a request came meanwhile
	now.Store(int64(10 * time.Minute))
	fire <- t0
	assert.Equal(t, 5*time.Minute, <-waits)
	assert.Empty(t, locks, "not idle long enough")
	now.Store(int64(15 * time.Minute))
	fire <- t0
	assert.Equal(t, 10*time.Minute, <-waits, "locked: looks again after a period")
	require.Len(t, locks, 1)
	now.Store(int64(40 * time.Minute))
	fire <- t0
	assert.Equal(t, 10*time.Minute, <-waits)
	assert.Len(t, locks, 1, "a locked launcher is not locked again")

	locked.Store(false) // unlocked, which counts as activity
	last.Store(int64(45 * time.Minute))
	now.Store(int64(50 * time.Minute))
	fire <- t0
	assert.Equal(t, 5*time.Minute, <-waits)
	cancel()
	<-done
}
