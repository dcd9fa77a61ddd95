package vfs

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// CreateRoot creates the empty root r. It returns ErrExists if r exists and
// ErrInvalidPath if r's name breaks the name rules.
func (s *Store) CreateRoot(r Root) (DirInfo, error) {
	if err := s.begin(); err != nil {
		return DirInfo{}, err
	}
	defer s.wg.Done()
	if err := r.valid(); err != nil {
		return DirInfo{}, err
	}
	var info DirInfo
	err := s.update(context.Background(), func() error {
		if err := s.checkWritable(); err != nil {
			return err
		}
		k := r.String()
		if s.roots[k] != nil {
			return fmt.Errorf("%w: root %s", ErrExists, r)
		}
		id, err := s.newID()
		if err != nil {
			return err
		}
		d := newDirNode(id, s.now())
		d.root = r
		s.roots[k], s.dirs[id] = d, d
		undo := func() { delete(s.roots, k); delete(s.dirs, id) }
		if err := s.commit([]*dirNode{d}, nil, true, undo); err != nil {
			return fmt.Errorf("creating root %s: %w", r, err)
		}
		info = d.info()
		return nil
	}, nil)
	return info, err
}

// RootExists reports whether r exists (false once the store is closed).
func (s *Store) RootExists(r Root) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return !s.closed && r.kind != kindNone && s.roots[r.String()] != nil
}

// DeleteRoot removes r with everything in it.
func (s *Store) DeleteRoot(r Root) error {
	if err := s.begin(); err != nil {
		return err
	}
	defer s.wg.Done()
	var names []string
	return s.update(context.Background(), func() error {
		if err := s.checkWritable(); err != nil {
			return err
		}
		d, err := s.rootNode(r)
		if err != nil {
			return err
		}
		k := r.String()
		delete(s.roots, k)
		if err := s.commit(nil, nil, true, func() { s.roots[k] = d }); err != nil {
			return fmt.Errorf("deleting root %s: %w", r, err)
		}
		names = s.dropTree(d)
		return nil
	}, func() { s.removeNames(names) })
}

// CreateDir creates the directory p (its parent must exist) with the given
// flags and user metadata. It returns ErrExists if the name is taken by a
// file or a directory, ErrIsRoot for an empty p.
func (s *Store) CreateDir(ctx context.Context, r Root, p Path, private, versioned bool, meta []byte) (DirInfo, error) {
	if err := s.begin(); err != nil {
		return DirInfo{}, err
	}
	defer s.wg.Done()
	if err := s.preflight(ctx, p, ErrIsRoot, "create"); err != nil {
		return DirInfo{}, err
	}
	if err := s.checkMeta("directory "+p.String(), meta); err != nil {
		return DirInfo{}, err
	}
	var info DirInfo
	err := s.update(ctx, func() error {
		parent, name, id, err := s.placeNew(r, p)
		if err != nil {
			return err
		}
		now := s.now()
		d := newDirNode(id, now)
		d.parent, d.name = parent, name
		d.private, d.versioned, d.meta = private, versioned, storedMeta(meta)
		oldMod := parent.modified
		parent.dirs[name], s.dirs[id] = d, d
		parent.modified = later(oldMod, now)
		undo := func() { delete(parent.dirs, name); delete(s.dirs, id); parent.modified = oldMod }
		if err := s.commit([]*dirNode{d}, []dirChange{{parent, []string{name}}}, false, undo); err != nil {
			return fmt.Errorf("creating directory %s: %w", p, err)
		}
		info = d.info()
		return nil
	}, nil)
	return info, err
}

// placeNew finds where a new entry at p goes and gives it an ID: the parent
// (which must exist), the name (which must be free) with room for it, in a
// store that takes writes. Caller holds s.mu for writing.
func (s *Store) placeNew(r Root, p Path) (parent *dirNode, name string, id ID, err error) {
	if err := s.checkWritable(); err != nil {
		return nil, "", "", err
	}
	parent, name, err = s.resolveParent(r, p)
	if err != nil {
		return nil, "", "", err
	}
	where := p[:len(p)-1]
	if err := taken(parent, name, where); err != nil {
		return nil, "", "", err
	}
	if err := s.roomFor(parent, where); err != nil {
		return nil, "", "", err
	}
	id, err = s.newID()
	if err != nil {
		return nil, "", "", err
	}
	return parent, name, id, nil
}

// preflight runs the checks every path operation starts with. empty is the
// error for an empty p (nil if the root itself is allowed).
func (s *Store) preflight(ctx context.Context, p Path, empty error, op string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.checkPath(p); err != nil {
		return err
	}
	if len(p) == 0 && empty != nil {
		return fmt.Errorf("%w: cannot %s the root itself", empty, op)
	}
	return nil
}

// DeleteDir removes the directory p with everything in it. An empty p is
// ErrIsRoot (use DeleteRoot); a file at p is ErrNotDir.
func (s *Store) DeleteDir(ctx context.Context, r Root, p Path) error {
	if err := s.begin(); err != nil {
		return err
	}
	defer s.wg.Done()
	if err := s.preflight(ctx, p, ErrIsRoot, "delete"); err != nil {
		return err
	}
	var names []string
	return s.update(ctx, func() error {
		if err := s.checkWritable(); err != nil {
			return err
		}
		d, err := s.resolveDir(r, p)
		if err != nil {
			return err
		}
		parent, oldMod := d.parent, d.parent.modified
		delete(parent.dirs, d.name)
		parent.modified = later(oldMod, s.now())
		undo := func() { parent.dirs[d.name] = d; parent.modified = oldMod }
		if err := s.commit(nil, []dirChange{{parent, []string{d.name}}}, false, undo); err != nil {
			return fmt.Errorf("deleting directory %s: %w", p, err)
		}
		names = s.dropTree(d)
		return nil
	}, func() { s.removeNames(names) })
}

// GetDir lists the directory p (the root for an empty p).
func (s *Store) GetDir(ctx context.Context, r Root, p Path) (Listing, error) {
	if err := s.begin(); err != nil {
		return Listing{}, err
	}
	defer s.wg.Done()
	if err := s.preflight(ctx, p, nil, ""); err != nil {
		return Listing{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, err := s.resolveDir(r, p)
	if err != nil {
		return Listing{}, err
	}
	l := Listing{Info: d.info(), Dirs: make([]DirInfo, 0, len(d.dirs)), Files: make([]FileInfo, 0, len(d.files))}
	for _, c := range d.dirs {
		l.Dirs = append(l.Dirs, c.info())
	}
	for _, f := range d.files {
		l.Files = append(l.Files, f.info())
	}
	// slices.SortFunc, not sort.Slice: no reflection, no allocation.
	slices.SortFunc(l.Dirs, func(a, b DirInfo) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(l.Files, func(a, b FileInfo) int { return strings.Compare(a.Name, b.Name) })
	return l, nil
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
	if err := s.begin(); err != nil {
		return DirInfo{}, err
	}
	defer s.wg.Done()
	if err := s.preflight(ctx, p, nil, ""); err != nil {
		return DirInfo{}, err
	}
	if ch.Name != nil {
		if len(p) == 0 {
			return DirInfo{}, fmt.Errorf("%w: cannot rename the root itself", ErrIsRoot)
		}
		if err := ValidName(*ch.Name); err != nil {
			return DirInfo{}, err
		}
	}
	if ch.UserMetadata != nil {
		if err := s.checkMeta("directory "+p.String(), *ch.UserMetadata); err != nil {
			return DirInfo{}, err
		}
	}
	var info DirInfo
	err := s.update(ctx, func() error {
		if err := s.checkWritable(); err != nil {
			return err
		}
		d, err := s.resolveDir(r, p)
		if err != nil {
			return err
		}
		rename := ch.Name != nil && *ch.Name != d.name
		if !rename && ch.UserMetadata == nil {
			info = d.info()
			return nil
		}
		now := s.now()
		oldName, oldMod, oldMeta := d.name, d.modified, d.meta
		dirty := []dirChange{{d, nil}}
		var parentMod = d.modified
		if rename {
			parent := d.parent
			if err := taken(parent, *ch.Name, p[:len(p)-1]); err != nil {
				return err
			}
			parentMod = parent.modified
			delete(parent.dirs, oldName)
			d.name = *ch.Name
			parent.dirs[d.name] = d
			parent.modified = later(parentMod, now)
			dirty = append(dirty, dirChange{parent, []string{oldName, d.name}})
		}
		if ch.UserMetadata != nil {
			d.meta = storedMeta(*ch.UserMetadata)
		}
		d.modified = later(oldMod, now)
		undo := func() {
			if rename {
				delete(d.parent.dirs, d.name)
				d.parent.dirs[oldName] = d
				d.parent.modified = parentMod
			}
			d.name, d.modified, d.meta = oldName, oldMod, oldMeta
		}
		if err := s.commit(nil, dirty, false, undo); err != nil {
			return fmt.Errorf("modifying directory %s: %w", p, err)
		}
		info = d.info()
		return nil
	}, nil)
	return info, err
}

// LookupDir finds a directory by ID: where it is now and what it holds.
// It returns ErrNotFound once the directory (or an ancestor) is deleted.
func (s *Store) LookupDir(ctx context.Context, id ID) (Root, Path, DirInfo, error) {
	if err := s.begin(); err != nil {
		return Root{}, nil, DirInfo{}, err
	}
	defer s.wg.Done()
	if err := ctx.Err(); err != nil {
		return Root{}, nil, DirInfo{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.dirs[id]
	if d == nil {
		return Root{}, nil, DirInfo{}, fmt.Errorf("%w: no directory with id %q", ErrNotFound, truncName(string(id)))
	}
	r, p := pathOf(d)
	return r, p, d.info(), nil
}

// MoveDir moves the directory from into the directory toParent of the same
// root, keeping its name, ID and times; both parents' Modified change.
// Moving a root is ErrIsRoot; moving a directory into itself or one of its
// descendants is ErrInvalidPath; a name taken in toParent is ErrExists.
// Moving into the current parent changes nothing.
func (s *Store) MoveDir(ctx context.Context, r Root, from Path, toParent Path) (DirInfo, error) {
	if err := s.begin(); err != nil {
		return DirInfo{}, err
	}
	defer s.wg.Done()
	if err := s.preflight(ctx, from, ErrIsRoot, "move"); err != nil {
		return DirInfo{}, err
	}
	if err := s.checkPath(toParent); err != nil {
		return DirInfo{}, err
	}
	var info DirInfo
	err := s.update(ctx, func() error {
		if err := s.checkWritable(); err != nil {
			return err
		}
		d, err := s.resolveDir(r, from)
		if err != nil {
			return err
		}
		dst, err := s.resolveDir(r, toParent)
		if err != nil {
			return err
		}
		for a := dst; a != nil; a = a.parent {
			if a == d {
				return fmt.Errorf("%w: cannot move %s into itself (%s)", ErrInvalidPath, from, toParent)
			}
		}
		old := d.parent
		if dst == old {
			info = d.info()
			return nil
		}
		if err := taken(dst, d.name, toParent); err != nil {
			return err
		}
		if err := s.roomFor(dst, toParent); err != nil {
			return err
		}
		if n := len(toParent) + 1 + height(d); n > s.maxDepth {
			return fmt.Errorf("%w: the move would make a path of %d segments, the limit is %d", ErrTooLarge, n, s.maxDepth)
		}
		now := s.now()
		oldMod, dstMod := old.modified, dst.modified
		delete(old.dirs, d.name)
		dst.dirs[d.name] = d
		d.parent = dst
		old.modified, dst.modified = later(oldMod, now), later(dstMod, now)
		undo := func() {
			delete(dst.dirs, d.name)
			old.dirs[d.name] = d
			d.parent = old
			old.modified, dst.modified = oldMod, dstMod
		}
		if err := s.commit(nil, []dirChange{{old, []string{d.name}}, {dst, []string{d.name}}}, false, undo); err != nil {
			return fmt.Errorf("moving directory %s to %s: %w", from, toParent, err)
		}
		info = d.info()
		return nil
	}, nil)
	return info, err
}
