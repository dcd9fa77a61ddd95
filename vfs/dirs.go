package vfs

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// CreateRoot creates the empty root r. It returns ErrExists if r exists and
// ErrInvalidPath if r's name breaks the name rules.
func (s *Store) CreateRoot(r Root) (DirInfo, error) {
	var info DirInfo
	err := s.change(context.Background(), func(t *Tx) (err error) {
		info, err = t.CreateRoot(r)
		return err
	})
	return info, err
}

// RootExists reports whether r exists (false once the store is closed, or
// if the store cannot be read).
func (s *Store) RootExists(r Root) bool {
	ks, kerr := s.begin()
	if kerr != nil {
		return false
	}
	defer s.end(ks)
	if r.kind == kindNone || r.valid() != nil {
		return false
	}
	err := s.view(context.Background(), ks, func(t *Tx) error {
		_, err := t.rootID(r)
		return err
	})
	return err == nil
}

// DeleteRoot removes r with everything in it, and its usage.
func (s *Store) DeleteRoot(r Root) error {
	return s.change(context.Background(), func(t *Tx) error { return t.DeleteRoot(r) })
}

// CreateDir creates the directory p (its parent must exist) with the given
// flags and user metadata. It returns ErrExists if the name is taken by a
// file or a directory, ErrIsRoot for an empty p, ErrQuota past a quota.
func (s *Store) CreateDir(ctx context.Context, r Root, p Path, private, versioned bool, meta []byte) (DirInfo, error) {
	var info DirInfo
	err := s.change(ctx, func(t *Tx) (err error) {
		info, err = t.CreateDir(r, p, private, versioned, meta)
		return err
	})
	return info, err
}

// DeleteDir removes the directory p with everything in it. An empty p is
// ErrIsRoot (use DeleteRoot); a file at p is ErrNotDir.
func (s *Store) DeleteDir(ctx context.Context, r Root, p Path) error {
	return s.change(ctx, func(t *Tx) error { return t.DeleteDir(r, p) })
}

// GetDir lists the directory p (the root for an empty p).
func (s *Store) GetDir(ctx context.Context, r Root, p Path) (Listing, error) {
	var l Listing
	err := s.read(ctx, func(t *Tx) (err error) {
		l, err = t.GetDir(r, p)
		return err
	})
	return l, err
}

// DirChange lists the changes ModifyDir makes; a nil field is left unchanged.
type DirChange struct {
	Name         *string // new name in the same parent; not allowed on a root
	UserMetadata *[]byte
}

// ModifyDir renames the directory p and/or replaces its user metadata. Both
// bump its Modified time; a rename also bumps the parent's. A change with
// both fields nil, or a rename to the current name alone, changes nothing.
// Renaming a root is ErrIsRoot.
func (s *Store) ModifyDir(ctx context.Context, r Root, p Path, ch DirChange) (DirInfo, error) {
	var info DirInfo
	err := s.change(ctx, func(t *Tx) (err error) {
		info, err = t.ModifyDir(r, p, ch)
		return err
	})
	return info, err
}

// LookupDir finds a directory by ID: where it is now and what it holds.
// It returns ErrNotFound once the directory (or an ancestor) is deleted.
func (s *Store) LookupDir(ctx context.Context, id ID) (Root, Path, DirInfo, error) {
	var (
		r    Root
		p    Path
		info DirInfo
	)
	err := s.read(ctx, func(t *Tx) (err error) {
		r, p, info, err = t.LookupDir(id)
		return err
	})
	return r, p, info, err
}

// MoveDir moves the directory from into the directory toParent of the same
// root, keeping its name, ID and times; both parents' Modified change.
// Moving a root is ErrIsRoot; moving a directory into itself or one of its
// descendants is ErrInvalidPath; a name taken in toParent is ErrExists.
// Moving into the current parent changes nothing.
func (s *Store) MoveDir(ctx context.Context, r Root, from Path, toParent Path) (DirInfo, error) {
	var info DirInfo
	err := s.change(ctx, func(t *Tx) (err error) {
		info, err = t.MoveDir(r, from, toParent)
		return err
	})
	return info, err
}

// change runs one change as its own transaction.
func (s *Store) change(ctx context.Context, fn func(t *Tx) error) error {
	ks, kerr := s.begin()
	if kerr != nil {
		return kerr
	}
	defer s.end(ks)
	return s.update(ctx, ks, false, fn)
}

// read runs one read in its own read transaction.
func (s *Store) read(ctx context.Context, fn func(t *Tx) error) error {
	ks, kerr := s.begin()
	if kerr != nil {
		return kerr
	}
	defer s.end(ks)
	return s.view(ctx, ks, fn)
}

// checkPath validates p and its depth.
func (s *Store) checkPath(p Path) error {
	if len(p) > s.maxDepth {
		return fmt.Errorf("%w: path has %d segments, the limit is %d", ErrTooLarge, len(p), s.maxDepth)
	}
	return p.validate()
}

func (s *Store) checkMeta(what string, meta []byte) error {
	if len(meta) > s.maxMeta {
		return fmt.Errorf("%w: user metadata of %s is %d bytes, the limit is %d", ErrTooLarge, what, len(meta), s.maxMeta)
	}
	return nil
}

// preflight runs the checks every path operation starts with. empty is the
// error for an empty p (nil if the root itself is allowed).
func (s *Store) preflight(p Path, empty error, op string) error {
	if err := s.checkPath(p); err != nil {
		return err
	}
	if len(p) == 0 && empty != nil {
		return fmt.Errorf("%w: cannot %s the root itself", empty, op)
	}
	return nil
}

// ownerFor is the owner column of an entry written through r.
func ownerFor(r Root) string {
	if r.kind == kindShared {
		return r.writer
	}
	return ""
}

// CreateRoot is Store.CreateRoot in the transaction.
func (t *Tx) CreateRoot(r Root) (DirInfo, error) {
	var info DirInfo
	err := t.op(true, func() error {
		if err := r.valid(); err != nil {
			return err
		}
		t.rootsChanged = true
		t.s.roots.invalidate()
		if _, err := t.rootID(r); err == nil {
			return fmt.Errorf("%w: root %s", ErrExists, r)
		} else if !errors.Is(err, ErrNoRoot) {
			return err
		}
		uid, err := t.newUID(kindDir)
		if err != nil {
			return err
		}
		now := t.s.now().UnixNano()
		n := &node{kind: kindDir, uid: uid, created: now, modified: now, meta: []byte{}, rootKey: r.String()}
		res, err := t.exec(`INSERT INTO nodes (parent, name_key, kind, uid, rec) VALUES (NULL, x'', 0, ?, ?)`, uid, t.rec(n))
		if err != nil {
			return dbErr("creating a root", err)
		}
		if n.id, err = res.LastInsertId(); err != nil {
			return dbErr("creating a root", err)
		}
		if _, err := t.exec(`INSERT INTO roots (key, node) VALUES (?, ?)`, t.k.hideRoot(r), n.id); err != nil {
			return dbErr("creating a root", err)
		}
		info = n.dirInfo()
		return nil
	})
	return info, err
}

// DeleteRoot is Store.DeleteRoot in the transaction.
func (t *Tx) DeleteRoot(r Root) error {
	return t.op(true, func() error {
		t.rootsChanged = true
		t.s.roots.invalidate()
		id, err := t.rootID(r)
		if err != nil {
			return err
		}
		if _, err := t.dropTree(id); err != nil {
			return err
		}
		if _, err := t.exec(`DELETE FROM roots WHERE key = ?`, t.k.hideRoot(r)); err != nil {
			return dbErr("deleting a root", err)
		}
		if _, err := t.exec(`DELETE FROM usage WHERE root = ?`, t.k.hideRoot(r)); err != nil {
			return dbErr("deleting a root", err)
		}
		return nil
	})
}

// subtree is a common table expression: sub(id) is the node ? and every
// node below it.
const subtree = `WITH RECURSIVE sub(id) AS (SELECT ? UNION ALL SELECT n.id FROM nodes n JOIN sub ON n.parent = sub.id) `

// dropTree deletes the node id and everything below it, puts their blobs in
// the garbage table, and returns what they counted for, by owner.
func (t *Tx) dropTree(id int64) (map[string]amounts, error) {
	by := map[string]amounts{}
	var owner string
	var a amounts
	err := t.each("reading a tree to delete", subtree+`SELECT coalesce(owner, ''), count(*), coalesce(sum(size), 0), coalesce(sum(meta_len), 0)
		FROM nodes WHERE id IN (SELECT id FROM sub) GROUP BY 1`, []any{id}, []any{&owner, &a.entries, &a.content, &a.meta},
		func() (bool, error) { by[owner] = a; return true, nil })
	if err != nil {
		return nil, err
	}
	res, err := t.exec(subtree+`INSERT INTO garbage (blob) SELECT blob FROM nodes WHERE id IN (SELECT id FROM sub) AND blob IS NOT NULL`, id)
	if err != nil {
		return nil, dbErr("deleting a tree", err)
	}
	if n, err := res.RowsAffected(); err == nil && n > 0 {
		t.dropped = true
	}
	if _, err := t.exec(subtree+`DELETE FROM nodes WHERE id IN (SELECT id FROM sub)`, id); err != nil {
		return nil, dbErr("deleting a tree", err)
	}
	return by, nil
}

// CreateDir is Store.CreateDir in the transaction.
func (t *Tx) CreateDir(r Root, p Path, private, versioned bool, meta []byte) (DirInfo, error) {
	var info DirInfo
	err := t.op(true, func() error {
		if err := t.s.preflight(p, ErrIsRoot, "create"); err != nil {
			return err
		}
		if err := t.s.checkMeta("directory "+p.String(), meta); err != nil {
			return err
		}
		n := &node{kind: kindDir, owner: t.k.hideApp(ownerFor(r)), meta: meta, metaLen: int64(len(meta))}
		if private {
			n.flags |= flagPrivate
		}
		if versioned {
			n.flags |= flagVersioned
		}
		if err := t.create(r, p, n); err != nil {
			return err
		}
		info = n.dirInfo()
		return nil
	})
	return info, err
}

// create adds n (kind, flags, owner and metadata set) at p, which must be
// free in an existing directory with room, within the quotas.
func (t *Tx) create(r Root, p Path, n *node) error {
	parent, err := t.resolveDir(r, p[:len(p)-1])
	if err != nil {
		return err
	}
	name, where := p[len(p)-1], p[:len(p)-1]
	if err := t.taken(parent.id, name, where); err != nil {
		return err
	}
	if err := t.roomFor(parent, where); err != nil {
		return err
	}
	if n.uid, err = t.newUID(n.kind); err != nil {
		return err
	}
	if err := t.charge(t.accountOf(r, n.owner, ownerFor(r)), n.amounts()); err != nil {
		return err
	}
	now := t.s.now().UnixNano()
	n.created, n.modified = now, now
	if n.meta == nil {
		n.meta = []byte{}
	}
	return t.insert(parent, name, n, now)
}

// DeleteDir is Store.DeleteDir in the transaction.
func (t *Tx) DeleteDir(r Root, p Path) error {
	return t.op(true, func() error {
		if err := t.s.preflight(p, ErrIsRoot, "delete"); err != nil {
			return err
		}
		d, err := t.resolveDir(r, p)
		if err != nil {
			return err
		}
		parent, err := t.nodeByID(d.parent)
		if err != nil {
			return err
		}
		by, err := t.dropTree(d.id)
		if err != nil {
			return err
		}
		for owner, a := range by {
			if err := t.charge(t.accountOf(r, owner, ""), a.neg()); err != nil {
				return err
			}
		}
		return t.touch(parent, t.s.now().UnixNano(), -1)
	})
}

// GetDir is Store.GetDir in the transaction.
func (t *Tx) GetDir(r Root, p Path) (Listing, error) {
	var l Listing
	err := t.op(false, func() error {
		if err := t.s.preflight(p, nil, ""); err != nil {
			return err
		}
		d, err := t.resolveDir(r, p)
		if err != nil {
			return err
		}
		l, err = t.list(d)
		return err
	})
	return l, err
}

// list reads the children of d.
func (t *Tx) list(d *node) (Listing, error) {
	l := Listing{Info: d.dirInfo(), Dirs: []DirInfo{}, Files: []FileInfo{}}
	// A directory of more than smallDir entries is read in two passes.
	// First the entries' row ids, from nodes_by_name alone (an index entry
	// ends with its row id: no table page is read). Then their rows in id
	// order, a range of ids at a time: rows made together share table
	// pages, which are so read once and in order, where following
	// nodes_by_name (ordered by a keyed hash) visits them at random, one
	// page read for every few rows when the cache is cold.
	n, total := node{parent: d.id}, int(d.nchild)
	add := func(rec []byte) error {
		if err := t.openRec(&n, rec); err != nil {
			return err
		}
		// n's slices alias rec, which the next row reuses: the infos copy.
		// The first of each kind sizes its list from the entries left.
		if n.kind == kindDir {
			if len(l.Dirs) == 0 {
				l.Dirs = make([]DirInfo, 0, max(total-len(l.Files), 1))
			}
			l.Dirs = append(l.Dirs, n.dirInfo())
		} else {
			if len(l.Files) == 0 {
				l.Files = make([]FileInfo, 0, max(total-len(l.Dirs), 1))
			}
			l.Files = append(l.Files, n.fileInfo())
		}
		return nil
	}
	if d.nchild <= smallDir {
		// A few pages at most: one query, in the name index's order.
		if err := t.rowsOf(d.id, add); err != nil {
			return Listing{}, err
		}
	} else {
		ids, err := t.childIDs(d)
		if err != nil {
			return Listing{}, err
		}
		total = len(ids)
		for len(ids) > 0 {
			run := idRun(ids)
			if err := t.rowsIn(ids[:run], add); err != nil {
				return Listing{}, err
			}
			ids = ids[run:]
		}
	}
	{ // name keys are hashes: sort by the names themselves
		slices.SortFunc(l.Dirs, func(a, b DirInfo) int { return strings.Compare(a.Name, b.Name) })
		slices.SortFunc(l.Files, func(a, b FileInfo) int { return strings.Compare(a.Name, b.Name) })
	}
	return l, nil
}

// smallDir is the most entries a directory has for list to read them in
// one query: their rows fill a few pages at most, which the name index's
// order visits no worse than the rows' own, and the second pass (a query
// more) would cost more than it saves.
const smallDir = 64

// rowsOf calls fn with the record of each entry of the directory dir, in
// the name index's order.
func (t *Tx) rowsOf(dir int64, fn func(rec []byte) error) error {
	var rec sql.RawBytes
	return t.each("listing a directory", `SELECT rec FROM nodes WHERE parent = ?`, []any{dir}, []any{&rec},
		func() (bool, error) { return true, fn(rec) })
}

// childIDs returns the row ids of d's entries, sorted.
func (t *Tx) childIDs(d *node) ([]int64, error) {
	// nchild is a clear column: trusted to size the list only within the
	// store's own limit on entries.
	ids := make([]int64, 0, min(max(d.nchild, 0), int64(t.s.maxEntries)))
	var id int64
	err := t.each("listing a directory", `SELECT id FROM nodes WHERE parent = ?`, []any{d.id}, []any{&id},
		func() (bool, error) { ids = append(ids, id); return true, nil })
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	return ids, nil
}

// idRun is how many of the sorted ids to read with one range of row ids:
// as many as keep the range at most twice their number (plus a few pages'
// worth), so that a range reads few rows that are not asked for.
func idRun(ids []int64) int {
	const slack = 64
	n := 1
	for n < len(ids) && ids[n]-ids[0] < 2*int64(n+1)+slack {
		n++
	}
	return n
}

// rowsIn calls fn with the record of each row whose id is in ids (sorted,
// from childIDs, all present), in id order, reading the range of row ids
// they span and skipping the rows between that are not asked for.
func (t *Tx) rowsIn(ids []int64, fn func(rec []byte) error) error {
	var id int64
	var rec sql.RawBytes
	next := 0
	err := t.each("listing a directory", `SELECT id, rec FROM nodes WHERE id BETWEEN ? AND ?`, []any{ids[0], ids[len(ids)-1]}, []any{&id, &rec},
		func() (bool, error) {
			if id != ids[next] {
				return true, nil // another directory's row
			}
			next++
			return next < len(ids), fn(rec)
		})
	if err != nil {
		return err
	}
	if next != len(ids) {
		return fmt.Errorf("%w: entry %d of a directory is gone", ErrCorrupt, ids[next])
	}
	return nil
}

// ModifyDir is Store.ModifyDir in the transaction.
func (t *Tx) ModifyDir(r Root, p Path, ch DirChange) (DirInfo, error) {
	var info DirInfo
	err := t.op(true, func() error {
		if err := t.s.preflight(p, nil, ""); err != nil {
			return err
		}
		if ch.Name != nil {
			if len(p) == 0 {
				return fmt.Errorf("%w: cannot rename the root itself", ErrIsRoot)
			}
			if err := ValidName(*ch.Name); err != nil {
				return err
			}
		}
		if ch.UserMetadata != nil {
			if err := t.s.checkMeta("directory "+p.String(), *ch.UserMetadata); err != nil {
				return err
			}
		}
		d, err := t.resolveDir(r, p)
		if err != nil {
			return err
		}
		rename := ch.Name != nil && *ch.Name != d.name
		if !rename && ch.UserMetadata == nil {
			info = d.dirInfo()
			return nil
		}
		now := t.s.now().UnixNano()
		d.modified = max(now, d.modified+1)
		if rename {
			if err := t.taken(d.parent, *ch.Name, p[:len(p)-1]); err != nil {
				return err
			}
			parent, err := t.nodeByID(d.parent)
			if err != nil {
				return err
			}
			if err := t.touch(parent, now, 0); err != nil {
				return err
			}
			d.name = *ch.Name
		}
		if ch.UserMetadata != nil {
			old := d.amounts()
			d.meta = cloneMeta(*ch.UserMetadata)
			if d.parent != 0 { // a root's metadata is not counted
				if err := t.move(r, d, old); err != nil {
					return err
				}
			}
		}
		if err := t.save(d); err != nil {
			return err
		}
		info = d.dirInfo()
		return nil
	})
	return info, err
}

// LookupDir is Store.LookupDir in the transaction.
func (t *Tx) LookupDir(id ID) (Root, Path, DirInfo, error) {
	var (
		r    Root
		p    Path
		info DirInfo
	)
	err := t.op(false, func() error {
		notFound := fmt.Errorf("%w: no directory with id %q", ErrNotFound, truncName(string(id)))
		uid, err := hex.DecodeString(string(id))
		if err != nil || len(uid) != idBytes {
			return notFound
		}
		row, err := t.queryRow(`SELECT `+nodeCols+` FROM nodes WHERE uid = ? AND kind = 0`, uid)
		if err != nil {
			return err
		}
		d, err := t.scanNode(row)
		if err != nil {
			if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrIntegrity) {
				return err
			}
			if errors.Is(err, sql.ErrNoRows) {
				return notFound
			}
			return dbErr("looking up an id", err)
		}
		if d.kind != kindDir {
			return notFound
		}
		var rev []string
		cur, name := d.parent, d.name
		at := d.id
		for cur != 0 {
			if len(rev) > t.s.maxDepth {
				return fmt.Errorf("%w: directory %s is deeper than the depth limit (a cycle?)", ErrCorrupt, id)
			}
			rev = append(rev, name)
			a, err := t.nodeByID(cur)
			if err != nil {
				return err
			}
			name = a.name
			at, cur = cur, a.parent
		}
		rn, err := t.nodeByID(at)
		if err != nil {
			return err
		}
		var ok bool
		if r, ok = parseRootKey(rn.rootKey); !ok {
			return fmt.Errorf("%w: directory %s is under a root with a bad key", ErrIntegrity, id)
		}
		p = make(Path, len(rev))
		for i, n := range rev {
			p[len(rev)-1-i] = n
		}
		info = d.dirInfo()
		return nil
	})
	return r, p, info, err
}

// MoveDir is Store.MoveDir in the transaction.
func (t *Tx) MoveDir(r Root, from Path, toParent Path) (DirInfo, error) {
	var info DirInfo
	err := t.op(true, func() error {
		if err := t.s.preflight(from, ErrIsRoot, "move"); err != nil {
			return err
		}
		if err := t.s.checkPath(toParent); err != nil {
			return err
		}
		d, err := t.resolveDir(r, from)
		if err != nil {
			return err
		}
		dst, err := t.resolveDir(r, toParent)
		if err != nil {
			return err
		}
		// Paths within one root are unique: d is dst or one of its
		// ancestors exactly when from is a prefix of toParent.
		if len(toParent) >= len(from) && slices.Equal(toParent[:len(from)], from) {
			return fmt.Errorf("%w: cannot move %s into itself (%s)", ErrInvalidPath, from, toParent)
		}
		if dst.id == d.parent {
			info = d.dirInfo()
			return nil
		}
		if err := t.taken(dst.id, d.name, toParent); err != nil {
			return err
		}
		if err := t.roomFor(dst, toParent); err != nil {
			return err
		}
		if len(toParent)+1 > len(from) { // deeper than now: check the depth
			h, err := t.height(d.id)
			if err != nil {
				return err
			}
			if n := len(toParent) + 1 + h; n > t.s.maxDepth {
				return fmt.Errorf("%w: the move would make a path of %d segments, the limit is %d", ErrTooLarge, n, t.s.maxDepth)
			}
		}
		old, err := t.nodeByID(d.parent)
		if err != nil {
			return err
		}
		d.parent = dst.id
		if err := t.save(d); err != nil {
			return err
		}
		now := t.s.now().UnixNano()
		if err := t.touch(old, now, -1); err != nil {
			return err
		}
		if err := t.touch(dst, now, 1); err != nil {
			return err
		}
		info = d.dirInfo()
		return nil
	})
	return info, err
}

// height is the number of directory levels below the directory id (0 for
// one without subdirectories).
func (t *Tx) height(id int64) (int, error) {
	row, err := t.queryRow(`WITH RECURSIVE sub(id, h) AS (SELECT ?, 0 UNION ALL
		SELECT n.id, sub.h + 1 FROM nodes n JOIN sub ON n.parent = sub.id WHERE n.kind = 0)
		SELECT max(h) FROM sub`, id)
	if err != nil {
		return 0, err
	}
	var h int
	if err := row.Scan(&h); err != nil {
		return 0, dbErr("measuring a tree", err)
	}
	return h, nil
}

// parseRootKey is the inverse of Root.String for valid roots.
func parseRootKey(k string) (Root, bool) {
	var r Root
	switch {
	case k == "shared":
		r = SharedRoot()
	case strings.HasPrefix(k, "app:"):
		r = AppRoot(k[len("app:"):])
	case strings.HasPrefix(k, "reserved:"):
		r = ReservedRoot(k[len("reserved:"):])
	default:
		return Root{}, false
	}
	return r, r.valid() == nil
}
