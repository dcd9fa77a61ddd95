package vfs

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/afero"
)

// The write-ahead log.
//
// Every change is committed by appending one record to wal.log that says
// what changed: the full manifest of a directory the change creates, and for
// each directory it changes, the directory's attributes and the entries it
// touched (as they are now, or gone), and the whole roots table if roots
// changed. So a record is small whatever the size of the directory. The
// append is the commit point. Under SyncCommit a change returns once an
// fsync of the log covers it; concurrent changes share that fsync (group
// commit): whoever waits first syncs everything appended so far, and those
// queued behind it find their record already durable. Under SyncBackground
// (the default) a change returns once appended, and the flusher goroutine
// syncs whatever is appended within Options.SyncDelay (one fsync per delay
// while changes keep coming). In both modes what a change dropped
// (blobs, manifests) is removed only once an fsync covers the change.
//
// The manifests under dirs/ and roots.json lag behind the log. A checkpoint
// (when the log passes Options.CheckpointBytes, and at Close) writes the
// current manifest of every directory changed since the last one, with the
// atomic-write protocol, and then empties the log. Open replays the log over
// the manifests before loading them, so a crash of the process at any moment
// loses nothing that was acknowledged (nor does a crash of the OS or power
// under SyncCommit).
//
// Record layout: "VFW1", payload length (uint32 LE), CRC-32C of the payload
// (uint32 LE), payload: a logRecord in JSON. Replay stops at the first record whose header or checksum does not hold:
// that is the torn tail of an append no fsync covered: under SyncCommit
// never acknowledged; under SyncBackground possibly acknowledged and lost
// to an OS crash or power loss, with every record after it (a prefix of
// the changes survives).
// A record whose checksum holds but whose content breaks the rules is
// corruption (ErrCorrupt).

const (
	walName   = "wal.log"
	walMagic  = "VFW1"
	walHeader = 12

	// DefaultCheckpointBytes is the log size past which a change also
	// checkpoints, when Options.CheckpointBytes is 0.
	DefaultCheckpointBytes = 8 << 20

	// maxKeptRecord is the largest record encoding buffer kept for the
	// next change.
	maxKeptRecord = 64 << 10
)

// wal is the store's log. Fields marked "s.mu" are guarded by Store.mu.
type wal struct {
	f afero.File
	// out appends records to f and syncs them (f itself).
	out        logFile
	crc        *crc32.Table
	size       int64                 // bytes in f (s.mu)
	limit      int64                 // checkpoint once size reaches this (s.mu)
	dirty      map[*dirNode]bool     // directories changed since the last checkpoint (s.mu)
	rootsDirty bool                  // roots changed since the last checkpoint (s.mu)
	pending    int64                 // LSN of the change being made by the current holder of s.mu (s.mu)
	appended   atomic.Int64          // LSN after the last appended record (written under s.mu)
	failed     atomic.Pointer[error] // set when the log can no longer be trusted
	// encBuf and enc encode records, reused from one change to the next (s.mu).
	encBuf *bytes.Buffer
	enc    *json.Encoder

	syncMu sync.Mutex // one fsync or checkpoint at a time
	// durable is the LSN up to which the log is durable: written under
	// syncMu, read without it by Deferred.Ready.
	durable atomic.Int64

	mode  Sync
	delay time.Duration // the flusher's wait before a sync (SyncBackground)
	// The flusher (SyncBackground only): kick wakes it after an append,
	// stop ends it, done is closed when it has ended.
	kick, stop, done chan struct{}
	afterMu          sync.Mutex
	afters           []deferredWait // clean-ups waiting for their change to be durable (afterMu)
	// runMu is held while clean-ups run, so that Sync returns only after a
	// run the flusher started has finished too.
	runMu sync.Mutex
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

// logRecord is the payload of one log record: one change.
type logRecord struct {
	V     int           `json:"v"`
	Fresh []dirManifest `json:"fresh,omitempty"` // directories the change creates
	Dirs  []logDir      `json:"dirs,omitempty"`  // directories the change modifies
	Roots *rootsFile    `json:"roots,omitempty"` // the roots table, if it changed
}

// logDir is one directory's part of a change: its attributes as they are
// after the change, and the entries the change touched, each either a
// directory (Dirs), a file (Files) or no longer there (Gone).
type logDir struct {
	ID ID `json:"id"`
	dirAttrs
	Dirs  map[string]ID         `json:"dirs,omitempty"`
	Files map[string]fileRecord `json:"files,omitempty"`
	Gone  []string              `json:"gone,omitempty"`
}

// check refuses a record that could make replay write anything but a
// manifest named by a valid ID, or a manifest load would refuse.
func (r *logRecord) check() error {
	if r.V != 1 {
		return fmt.Errorf("version %d", r.V)
	}
	if len(r.Fresh) == 0 && len(r.Dirs) == 0 && r.Roots == nil {
		return errors.New("empty record")
	}
	for _, m := range r.Fresh {
		if err := checkEntries(m.ID, m.Dirs, m.Files, nil); err != nil {
			return err
		}
	}
	for _, d := range r.Dirs {
		if err := checkEntries(d.ID, d.Dirs, d.Files, d.Gone); err != nil {
			return err
		}
	}
	if r.Roots != nil {
		for k, id := range r.Roots.Roots {
			if _, ok := parseRootKey(k); !ok || !validHexID(string(id)) {
				return fmt.Errorf("bad root %q", truncName(k))
			}
		}
	}
	return nil
}

func checkEntries(id ID, dirs map[string]ID, files map[string]fileRecord, gone []string) error {
	if !validHexID(string(id)) {
		return fmt.Errorf("bad directory id %q", truncName(string(id)))
	}
	for name, cid := range dirs {
		if ValidName(name) != nil || !validHexID(string(cid)) {
			return fmt.Errorf("directory %s: bad entry %q", id, truncName(name))
		}
		if _, dup := files[name]; dup {
			return fmt.Errorf("directory %s: %q is both a file and a directory", id, truncName(name))
		}
	}
	for name, fr := range files {
		if ValidName(name) != nil || !validFileRecord(fr) {
			return fmt.Errorf("directory %s: bad file %q", id, truncName(name))
		}
	}
	for _, name := range gone {
		_, d := dirs[name]
		_, f := files[name]
		if ValidName(name) != nil || d || f {
			return fmt.Errorf("directory %s: bad removal %q", id, truncName(name))
		}
	}
	return nil
}

func validFileRecord(fr fileRecord) bool {
	return validHexID(string(fr.ID)) && fr.Size >= 0 && (fr.Blob != "" || fr.Size == 0) &&
		(fr.Blob == "" || validHexID(fr.Blob))
}

// encodeRecord frames rec as one log record, in w's encoding buffer: the
// result is valid until the next call. Caller holds s.mu (or owns w).
func (w *wal) encodeRecord(rec *logRecord) ([]byte, error) {
	if w.enc == nil {
		w.encBuf = new(bytes.Buffer)
		w.enc = json.NewEncoder(w.encBuf)
		w.enc.SetEscapeHTML(false)
	}
	w.encBuf.Reset()
	var hdr [walHeader]byte
	w.encBuf.Write(hdr[:])
	if err := w.enc.Encode(rec); err != nil {
		return nil, fmt.Errorf("%w: encoding log record: %w", ErrIO, err)
	}
	b := w.encBuf.Bytes()
	if w.encBuf.Cap() > maxKeptRecord {
		// Do not keep a large record's buffer (a big roots table).
		w.encBuf, w.enc = nil, nil
	}
	n := len(b) - walHeader
	if int64(n) > 0xffffffff {
		return nil, fmt.Errorf("%w: log record of %d bytes is too large", ErrIO, n)
	}
	copy(b, walMagic)
	binary.LittleEndian.PutUint32(b[4:], uint32(n))
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[walHeader:], w.crc))
	return b, nil
}

// decodeLog returns every whole record at the start of data, in order, and
// how many bytes they span. It stops at the first record whose framing or
// checksum does not hold (a torn tail). A record that passes its checksum
// but breaks the rules is ErrCorrupt.
func decodeLog(data []byte, tab *crc32.Table) (recs []logRecord, used int, err error) {
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
		var rec logRecord
		if err := json.Unmarshal(p, &rec); err != nil {
			return nil, 0, fmt.Errorf("%w: log record at byte %d: %v", ErrCorrupt, used, err)
		}
		if err := rec.check(); err != nil {
			return nil, 0, fmt.Errorf("%w: log record at byte %d: %v", ErrCorrupt, used, err)
		}
		recs = append(recs, rec)
		used += walHeader + int(n)
	}
	return recs, used, nil
}

// replayer applies log records to the manifests on disk, in memory.
type replayer struct {
	s       *Store
	dirs    map[ID]*dirManifest // nil value: the manifest is not on disk
	changed map[ID]bool
	roots   *rootsFile
}

// dir returns the manifest of id as of the records applied so far, reading
// it from disk the first time, or nil if it is not on disk (a directory
// deleted after this record, its manifest already removed: load decides).
func (r *replayer) dir(id ID) (*dirManifest, error) {
	if m, ok := r.dirs[id]; ok {
		return m, nil
	}
	data, err := r.s.readRegular(manifestName(id))
	if isNotExist(err) {
		r.dirs[id] = nil
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading manifest %s: %w", id, wrapOpenErr(err))
	}
	var m dirManifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: manifest %s: %v", ErrCorrupt, id, err)
	}
	r.dirs[id] = &m
	return &m, nil
}

func (r *replayer) apply(rec *logRecord) error {
	for i := range rec.Fresh {
		m := rec.Fresh[i]
		r.dirs[m.ID] = &m
		r.changed[m.ID] = true
	}
	for _, d := range rec.Dirs {
		m, err := r.dir(d.ID)
		if err != nil || m == nil {
			return err
		}
		m.dirAttrs = d.dirAttrs
		if m.Dirs == nil {
			m.Dirs = map[string]ID{}
		}
		if m.Files == nil {
			m.Files = map[string]fileRecord{}
		}
		for _, n := range d.Gone {
			delete(m.Dirs, n)
			delete(m.Files, n)
		}
		for n, id := range d.Dirs {
			delete(m.Files, n)
			m.Dirs[n] = id
		}
		for n, fr := range d.Files {
			delete(m.Dirs, n)
			m.Files[n] = fr
		}
		r.changed[d.ID] = true
	}
	if rec.Roots != nil {
		r.roots = rec.Roots
	}
	return nil
}

// replayLog is Open's half of the log: it applies every record to the
// manifests, writes each changed manifest (atomic writes), then empties the
// log. It leaves the log file open in s.wal.
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
	if err := s.replayFrom(f); err != nil {
		f.Close()
		return err
	}
	s.wal.f, s.wal.out = f, f
	return nil
}

// logFile is what appends records to the log and syncs them.
type logFile interface {
	io.WriterAt
	Sync() error
}

func (s *Store) replayFrom(f afero.File) error {
	data, err := io.ReadAll(f)
	if err != nil {
		return ioErr("reading the log", err)
	}
	recs, _, err := decodeLog(data, s.wal.crc)
	if err != nil {
		return err
	}
	r := &replayer{s: s, dirs: map[ID]*dirManifest{}, changed: map[ID]bool{}}
	for i := range recs {
		if err := r.apply(&recs[i]); err != nil {
			return fmt.Errorf("replaying the log: %w", err)
		}
	}
	for id := range r.changed {
		data, err := json.Marshal(r.dirs[id])
		if err != nil {
			return fmt.Errorf("%w: encoding manifest %s: %w", ErrIO, id, err)
		}
		if _, err := s.atomicWrite(manifestName(id), data); err != nil {
			return fmt.Errorf("replaying the log: %w", err)
		}
	}
	if r.roots != nil {
		data, err := json.Marshal(r.roots)
		if err != nil {
			return fmt.Errorf("%w: encoding roots: %w", ErrIO, err)
		}
		if _, err := s.atomicWrite(rootsName, data); err != nil {
			return fmt.Errorf("replaying the log: %w", err)
		}
	}
	if len(data) > 0 {
		if err := f.Truncate(0); err != nil {
			return ioErr("emptying the log", err)
		}
		if err := f.Sync(); err != nil {
			return ioErr("syncing the log", err)
		}
	}
	return s.syncDir(".")
}

// logCommit appends rec: the commit point of a change to the directories
// dirs (and roots). On an error nothing was appended (or the store refuses
// further writes if a partial append could not be cut off). Caller holds
// s.mu for writing.
func (s *Store) logCommit(r *logRecord, dirs []*dirNode, roots bool) error {
	w := &s.wal
	rec, err := w.encodeRecord(r)
	if err != nil {
		return err
	}
	if _, err := w.out.WriteAt(rec, w.size); err != nil {
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

// update runs fn holding s.mu for writing. Under SyncCommit, a change fn
// commits (logCommit) is made durable before update returns, and then after
// runs (the clean-up that must wait for durability: removing what the change
// dropped); under a context from Defer both are left to the caller's
// Deferred instead. Under SyncBackground update returns at once and the
// flusher runs after once the change is durable. A change that pushed the
// log past its limit also checkpoints.
func (s *Store) update(ctx context.Context, fn func() error, after func()) error {
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
	if err != nil || lsn == 0 {
		return err
	}
	if w.mode == SyncBackground {
		if after != nil {
			w.afterMu.Lock()
			w.afters = append(w.afters, deferredWait{s, lsn, after})
			w.afterMu.Unlock()
		}
		select {
		case w.kick <- struct{}{}:
		default: // the flusher already has a wake-up waiting
		}
		return nil
	}
	if d, ok := ctx.Value(deferKey{}).(*Deferred); ok && d != nil {
		d.waits = append(d.waits, deferredWait{s, lsn, after})
		return nil
	}
	if err := s.waitDurable(lsn); err != nil {
		return err
	}
	if after != nil {
		after()
	}
	return nil
}

type deferKey struct{}

// Deferred lets a caller that acknowledges requests strictly in order (the
// daemon's connection) start the next request while a change waits for the
// log sync that makes it durable, so that one connection's pipelined changes
// share syncs as concurrent connections' do.
//
// Under a context from Defer, a change returns as soon as it is applied in
// memory and appended to the log: visible to every later request, but not
// yet durable. Its durability wait, and the clean-up that must follow it,
// are collected in the Deferred, and the caller must not acknowledge the
// change before Wait returns nil. A Deferred is not safe for concurrent use;
// it may be handed to another goroutine once the request is done with it.
type Deferred struct {
	waits []deferredWait
}

type deferredWait struct {
	s     *Store
	lsn   int64
	after func()
}

// Defer returns a context under which changes leave their durability wait
// in the returned Deferred instead of waiting.
func Defer(ctx context.Context) (context.Context, *Deferred) {
	d := &Deferred{}
	return context.WithValue(ctx, deferKey{}, d), d
}

// Pending reports whether a change made under the Deferred's context still
// has to be waited for.
func (d *Deferred) Pending() bool { return len(d.waits) > 0 }

// Ready reports whether Wait would return without waiting for a log sync:
// every change collected is already durable.
func (d *Deferred) Ready() bool {
	for _, w := range d.waits {
		if w.lsn > w.s.wal.durable.Load() {
			return false
		}
	}
	return true
}

// Wait returns once every change collected is durable, running each one's
// clean-up. An error (ErrIO: the log could not be synced) means a change is
// not durable and must not be acknowledged; the store then refuses writes.
func (d *Deferred) Wait() error {
	var first error
	for _, w := range d.waits {
		if err := w.s.waitDurable(w.lsn); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		if w.after != nil {
			w.after()
		}
	}
	d.waits = nil
	return first
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
	if w.durable.Load() >= lsn {
		return nil
	}
	if err := w.failure(); err != nil {
		return err
	}
	target := w.appended.Load()
	if err := w.out.Sync(); err != nil {
		return w.fail(ioErr("syncing the log", err))
	}
	w.durable.Store(target)
	return nil
}

// Sync returns once every change made so far is durable (an fsync of the
// log covers it) and what those changes dropped is removed. Under
// SyncCommit changes are durable when they return, so Sync only matters
// under SyncBackground. An error (ErrIO) means the log could not be synced;
// the store then refuses changes.
func (s *Store) Sync() error {
	if err := s.begin(); err != nil {
		return err
	}
	defer s.wg.Done()
	w := &s.wal
	if err := s.waitDurable(w.appended.Load()); err != nil {
		return err
	}
	w.runAfters()
	return nil
}

// startFlusher starts the flusher goroutine under SyncBackground; Close
// stops it (stopFlusher).
func (s *Store) startFlusher() {
	w := &s.wal
	if w.mode != SyncBackground {
		return
	}
	w.kick = make(chan struct{}, 1)
	w.stop = make(chan struct{})
	w.done = make(chan struct{})
	go s.flush()
}

// stopFlusher stops the flusher and waits for it; a sync it is running
// finishes first.
func (s *Store) stopFlusher() {
	w := &s.wal
	if w.stop == nil {
		return
	}
	close(w.stop)
	<-w.done
}

// flush is the flusher: on every wake-up it waits the sync delay, syncs the
// log once (covering everything appended by then), then runs the clean-ups
// of the changes now durable. A change appended during that sync has left a
// wake-up behind, so it waits for the next delay: under a steady stream of
// changes the log is synced once per delay plus one sync, not back to back
// (which, with syncs as dear as they are here, took 400 syncs a second and
// a share of both CPUs away from the requests).
// A failed sync stops the store (waitDurable records the failure, and
// every later change is refused), so the flusher then only waits for stop.
func (s *Store) flush() {
	w := &s.wal
	defer close(w.done)
	for {
		select {
		case <-w.stop:
			return
		case <-w.kick:
		}
		if w.delay > 0 {
			// Let the changes that come together share the sync.
			t := time.NewTimer(w.delay)
			select {
			case <-w.stop: // Close syncs what is left
				t.Stop()
				return
			case <-t.C:
			}
		}
		if w.failure() == nil && w.appended.Load() > w.durable.Load() {
			if err := s.waitDurable(w.appended.Load()); err != nil {
				// Changes already acknowledged may not survive an OS crash
				// or power loss; nobody waits for this sync to hear of it.
				s.log.Error("vfs: syncing the log failed; the store refuses changes until it is reopened", "err", err)
			}
		}
		w.runAfters()
	}
}

// runAfters runs, outside afterMu, the clean-up of every change an fsync
// now covers. A clean-up whose change is not durable stays queued: after a
// failed sync, forever (what it would remove is left for Open's clean-up).
func (w *wal) runAfters() {
	w.runMu.Lock()
	defer w.runMu.Unlock()
	durable := w.durable.Load()
	w.afterMu.Lock()
	var ready []deferredWait
	keep := w.afters[:0]
	for _, a := range w.afters {
		if a.lsn <= durable {
			ready = append(ready, a)
		} else {
			keep = append(keep, a)
		}
	}
	clear(w.afters[len(keep):])
	w.afters = keep
	w.afterMu.Unlock()
	for _, a := range ready {
		a.after()
	}
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
	w.durable.Store(w.appended.Load())
	clear(w.dirty)
	w.rootsDirty = false
	w.limit = s.checkpointBytes
	return nil
}
