// Package vfs is the launcher's store of directories and files with metadata.
//
// A Store owns one directory: an SQLite database (DatabaseName, through
// modernc.org/sqlite, pure Go) holding every root, directory and file
// (names, stable IDs, times, flags, user metadata, content sizes), the
// usage of every app, and room for other packages' tables; and blob files
// holding file content, kept in an afero file system (the daemon passes a
// BasePathFs over its store directory; tests may use a MemMapFs, with the
// database in memory). Nothing is loaded whole: lookups go by (parent,
// name) and listings by an index ordered by name, so memory does not grow
// with the store.
//
// The store keeps any number of roots: one private root per app (AppRoot),
// the user's shared SAFEDrive (SharedRoot, or SharedRootFor an app writing
// it) and areas reserved for the launcher (ReservedRoot). Each root is a
// tree of directories and files. Directories carry private/versioned flags
// and user metadata; files carry content and user metadata; both have a
// stable ID and creation and modification times.
//
// vfs knows nothing of apps' keys, JSON or wire error codes. Every error
// wraps one of the exported sentinels (ErrNotFound, ErrExists, ...) for
// errors.Is, and its text says what was wrong without ever naming a host
// path.
//
// # Confinement
//
// User-supplied names never become host file names: they are rows of the
// database, and content is kept under names the store makes from random
// IDs, so "..", encodings, symlinks and case-insensitive host file systems
// cannot move a request out of its root. Names are valid UTF-8 without
// U+FFFD (see ValidName) and compared byte for byte. The store refuses to
// open a symlink or any non-regular file where it expects its own files.
// Every method validates the Path it is given, even one not built with
// ParsePath.
//
// # Durability
//
// Every change is one SQLite transaction (write-ahead log, WAL mode): after
// a crash the store holds each change whole or not at all. When a change's
// method returns:
//
//   - SyncBackground (the default) is synchronous=NORMAL: an acknowledged
//     change survives kill -9 of the daemon; power loss may lose the last
//     changes but never consistency.
//   - SyncCommit is synchronous=FULL: an acknowledged change survives power
//     loss too.
//
// In both modes new content is written and fsynced before the row that
// points at it commits (to a new blob, or appended past the end of the
// file's blob when it ends on a whole chunk), and a blob a change drops is removed only
// once that change is durable, so a file's content always matches its size
// and metadata. Readers see whole committed versions only: a read racing a
// write returns the old or the new content.
//
// # Quotas
//
// Each app's private root and what it wrote in SAFEDrive count against its
// quota (Options.AppQuota: entries, content bytes, user metadata bytes);
// SAFEDrive as a whole against Options.SharedQuota. A change past a quota
// is refused with ErrQuota and nothing of it is made. Usage is kept in the
// database, updated in the transaction of each change (Store.Usage,
// Store.AppUsage, Store.Size).
//
// # What the caller must do
//
//   - Decide which Root a request may use, and through SharedRootFor say
//     which app writes SAFEDrive. vfs confines a request to the Root it is
//     given; it does not know who is asking.
//   - Give the Store exclusive use of its directory: one Store per
//     directory, in one process, and no other writer. The store trusts the
//     contents of its own area only as far as the checks above go.
//   - Keep other packages' tables in the store's database through
//     Store.Update and Tx.SQL, so that a change of theirs and of the tree is
//     one transaction.
//   - Close the Store on shutdown (Close waits for operations in progress).
package vfs
