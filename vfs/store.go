package vfs

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/afero"
	"modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
)

// ID is the stable identity of a directory or file: 32 lower-case hex
// characters from Options.Rand. It does not change on rename or move. IDs are
// 128-bit random values, so a deleted object's ID is not handed out again
// (the store also refuses a collision with any live directory; LookupDir
// finds directories by ID).
type ID string

// DirInfo describes a directory. The Name of a root is "".
type DirInfo struct {
	ID                ID
	Name              string
	Created, Modified time.Time // UTC, nanosecond precision
	Private           bool
	Versioned         bool
	UserMetadata      []byte // never nil; a copy the caller may keep
}

// FileInfo describes a file.
type FileInfo struct {
	ID                ID
	Name              string
	Size              int64
	Created, Modified time.Time // UTC, nanosecond precision
	UserMetadata      []byte    // never nil; a copy the caller may keep
}

// Listing is a directory with its direct children. Dirs and Files are sorted
// by name in byte order.
type Listing struct {
	Info  DirInfo
	Dirs  []DirInfo
	Files []FileInfo
}

// Default limits used when the Options field is 0.
const (
	DefaultMaxMetadata = 64 << 10
	DefaultMaxFileSize = 1 << 30
	DefaultMaxEntries  = 100_000
	DefaultMaxDepth    = 1024
)

// DatabaseName is the name of the SQLite database in the store's directory
// (with its -wal and -shm files beside it while the store is open).
const DatabaseName = "store.db"

// Options configure a Store. The zero value is ready to use.
type Options struct {
	Clock       func() time.Time // nil = time.Now
	Rand        io.Reader        // source of IDs; nil = crypto/rand.Reader
	MaxMetadata int              // bytes of user metadata; 0 = DefaultMaxMetadata
	MaxFileSize int64            // bytes of file content; 0 = DefaultMaxFileSize
	MaxEntries  int              // entries (dirs + files) per directory; 0 = DefaultMaxEntries
	MaxDepth    int              // path segments below a root; 0 = DefaultMaxDepth

	// AppQuota bounds what each app holds: its private root and what it
	// wrote in SAFEDrive together (see SharedRootFor). A zero field takes
	// the default (DefaultAppEntries, ...), a negative one means no limit.
	AppQuota Quota
	// SharedQuota bounds SAFEDrive as a whole, whoever wrote it. A zero
	// field takes the default (DefaultSharedEntries, ...), a negative one
	// means no limit.
	SharedQuota Quota

	// Sync is the durability of a change once its method returns; the zero
	// value is SyncBackground.
	Sync Sync
	// Logger receives what nobody waits to hear (a committed blob that
	// could not be moved into place, a dropped blob that could not be
	// removed: both are finished by the next Open). nil = discard.
	Logger *slog.Logger

	// ReserveBytes is the free space new content must leave on the disk
	// holding the database, so that the database can still grow a little:
	// deletes (which free space) and other small changes go on when content
	// has filled the disk. Content that would leave less is refused with
	// ErrNoSpace. 0 = DefaultReserveBytes; negative = no reserve. It is not
	// enforced for an in-memory database or where the OS cannot tell the
	// free space.
	ReserveBytes int64

	// Database is the host path of the SQLite database. "" means: the
	// file DatabaseName in the directory fsys is rooted at, when fsys is an
	// afero.BasePathFs over the host file system (as the daemon passes);
	// a private in-memory database, gone at Close, when fsys is an
	// afero.MemMapFs (tests); any other fsys needs Database set.
	Database string

	// CheckpointBytes had a meaning for the store before SQLite; it is
	// ignored.
	//
	// Deprecated: SQLite checkpoints its own write-ahead log.
	CheckpointBytes int64
	// SyncDelay had a meaning for the store before SQLite; it is ignored.
	//
	// Deprecated: a change is durable per Sync when it returns.
	SyncDelay time.Duration
}

// DefaultReserveBytes is Options.ReserveBytes when it is 0.
const DefaultReserveBytes = 64 << 20

// DefaultSyncDelay is the old store's default Options.SyncDelay, kept so that
// callers compile.
//
// Deprecated: Options.SyncDelay is ignored.
const DefaultSyncDelay = 10 * time.Millisecond

// Sync is the durability of a change once its method returns (and so once
// the daemon acknowledges it). In both modes a change is one SQLite
// transaction in a write-ahead-log database: after any crash the store
// holds each change whole or not at all, and a file's content always
// matches its size and metadata (content is fsynced before the row that
// points at it commits, in both modes).
type Sync int

const (
	// SyncBackground, the default, is SQLite's synchronous=NORMAL: a
	// change that returned survives a crash of the daemon (kill -9) at any
	// moment. A crash of the OS or a power loss may lose the last changes,
	// but never consistency: the store keeps a prefix of the changes, each
	// whole.
	SyncBackground Sync = iota
	// SyncCommit is SQLite's synchronous=FULL: a change returns once its
	// commit is fsynced, so it survives a power loss too.
	SyncCommit
)

// String returns the mode's name, as the daemon's --sync flag spells it.
func (m Sync) String() string {
	switch m {
	case SyncBackground:
		return "background"
	case SyncCommit:
		return "commit"
	}
	return fmt.Sprintf("Sync(%d)", int(m))
}

// ParseSync returns the mode String spells as name.
func ParseSync(name string) (Sync, error) {
	for _, m := range []Sync{SyncBackground, SyncCommit} {
		if name == m.String() {
			return m, nil
		}
	}
	return 0, fmt.Errorf("vfs: unknown sync mode %q (want background or commit)", name)
}

// pragma is SQLite's synchronous setting for the mode.
func (m Sync) pragma() string {
	if m == SyncCommit {
		return "FULL"
	}
	return "NORMAL"
}

// Store is a set of roots, each a tree of directories and files with metadata,
// kept in one SQLite database and blob files in an afero file system. It is
// safe for concurrent use.
type Store struct {
	fs     afero.Fs
	clock  func() time.Time
	randMu sync.Mutex
	rand   io.Reader
	log    *slog.Logger
	mode   Sync

	maxMeta    int
	maxFile    int64
	maxEntries int
	maxDepth   int
	appQuota   Quota
	shared     Quota
	reserve    int64  // Options.ReserveBytes
	dbDir      string // the host directory of the database ("" in memory)

	// wdb and rdb open the connections: writer holds the one writer
	// connection (taking it from the channel serialises write
	// transactions in Go, so that they never meet SQLITE_BUSY from each
	// other), readers the reader connections (in WAL mode they read beside
	// the writer). Every database access goes through them.
	wdb, rdb  *sql.DB
	writer    chan *dbConn
	readers   chan *dbConn
	memory    bool // the database is in memory (no WAL)
	fileLocks fileLocks
	roots     rootCache
	ckpt      checkpointer
	collector collector

	// keys are the store's keys, nil while locked (keys.go).
	keyMu sync.RWMutex
	keys  *keyset

	lifeMu sync.Mutex
	closed bool
	wg     sync.WaitGroup // operations in progress, waited for by Close
}

// readers is the number of connections that serve reads beside the writer.
const readers = 4

// Open opens the store kept in fsys (its blobs) and its SQLite database
// (Options.Database), creating an empty store if there is none. It finishes
// what a crash interrupted: it removes the blobs of dropped content the
// garbage table still lists, and settles incomingDir (a blob a row points at
// is moved into place, any other is removed). It returns an error wrapping
// ErrOldFormat for a directory holding the store from before SQLite, and
// ErrCorrupt if the store's own directories are not directories.
func Open(fsys afero.Fs, opts Options) (*Store, error) {
	if fsys == nil {
		return nil, fmt.Errorf("%w: nil file system", ErrIO)
	}
	s := &Store{
		fs: fsys, clock: opts.Clock, rand: opts.Rand, log: opts.Logger, mode: opts.Sync,
		maxMeta: opts.MaxMetadata, maxFile: opts.MaxFileSize, maxEntries: opts.MaxEntries, maxDepth: opts.MaxDepth,
		appQuota: opts.AppQuota.withDefaults(Quota{DefaultAppEntries, DefaultAppContentBytes, DefaultAppMetadataBytes}),
		shared:   opts.SharedQuota.withDefaults(Quota{DefaultSharedEntries, DefaultSharedContentBytes, DefaultSharedMetadataBytes}),
		writer:   make(chan *dbConn, 1), readers: make(chan *dbConn, readers),
	}
	s.fileLocks.m = map[int64]*fileLock{}
	s.collector.s = s
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxMeta <= 0 {
		s.maxMeta = DefaultMaxMetadata
	}
	if s.maxFile <= 0 {
		s.maxFile = DefaultMaxFileSize
	}
	if s.maxEntries <= 0 {
		s.maxEntries = DefaultMaxEntries
	}
	if s.maxDepth <= 0 {
		s.maxDepth = DefaultMaxDepth
	}
	s.reserve = opts.ReserveBytes
	if s.reserve == 0 {
		s.reserve = DefaultReserveBytes
	}
	if s.mode != SyncBackground && s.mode != SyncCommit {
		return nil, fmt.Errorf("vfs: open: unknown sync mode %d", int(s.mode))
	}
	if err := s.checkOldFormat(); err != nil {
		return nil, fmt.Errorf("vfs: open: %w", err)
	}
	for _, d := range []string{contentDir, incomingDir} {
		if err := s.ensureDir(d); err != nil {
			return nil, fmt.Errorf("vfs: open: %w", err)
		}
	}
	if err := s.openDB(opts.Database); err != nil {
		return nil, fmt.Errorf("vfs: open: %w", err)
	}
	ctx := context.Background()
	if err := s.recover(ctx); err != nil {
		s.closeDB()
		return nil, fmt.Errorf("vfs: open: %w", err)
	}
	s.collector.start()
	return s, nil
}

// openDB opens the writer and the readers on the database at path (see
// Options.Database) and makes sure it holds the store's tables.
func (s *Store) openDB(path string) error {
	var dsn string
	switch {
	case path != "":
	case isMemMapFs(s.fs):
		s.memory = true
	default:
		p, err := basePathDir(s.fs)
		if err != nil {
			return err
		}
		path = filepath.Join(p, DatabaseName)
	}
	if s.memory {
		// A private in-memory database that every connection of this
		// Store shares (memdb VFS); no WAL, so readers and the writer
		// take turns, under busy_timeout.
		name, err := s.newHex()
		if err != nil {
			return err
		}
		dsn = "file:/vfs-" + name + "?vfs=memdb&_pragma=busy_timeout(10000)"
	} else {
		abs, err := filepath.Abs(path)
		if err != nil {
			return fmt.Errorf("%w: the database path: %w", ErrIO, stripPath(err))
		}
		if fi, err := os.Lstat(abs); err == nil && !fi.Mode().IsRegular() {
			return fmt.Errorf("%w: %s is not a regular file (mode %v)", ErrCorrupt, DatabaseName, fi.Mode().Type())
		} else if err != nil && !isNotExist(err) {
			return ioErr("checking the database", err)
		}
		// SQLite would create the database 0644 (and its -wal and -shm files
		// like it): make it 0600 first.
		f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|oNoFollow, 0o600)
		if err != nil {
			return ioErr("creating the database", err)
		}
		f.Close()
		s.collector.walPath = abs + "-wal"
		s.dbDir = filepath.Dir(abs)
		u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}
		dsn = "file:" + u.EscapedPath() + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
			"&_pragma=synchronous(" + s.mode.pragma() + ")"
	}
	ctx := context.Background()
	wal := ""
	if !s.memory {
		wal = "&_pragma=wal_autocheckpoint(0)" // the checkpointer's job
	}
	wdb, err := sql.Open("sqlite", dsn+"&_pragma=cache_size(-16384)"+wal)
	if err != nil {
		return dbErr("opening the database", err)
	}
	wdb.SetMaxOpenConns(1)
	wc, err := wdb.Conn(ctx)
	if err != nil {
		wdb.Close()
		return dbErr("opening the database", err)
	}
	w := &dbConn{c: wc}
	if err := initSchema(ctx, w); err != nil {
		w.close()
		wdb.Close()
		return err
	}
	if !s.memory {
		var jm string
		if err := wc.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&jm); err != nil {
			w.close()
			wdb.Close()
			return dbErr("reading the journal mode", err)
		}
		if jm != "wal" {
			w.close()
			wdb.Close()
			return fmt.Errorf("%w: the database is in journal mode %q, not wal", ErrIO, jm)
		}
	}
	// Readers' caches are small (2 MiB each): modernc's SQLite is built
	// with SQLITE_ENABLE_MEMORY_MANAGEMENT, under which every connection's
	// page cache draws on one pool. With 8 MiB readers, once listings of
	// a big store had filled them the writer read its pages from disk
	// again at every change (create+delete 1.5x that on an empty store,
	// against 1.07x now; docs/vfs.md, Scale).
	rdb, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)&_pragma=cache_size(-2048)")
	if err != nil {
		w.close()
		wdb.Close()
		return dbErr("opening the database", err)
	}
	rdb.SetMaxOpenConns(readers)
	for range readers {
		rc, err := rdb.Conn(ctx)
		if err != nil {
			for len(s.readers) > 0 {
				(<-s.readers).close()
			}
			rdb.Close()
			w.close()
			wdb.Close()
			return dbErr("opening the database", err)
		}
		s.readers <- &dbConn{c: rc}
	}
	s.writer <- w
	s.wdb, s.rdb = wdb, rdb
	if !s.memory {
		s.ckpt.s = s
		if err := s.ckpt.start(dsn + "&_pragma=cache_size(-1024)"); err != nil {
			s.closeDB()
			return err
		}
	}
	return nil
}

// closeDB closes every connection and the database.
func (s *Store) closeDB() error {
	s.ckpt.halt()
	(<-s.writer).close()
	for range readers {
		(<-s.readers).close()
	}
	err := s.rdb.Close()
	if werr := s.wdb.Close(); err == nil {
		err = werr
	}
	return err
}

func isMemMapFs(fsys afero.Fs) bool {
	_, ok := fsys.(*afero.MemMapFs)
	return ok
}

// basePathDir returns the host directory an afero.BasePathFs over the host
// file system is rooted at: the real path of "." there, if it is the same
// directory the host sees (so a BasePathFs over a MemMapFs is refused).
func basePathDir(fsys afero.Fs) (string, error) {
	bp, ok := fsys.(*afero.BasePathFs)
	if ok {
		real, err := bp.RealPath(".")
		if err == nil {
			hostFi, herr := os.Stat(real)
			fsFi, ferr := fsys.Stat(".")
			if herr == nil && ferr == nil && os.SameFile(hostFi, fsFi) {
				return real, nil
			}
		}
	}
	return "", fmt.Errorf("%w: cannot tell where to keep the database for a file system of type %T: set Options.Database", ErrIO, fsys)
}

// recover finishes what a crash left: the blobs the garbage table lists are
// removed (once SQLite's log is fsynced: what survived a kill -9 may still
// be only in the OS's cache), and incomingDir is settled.
func (s *Store) recover(ctx context.Context) error {
	if err := s.collector.run(ctx); err != nil {
		return err
	}
	return s.sweepIncoming(ctx)
}

// Close waits for operations in progress and closes the store (SQLite
// checkpoints its log as the last connection closes). Later calls return
// ErrClosed. It wipes the keys. Close is idempotent; it returns the first close's error and
// nil after.
func (s *Store) Close() error {
	s.lifeMu.Lock()
	if s.closed {
		s.lifeMu.Unlock()
		return nil
	}
	s.closed = true
	s.lifeMu.Unlock()
	s.wg.Wait()
	s.Lock()
	s.collector.halt()
	// Remove what the last changes dropped now rather than at the next Open.
	cerr := s.collector.run(context.Background())
	if err := s.closeDB(); err != nil {
		return fmt.Errorf("vfs: close: %w", dbErr("closing the database", err))
	}
	if cerr != nil {
		return fmt.Errorf("vfs: close: %w", cerr)
	}
	return nil
}

// begin registers an operation and returns its copy of the keys
// (ErrClosed, ErrLocked); the caller must call s.end with it.
func (s *Store) begin() (*keyset, error) {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	ks, err := s.takeKeys()
	if err != nil {
		return nil, err
	}
	s.wg.Add(1)
	return ks, nil
}

// end ends an operation begin started: it wipes its keys.
func (s *Store) end(ks *keyset) {
	ks.wipe()
	s.wg.Done()
}

// Sync returns once every change made so far survives a power loss too
// (under SyncBackground it fsyncs SQLite's log; under SyncCommit every
// change already does when it returns) and the content those changes
// dropped is removed.
func (s *Store) Sync() error {
	ks, kerr := s.begin()
	if kerr != nil {
		return kerr
	}
	defer s.end(ks)
	if err := s.collector.syncLog(); err != nil {
		return err
	}
	return s.collector.run(context.Background())
}

// now returns the clock's time at nanosecond precision, in UTC, without a
// monotonic reading, so that it survives a round trip through the database.
func (s *Store) now() time.Time { return fromNanos(s.clock().UnixNano()) }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// later returns now, or prev+1ns if the clock has not moved past prev, so that
// every change moves Modified forward.
func later(prev, now time.Time) time.Time {
	if now.After(prev) {
		return now
	}
	return prev.Add(time.Nanosecond)
}

// Deferred is what the store before SQLite used to let a caller acknowledge
// a change once a shared log sync made it durable. A change is now durable
// (per Options.Sync) when its method returns, so a Deferred never has
// anything pending; the type stays so that callers compile.
type Deferred struct{}

// Defer returns ctx and an empty Deferred.
func Defer(ctx context.Context) (context.Context, *Deferred) { return ctx, &Deferred{} }

// Pending reports false: no change waits for durability after it returns.
func (d *Deferred) Pending() bool { return false }

// Ready reports true.
func (d *Deferred) Ready() bool { return true }

// Wait returns nil at once.
func (d *Deferred) Wait() error { return nil }

// roomOnDisk refuses new content of need bytes that would leave less than the
// reserve free on the database's disk.
func (s *Store) roomOnDisk(need int64) error {
	if s.reserve < 0 || s.dbDir == "" {
		return nil
	}
	free, ok := freeBytes(s.dbDir)
	if !ok || free-need >= s.reserve {
		return nil
	}
	return &limitError{ErrNoSpace, fmt.Sprintf("%d bytes of content would leave %d bytes free on the disk, the store keeps %d free for its database",
		need, max(free-need, 0), s.reserve)}
}

// dbConn is one connection to the database and the statements prepared on
// it (by text: a fixed, small set), used by one goroutine at a time (whoever
// took it from Store.writer or Store.readers).
type dbConn struct {
	c     *sql.Conn
	stmts map[string]*sql.Stmt
}

func (d *dbConn) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st := d.stmts[q]; st != nil {
		return st, nil
	}
	st, err := d.c.PrepareContext(ctx, q)
	if err != nil {
		return nil, dbErr("preparing a statement", err)
	}
	if d.stmts == nil {
		d.stmts = map[string]*sql.Stmt{}
	}
	d.stmts[q] = st
	return st, nil
}

// run executes the statement q (prepared once: BEGIN, COMMIT and the like
// cost a prepare each time otherwise).
func (d *dbConn) run(ctx context.Context, q string) (sql.Result, error) {
	st, err := d.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx)
}

func (d *dbConn) close() {
	for _, st := range d.stmts {
		st.Close()
	}
	d.stmts = nil
	d.c.Close()
}

// dbErr wraps an error of the database as ErrIO, or ErrNoSpace when the
// disk is full (errors.Is(err, context.Canceled) and the like still hold).
// SQLite's messages name no host path.
func dbErr(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqliteFull:
			return &limitError{ErrNoSpace, op + ": " + se.Error()}
		case sqliteCorrupt, sqliteNotADB:
			return fmt.Errorf("%w: %s: %w", ErrCorrupt, op, err)
		}
	}
	return fmt.Errorf("%w: %s: %w", ErrIO, op, err)
}

// SQLite's primary result codes that are not plain i/o errors.
const (
	sqliteCorrupt = 11 // SQLITE_CORRUPT
	sqliteFull    = 13 // SQLITE_FULL: the disk is full
	sqliteNotADB  = 26 // SQLITE_NOTADB
)

// idOf returns the API form of a uid.
func idOf(uid []byte) ID { return ID(hex.EncodeToString(uid)) }

// rootCache maps root keys to their nodes, so that a request does not look
// its root up each time. Only read transactions fill it, and only if no
// change of the roots began since they started (gen); a change of the roots
// clears it before and after it commits. So an entry is never older than
// the last committed change of the roots.
type rootCache struct {
	mu  sync.Mutex
	gen uint64
	ids map[string]int64
}

func (c *rootCache) get(key string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.ids[key]
	return id, ok
}

func (c *rootCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *rootCache) put(key string, id int64, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.ids == nil {
		c.ids = map[string]int64{}
	}
	c.ids[key] = id
}

func (c *rootCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.ids)
}

// fileLocks serialises the content writes of one file (by node id), so that
// an append in place never races another write of the same blob. An entry
// lives while someone holds or waits for it.
type fileLocks struct {
	mu sync.Mutex
	m  map[int64]*fileLock
}

type fileLock struct {
	sem  chan struct{} // capacity 1: held
	refs int           // holders and waiters (fileLocks.mu)
}

// lock takes the lock of file id, or returns ctx's error; the caller must
// call the returned function to release it.
func (l *fileLocks) lock(ctx context.Context, id int64) (func(), error) {
	l.mu.Lock()
	fl := l.m[id]
	if fl == nil {
		fl = &fileLock{sem: make(chan struct{}, 1)}
		l.m[id] = fl
	}
	fl.refs++
	l.mu.Unlock()
	release := func() {
		l.mu.Lock()
		fl.refs--
		if fl.refs == 0 {
			delete(l.m, id)
		}
		l.mu.Unlock()
	}
	select {
	case fl.sem <- struct{}{}:
		return func() { <-fl.sem; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
