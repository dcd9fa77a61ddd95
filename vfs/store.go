package vfs

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/afero"
)

// ID is the stable identity of a directory or file: 32 lower-case hex
// characters from Options.Rand. It does not change on rename or move. IDs are
// 128-bit random values, so a deleted object's ID is not handed out again
// (the store also refuses a collision with any live object).
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

// Options configure a Store. The zero value is ready to use.
type Options struct {
	Clock       func() time.Time // nil = time.Now
	Rand        io.Reader        // source of IDs; nil = crypto/rand.Reader
	MaxMetadata int              // bytes of user metadata; 0 = DefaultMaxMetadata
	MaxFileSize int64            // bytes of file content; 0 = DefaultMaxFileSize
	MaxEntries  int              // entries (dirs + files) per directory; 0 = DefaultMaxEntries
	MaxDepth    int              // path segments below a root; 0 = DefaultMaxDepth

	// CheckpointBytes is the size of the write-ahead log past which a change
	// also writes every changed manifest and empties the log; 0 =
	// DefaultCheckpointBytes.
	CheckpointBytes int64

	// Sync says when a change returns relative to the fsync of the log
	// record that commits it; the zero value is SyncBackground.
	Sync Sync
	// Logger receives what nobody waits to hear: a failed background sync
	// of the log. nil = discard.
	Logger *slog.Logger

	// SyncDelay is how long, under SyncBackground, the flusher waits after
	// a change before the fsync that covers it, so that changes coming
	// together share one fsync; 0 = DefaultSyncDelay, < 0 = no wait.
	SyncDelay time.Duration
}

// DefaultSyncDelay is the flusher's wait when Options.SyncDelay is 0. A
// crash of the OS or a power loss under SyncBackground can lose the changes
// of about this long plus one or two fsyncs. Every fsync costs the machine a
// device round trip and about 0.3 ms of CPU here (docs/security.md, durability);
// 10 ms keeps that to at most 100 a second under a steady stream of changes
// (2 ms, the earlier default, cost a steady writer a quarter more daemon CPU
// per change), and the window at 1/500 of ext4's default 5 s commit
// interval.
const DefaultSyncDelay = 10 * time.Millisecond

// Sync says when a change returns (and so when the daemon acknowledges it)
// relative to the fsync of the log record that commits it. In every mode
// the store is never left half-changed: after a crash of the process, of
// the OS or of the power, it holds exactly the changes whose records reached
// the disk, a prefix of those made, each whole.
type Sync int

const (
	// SyncBackground, the default: a change returns once its record is
	// written to the log, that is handed to the OS, so it survives a crash
	// of the process (kill -9) at any moment. A flusher goroutine owned by
	// the store fsyncs the log Options.SyncDelay after a change, so a crash
	// of the OS or a power loss can lose only the changes of the last few
	// milliseconds (the delay plus one or two fsyncs). File content is synced
	// before its record is appended in both modes.
	SyncBackground Sync = iota
	// SyncCommit: a change returns only once an fsync of the log covers
	// it, so an acknowledged change survives a power loss too.
	// Concurrent changes share fsyncs (group commit), and under Defer one
	// caller's pipelined changes do too.
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

// Store is a set of roots, each a tree of directories and files with metadata,
// kept in an afero file system. It is safe for concurrent use.
type Store struct {
	fs     afero.Fs
	clock  func() time.Time
	randMu sync.Mutex
	rand   io.Reader

	maxMeta    int
	maxFile    int64
	maxEntries int
	maxDepth   int

	checkpointBytes int64
	wal             wal // the write-ahead log; see wal.go
	log             *slog.Logger

	wg sync.WaitGroup // operations in progress, waited for by Close

	mu     sync.RWMutex // guards everything below and every node
	closed bool
	failed error // set when a write failed after its commit point
	roots  map[string]*dirNode
	dirs   map[ID]*dirNode
	files  map[ID]*fileNode
}

type dirNode struct {
	id                ID
	root              Root     // set on root nodes only
	parent            *dirNode // nil for a root
	name              string
	created, modified time.Time
	private           bool
	versioned         bool
	meta              []byte
	dirs              map[string]*dirNode
	files             map[string]*fileNode
	deleted           bool
}

type fileNode struct {
	id                ID
	parent            *dirNode
	name              string
	size              int64
	blob              string // "" when size is 0 and no blob exists
	created, modified time.Time
	meta              []byte
	deleted           bool

	wmu sync.Mutex // serialises content writes; taken before Store.mu
}

func (d *dirNode) entries() int { return len(d.dirs) + len(d.files) }

func newDirNode(id ID, now time.Time) *dirNode {
	return &dirNode{id: id, created: now, modified: now,
		dirs: map[string]*dirNode{}, files: map[string]*fileNode{}}
}

// On-disk forms.

type rootsFile struct {
	V     int           `json:"v"`
	Roots map[string]ID `json:"roots"`
}

type dirManifest struct {
	V  int `json:"v"`
	ID ID  `json:"id"`
	dirAttrs
	Dirs  map[string]ID         `json:"dirs"`
	Files map[string]fileRecord `json:"files"`
}

// dirAttrs are a directory's own attributes, as a manifest and a log record
// write them (embedded: their fields are the embedding object's).
type dirAttrs struct {
	Created   int64  `json:"created"`
	Modified  int64  `json:"modified"`
	Private   bool   `json:"private,omitempty"`
	Versioned bool   `json:"versioned,omitempty"`
	Meta      []byte `json:"meta,omitempty"`
}

type fileRecord struct {
	ID       ID     `json:"id"`
	Size     int64  `json:"size"`
	Blob     string `json:"blob,omitempty"`
	Created  int64  `json:"created"`
	Modified int64  `json:"modified"`
	Meta     []byte `json:"meta,omitempty"`
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// Open opens the store kept in fsys, creating an empty one if fsys is empty.
// It finishes or discards whatever a crash interrupted: it replays a
// committed journal, removes temporary files, manifests and blobs that no
// committed manifest references, and trims blobs back to their committed
// size. It returns an error wrapping ErrCorrupt if the store breaks its
// invariants (then nothing is removed).
func Open(fsys afero.Fs, opts Options) (*Store, error) {
	if fsys == nil {
		return nil, fmt.Errorf("%w: nil file system", ErrIO)
	}
	s := &Store{
		fs: fsys, clock: opts.Clock, rand: opts.Rand,
		maxMeta: opts.MaxMetadata, maxFile: opts.MaxFileSize,
		maxEntries: opts.MaxEntries, maxDepth: opts.MaxDepth, checkpointBytes: opts.CheckpointBytes,
		wal:   wal{mode: opts.Sync, delay: opts.SyncDelay},
		roots: map[string]*dirNode{}, dirs: map[ID]*dirNode{}, files: map[ID]*fileNode{},
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
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
	if s.checkpointBytes <= 0 {
		s.checkpointBytes = DefaultCheckpointBytes
	}
	s.log = opts.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.wal.delay == 0 {
		s.wal.delay = DefaultSyncDelay
	}
	if s.wal.mode != SyncBackground && s.wal.mode != SyncCommit {
		return nil, fmt.Errorf("vfs: open: unknown sync mode %d", int(s.wal.mode))
	}
	s.wal.crc = crc32.MakeTable(crc32.Castagnoli)
	s.wal.dirty = map[*dirNode]bool{}
	s.wal.limit = s.checkpointBytes
	for _, d := range []string{dirsDir, blobsDir, tmpDir} {
		if err := s.ensureDir(d); err != nil {
			return nil, fmt.Errorf("vfs: open: %w", err)
		}
	}
	if err := s.removeAllIn(tmpDir, nil); err != nil {
		return nil, fmt.Errorf("vfs: open: %w", err)
	}
	if err := s.replayJournal(); err != nil {
		return nil, fmt.Errorf("vfs: open: %w", err)
	}
	if err := s.replayLog(); err != nil {
		return nil, fmt.Errorf("vfs: open: %w", err)
	}
	if err := s.load(); err != nil {
		s.wal.f.Close()
		return nil, fmt.Errorf("vfs: open: %w", err)
	}
	if err := s.cleanup(); err != nil {
		s.wal.f.Close()
		return nil, fmt.Errorf("vfs: open: %w", err)
	}
	s.startFlusher()
	return s, nil
}

// load reads roots.json and every manifest reachable from it.
func (s *Store) load() error {
	data, err := s.readRegular(rootsName)
	if isNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", rootsName, wrapOpenErr(err))
	}
	var rf rootsFile
	if err := json.Unmarshal(data, &rf); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, rootsName, err)
	}
	type item struct {
		id     ID
		parent *dirNode
		name   string
	}
	var queue []item
	keys := make([]string, 0, len(rf.Roots))
	for k := range rf.Roots {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r, ok := parseRootKey(k)
		if !ok {
			return fmt.Errorf("%w: %s: bad root key %q", ErrCorrupt, rootsName, k)
		}
		id := rf.Roots[k]
		d, err := s.loadDir(id)
		if err != nil {
			return err
		}
		d.root = r
		s.roots[k] = d.dirNode
		for name, cid := range d.pendingDirs {
			queue = append(queue, item{cid, d.dirNode, name})
		}
		d.pendingDirs = nil
	}
	for len(queue) > 0 {
		it := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		d, err := s.loadDir(it.id)
		if err != nil {
			return err
		}
		d.parent, d.name = it.parent, it.name
		it.parent.dirs[it.name] = d.dirNode
		for name, cid := range d.pendingDirs {
			queue = append(queue, item{cid, d.dirNode, name})
		}
		d.pendingDirs = nil
	}
	return nil
}

// loadDir reads and checks one manifest; its child directories are left in
// pendingDirs for load to resolve.
func (s *Store) loadDir(id ID) (*loadedDir, error) {
	if !validHexID(string(id)) {
		return nil, fmt.Errorf("%w: bad directory id %q", ErrCorrupt, id)
	}
	if _, dup := s.dirs[id]; dup {
		return nil, fmt.Errorf("%w: directory %s is referenced twice", ErrCorrupt, id)
	}
	data, err := s.readRegular(manifestName(id))
	if err != nil {
		if isNotExist(err) {
			return nil, fmt.Errorf("%w: manifest of directory %s is missing", ErrCorrupt, id)
		}
		return nil, fmt.Errorf("reading manifest %s: %w", id, wrapOpenErr(err))
	}
	var m dirManifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: manifest %s: %v", ErrCorrupt, id, err)
	}
	if m.ID != id {
		return nil, fmt.Errorf("%w: manifest %s holds id %q", ErrCorrupt, id, m.ID)
	}
	d := &loadedDir{dirNode: newDirNode(id, fromNanos(m.Created))}
	d.modified = fromNanos(m.Modified)
	d.private, d.versioned, d.meta = m.Private, m.Versioned, m.Meta
	s.dirs[id] = d.dirNode
	for name := range m.Dirs {
		if err := ValidName(name); err != nil {
			return nil, fmt.Errorf("%w: manifest %s: %v", ErrCorrupt, id, err)
		}
	}
	d.pendingDirs = m.Dirs
	for name, fr := range m.Files {
		if err := ValidName(name); err != nil {
			return nil, fmt.Errorf("%w: manifest %s: %v", ErrCorrupt, id, err)
		}
		if _, dup := m.Dirs[name]; dup {
			return nil, fmt.Errorf("%w: manifest %s: %q is both a file and a directory", ErrCorrupt, id, name)
		}
		if !validHexID(string(fr.ID)) || fr.Size < 0 || (fr.Blob == "" && fr.Size != 0) || (fr.Blob != "" && !validHexID(fr.Blob)) {
			return nil, fmt.Errorf("%w: manifest %s: bad record for file %q", ErrCorrupt, id, name)
		}
		if _, dup := s.files[fr.ID]; dup {
			return nil, fmt.Errorf("%w: file %s is referenced twice", ErrCorrupt, fr.ID)
		}
		f := &fileNode{id: fr.ID, parent: d.dirNode, name: name, size: fr.Size, blob: fr.Blob,
			created: fromNanos(fr.Created), modified: fromNanos(fr.Modified), meta: fr.Meta}
		d.files[name] = f
		s.files[fr.ID] = f
	}
	return d, nil
}

type loadedDir struct {
	*dirNode
	pendingDirs map[string]ID
}

// cleanup removes what no committed manifest references and trims blobs.
func (s *Store) cleanup() error {
	liveDirs := map[string]bool{}
	for id := range s.dirs {
		liveDirs[string(id)+".json"] = true
	}
	liveBlobs := map[string]*fileNode{}
	for _, f := range s.files {
		if f.blob != "" {
			if _, dup := liveBlobs[f.blob]; dup {
				return fmt.Errorf("%w: blob %s is shared by two files", ErrCorrupt, f.blob)
			}
			liveBlobs[f.blob] = f
		}
	}
	// Check every live blob before removing anything.
	for b, f := range liveBlobs {
		fi, err := s.lstat(blobName(b))
		if err != nil {
			if isNotExist(err) {
				return fmt.Errorf("%w: content of file %s is missing", ErrCorrupt, f.id)
			}
			return ioErr("checking blob "+b, err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%w: content of file %s is not a regular file", ErrCorrupt, f.id)
		}
		if fi.Size() < f.size {
			return fmt.Errorf("%w: content of file %s is %d bytes, manifest says %d", ErrCorrupt, f.id, fi.Size(), f.size)
		}
		if fi.Size() > f.size {
			// A tail written in place whose size was never committed.
			h, err := s.openRegular(blobName(b), os.O_WRONLY)
			if err != nil {
				return ioErr("opening blob "+b, err)
			}
			err = h.Truncate(f.size)
			if err == nil {
				err = h.Sync()
			}
			h.Close()
			if err != nil {
				return ioErr("trimming blob "+b, err)
			}
		}
	}
	if err := s.removeAllIn(dirsDir, liveDirs); err != nil {
		return err
	}
	keep := map[string]bool{}
	for b := range liveBlobs {
		keep[b] = true
	}
	return s.removeAllIn(blobsDir, keep)
}

// removeAllIn removes every entry of dir whose name is not in keep. It never
// follows symlinks (RemoveAll removes a link, not its target).
func (s *Store) removeAllIn(dir string, keep map[string]bool) error {
	f, err := s.fs.Open(dir)
	if err != nil {
		return ioErr("listing "+dir, err)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return ioErr("listing "+dir, err)
	}
	removed := false
	for _, n := range names {
		if keep[n] || strings.ContainsAny(n, `/\`) || n == "." || n == ".." {
			continue
		}
		if err := s.fs.RemoveAll(dir + "/" + n); err != nil {
			return ioErr("removing stale "+dir+" entry", err)
		}
		removed = true
	}
	if removed {
		return s.syncDir(dir)
	}
	return nil
}

// Close waits for operations in progress, checkpoints the log and closes
// the store. Later calls return ErrClosed. Close is idempotent; it returns
// the checkpoint's error on the first call (nothing is lost then: the next
// Open replays the log) and nil after.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.wg.Wait()
	s.stopFlusher()
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if s.failed == nil {
		err = s.checkpoint()
	}
	s.wal.runAfters()
	if cerr := s.wal.f.Close(); err == nil && cerr != nil {
		err = ioErr("closing the log", cerr)
	}
	if err != nil {
		return fmt.Errorf("vfs: close: %w", err)
	}
	return nil
}

// begin registers an operation; the caller must call s.wg.Done.
func (s *Store) begin() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	s.wg.Add(1)
	return nil
}

// now returns the clock's time at nanosecond precision, in UTC, without a
// monotonic reading, so that it survives a round trip through a manifest.
func (s *Store) now() time.Time { return fromNanos(s.clock().UnixNano()) }

// later returns now, or prev+1ns if the clock has not moved past prev, so that
// every change moves Modified forward.
func later(prev, now time.Time) time.Time {
	if now.After(prev) {
		return now
	}
	return prev.Add(time.Nanosecond)
}

// newID returns an ID used by no live directory or file. Caller holds s.mu.
func (s *Store) newID() (ID, error) {
	for range 8 {
		h, err := s.newHex()
		if err != nil {
			return "", err
		}
		id := ID(h)
		if s.dirs[id] == nil && s.files[id] == nil {
			return id, nil
		}
	}
	return "", fmt.Errorf("%w: the random source keeps repeating IDs", ErrIO)
}

// Encoding. Caller holds s.mu.

// manifest is d's on-disk form.
func (d *dirNode) manifest() dirManifest {
	m := dirManifest{V: 1, ID: d.id, dirAttrs: d.attrs(),
		Dirs: make(map[string]ID, len(d.dirs)), Files: make(map[string]fileRecord, len(d.files))}
	for n, c := range d.dirs {
		m.Dirs[n] = c.id
	}
	for n, f := range d.files {
		m.Files[n] = f.record()
	}
	return m
}

// attrs is d's own attributes in their on-disk form.
func (d *dirNode) attrs() dirAttrs {
	return dirAttrs{Created: d.created.UnixNano(), Modified: d.modified.UnixNano(),
		Private: d.private, Versioned: d.versioned, Meta: d.meta}
}

func (f *fileNode) record() fileRecord {
	return fileRecord{ID: f.id, Size: f.size, Blob: f.blob,
		Created: f.created.UnixNano(), Modified: f.modified.UnixNano(), Meta: f.meta}
}

// logDir is d's part of a log record: its attributes and the entries names
// as they are now.
func (d *dirNode) logDir(names []string) logDir {
	l := logDir{ID: d.id, dirAttrs: d.attrs()}
	for _, n := range names {
		if c := d.dirs[n]; c != nil {
			if l.Dirs == nil {
				l.Dirs = map[string]ID{}
			}
			l.Dirs[n] = c.id
		} else if f := d.files[n]; f != nil {
			if l.Files == nil {
				l.Files = map[string]fileRecord{}
			}
			l.Files[n] = f.record()
		} else if !slices.Contains(l.Gone, n) {
			l.Gone = append(l.Gone, n)
		}
	}
	return l
}

func (s *Store) manifestWrite(d *dirNode) (write, error) {
	data, err := json.Marshal(d.manifest())
	if err != nil {
		return write{}, fmt.Errorf("%w: encoding manifest %s: %w", ErrIO, d.id, err)
	}
	return write{manifestName(d.id), data}, nil
}

// rootsTable is the on-disk form of the roots.
func (s *Store) rootsTable() rootsFile {
	rf := rootsFile{V: 1, Roots: make(map[string]ID, len(s.roots))}
	for k, d := range s.roots {
		rf.Roots[k] = d.id
	}
	return rf
}

func (s *Store) rootsWrite() (write, error) {
	data, err := json.Marshal(s.rootsTable())
	if err != nil {
		return write{}, fmt.Errorf("%w: encoding roots: %w", ErrIO, err)
	}
	return write{rootsName, data}, nil
}

// checkWritable refuses mutations after a failure past a commit point.
// Caller holds s.mu.
func (s *Store) checkWritable() error {
	failed := s.failed
	if failed == nil {
		failed = s.wal.failure()
	}
	if failed != nil {
		return fmt.Errorf("%w: an earlier write failed after its commit point; reopen the store (%v)", ErrIO, failed)
	}
	return nil
}

// dirChange is a directory a change modifies and the names of the entries
// it adds, replaces or removes (none when only the directory's own
// attributes change).
type dirChange struct {
	d     *dirNode
	names []string
}

// commit commits a change already made in memory: one log record holding
// the manifests of fresh (directories new in this change), the attributes
// and touched entries of each of dirs, and the roots table if roots. On an
// error the record was not appended: commit calls undo and the store is
// unchanged. The change is durable once the caller's update returns. Caller
// holds s.mu for writing, inside update.
func (s *Store) commit(fresh []*dirNode, dirs []dirChange, roots bool, undo func()) error {
	rec := logRecord{V: 1}
	all := make([]*dirNode, 0, len(fresh)+len(dirs))
	for _, d := range fresh {
		rec.Fresh = append(rec.Fresh, d.manifest())
		all = append(all, d)
	}
	for _, c := range dirs {
		rec.Dirs = append(rec.Dirs, c.d.logDir(c.names))
		all = append(all, c.d)
	}
	if roots {
		rf := s.rootsTable()
		rec.Roots = &rf
	}
	if err := s.logCommit(&rec, all, roots); err != nil {
		if undo != nil {
			undo()
		}
		return err
	}
	return nil
}

// Info builders. Caller holds s.mu.

func cloneMeta(b []byte) []byte { return append([]byte{}, b...) }

func (d *dirNode) info() DirInfo {
	return DirInfo{ID: d.id, Name: d.name, Created: d.created, Modified: d.modified,
		Private: d.private, Versioned: d.versioned, UserMetadata: cloneMeta(d.meta)}
}

func (f *fileNode) info() FileInfo {
	return FileInfo{ID: f.id, Name: f.name, Size: f.size, Created: f.created, Modified: f.modified,
		UserMetadata: cloneMeta(f.meta)}
}

// storedMeta is the form user metadata is kept in: nil when empty.
func storedMeta(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}
