package vfs

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/spf13/afero"
)

// The write-ahead log.
//
// Every change is committed by appending one record to wal.log: the new
// bytes of every manifest the change touches (and roots.json when roots
// change). The append is the commit point; the change is acknowledged once
// an fsync of the log covers it. Concurrent changes share that fsync (group
// commit): whoever waits first syncs everything appended so far, and those
// queued behind it find their record already durable.
//
// The manifests under dirs/ and roots.json lag behind the log. A checkpoint
// (when the log passes Options.CheckpointBytes, and at Close) writes the
// current manifest of every directory changed since the last one, with the
// atomic-write protocol, and then empties the log. Open replays the log over
// the manifests before loading them, so a crash at any moment loses nothing
// that was acknowledged.
//
// Record layout: "VFW1", payload length (uint32 LE), CRC-32C of the payload
// (uint32 LE), payload. The payload is a sequence of writes, each a name
// length (uint16 LE), the name, a data length (uint32 LE) and the data.
// Replay stops at the first record whose header or checksum does not hold:
// that is the torn tail of an append no fsync covered, so never acknowledged.
// A record whose checksum holds but whose content breaks the rules is
// corruption (ErrCorrupt).

const (
	walName   = "wal.log"
	walMagic  = "VFW1"
	walHeader = 12

	// DefaultCheckpointBytes is the log size past which a change also
	// checkpoints, when Options.CheckpointBytes is 0.
	DefaultCheckpointBytes = 8 << 20
)

// wal is the store's log. Fields marked "s.mu" are guarded by Store.mu.
type wal struct {
	f          afero.File
	crc        *crc32.Table
	size       int64                 // bytes in f (s.mu)
	limit      int64                 // checkpoint once size reaches this (s.mu)
	dirty      map[*dirNode]bool     // directories changed since the last checkpoint (s.mu)
	rootsDirty bool                  // roots changed since the last checkpoint (s.mu)
	pending    int64                 // LSN of the change being made by the current holder of s.mu (s.mu)
	appended   atomic.Int64          // LSN after the last appended record (written under s.mu)
	failed     atomic.Pointer[error] // set when the log can no longer be trusted

	syncMu  sync.Mutex // one fsync or checkpoint at a time
	durable int64      // LSN up to which the log is durable (syncMu)
}

// failure returns the error that stopped the log, or nil.
func (w *wal) failure() error {
	if p := w.failed.Load(); p != nil {
		return *p
	}
	return nil
}

func (w *wal) fail(err error) error {
	w.failed.CompareAndSwap(nil, &err)
	return w.failure()
}

// encodeRecord frames ws as one log record.
func (w *wal) encodeRecord(ws []write) ([]byte, error) {
	n := walHeader
	for _, x := range ws {
		if len(x.name) > 0xffff || int64(len(x.data)) > 0xffffffff {
			return nil, fmt.Errorf("%w: log record entry %s is too large", ErrIO, x.name)
		}
		n += 2 + len(x.name) + 4 + len(x.data)
	}
	if int64(n-walHeader) > 0xffffffff {
		return nil, fmt.Errorf("%w: log record of %d bytes is too large", ErrIO, n)
	}
	rec := make([]byte, walHeader, n)
	for _, x := range ws {
		rec = binary.LittleEndian.AppendUint16(rec, uint16(len(x.name)))
		rec = append(rec, x.name...)
		rec = binary.LittleEndian.AppendUint32(rec, uint32(len(x.data)))
		rec = append(rec, x.data...)
	}
	copy(rec, walMagic)
	binary.LittleEndian.PutUint32(rec[4:], uint32(n-walHeader))
	binary.LittleEndian.PutUint32(rec[8:], crc32.Checksum(rec[walHeader:], w.crc))
	return rec, nil
}

// decodeLog returns the writes of every whole record at the start of data,
// in order, and how many bytes they span. It stops at the first record
// whose framing or checksum does not hold (a torn tail). A record that
// passes its checksum but breaks the rules is ErrCorrupt.
func decodeLog(data []byte, tab *crc32.Table) (ws []write, used int, err error) {
	for len(data)-used >= walHeader {
		h := data[used:]
		if string(h[:4]) != walMagic {
			break
		}
		n := int64(binary.LittleEndian.Uint32(h[4:]))
		if n == 0 || n > int64(len(h)-walHeader) {
			break
		}
		p := h[walHeader : walHeader+int(n)]
		if crc32.Checksum(p, tab) != binary.LittleEndian.Uint32(h[8:]) {
			break
		}
		rec, err := decodeRecord(p)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: log record at byte %d: %v", ErrCorrupt, used, err)
		}
		ws = append(ws, rec...)
		used += walHeader + int(n)
	}
	return ws, used, nil
}

func decodeRecord(p []byte) ([]write, error) {
	var ws []write
	for len(p) > 0 {
		if len(p) < 2 {
			return nil, errors.New("truncated name length")
		}
		nl := int(binary.LittleEndian.Uint16(p))
		p = p[2:]
		if len(p) < nl+4 {
			return nil, errors.New("truncated name")
		}
		name := string(p[:nl])
		dl := int64(binary.LittleEndian.Uint32(p[nl:]))
		p = p[nl+4:]
		if int64(len(p)) < dl {
			return nil, errors.New("truncated data")
		}
		data := p[:dl]
		p = p[dl:]
		if !journalTargetOK(name) || !json.Valid(data) {
			return nil, fmt.Errorf("bad entry %q", truncName(name))
		}
		ws = append(ws, write{name: name, data: data})
	}
	if len(ws) == 0 {
		return nil, errors.New("empty record")
	}
	return ws, nil
}

// replayLog is Open's half of the log: it writes the last version of every
// manifest the log holds (atomic writes), then empties the log. It leaves
// the log file open in s.wal.
func (s *Store) replayLog() error {
	if fi, err := s.lstat(walName); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file (mode %v)", ErrCorrupt, walName, fi.Mode().Type())
	} else if err != nil && !isNotExist(err) {
		return ioErr("checking the log", err)
	}
	f, err := s.fs.OpenFile(walName, os.O_RDWR|os.O_CREATE|oNoFollow, 0o600)
	if err != nil {
		return ioErr("opening the log", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return ioErr("reading the log", err)
	}
	ws, _, err := decodeLog(data, s.wal.crc)
	if err != nil {
		f.Close()
		return err
	}
	last := map[string]int{}
	var order []string
	for i, w := range ws {
		if _, seen := last[w.name]; !seen {
			order = append(order, w.name)
		}
		last[w.name] = i
	}
	for _, n := range order {
		if _, err := s.atomicWrite(n, ws[last[n]].data); err != nil {
			f.Close()
			return fmt.Errorf("replaying the log: %w", err)
		}
	}
	if len(data) > 0 {
		if err := f.Truncate(0); err != nil {
			f.Close()
			return ioErr("emptying the log", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return ioErr("syncing the log", err)
		}
	}
	s.wal.f = f
	return s.syncDir(".")
}

// logCommit appends one record holding ws: the commit point of a change.
// On an error nothing was appended (or the store refuses further writes if
// a partial append could not be cut off). Caller holds s.mu for writing.
func (s *Store) logCommit(ws []write, dirs []*dirNode, roots bool) error {
	w := &s.wal
	rec, err := w.encodeRecord(ws)
	if err != nil {
		return err
	}
	if _, err := w.f.WriteAt(rec, w.size); err != nil {
		err = ioErr("appending to the log", err)
		if terr := w.f.Truncate(w.size); terr != nil {
			w.fail(fmt.Errorf("%w (and cutting off the partial record failed: %w)", err, stripPath(terr)))
		}
		return err
	}
	w.size += int64(len(rec))
	w.pending = w.appended.Add(int64(len(rec)))
	for _, d := range dirs {
		w.dirty[d] = true
	}
	w.rootsDirty = w.rootsDirty || roots
	return nil
}

// update runs fn holding s.mu for writing; a change fn commits (logCommit)
// is made durable before update returns. A change that pushed the log past
// its limit also checkpoints.
func (s *Store) update(fn func() error) error {
	s.mu.Lock()
	err := fn()
	w := &s.wal
	lsn := w.pending
	w.pending = 0
	if lsn != 0 && w.size >= w.limit {
		if cerr := s.checkpoint(); cerr != nil {
			// The log still holds everything; try again once it doubles.
			w.limit = 2 * w.size
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.waitDurable(lsn)
}

// waitDurable returns once an fsync of the log covers lsn (0: nothing to
// wait for). It syncs the log itself unless a sync that covers lsn already
// finished; changes appended meanwhile ride along.
func (s *Store) waitDurable(lsn int64) error {
	if lsn == 0 {
		return nil
	}
	w := &s.wal
	w.syncMu.Lock()
	defer w.syncMu.Unlock()
	if w.durable >= lsn {
		return nil
	}
	if err := w.failure(); err != nil {
		return err
	}
	target := w.appended.Load()
	if err := w.f.Sync(); err != nil {
		return w.fail(ioErr("syncing the log", err))
	}
	w.durable = target
	return nil
}

// checkpoint writes the manifest of every directory changed since the last
// checkpoint (and roots.json), makes them durable, then empties the log.
// Caller holds s.mu for writing. On an error the log is left as it was, so
// nothing is lost; an error emptying the log stops the store.
func (s *Store) checkpoint() error {
	w := &s.wal
	w.syncMu.Lock()
	defer w.syncMu.Unlock()
	if err := w.failure(); err != nil {
		return err
	}
	if w.size == 0 {
		return nil
	}
	var ws []write
	for d := range w.dirty {
		if d.deleted {
			continue
		}
		x, err := s.manifestWrite(d)
		if err != nil {
			return err
		}
		ws = append(ws, x)
	}
	if w.rootsDirty {
		x, err := s.rootsWrite()
		if err != nil {
			return err
		}
		ws = append(ws, x)
	}
	tmps := make([]string, len(ws))
	removeTmps := func() {
		for _, t := range tmps {
			if t != "" {
				s.fs.Remove(t)
			}
		}
	}
	for i, x := range ws {
		h, err := s.newHex()
		if err != nil {
			removeTmps()
			return err
		}
		tmps[i] = tmpDir + "/" + h
		if err := s.writeNew(tmps[i], x.data); err != nil {
			removeTmps()
			return err
		}
	}
	for i, x := range ws {
		if err := s.fs.Rename(tmps[i], x.name); err != nil {
			removeTmps()
			return ioErr("renaming into "+x.name, err)
		}
		tmps[i] = ""
	}
	if err := s.syncDir(dirsDir); err != nil {
		return err
	}
	if w.rootsDirty {
		if err := s.syncDir("."); err != nil {
			return err
		}
	}
	if err := w.f.Truncate(0); err != nil {
		return w.fail(ioErr("emptying the log", err))
	}
	if err := w.f.Sync(); err != nil {
		return w.fail(ioErr("syncing the emptied log", err))
	}
	w.size = 0
	w.durable = w.appended.Load()
	clear(w.dirty)
	w.rootsDirty = false
	w.limit = s.checkpointBytes
	return nil
}
