package main

import (
	"context"
	"log/slog"
	"time"
)

// autoLocker locks the launcher once no app request has come for idle
// (serve --auto-lock). Its run loop is owned by serve and ends with serve's
// context.
type autoLocker struct {
	idle   time.Duration
	last   func() time.Time // when the last request came (launcher.Server.LastActivity)
	locked func() bool
	lock   func()
	now    func() time.Time
	// after returns a channel that fires after d (time.After in the daemon).
	after func(d time.Duration) <-chan time.Time
	log   *slog.Logger
}

// run checks, each time the idle period since the last request could have
// run out, whether it has, and locks then. While locked it looks again
// every idle period (an unlock counts as activity).
func (a *autoLocker) run(ctx context.Context) {
	for {
		wait := a.idle
		if !a.locked() {
			if quiet := a.now().Sub(a.last()); quiet >= a.idle {
				a.log.Info("locking: no app request came for the --auto-lock period", "auto_lock", a.idle)
				a.lock()
			} else {
				wait = a.idle - quiet
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-a.after(wait):
		}
	}
}
