package vfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Sentinel errors. Every error returned by a Store wraps one of these (test
// with errors.Is), except a canceled context's own error, returned as
// ctx.Err(). Exactly one, except that ErrQuota and ErrNoSpace errors wrap
// ErrTooLarge as well (they are limits: callers that map ErrTooLarge keep
// working). The wrapping text says what was wrong (which path, segment or
// limit) and never contains a host file-system path.
var (
	// ErrNotFound: a path, segment or ID does not exist.
	ErrNotFound = errors.New("vfs: not found")
	// ErrExists: the name is already used by a file or a directory in the parent.
	ErrExists = errors.New("vfs: already exists")
	// ErrInvalidPath: a path segment or name breaks the name rules, or a move
	// would put a directory inside itself. The message quotes the segment.
	ErrInvalidPath = errors.New("vfs: invalid path")
	// ErrNotDir: a directory operation met a file (a segment before the last,
	// or the target of a directory operation).
	ErrNotDir = errors.New("vfs: not a directory")
	// ErrNotFile: a file operation met a directory.
	ErrNotFile = errors.New("vfs: not a file")
	// ErrIsRoot: delete, rename or move of a root itself.
	ErrIsRoot = errors.New("vfs: operation not allowed on a root")
	// ErrOutOfRange: a read or write offset is negative or beyond the end of the file.
	ErrOutOfRange = errors.New("vfs: offset out of range")
	// ErrNoRoot: the root does not exist (or the Root value is the zero Root).
	ErrNoRoot = errors.New("vfs: no such root")
	// ErrTooLarge: a limit of Options was exceeded; the message names the limit.
	ErrTooLarge = errors.New("vfs: too large")
	// ErrQuota: the change would take an app (or SAFEDrive as a whole) past
	// one of its quotas (Options.AppQuota, Options.SharedQuota). The message
	// names the quota, the usage and the limit; the error also wraps
	// ErrTooLarge. Nothing of the change was made.
	ErrQuota = errors.New("vfs: quota exceeded")
	// ErrNoSpace: the disk is full, or new content would leave it with less
	// free space than Options.ReserveBytes (kept for the database, so that
	// deletes and other small changes go on). The change was not made. The
	// error also wraps ErrTooLarge.
	ErrNoSpace = errors.New("vfs: no space left")
	// ErrClosed: the Store was closed.
	ErrClosed = errors.New("vfs: store closed")
	// ErrIO: the backing file system failed. The message names the operation
	// and the underlying errno-level cause, never a host path.
	ErrIO = errors.New("vfs: storage i/o error")
	// ErrCorrupt: the on-disk store breaks its own invariants (returned by Open,
	// or by a read that finds a blob missing, short or not a regular file).
	ErrCorrupt = errors.New("vfs: store corrupt")
	// ErrIntegrity: stored data (a content chunk, a sealed name or user
	// metadata, a record of the database) failed its integrity check: it
	// was changed, damaged, moved or rolled back outside the store. The
	// read that met it returns no data; the rest of the store is
	// unaffected.
	ErrIntegrity = errors.New("vfs: stored data failed its integrity check")
	// ErrLocked: the store has no keys (it opens locked; see Store.Unlock
	// and Store.Lock).
	ErrLocked = errors.New("vfs: store locked")
	// ErrOldFormat: Open found a store directory written by the store before
	// SQLite (it has wal.log, roots.json, journal.json or dirs/). There is no
	// migration: move the directory aside and start with an empty one.
	ErrOldFormat = errors.New("vfs: store in an old format")
)

// ioErr wraps a backend error as ErrIO (ErrNoSpace for ENOSPC), stripping
// any path the backend put in its error (os.PathError, os.LinkError,
// os.SyscallError) so that host paths never leak to callers.
func ioErr(op string, err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return &limitError{ErrNoSpace, op + ": " + stripPath(err).Error()}
	}
	return fmt.Errorf("%w: %s: %w", ErrIO, op, stripPath(err))
}

// limitError is a refusal by a limit that is not an Options limit (ErrQuota,
// ErrNoSpace): it wraps its sentinel and ErrTooLarge.
type limitError struct {
	sentinel error
	msg      string
}

func (e *limitError) Error() string { return e.sentinel.Error() + ": " + e.msg }

func (e *limitError) Is(target error) bool { return target == e.sentinel || target == ErrTooLarge }

// stripPath returns the cause of err without any file name in it.
func stripPath(err error) error {
	for i := 0; i < 8; i++ { // bounded: wrappers may nest
		var pe *fs.PathError
		var le *os.LinkError
		var se *os.SyscallError
		switch {
		case errors.As(err, &pe):
			err = pe.Err
		case errors.As(err, &le):
			err = le.Err
		case errors.As(err, &se):
			err = se.Err
		default:
			if _, ok := err.(syscall.Errno); ok {
				return err
			}
			// Unknown error types (afero's own sentinels and the like) are
			// kept as text only if they are known not to carry names.
			if isKnownPathless(err) {
				return err
			}
			return errors.New("backend error")
		}
	}
	return errors.New("backend error")
}

func isKnownPathless(err error) bool {
	for _, e := range []error{fs.ErrNotExist, fs.ErrExist, fs.ErrPermission, fs.ErrClosed, fs.ErrInvalid, io.EOF, io.ErrUnexpectedEOF} {
		if err == e {
			return true
		}
	}
	return false
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
