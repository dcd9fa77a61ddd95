package vfs

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"
)

// The collector removes the blobs that changes dropped (old content, deleted
// files), listed in the garbage table by the change that dropped them.
//
// A blob may be removed only once the change that dropped it is durable:
// under SyncBackground (synchronous=NORMAL) a commit reaches the disk only
// when SQLite's log is next fsynced, and a power loss before that brings
// the old row, and so the old blob, back. So the collector, owned by the
// Store (Open starts it, Close stops it), wakes a little after a change that
// dropped blobs, fsyncs the log (under SyncBackground: that makes every
// commit so far durable), removes the blobs listed up to then and deletes
// their rows. Open removes what a crash left listed.

// collectDelay is how long after a change that dropped blobs the collector
// runs, so that the drops of changes that come together share one fsync.
const collectDelay = 200 * time.Millisecond

type collector struct {
	s       *Store
	wake    chan struct{} // capacity 1: a run is due
	stop    chan struct{} // closed by Close
	done    chan struct{} // closed when the goroutine has ended
	runMu   sync.Mutex    // one run at a time
	walPath string        // SQLite's log, "" for an in-memory database
}

func (c *collector) start() {
	c.wake = make(chan struct{}, 1)
	c.stop = make(chan struct{})
	c.done = make(chan struct{})
	go c.loop()
}

// kick asks for a run.
func (c *collector) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// halt stops the goroutine and waits for it.
func (c *collector) halt() {
	close(c.stop)
	<-c.done
}

func (c *collector) loop() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		}
		t := time.NewTimer(collectDelay)
		select {
		case <-c.stop:
			t.Stop()
			return
		case <-t.C:
		}
		if err := c.run(context.Background()); err != nil {
			c.s.log.Warn("vfs: removing dropped content failed; the next start does it", "err", err)
		}
	}
}

// run makes every change so far durable and removes the blobs they dropped.
func (c *collector) run(ctx context.Context) error {
	c.runMu.Lock()
	defer c.runMu.Unlock()
	s := c.s
	var last int64
	if err := s.view(ctx, nil, func(t *Tx) error {
		row, err := t.queryRow(`SELECT coalesce(max(id), 0) FROM garbage`)
		if err != nil {
			return err
		}
		if err := row.Scan(&last); err != nil {
			return dbErr("reading the garbage table", err)
		}
		return nil
	}); err != nil || last == 0 {
		return err
	}
	if err := c.syncLog(); err != nil {
		return err
	}
	for from := int64(0); ; {
		var ids []int64
		var blobs [][]byte
		if err := s.view(ctx, nil, func(t *Tx) error {
			var id int64
			var b []byte // database/sql scans a fresh copy into it each row
			return t.each("reading the garbage table", `SELECT id, blob FROM garbage WHERE id > ? AND id <= ? ORDER BY id LIMIT 1000`,
				[]any{from, last}, []any{&id, &b}, func() (bool, error) {
					ids, blobs = append(ids, id), append(blobs, b)
					return true, nil
				})
		}); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		for _, b := range blobs {
			if len(b) == idBytes {
				if err := s.removeBlob(b); err != nil {
					return err
				}
			}
		}
		to := ids[len(ids)-1]
		if err := s.update(ctx, nil, false, func(t *Tx) error {
			_, err := t.exec(`DELETE FROM garbage WHERE id > ? AND id <= ?`, from, to)
			return err
		}); err != nil {
			return dbErr("emptying the garbage table", err)
		}
		from = to
	}
}

// syncLog makes every commit so far durable: under SyncBackground it
// fsyncs SQLite's log (any descriptor of the file will do); under
// SyncCommit every commit already is.
func (c *collector) syncLog() error {
	if c.walPath == "" || c.s.mode == SyncCommit {
		return nil
	}
	f, err := os.Open(c.walPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil // no log: everything is in the database file, synced
	}
	if err != nil {
		return ioErr("opening the database log to sync it", err)
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return ioErr("syncing the database log", err)
	}
	return nil
}
