package vfs

import "fmt"

// Path resolution. Every function here is called with s.mu held. Names are
// looked up byte for byte in in-memory maps; no user name ever reaches the
// backing file system.

func (s *Store) rootNode(r Root) (*dirNode, error) {
	if r.kind == kindNone {
		return nil, fmt.Errorf("%w: the zero Root", ErrNoRoot)
	}
	d := s.roots[r.String()]
	if d == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoRoot, r)
	}
	return d, nil
}

// checkPath validates p and its depth. It needs no lock.
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

// walkDirs follows p from d through directories only.
func walkDirs(d *dirNode, p Path) (*dirNode, error) {
	for i, seg := range p {
		if c, ok := d.dirs[seg]; ok {
			d = c
			continue
		}
		if _, ok := d.files[seg]; ok {
			return nil, fmt.Errorf("%w: %q in %s is a file", ErrNotDir, seg, p[:i+1])
		}
		return nil, fmt.Errorf("%w: no directory %q in %s", ErrNotFound, seg, p[:i])
	}
	return d, nil
}

// resolveDir finds the directory at p (the root for an empty p).
func (s *Store) resolveDir(r Root, p Path) (*dirNode, error) {
	root, err := s.rootNode(r)
	if err != nil {
		return nil, err
	}
	return walkDirs(root, p)
}

// resolveParent finds the directory holding the last segment of a non-empty p.
func (s *Store) resolveParent(r Root, p Path) (*dirNode, string, error) {
	parent, err := s.resolveDir(r, p[:len(p)-1])
	if err != nil {
		return nil, "", err
	}
	return parent, p[len(p)-1], nil
}

// resolveFile finds the file at a non-empty p.
func (s *Store) resolveFile(r Root, p Path) (*fileNode, error) {
	parent, name, err := s.resolveParent(r, p)
	if err != nil {
		return nil, err
	}
	if f := parent.files[name]; f != nil {
		return f, nil
	}
	if parent.dirs[name] != nil {
		return nil, fmt.Errorf("%w: %s is a directory", ErrNotFile, p)
	}
	return nil, fmt.Errorf("%w: no file %q in %s", ErrNotFound, name, p[:len(p)-1])
}

// taken reports an error if name is used in d by a file or a directory.
func taken(d *dirNode, name string, where Path) error {
	if d.dirs[name] != nil {
		return fmt.Errorf("%w: a directory %q is already in %s", ErrExists, name, where)
	}
	if d.files[name] != nil {
		return fmt.Errorf("%w: a file %q is already in %s", ErrExists, name, where)
	}
	return nil
}

func (s *Store) roomFor(d *dirNode, where Path) error {
	if d.entries() >= s.maxEntries {
		return fmt.Errorf("%w: directory %s has %d entries, the limit is %d", ErrTooLarge, where, d.entries(), s.maxEntries)
	}
	return nil
}

// pathOf returns the root and path of d.
func pathOf(d *dirNode) (Root, Path) {
	var rev []string
	for ; d.parent != nil; d = d.parent {
		rev = append(rev, d.name)
	}
	p := make(Path, len(rev))
	for i, n := range rev {
		p[len(rev)-1-i] = n
	}
	return d.root, p
}

// height is the number of directory levels below d (0 for a leaf).
func height(d *dirNode) int {
	h := 0
	for _, c := range d.dirs {
		h = max(h, 1+height(c))
	}
	return h
}

// depth is the number of segments from the root to d.
func depth(d *dirNode) int {
	n := 0
	for ; d.parent != nil; d = d.parent {
		n++
	}
	return n
}

// dropTree marks d's tree deleted, forgets it, and returns the host names of
// its manifests and blobs, to remove once the deletion is committed.
func (s *Store) dropTree(d *dirNode) []string {
	var names []string
	stack := []*dirNode{d}
	for len(stack) > 0 {
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		d.deleted = true
		delete(s.dirs, d.id)
		names = append(names, manifestName(d.id))
		for _, f := range d.files {
			f.deleted = true
			delete(s.files, f.id)
			if f.blob != "" {
				names = append(names, blobName(f.blob))
			}
		}
		for _, c := range d.dirs {
			stack = append(stack, c)
		}
	}
	return names
}

// removeNames removes host files after a committed deletion. Failures are
// ignored: Open removes whatever no manifest references.
func (s *Store) removeNames(names []string) {
	for _, n := range names {
		s.fs.Remove(n)
	}
}
