package vfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// CreateFile creates an empty file at p (its parent must exist) with the
// given user metadata. A name taken by a file or a directory is ErrExists.
func (s *Store) CreateFile(ctx context.Context, r Root, p Path, meta []byte) (FileInfo, error) {
	if err := s.begin(); err != nil {
		return FileInfo{}, err
	}
	defer s.wg.Done()
	if err := s.preflight(ctx, p, ErrIsRoot, "create"); err != nil {
		return FileInfo{}, err
	}
	if err := s.checkMeta("file "+p.String(), meta); err != nil {
		return FileInfo{}, err
	}
	var info FileInfo
	err := s.update(ctx, func() error {
		parent, name, id, err := s.placeNew(r, p)
		if err != nil {
			return err
		}
		now := s.now()
		f := &fileNode{id: id, parent: parent, name: name, created: now, modified: now, meta: storedMeta(meta)}
		oldMod := parent.modified
		parent.files[name], s.files[id] = f, f
		parent.modified = later(oldMod, now)
		undo := func() { delete(parent.files, name); delete(s.files, id); parent.modified = oldMod }
		if err := s.commit(nil, []dirChange{{parent, []string{name}}}, false, undo); err != nil {
			return fmt.Errorf("creating file %s: %w", p, err)
		}
		info = f.info()
		return nil
	}, nil)
	return info, err
}

// DeleteFile removes the file at p. A directory at p is ErrNotFile.
func (s *Store) DeleteFile(ctx context.Context, r Root, p Path) error {
	if err := s.begin(); err != nil {
		return err
	}
	defer s.wg.Done()
	if err := s.preflight(ctx, p, ErrNotFile, "delete as a file"); err != nil {
		return err
	}
	var blob string
	return s.update(ctx, func() error {
		if err := s.checkWritable(); err != nil {
			return err
		}
		f, err := s.resolveFile(r, p)
		if err != nil {
			return err
		}
		parent, oldMod := f.parent, f.parent.modified
		delete(parent.files, f.name)
		parent.modified = later(oldMod, s.now())
		undo := func() { parent.files[f.name] = f; parent.modified = oldMod }
		if err := s.commit(nil, []dirChange{{parent, []string{f.name}}}, false, undo); err != nil {
			return fmt.Errorf("deleting file %s: %w", p, err)
		}
		f.deleted = true
		delete(s.files, f.id)
		blob = f.blob
		return nil
	}, func() {
		if blob != "" {
			s.removeNames([]string{blobName(blob)})
		}
	})
}

// StatFile describes the file at p.
func (s *Store) StatFile(ctx context.Context, r Root, p Path) (FileInfo, error) {
	if err := s.begin(); err != nil {
		return FileInfo{}, err
	}
	defer s.wg.Done()
	if err := s.preflight(ctx, p, ErrNotFile, "stat as a file"); err != nil {
		return FileInfo{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	f, err := s.resolveFile(r, p)
	if err != nil {
		return FileInfo{}, err
	}
	return f.info(), nil
}

// ReadFile reads up to length bytes at offset of the file at p, and describes
// the file as of that read. A negative length, or one reaching past the end,
// reads to the end; offset == size gives empty content; a negative offset or
// one past the end is ErrOutOfRange. The content is one committed version of
// the file, never a mix of two writes.
func (s *Store) ReadFile(ctx context.Context, r Root, p Path, offset, length int64) ([]byte, FileInfo, error) {
	if err := s.begin(); err != nil {
		return nil, FileInfo{}, err
	}
	defer s.wg.Done()
	if err := s.preflight(ctx, p, ErrNotFile, "read as a file"); err != nil {
		return nil, FileInfo{}, err
	}
	if offset < 0 {
		return nil, FileInfo{}, fmt.Errorf("%w: offset %d is negative", ErrOutOfRange, offset)
	}
	s.mu.RLock()
	f, err := s.resolveFile(r, p)
	if err != nil {
		s.mu.RUnlock()
		return nil, FileInfo{}, err
	}
	info := f.info()
	if offset > info.Size {
		s.mu.RUnlock()
		return nil, FileInfo{}, fmt.Errorf("%w: offset %d is past the end of %s (size %d)", ErrOutOfRange, offset, p, info.Size)
	}
	n := info.Size - offset
	if length >= 0 && length < n {
		n = length
	}
	if n == 0 {
		s.mu.RUnlock()
		return []byte{}, info, nil
	}
	// Open under the lock: a blob is removed only after a commit that
	// replaces it, which waits for this lock, and an open handle keeps
	// reading the old content.
	h, err := s.openRegular(blobName(f.blob), os.O_RDONLY)
	s.mu.RUnlock()
	if err != nil {
		return nil, FileInfo{}, blobErr("opening content of "+p.String(), err)
	}
	defer h.Close()
	buf := make([]byte, n)
	got, err := h.ReadAt(buf, offset)
	if int64(got) < n {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, FileInfo{}, fmt.Errorf("%w: content of %s is shorter than its size", ErrCorrupt, p)
		}
		return nil, FileInfo{}, ioErr("reading content of "+p.String(), err)
	}
	return buf, info, nil
}

func blobErr(op string, err error) error {
	if errors.Is(err, ErrCorrupt) {
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
func (s *Store) ModifyFile(ctx context.Context, r Root, p Path, ch FileChange) (FileInfo, error) {
	if err := s.begin(); err != nil {
		return FileInfo{}, err
	}
	defer s.wg.Done()
	if err := s.preflight(ctx, p, ErrNotFile, "modify as a file"); err != nil {
		return FileInfo{}, err
	}
	if ch.Name != nil {
		if err := ValidName(*ch.Name); err != nil {
			return FileInfo{}, err
		}
	}
	if ch.UserMetadata != nil {
		if err := s.checkMeta("file "+p.String(), *ch.UserMetadata); err != nil {
			return FileInfo{}, err
		}
	}
	c := ch.Content
	if c != nil {
		if int64(len(c.Bytes)) > s.maxFile {
			return FileInfo{}, fmt.Errorf("%w: %d bytes of content for %s, the file size limit is %d", ErrTooLarge, len(c.Bytes), p, s.maxFile)
		}
		if c.Offset != nil && *c.Offset < 0 {
			return FileInfo{}, fmt.Errorf("%w: offset %d is negative", ErrOutOfRange, *c.Offset)
		}
	}

	s.mu.RLock()
	f, err := s.resolveFile(r, p)
	s.mu.RUnlock()
	if err != nil {
		return FileInfo{}, err
	}
	// Content writers of one file go one at a time; the blob I/O runs
	// without the store lock so other requests are not held up.
	f.wmu.Lock()
	defer f.wmu.Unlock()

	s.mu.RLock()
	if f.deleted {
		s.mu.RUnlock()
		return FileInfo{}, fmt.Errorf("%w: %s was deleted", ErrNotFound, p)
	}
	size, oldBlob := f.size, f.blob
	var early error
	if ch.Name != nil && *ch.Name != f.name {
		early = taken(f.parent, *ch.Name, p[:len(p)-1])
	}
	s.mu.RUnlock()
	if early != nil {
		return FileInfo{}, early
	}

	newSize, newBlob := size, oldBlob
	if c != nil {
		newSize, newBlob, err = s.writeContent(p, oldBlob, size, c)
		if err != nil {
			// A delete-file that ran meanwhile removed the old blob: that is
			// not corruption, the file is simply gone.
			s.mu.RLock()
			gone := f.deleted
			s.mu.RUnlock()
			if gone {
				return FileInfo{}, fmt.Errorf("%w: %s was deleted", ErrNotFound, p)
			}
			return FileInfo{}, err
		}
	}
	fresh := newBlob != oldBlob && newBlob != ""
	discard := func() {
		if fresh {
			s.removeNames([]string{blobName(newBlob)})
		}
	}

	var info FileInfo
	err = s.update(ctx, func() error {
		if err := s.checkWritable(); err != nil {
			discard()
			return err
		}
		if f.deleted {
			discard()
			return fmt.Errorf("%w: %s was deleted", ErrNotFound, p)
		}
		if err := ctx.Err(); err != nil {
			discard()
			return err
		}
		parent := f.parent
		rename := ch.Name != nil && *ch.Name != f.name
		if !rename && ch.UserMetadata == nil && c == nil {
			info = f.info()
			return nil
		}
		if rename {
			if err := taken(parent, *ch.Name, p[:len(p)-1]); err != nil {
				discard()
				return err
			}
		}
		now := s.now()
		oldName, oldMod, oldMeta, oldParentMod := f.name, f.modified, f.meta, parent.modified
		if rename {
			delete(parent.files, oldName)
			f.name = *ch.Name
			parent.files[f.name] = f
			parent.modified = later(oldParentMod, now)
		}
		if ch.UserMetadata != nil {
			f.meta = storedMeta(*ch.UserMetadata)
		}
		f.size, f.blob = newSize, newBlob
		f.modified = later(oldMod, now)
		undo := func() {
			if rename {
				delete(parent.files, f.name)
				parent.files[oldName] = f
				parent.modified = oldParentMod
			}
			f.name, f.modified, f.meta, f.size, f.blob = oldName, oldMod, oldMeta, size, oldBlob
		}
		names := []string{f.name}
		if rename {
			names = append(names, oldName)
		}
		if err := s.commit(nil, []dirChange{{parent, names}}, false, undo); err != nil {
			discard()
			return fmt.Errorf("modifying file %s: %w", p, err)
		}
		info = f.info()
		return nil
	}, func() {
		if newBlob != oldBlob && oldBlob != "" {
			s.removeNames([]string{blobName(oldBlob)})
		}
	})
	if err != nil {
		return FileInfo{}, err
	}
	return info, nil
}

// writeContent makes the blob holding the new content and returns the new
// size and blob name. The caller holds f.wmu, so no other writer touches
// oldBlob. Only a write that starts exactly at the end of an existing blob
// writes in place, past every committed byte; any other write goes to a new
// blob, so readers of the old blob are never disturbed.
func (s *Store) writeContent(p Path, oldBlob string, size int64, c *Content) (int64, string, error) {
	n := int64(len(c.Bytes))
	if c.Offset == nil {
		if n == 0 {
			return 0, "", nil
		}
		b, err := s.newBlob(func(w io.Writer) error { _, err := w.Write(c.Bytes); return err })
		return n, b, err
	}
	off := *c.Offset
	if off > size {
		return 0, "", fmt.Errorf("%w: offset %d is past the end of %s (size %d)", ErrOutOfRange, off, p, size)
	}
	end := off + n
	if end > s.maxFile {
		return 0, "", fmt.Errorf("%w: writing %d bytes at %d would make %s %d bytes, the limit is %d", ErrTooLarge, n, off, p, end, s.maxFile)
	}
	if n == 0 {
		return size, oldBlob, nil
	}
	newSize := max(size, end)
	if off == size && oldBlob != "" {
		h, err := s.openRegular(blobName(oldBlob), os.O_WRONLY)
		if err != nil {
			return 0, "", blobErr("opening content of "+p.String(), err)
		}
		_, err = h.WriteAt(c.Bytes, off)
		if err == nil {
			err = h.Sync()
		}
		if cerr := h.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return 0, "", ioErr("appending to "+p.String(), err)
		}
		return newSize, oldBlob, nil
	}
	var old io.ReaderAt
	if oldBlob != "" {
		h, err := s.openRegular(blobName(oldBlob), os.O_RDONLY)
		if err != nil {
			return 0, "", blobErr("opening content of "+p.String(), err)
		}
		defer h.Close()
		old = h
	}
	b, err := s.newBlob(func(w io.Writer) error {
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
	return newSize, b, err
}

func copyExact(w io.Writer, r io.Reader, n int64) error {
	got, err := io.CopyN(w, r, n)
	if got < n && (err == nil || errors.Is(err, io.EOF)) {
		return fmt.Errorf("%w: old content is shorter than its size", ErrCorrupt)
	}
	return err
}

// newBlob creates a fresh blob filled by fill, synced with its directory.
func (s *Store) newBlob(fill func(io.Writer) error) (string, error) {
	var b string
	var h interface {
		io.Writer
		Sync() error
		Close() error
	}
	for try := 0; ; try++ {
		var err error
		if b, err = s.newHex(); err != nil {
			return "", err
		}
		f, err := s.fs.OpenFile(blobName(b), os.O_WRONLY|os.O_CREATE|os.O_EXCL|oNoFollow, 0o600)
		if errors.Is(err, os.ErrExist) && try < 8 {
			continue
		}
		if err != nil {
			return "", ioErr("creating content", err)
		}
		h = f
		break
	}
	// The new entry is in the directory now: its fsync runs beside the
	// content's write and fsync (both must be done before a record may
	// reference the blob), which saves most of one device round trip.
	var dirErr error
	var wg sync.WaitGroup
	wg.Go(func() { dirErr = s.syncDir(blobsDir) })
	err := fill(h)
	if err == nil {
		err = h.Sync()
	}
	if cerr := h.Close(); err == nil {
		err = cerr
	}
	wg.Wait()
	if err == nil {
		err = dirErr
	}
	if err != nil {
		s.fs.Remove(blobName(b))
		if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrIO) {
			return "", err
		}
		return "", ioErr("writing content", err)
	}
	return b, nil
}

// OpenContent is ReadFile for a caller that wants the content as a stream
// rather than a buffer of its size (the daemon encodes it straight into its
// answer): it returns a reader of exactly the n bytes ReadFile would return
// and the file's description as of the open. The reader reads one committed
// version of the file, whatever is written after; a short read is
// ErrCorrupt. The caller must Close it.
func (s *Store) OpenContent(ctx context.Context, r Root, p Path, offset, length int64) (io.ReadCloser, int64, FileInfo, error) {
	if err := s.begin(); err != nil {
		return nil, 0, FileInfo{}, err
	}
	defer s.wg.Done()
	if err := s.preflight(ctx, p, ErrNotFile, "read as a file"); err != nil {
		return nil, 0, FileInfo{}, err
	}
	if offset < 0 {
		return nil, 0, FileInfo{}, fmt.Errorf("%w: offset %d is negative", ErrOutOfRange, offset)
	}
	s.mu.RLock()
	f, err := s.resolveFile(r, p)
	if err != nil {
		s.mu.RUnlock()
		return nil, 0, FileInfo{}, err
	}
	info := f.info()
	if offset > info.Size {
		s.mu.RUnlock()
		return nil, 0, FileInfo{}, fmt.Errorf("%w: offset %d is past the end of %s (size %d)", ErrOutOfRange, offset, p, info.Size)
	}
	n := info.Size - offset
	if length >= 0 && length < n {
		n = length
	}
	if n == 0 {
		s.mu.RUnlock()
		return io.NopCloser(eofReader{}), 0, info, nil
	}
	// Opened under the lock, as in ReadFile: the handle keeps the version.
	h, err := s.openRegular(blobName(f.blob), os.O_RDONLY)
	s.mu.RUnlock()
	if err != nil {
		return nil, 0, FileInfo{}, blobErr("opening content of "+p.String(), err)
	}
	return &contentReader{h: h, sr: io.NewSectionReader(h, offset, n), left: n, p: p}, n, info, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// contentReader reads a section of a blob and reports a blob shorter than
// its recorded size as ErrCorrupt.
type contentReader struct {
	h    io.Closer
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
	case err != nil && !errors.Is(err, io.EOF):
		return n, ioErr("reading content of "+c.p.String(), err)
	}
	return n, err
}

func (c *contentReader) Close() error { return c.h.Close() }
