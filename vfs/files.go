package vfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// CreateFile creates an empty file at p (its parent must exist) with the
// given user metadata. A name taken by a file or a directory is ErrExists.
func (s *Store) CreateFile(ctx context.Context, r Root, p Path, meta []byte) (FileInfo, error) {
	var info FileInfo
	err := s.change(ctx, func(t *Tx) (err error) {
		info, err = t.CreateFile(r, p, meta)
		return err
	})
	return info, err
}

// DeleteFile removes the file at p. A directory at p is ErrNotFile.
func (s *Store) DeleteFile(ctx context.Context, r Root, p Path) error {
	return s.change(ctx, func(t *Tx) error { return t.DeleteFile(r, p) })
}

// StatFile describes the file at p.
func (s *Store) StatFile(ctx context.Context, r Root, p Path) (FileInfo, error) {
	var info FileInfo
	err := s.read(ctx, func(t *Tx) (err error) {
		info, err = t.StatFile(r, p)
		return err
	})
	return info, err
}

// ReadFile reads up to length bytes at offset of the file at p, and describes
// the file as of that read. A negative length, or one reaching past the end,
// reads to the end; offset == size gives empty content; a negative offset or
// one past the end is ErrOutOfRange. The content is one committed version of
// the file, never a mix of two writes.
func (s *Store) ReadFile(ctx context.Context, r Root, p Path, offset, length int64) ([]byte, FileInfo, error) {
	rc, n, info, err := s.OpenContent(ctx, r, p, offset, length)
	if err != nil {
		return nil, FileInfo{}, err
	}
	defer rc.Close()
	buf := make([]byte, n)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return nil, FileInfo{}, err
	}
	return buf, info, nil
}

// OpenContent is ReadFile for a caller that wants the content as a stream
// rather than a buffer of its size (the daemon encodes it straight into its
// answer): it returns a reader of exactly the n bytes ReadFile would return
// and the file's description as of the open. The reader reads one committed
// version of the file, whatever is written after; a short read is
// ErrCorrupt. The caller must Close it.
func (s *Store) OpenContent(ctx context.Context, r Root, p Path, offset, length int64) (io.ReadCloser, int64, FileInfo, error) {
	ks, kerr := s.begin()
	if kerr != nil {
		return nil, 0, FileInfo{}, kerr
	}
	defer s.end(ks)
	if err := s.preflight(p, ErrNotFile, "read as a file"); err != nil {
		return nil, 0, FileInfo{}, err
	}
	if offset < 0 {
		return nil, 0, FileInfo{}, fmt.Errorf("%w: offset %d is negative", ErrOutOfRange, offset)
	}
	var missing []byte // a blob found missing once
	for {
		var f *node
		err := s.view(ctx, ks, func(t *Tx) (err error) {
			f, err = t.resolveFile(r, p)
			return err
		})
		if err != nil {
			return nil, 0, FileInfo{}, err
		}
		info := f.fileInfo()
		if offset > f.size {
			return nil, 0, FileInfo{}, fmt.Errorf("%w: offset %d is past the end of %s (size %d)", ErrOutOfRange, offset, p, f.size)
		}
		n := f.size - offset
		if length >= 0 && length < n {
			n = length
		}
		if n == 0 {
			return io.NopCloser(eofReader{}), 0, info, nil
		}
		if f.blob == nil {
			return nil, 0, FileInfo{}, fmt.Errorf("%w: %s has %d bytes but no content", ErrCorrupt, p, f.size)
		}
		h, err := s.openBlob(f.blob, os.O_RDONLY)
		if isNotExist(err) && !bytes.Equal(missing, f.blob) {
			// A change replaced or deleted the content since the row was
			// read: read the row again.
			missing = f.blob
			continue
		}
		if err != nil {
			return nil, 0, FileInfo{}, blobErr("opening content of "+p.String(), err)
		}
		rks := &keyset{k: ks.k} // the reader's own copy, wiped by Close
		ra, err := rks.openContent(f.uid, f.version, h, f.size)
		if err != nil {
			rks.wipe()
			h.Close()
			return nil, 0, FileInfo{}, fmt.Errorf("content of %s: %w", p, err)
		}
		return &contentReader{h: h, ks: rks, sr: io.NewSectionReader(ra, offset, n), left: n, p: p}, n, info, nil
	}
}

func blobErr(op string, err error) error {
	if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrIntegrity) || errors.Is(err, ErrIO) {
		return fmt.Errorf("%s: %w", op, err)
	}
	if isNotExist(err) {
		return fmt.Errorf("%w: %s: content is missing", ErrCorrupt, op)
	}
	return ioErr(op, err)
}

// FileChange lists the changes ModifyFile makes; a nil field is left unchanged.
type FileChange struct {
	Name         *string // new name in the same directory
	UserMetadata *[]byte
	Content      *Content
}

// Content is new file content. With Offset nil, Bytes replace the whole
// content. Otherwise Bytes are written at *Offset, which must be between 0
// and the current size; the file grows if the write reaches past its end.
type Content struct {
	Offset *int64
	Bytes  []byte
}

// ModifyFile renames the file at p, replaces its user metadata and/or writes
// its content, as one atomic change. Any change bumps the file's Modified; a
// rename also bumps the parent directory's. A change with every field nil,
// or a rename to the current name alone, changes nothing. Concurrent readers
// see the old or the new content, never a mix.
//
// New content is written to its blob before the store's writer is taken,
// so that other changes go on meanwhile; only the commit waits for them.
func (s *Store) ModifyFile(ctx context.Context, r Root, p Path, ch FileChange) (FileInfo, error) {
	ks, kerr := s.begin()
	if kerr != nil {
		return FileInfo{}, kerr
	}
	defer s.end(ks)
	if err := s.checkFileChange(p, ch); err != nil {
		return FileInfo{}, err
	}
	c := ch.Content
	modify := func(t *Tx) (info FileInfo, err error) { return t.ModifyFile(r, p, ch) }
	if c == nil {
		var info FileInfo
		err := s.update(ctx, ks, false, func(t *Tx) (err error) { info, err = modify(t); return err })
		return info, err
	}
	if err := ctx.Err(); err != nil {
		return FileInfo{}, err
	}
	var base *node
	if err := s.view(ctx, ks, func(t *Tx) (err error) { base, err = t.resolveFile(r, p); return err }); err != nil {
		return FileInfo{}, err
	}
	if c.Offset != nil {
		// A write at an offset builds on the content as it is: one at a
		// time per file, so that an append in place never meets another
		// write of the same blob. Read the content again under the lock.
		unlock, err := s.fileLocks.lock(ctx, base.id)
		if err != nil {
			return FileInfo{}, err
		}
		defer unlock()
		id := base.id
		if err := s.view(ctx, ks, func(t *Tx) (err error) { base, err = t.nodeIfAny(id); return err }); err != nil {
			return FileInfo{}, err
		}
		if base == nil {
			return FileInfo{}, fmt.Errorf("%w: %s was deleted", ErrNotFound, p)
		}
	}
	var info FileInfo
	w, err := s.writeContent(ks, p, base, c, c.Offset != nil)
	if errors.Is(err, errBaseGone) {
		// A change replaced or deleted the content since it was read, and
		// the collector has removed it: do it all within a transaction.
		err = s.update(ctx, ks, false, func(t *Tx) (err error) { info, err = modify(t); return err })
		if err != nil {
			return FileInfo{}, err
		}
		return info, nil
	}
	if err != nil {
		return FileInfo{}, err
	}
	stale, ran := false, false
	err = s.update(ctx, ks, false, func(t *Tx) error {
		ran = true
		if w.fresh {
			t.fresh = append(t.fresh, w.blob)
		}
		f, err := t.resolveFile(r, p)
		if err != nil {
			return err
		}
		if f.id != base.id || !bytes.Equal(f.blob, base.blob) || f.size != base.size || f.version != base.version {
			// The content changed meanwhile (Update, or a delete and
			// create): it was sealed for a version that is not next.
			stale = true
			return errStale
		}
		info, err = t.applyFileChange(r, p, f, ch, &w)
		return err
	})
	if err != nil && !ran && w.fresh {
		s.fs.Remove(incomingName(w.blob))
	}
	if stale {
		// Do it all within the transaction instead.
		err = s.update(ctx, ks, false, func(t *Tx) (err error) { info, err = modify(t); return err })
	}
	if err != nil {
		return FileInfo{}, err
	}
	return info, nil
}

// errStale and errBaseGone say that the content a write at an offset was to
// build on changed since it was read; the write is then done again within a
// transaction.
var (
	errStale    = errors.New("vfs: content changed meanwhile")
	errBaseGone = errors.New("vfs: content gone meanwhile")
)

// checkFileChange runs the checks of a ModifyFile that need no store.
func (s *Store) checkFileChange(p Path, ch FileChange) error {
	if err := s.preflight(p, ErrNotFile, "modify as a file"); err != nil {
		return err
	}
	if ch.Name != nil {
		if err := ValidName(*ch.Name); err != nil {
			return err
		}
	}
	if ch.UserMetadata != nil {
		if err := s.checkMeta("file "+p.String(), *ch.UserMetadata); err != nil {
			return err
		}
	}
	if c := ch.Content; c != nil {
		if int64(len(c.Bytes)) > s.maxFile {
			return fmt.Errorf("%w: %d bytes of content for %s, the file size limit is %d", ErrTooLarge, len(c.Bytes), p, s.maxFile)
		}
		if c.Offset != nil && *c.Offset < 0 {
			return fmt.Errorf("%w: offset %d is negative", ErrOutOfRange, *c.Offset)
		}
	}
	return nil
}

// CreateFile is Store.CreateFile in the transaction.
func (t *Tx) CreateFile(r Root, p Path, meta []byte) (FileInfo, error) {
	var info FileInfo
	err := t.op(true, func() error {
		if err := t.s.preflight(p, ErrIsRoot, "create"); err != nil {
			return err
		}
		if err := t.s.checkMeta("file "+p.String(), meta); err != nil {
			return err
		}
		n := &node{kind: kindFile, owner: t.k.hideApp(ownerFor(r)), meta: meta, metaLen: int64(len(meta))}
		if err := t.create(r, p, n); err != nil {
			return err
		}
		info = n.fileInfo()
		return nil
	})
	return info, err
}

// DeleteFile is Store.DeleteFile in the transaction.
func (t *Tx) DeleteFile(r Root, p Path) error {
	return t.op(true, func() error {
		if err := t.s.preflight(p, ErrNotFile, "delete as a file"); err != nil {
			return err
		}
		f, err := t.resolveFile(r, p)
		if err != nil {
			return err
		}
		parent, err := t.parentOf(f)
		if err != nil {
			return err
		}
		if _, err := t.exec(`DELETE FROM nodes WHERE id = ?`, f.id); err != nil {
			return dbErr("deleting a file", err)
		}
		if err := t.drop(f.blob); err != nil {
			return err
		}
		if err := t.charge(t.accountOf(r, f.owner, ""), f.amounts().neg()); err != nil {
			return err
		}
		return t.touch(parent, t.s.now().UnixNano(), -1)
	})
}

// drop lists the blob b (if any) in the garbage table.
func (t *Tx) drop(b []byte) error {
	if b == nil {
		return nil
	}
	if _, err := t.exec(`INSERT INTO garbage (blob) VALUES (?)`, b); err != nil {
		return dbErr("dropping content", err)
	}
	t.dropped = true
	return nil
}

// StatFile is Store.StatFile in the transaction.
func (t *Tx) StatFile(r Root, p Path) (FileInfo, error) {
	var info FileInfo
	err := t.op(false, func() error {
		if err := t.s.preflight(p, ErrNotFile, "stat as a file"); err != nil {
			return err
		}
		f, err := t.resolveFile(r, p)
		if err != nil {
			return err
		}
		info = f.fileInfo()
		return nil
	})
	return info, err
}

// ReadFile is Store.ReadFile in the transaction.
func (t *Tx) ReadFile(r Root, p Path, offset, length int64) ([]byte, FileInfo, error) {
	var (
		buf  []byte
		info FileInfo
	)
	err := t.op(false, func() error {
		if err := t.s.preflight(p, ErrNotFile, "read as a file"); err != nil {
			return err
		}
		if offset < 0 {
			return fmt.Errorf("%w: offset %d is negative", ErrOutOfRange, offset)
		}
		f, err := t.resolveFile(r, p)
		if err != nil {
			return err
		}
		if offset > f.size {
			return fmt.Errorf("%w: offset %d is past the end of %s (size %d)", ErrOutOfRange, offset, p, f.size)
		}
		n := f.size - offset
		if length >= 0 && length < n {
			n = length
		}
		info, buf = f.fileInfo(), make([]byte, n)
		if n == 0 {
			return nil
		}
		h, err := t.s.openBlob(f.blob, os.O_RDONLY)
		if err != nil {
			return blobErr("opening content of "+p.String(), err)
		}
		defer h.Close()
		ra, err := t.k.openContent(f.uid, f.version, h, f.size)
		if err != nil {
			return fmt.Errorf("content of %s: %w", p, err)
		}
		cr := &contentReader{sr: io.NewSectionReader(ra, offset, n), left: n, p: p}
		_, err = io.ReadFull(cr, buf)
		return err
	})
	return buf, info, err
}

// ModifyFile is Store.ModifyFile in the transaction; new content is written
// while the transaction holds the store's writer.
func (t *Tx) ModifyFile(r Root, p Path, ch FileChange) (FileInfo, error) {
	var info FileInfo
	err := t.op(true, func() error {
		if err := t.s.checkFileChange(p, ch); err != nil {
			return err
		}
		f, err := t.resolveFile(r, p)
		if err != nil {
			return err
		}
		var w *written
		if ch.Content != nil {
			ww, err := t.s.writeContent(t.k, p, f, ch.Content, false)
			if errors.Is(err, errBaseGone) {
				return fmt.Errorf("%w: content of %s is missing", ErrCorrupt, p)
			}
			if err != nil {
				return err
			}
			if ww.fresh {
				t.fresh = append(t.fresh, ww.blob)
			}
			w = &ww
		}
		info, err = t.applyFileChange(r, p, f, ch, w)
		return err
	})
	return info, err
}

// written is content written for a change: the file's new size, blob and
// content version.
type written struct {
	size    int64
	blob    []byte
	version int64
	fresh   bool // blob is new, in incomingDir
}

// applyFileChange makes the change ch of the file f at p, whose new content
// (if ch has some) is w.
func (t *Tx) applyFileChange(r Root, p Path, f *node, ch FileChange, w *written) (FileInfo, error) {
	rename := ch.Name != nil && *ch.Name != f.name
	if !rename && ch.UserMetadata == nil && w == nil {
		return f.fileInfo(), nil
	}
	now := t.s.now().UnixNano()
	f.modified = max(now, f.modified+1)
	if rename {
		if err := t.taken(f.parent, *ch.Name, p[:len(p)-1]); err != nil {
			return FileInfo{}, err
		}
		parent, err := t.parentOf(f)
		if err != nil {
			return FileInfo{}, err
		}
		if err := t.touch(parent, now, 0); err != nil {
			return FileInfo{}, err
		}
		f.name = *ch.Name
	}
	old := f.amounts()
	if ch.UserMetadata != nil {
		f.meta = cloneMeta(*ch.UserMetadata)
	}
	if w != nil {
		if !bytes.Equal(f.blob, w.blob) {
			if err := t.drop(f.blob); err != nil {
				return FileInfo{}, err
			}
		}
		f.size, f.blob, f.version = w.size, w.blob, w.version
	}
	if ch.UserMetadata != nil || w != nil {
		if err := t.move(r, f, old); err != nil {
			return FileInfo{}, err
		}
	}
	if err := t.save(f); err != nil {
		return FileInfo{}, err
	}
	return f.fileInfo(), nil
}

// writeContent writes the content c of the file base (its content now
// base.size bytes in base.blob, at base.version) and returns the file's
// new size, blob and version.
//
// An append (a write at the end) to content of whole chunks, when inPlace
// says that no other write of the file can run meanwhile (the caller
// holds its file lock), seals only the new chunks, at the end of the blob
// itself, at the same version (appendBlob). Every other write goes to a
// new blob sealed for the next version, so that readers of the old blob
// are never disturbed; a write at an offset copies the rest of the old
// content (opening and sealing it again: every chunk is bound to the
// version).
func (s *Store) writeContent(ks *keyset, p Path, base *node, c *Content, inPlace bool) (written, error) {
	blob, size, next := base.blob, base.size, base.version+1
	n := int64(len(c.Bytes))
	if c.Offset == nil {
		if n == 0 {
			return written{version: next}, nil
		}
		if err := s.roomOnDisk(sealedSize(n)); err != nil {
			return written{}, err
		}
		b, err := s.writeBlob(ks, base.uid, next, func(w io.Writer) error { _, err := w.Write(c.Bytes); return err })
		return written{size: n, blob: b, version: next, fresh: true}, err
	}
	off := *c.Offset
	if off > size {
		return written{}, fmt.Errorf("%w: offset %d is past the end of %s (size %d)", ErrOutOfRange, off, p, size)
	}
	end := off + n
	if end > s.maxFile {
		return written{}, fmt.Errorf("%w: writing %d bytes at %d would make %s %d bytes, the limit is %d", ErrTooLarge, n, off, p, end, s.maxFile)
	}
	if n == 0 {
		return written{size: size, blob: blob, version: base.version}, nil
	}
	if size > 0 && blob == nil {
		return written{}, fmt.Errorf("%w: %s has %d bytes but no content", ErrCorrupt, p, size)
	}
	newSize := max(size, end)
	if inPlace && off == size && size%chunkSize == 0 && blob != nil {
		if err := s.roomOnDisk(sealedSize(n)); err != nil {
			return written{}, err
		}
		ok, err := s.appendBlob(ks, blob, base.uid, base.version, size, c.Bytes)
		if isNotExist(err) {
			return written{}, errBaseGone
		}
		if err != nil {
			return written{}, fmt.Errorf("content of %s: %w", p, err)
		}
		if ok {
			return written{size: newSize, blob: blob, version: base.version}, nil
		}
	}
	if err := s.roomOnDisk(sealedSize(newSize)); err != nil {
		return written{}, err
	}
	var old io.ReaderAt
	if blob != nil {
		h, err := s.openBlob(blob, os.O_RDONLY)
		if isNotExist(err) {
			return written{}, errBaseGone
		}
		if err != nil {
			return written{}, blobErr("opening content of "+p.String(), err)
		}
		defer h.Close()
		if old, err = ks.openContent(base.uid, base.version, h, size); err != nil {
			return written{}, fmt.Errorf("content of %s: %w", p, err)
		}
	}
	b, err := s.writeBlob(ks, base.uid, next, func(w io.Writer) error {
		if off > 0 {
			if err := copyExact(w, io.NewSectionReader(old, 0, off), off); err != nil {
				return err
			}
		}
		if _, err := w.Write(c.Bytes); err != nil {
			return err
		}
		if end < size {
			return copyExact(w, io.NewSectionReader(old, end, size-end), size-end)
		}
		return nil
	})
	return written{size: newSize, blob: b, version: next, fresh: true}, err
}

func copyExact(w io.Writer, r io.Reader, n int64) error {
	got, err := io.CopyN(w, r, n)
	if got < n && (err == nil || errors.Is(err, io.EOF)) {
		return fmt.Errorf("%w: old content is shorter than its size", ErrCorrupt)
	}
	return err
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// contentReader reads a section of a blob and reports a blob shorter than
// its recorded size as ErrCorrupt.
type contentReader struct {
	h    io.Closer // nil: nothing to close
	ks   *keyset   // the reader's keys, wiped by Close (nil: none)
	sr   *io.SectionReader
	left int64
	p    Path
}

func (c *contentReader) Read(b []byte) (int, error) {
	if c.left == 0 {
		return 0, io.EOF
	}
	n, err := c.sr.Read(b)
	c.left -= int64(n)
	switch {
	case errors.Is(err, io.EOF) && c.left > 0:
		return n, fmt.Errorf("%w: content of %s is shorter than its size", ErrCorrupt, c.p)
	case errors.Is(err, ErrIntegrity) || errors.Is(err, ErrIO):
		return n, fmt.Errorf("content of %s: %w", c.p, err)
	case err != nil && !errors.Is(err, io.EOF):
		return n, ioErr("reading content of "+c.p.String(), err)
	}
	return n, err
}

func (c *contentReader) Close() error {
	c.ks.wipe()
	if c.h == nil {
		return nil
	}
	return c.h.Close()
}
