package vfs

import (
	"context"
	"database/sql"
	"sync/atomic"
)

// The checkpointer copies SQLite's write-ahead log into the database file
// beside the writer, so that no change pays for it: SQLite's own automatic
// checkpoint (off here) runs in the commit of the change that crosses its
// limit, and on a large store a checkpoint (scattered page writes and two
// fsyncs under SyncBackground) made that change's latency the p99 of all.
// It is a goroutine owned by the Store (Open starts it, Close stops it), on
// its own connection, woken every checkpointEvery commits; a PASSIVE
// checkpoint neither waits for nor blocks readers and the writer.

// checkpointEvery is how many commits the log may hold before the
// checkpointer is woken (a change writes a few pages: some hundreds of KiB).
const checkpointEvery = 128

type checkpointer struct {
	s       *Store
	db      *sql.DB
	conn    *sql.Conn
	commits atomic.Int64
	wake    chan struct{} // capacity 1
	stop    chan struct{}
	done    chan struct{}
}

// start opens the checkpointer's connection on dsn and starts it.
func (c *checkpointer) start(dsn string) error {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return dbErr("opening the database", err)
	}
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(context.Background())
	if err != nil {
		db.Close()
		return dbErr("opening the database", err)
	}
	c.db, c.conn = db, conn
	c.wake, c.stop, c.done = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	go c.loop()
	return nil
}

// committed counts a commit and wakes the checkpointer every
// checkpointEvery.
func (c *checkpointer) committed() {
	if c.db == nil || c.commits.Add(1)%checkpointEvery != 0 {
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *checkpointer) loop() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		}
		if _, err := c.conn.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
			c.s.log.Warn("vfs: checkpointing the database's log failed; it is tried again later", "err", err)
		}
	}
}

// halt stops the goroutine and closes its connection.
func (c *checkpointer) halt() {
	if c.db == nil {
		return
	}
	close(c.stop)
	<-c.done
	c.conn.Close()
	c.db.Close()
}
