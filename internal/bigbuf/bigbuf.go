// Package bigbuf keeps one large buffer for a short while after use, so that
// a burst of large messages (file uploads) reuses memory already faulted in,
// instead of allocating, zeroing and faulting in tens of MiB per message; a
// process that goes quiet lets the buffer go.
package bigbuf

import (
	"sync"
	"time"
)

// Cache holds at most one buffer. The zero value is not usable: use New.
// It is safe for concurrent use.
type Cache struct {
	keep   time.Duration
	onDrop func()

	mu     sync.Mutex
	buf    []byte
	timer  *time.Timer
	closed bool
}

// New returns a cache that lets its buffer go once keep has passed without
// a Get that took it, and then calls onDrop (if not nil; e.g. to collect the
// memory at once).
func New(keep time.Duration, onDrop func()) *Cache {
	return &Cache{keep: keep, onDrop: onDrop}
}

// Get returns the buffer held, emptied (length 0), if its capacity is at
// least n, and forgets it; otherwise it returns nil and lets a smaller
// buffer go, so that the caller's new allocation does not sit beside it.
func (c *Cache) Get(n int) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.buf
	c.buf = nil
	if cap(b) < n {
		return nil
	}
	return b[:0]
}

// Put offers b, which the caller no longer uses, for the next Get. The
// cache keeps the larger of b and what it holds, until keep passes.
func (c *Cache) Put(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || cap(b) == 0 {
		return
	}
	if cap(b) > cap(c.buf) {
		c.buf = b[:0]
	}
	if c.timer == nil {
		c.timer = time.AfterFunc(c.keep, c.expire)
	} else {
		c.timer.Reset(c.keep)
	}
}

func (c *Cache) expire() {
	c.mu.Lock()
	held := c.buf != nil
	c.buf = nil
	c.mu.Unlock()
	if held && c.onDrop != nil {
		c.onDrop()
	}
}

// Close lets the buffer go and stops the timer; later Puts keep nothing.
func (c *Cache) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.buf = nil
	if c.timer != nil {
		c.timer.Stop()
	}
}
