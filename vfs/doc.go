// Package vfs is the launcher's store of directories and files with metadata.
//
// A Store owns one afero file system (the daemon passes a BasePathFs over
// its data directory; tests use a MemMapFs) and keeps in it any number of
// roots: one private root per app (AppRoot), the user's shared SAFEDrive
// (SharedRoot) and areas reserved for the launcher (ReservedRoot). Each root
// is a tree of directories and files. Directories carry private/versioned
// flags and user metadata; files carry content and user metadata; both have
// a stable ID and creation and modification times.
//
// vfs knows nothing of apps, JSON or wire error codes. Every error wraps one
// of the exported sentinels (ErrNotFound, ErrExists, ...) for errors.Is, and
// its text says what was wrong without ever naming a host path.
//
// # Confinement
//
// User-supplied names never become host file names. Objects are kept under
// names the store makes from random IDs (see docs/vfs.md), and names are
// looked up byte for byte in manifests, so "..", encodings, symlinks and
// case-insensitive host file systems cannot move a request out of its root.
// The store refuses to open a symlink or any non-regular file where it
// expects its own files. Every method validates the Path it is given, even
// one not built with ParsePath.
//
// # Durability
//
// When a mutating method returns nil, the change has been synced to the
// backing file system and survives a crash (kill -9, power loss on file
// systems that honour fsync). After a crash, Open finds every acknowledged
// change and no partial one. Readers see whole committed versions only.
//
// # What the caller must do
//
//   - Decide which Root a request may use. vfs confines a request to the
//     Root it is given; it does not know who is asking.
//   - Give the Store exclusive use of its file system: one Store per
//     directory, in one process, and no other writer. The store trusts the
//     contents of its own area only as far as the checks above go.
//   - Enforce quotas across roots if needed: the limits of Options bound a
//     single file, metadata blob, directory and path depth, not total usage.
//   - Close the Store on shutdown (Close waits for operations in progress).
package vfs
