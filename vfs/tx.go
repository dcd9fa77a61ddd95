package vfs

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Tx is one transaction on the store: the tree operations of the Store (on
// any root, each all or nothing) and the database itself (SQL), for other
// packages that keep their own tables in the store's database (the app
// registry, dns records) and need a change of theirs and of the tree to be
// one. Get one from Store.Update (read-write) or Store.View (read-only). A Tx
// is not safe for concurrent use and is dead once the function it was
// given to returns.
type Tx struct {
	s     *Store
	k     *keyset         // the operation's keys (nil in the store's own upkeep)
	req   context.Context // the caller's context: checked before each operation
	ctx   context.Context // the statements' context (not canceled in Update)
	conn  *dbConn
	write bool
	// nested: operations run inside a savepoint each, so that a failed one
	// leaves nothing behind in a transaction that goes on (Update).
	nested bool
	fresh  [][]byte // blobs made by this transaction, in incomingDir
	// dropped: the transaction put blobs in the garbage table.
	dropped bool
	dead    bool
	// rootGen is the generation of the root cache when the transaction
	// began; rootsChanged says it created or deleted a root.
	rootGen      uint64
	rootsChanged bool
}

// Querier runs statements: what Tx.SQL returns (a *sql.Conn in the middle of
// the store's transaction).
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// SQL returns the connection the transaction runs on, to run the caller's
// own statements on the store's database within it; pass them
// Tx.Context(). Rules: keep to your own tables (named after your package,
// e.g. apps_..., dns_...), record their version in schema_version
// (component = your package), never change the store's tables (nodes,
// roots, usage, garbage), and never run BEGIN, COMMIT, ROLLBACK or
// SAVEPOINT statements: return from the function instead. In a View the
// connection is read-only (query_only).
func (t *Tx) SQL() Querier { return t.conn.c }

// Context returns the context to run SQL statements under: in an Update it
// is never canceled (a canceled caller stops at the next tree operation or
// at the commit, never inside a statement).
func (t *Tx) Context() context.Context { return t.ctx }

// Update runs fn in one write transaction and commits it if fn returns nil:
// every change fn made, through the Tx's tree operations and through SQL,
// is then made at once (durable per Options.Sync when Update returns), or
// none is if fn returns an error (returned as is) or the commit fails.
// Write transactions run one at a time. A tree operation that fails inside
// fn leaves nothing behind, so fn may go on after it.
//
// ctx bounds the wait for the writer and is checked before each tree
// operation and before the commit; once the commit starts it is not
// interrupted.
func (s *Store) Update(ctx context.Context, fn func(tx *Tx) error) error {
	ks, kerr := s.begin()
	if kerr != nil {
		return kerr
	}
	defer s.end(ks)
	return s.update(ctx, ks, true, fn)
}

// View runs fn in one read-only transaction: everything fn reads is one
// consistent state of the store, while writes go on beside it.
func (s *Store) View(ctx context.Context, fn func(tx *Tx) error) error {
	ks, kerr := s.begin()
	if kerr != nil {
		return kerr
	}
	defer s.end(ks)
	return s.view(ctx, ks, fn)
}

// view runs fn in a read transaction on a reader connection.
func (s *Store) view(ctx context.Context, ks *keyset, fn func(tx *Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var c *dbConn
	select {
	case c = <-s.readers:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { s.readers <- c }()
	gen := s.roots.generation()
	if _, err := c.run(context.Background(), "BEGIN"); err != nil {
		return dbErr("starting a read", err)
	}
	t := &Tx{s: s, k: ks, req: ctx, ctx: ctx, conn: c, rootGen: gen}
	err := fn(t)
	t.dead = true
	if _, rerr := c.run(context.Background(), "ROLLBACK"); rerr != nil && err == nil {
		err = dbErr("ending a read", rerr)
	}
	return err
}

// update runs fn in a write transaction (see Update); nested says whether
// each tree operation needs its own savepoint (fn may go on after one
// fails).
func (s *Store) update(ctx context.Context, ks *keyset, nested bool, fn func(tx *Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var c *dbConn
	select {
	case c = <-s.writer:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { s.writer <- c }()
	// The statements run under a context that is never canceled: a
	// canceled request stops at the next check of t.req, never in the
	// middle of a statement or of the commit.
	sctx := context.WithoutCancel(ctx)
	if _, err := c.run(sctx, "BEGIN IMMEDIATE"); err != nil {
		return dbErr("starting a change", err)
	}
	t := &Tx{s: s, k: ks, req: ctx, ctx: sctx, conn: c, write: true, nested: nested}
	defer func() {
		if t.rootsChanged {
			s.roots.invalidate()
		}
	}()
	err := fn(t)
	if err == nil {
		err = ctx.Err()
	}
	t.dead = true
	if err != nil {
		t.rollback()
		t.discardFresh()
		return err
	}
	if _, err := c.run(sctx, "COMMIT"); err != nil {
		// Not committed (SQLite rolls back what a failed COMMIT leaves
		// open; make sure). A blob a row might point at all the same is
		// left in incomingDir for Open to settle.
		t.rollback()
		t.discardUnreferenced()
		return dbErr("committing", err)
	}
	for _, b := range t.fresh {
		s.publish(b)
	}
	if t.dropped {
		s.collector.kick()
	}
	s.ckpt.committed()
	return nil
}

// rollback ends the transaction, if it is still open.
func (t *Tx) rollback() {
	t.conn.run(t.ctx, "ROLLBACK") // "no transaction is active" is fine
}

// discardFresh removes the blobs of a transaction that did not commit.
func (t *Tx) discardFresh() {
	for _, b := range t.fresh {
		t.s.fs.Remove(incomingName(b))
	}
	t.fresh = nil
}

// discardUnreferenced removes, after a failed commit, the fresh blobs no
// committed row points at.
func (t *Tx) discardUnreferenced() {
	for _, b := range t.fresh {
		var one int
		err := t.conn.c.QueryRowContext(t.ctx, `SELECT 1 FROM nodes WHERE blob = ?`, b).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			t.s.fs.Remove(incomingName(b))
		}
	}
	t.fresh = nil
}

// op runs one tree operation: it checks that the Tx is alive and the
// request not canceled, and in an Update runs fn inside a savepoint rolled
// back if fn fails. write says whether fn changes anything.
func (t *Tx) op(write bool, fn func() error) error {
	if t.dead {
		return fmt.Errorf("%w: the transaction is over", ErrClosed)
	}
	if write && !t.write {
		return fmt.Errorf("%w: a change in a read-only transaction", ErrIO)
	}
	if err := t.req.Err(); err != nil {
		return err
	}
	if !write || !t.nested {
		return fn()
	}
	c := t.conn
	if _, err := c.run(t.ctx, "SAVEPOINT vfs_op"); err != nil {
		return dbErr("starting an operation", err)
	}
	nFresh := len(t.fresh)
	dropped := t.dropped
	if err := fn(); err != nil {
		if _, rerr := c.run(t.ctx, "ROLLBACK TO vfs_op"); rerr != nil {
			return errors.Join(err, dbErr("undoing a failed operation", rerr))
		}
		c.run(t.ctx, "RELEASE vfs_op")
		for _, b := range t.fresh[nFresh:] {
			t.s.fs.Remove(incomingName(b))
		}
		t.fresh = t.fresh[:nFresh]
		t.dropped = dropped
		return err
	}
	if _, err := c.run(t.ctx, "RELEASE vfs_op"); err != nil {
		return dbErr("finishing an operation", err)
	}
	return nil
}

// stmt returns the prepared statement q of the transaction's connection.
func (t *Tx) stmt(q string) (*sql.Stmt, error) { return t.conn.stmt(t.ctx, q) }

func (t *Tx) exec(q string, args ...any) (sql.Result, error) {
	st, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(t.ctx, args...)
}

// each runs the query q with args and, for each row, scans it into dest
// and calls fn, until the rows end or fn returns false or an error.
// Errors of the query itself are dbErr(what, ...). The rows are closed
// when it returns (values scanned into sql.RawBytes are valid only
// within fn).
func (t *Tx) each(what, q string, args []any, dest []any, fn func() (more bool, err error)) error {
	st, err := t.stmt(q)
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(t.ctx, args...)
	if err != nil {
		return dbErr(what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return dbErr(what, err)
		}
		if more, err := fn(); err != nil || !more {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return dbErr(what, err)
	}
	return nil
}

func (t *Tx) queryRow(q string, args ...any) (*sql.Row, error) {
	st, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.QueryRowContext(t.ctx, args...), nil
}

// node is one row of nodes, its name and metadata opened.
type node struct {
	id, parent        int64 // parent 0: a root
	kind              int
	uid               []byte
	created, modified int64
	flags             int
	nchild            int64
	size              int64
	blob              []byte // nil: no content
	owner             string
	metaLen           int64
	version           int64  // content version (files)
	name              string // "" for a root
	rootKey           string // a root's Root.String() (its sealed name)
	meta              []byte // never nil
	up                *node  // the parent directory, when resolveFile read it
}

const (
	kindDir  = 0
	kindFile = 1

	flagPrivate   = 1
	flagVersioned = 2
)

const nodeCols = `id, coalesce(parent, 0), nchild, blob, coalesce(owner, ''), rec`

type scanner interface{ Scan(...any) error }

// scanNode reads a row of nodeCols.
func (t *Tx) scanNode(sc scanner) (*node, error) {
	n := &node{}
	var rec []byte
	if err := sc.Scan(&n.id, &n.parent, &n.nchild, &n.blob, &n.owner, &rec); err != nil {
		return nil, err
	}
	if n.blob != nil && len(n.blob) != idBytes {
		return nil, fmt.Errorf("%w: node %d has a bad blob name", ErrCorrupt, n.id)
	}
	if err := t.openRec(n, rec); err != nil {
		return nil, err
	}
	n.uid = bytes.Clone(n.uid)
	return n, nil
}

// openRec fills n's attributes from its record (n.id and n.parent set).
// A record that does not open is ErrIntegrity.
func (t *Tx) openRec(n *node, rec []byte) error {
	f, err := t.k.openRec(n.parent, rec)
	if err != nil {
		return fmt.Errorf("%w (entry %d)", err, n.id)
	}
	n.kind, n.flags, n.uid = int(f.kind), int(f.flags), f.uid
	n.created, n.modified, n.size, n.version = f.created, f.modified, f.size, f.version
	n.name, n.rootKey = string(f.name), ""
	if n.parent == 0 {
		n.name, n.rootKey = "", string(f.name)
	}
	n.meta = f.meta
	n.metaLen = int64(len(n.meta))
	return nil
}

// rec is n's record, sealed.
func (t *Tx) rec(n *node) []byte {
	f := recFields{kind: byte(n.kind), flags: byte(n.flags), uid: n.uid, created: n.created, modified: n.modified,
		size: n.size, version: n.version, name: []byte(n.name), meta: n.meta}
	if n.parent == 0 {
		f.name = []byte(n.rootKey)
	}
	return t.k.sealRec(n.parent, &f)
}

// nodeByID reads the node id, which must exist.
func (t *Tx) nodeByID(id int64) (*node, error) {
	n, err := t.nodeIfAny(id)
	if err == nil && n == nil {
		return nil, fmt.Errorf("%w: node %d is gone", ErrCorrupt, id)
	}
	return n, err
}

// nodeIfAny reads the node id, or returns nil if there is none.
func (t *Tx) nodeIfAny(id int64) (*node, error) {
	row, err := t.queryRow(`SELECT `+nodeCols+` FROM nodes WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	n, err := t.scanNode(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrIntegrity):
		return nil, dbErr("reading an entry", err)
	}
	return n, err
}

// child reads the entry name of the directory dir, or returns nil.
func (t *Tx) child(dir int64, name string) (*node, error) {
	row, err := t.queryRow(`SELECT `+nodeCols+` FROM nodes WHERE parent = ? AND name_key = ?`, dir, t.k.nameKey(dir, name))
	if err != nil {
		return nil, err
	}
	n, err := t.scanNode(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrIntegrity) {
		return nil, dbErr("looking up a name", err)
	}
	return n, err
}

// childKind returns the id and kind of the entry name of dir (ok false if
// there is none).
func (t *Tx) childKind(dir int64, name string) (id int64, kind int, ok bool, err error) {
	row, err := t.queryRow(`SELECT id, kind FROM nodes WHERE parent = ? AND name_key = ?`, dir, t.k.nameKey(dir, name))
	if err != nil {
		return 0, 0, false, err
	}
	switch err := row.Scan(&id, &kind); {
	case errors.Is(err, sql.ErrNoRows):
		return 0, 0, false, nil
	case err != nil:
		return 0, 0, false, dbErr("looking up a name", err)
	}
	return id, kind, true, nil
}

// rootID returns the node of root r.
func (t *Tx) rootID(r Root) (int64, error) {
	if r.kind == kindNone {
		return 0, fmt.Errorf("%w: the zero Root", ErrNoRoot)
	}
	if err := r.valid(); err != nil {
		return 0, err
	}
	key := t.k.hideRoot(r)
	if id, ok := t.s.roots.get(key); ok && !t.rootsChanged {
		return id, nil
	}
	row, err := t.queryRow(`SELECT node FROM roots WHERE key = ?`, key)
	if err != nil {
		return 0, err
	}
	var id int64
	switch err := row.Scan(&id); {
	case errors.Is(err, sql.ErrNoRows):
		return 0, fmt.Errorf("%w: %s", ErrNoRoot, r)
	case err != nil:
		return 0, dbErr("looking up a root", err)
	}
	if !t.write {
		t.s.roots.put(key, id, t.rootGen)
	}
	return id, nil
}

// walk follows p from root r through directories only and returns the id
// of the directory at p.
func (t *Tx) walk(r Root, p Path) (int64, error) {
	id, err := t.rootID(r)
	if err != nil {
		return 0, err
	}
	for i, seg := range p {
		cid, kind, ok, err := t.childKind(id, seg)
		switch {
		case err != nil:
			return 0, err
		case !ok:
			return 0, fmt.Errorf("%w: no directory %q in %s", ErrNotFound, seg, p[:i])
		case kind != kindDir:
			return 0, fmt.Errorf("%w: %q in %s is a file", ErrNotDir, seg, p[:i+1])
		}
		id = cid
	}
	return id, nil
}

// resolveDir reads the directory at p (the root for an empty p).
func (t *Tx) resolveDir(r Root, p Path) (*node, error) {
	if len(p) == 0 {
		id, err := t.walk(r, p)
		if err != nil {
			return nil, err
		}
		return t.nodeByID(id)
	}
	parent, err := t.walk(r, p[:len(p)-1])
	if err != nil {
		return nil, err
	}
	name := p[len(p)-1]
	d, err := t.child(parent, name)
	switch {
	case err != nil:
		return nil, err
	case d == nil:
		return nil, fmt.Errorf("%w: no directory %q in %s", ErrNotFound, name, p[:len(p)-1])
	case d.kind != kindDir:
		return nil, fmt.Errorf("%w: %q in %s is a file", ErrNotDir, name, p)
	}
	return d, nil
}

// resolveFile reads the file at a non-empty p, and its directory (f.up).
func (t *Tx) resolveFile(r Root, p Path) (*node, error) {
	parent, err := t.resolveDir(r, p[:len(p)-1])
	if err != nil {
		return nil, err
	}
	name := p[len(p)-1]
	f, err := t.child(parent.id, name)
	switch {
	case err != nil:
		return nil, err
	case f == nil:
		return nil, fmt.Errorf("%w: no file %q in %s", ErrNotFound, name, p[:len(p)-1])
	case f.kind != kindFile:
		return nil, fmt.Errorf("%w: %s is a directory", ErrNotFile, p)
	}
	f.up = parent
	return f, nil
}

// parentOf returns n's parent directory, read whole.
func (t *Tx) parentOf(n *node) (*node, error) {
	if n.up != nil {
		return n.up, nil
	}
	return t.nodeByID(n.parent)
}

// taken reports an error if name is used in dir by a file or a directory.
func (t *Tx) taken(dir int64, name string, where Path) error {
	_, kind, ok, err := t.childKind(dir, name)
	switch {
	case err != nil:
		return err
	case !ok:
		return nil
	case kind == kindDir:
		return fmt.Errorf("%w: a directory %q is already in %s", ErrExists, name, where)
	}
	return fmt.Errorf("%w: a file %q is already in %s", ErrExists, name, where)
}

func (t *Tx) roomFor(d *node, where Path) error {
	if d.nchild >= int64(t.s.maxEntries) {
		return fmt.Errorf("%w: directory %s has %d entries, the limit is %d", ErrTooLarge, where, d.nchild, t.s.maxEntries)
	}
	return nil
}

// newUID returns 16 random bytes for a new node of the kind: for a
// directory (or root), bytes no directory has, as LookupDir finds
// directories by ID. A file's ID is 128 random bits too but not checked
// against the others (nothing looks a file up by ID; checking would touch
// a random page of an index of every file at each create).
func (t *Tx) newUID(kind int) ([]byte, error) {
	for range 8 {
		b, err := t.s.newBlobID()
		if err != nil || kind != kindDir {
			return b, err
		}
		row, err := t.queryRow(`SELECT 1 FROM nodes WHERE uid = ? AND kind = 0`, b)
		if err != nil {
			return nil, err
		}
		var one int
		switch err := row.Scan(&one); {
		case errors.Is(err, sql.ErrNoRows):
			return b, nil
		case err != nil:
			return nil, dbErr("checking a new id", err)
		}
	}
	return nil, fmt.Errorf("%w: the random source keeps repeating IDs", ErrIO)
}

// insert adds n (kind, uid, times, flags, owner and metadata set) to
// parent under name, and bumps the parent (Modified, entries).
func (t *Tx) insert(parent *node, name string, n *node, now int64) error {
	n.parent, n.name = parent.id, name
	res, err := t.exec(`INSERT INTO nodes (parent, name_key, kind, uid, nchild, size, blob, owner, meta_len, rec)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		parent.id, t.k.nameKey(parent.id, name), n.kind, n.uid, n.nchild, n.size, nullBytes(n.blob), nullString(n.owner),
		len(n.meta), t.rec(n))
	if err != nil {
		return dbErr("adding an entry", err)
	}
	if n.id, err = res.LastInsertId(); err != nil {
		return dbErr("adding an entry", err)
	}
	return t.touch(parent, now, 1)
}

// save writes every attribute of n (its place, name, record and columns).
func (t *Tx) save(n *node) error {
	n.metaLen = int64(len(n.meta))
	var parent any
	if n.parent != 0 {
		parent = n.parent
	}
	if _, err := t.exec(`UPDATE nodes SET parent = ?, name_key = ?, nchild = ?, size = ?, blob = ?, owner = ?, meta_len = ?, rec = ?
		WHERE id = ?`, parent, t.k.nameKey(n.parent, n.name), n.nchild, n.size, nullBytes(n.blob), nullString(n.owner),
		n.metaLen, t.rec(n), n.id); err != nil {
		return dbErr("updating an entry", err)
	}
	return nil
}

// touch moves d's Modified forward to now (at least by 1 ns), adds delta to
// its entries and saves it.
func (t *Tx) touch(d *node, now int64, delta int64) error {
	d.modified = max(now, d.modified+1)
	d.nchild += delta
	return t.save(d)
}

func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Info builders.

func (n *node) dirInfo() DirInfo {
	return DirInfo{ID: idOf(n.uid), Name: n.name, Created: fromNanos(n.created), Modified: fromNanos(n.modified),
		Private: n.flags&flagPrivate != 0, Versioned: n.flags&flagVersioned != 0, UserMetadata: cloneMeta(n.meta)}
}

func (n *node) fileInfo() FileInfo {
	return FileInfo{ID: idOf(n.uid), Name: n.name, Size: n.size, Created: fromNanos(n.created), Modified: fromNanos(n.modified),
		UserMetadata: cloneMeta(n.meta)}
}

func cloneMeta(b []byte) []byte { return append([]byte{}, b...) }
