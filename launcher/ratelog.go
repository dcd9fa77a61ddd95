package launcher

import (
	"log/slog"
	"sync"
	"time"
)

// rateLog writes a log line at most once per interval; the lines it holds
// back are counted and reported (as "suppressed") with the next one it
// writes. It keeps a hostile peer from filling the log (40,000 wrong launcher
// strings once wrote 6 MB of it) while still saying how often it happened.
type rateLog struct {
	log      *slog.Logger
	now      func() time.Time
	interval time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int64
}

func newRateLog(log *slog.Logger, now func() time.Time, interval time.Duration) *rateLog {
	return &rateLog{log: log, now: now, interval: interval}
}

// info logs msg with args, or counts it if a line was written less than an
// interval ago.
func (r *rateLog) info(msg string, args ...any) {
	r.mu.Lock()
	now := r.now()
	if !r.last.IsZero() && now.Sub(r.last) < r.interval {
		r.suppressed++
		r.mu.Unlock()
		return
	}
	n := r.suppressed
	r.last, r.suppressed = now, 0
	r.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n, "interval", r.interval)
	}
	r.log.Info(msg, args...)
}
