package vfs

import "io"

// sealer is the one door every name, user metadata and content byte passes
// through between the store's callers and what it keeps (database rows and
// blob files), so that encryption at rest can be added in one place, without
// a change of schema: names, metadata and content sealed with an AEAD under
// keys derived from a master key, names looked up by a keyed hash.
//
// Today it is the identity (plainSealer). What the store relies on:
//
//   - nameKey is what a name is found by in its parent: equal names give
//     equal keys in the same parent and different names different keys.
//     It is bound to the parent, so a directory moved to another parent
//     gets a new key (and sealed name).
//   - keysSorted reports whether the byte order of name keys is the byte
//     order of names. When false, listings are sorted after openName.
//   - sealName/openName and sealMeta/openMeta are inverses; the stored form
//     may be longer. openName and openMeta may fail (a forged or damaged
//     row): the store reports ErrCorrupt.
//   - Content: sealContent wraps the writer of a new blob (written from its
//     start, then closed), openContent the reader of a blob holding size
//     bytes of content; appendInPlace reports whether bytes may be written
//     as they are at the end of an existing blob (an append without a
//     copy). An AEAD sealer returns false (or learns to rewrite the last
//     chunk).
//
// Quotas and sizes count the bytes before sealing (meta_len, size).
type sealer interface {
	nameKey(parent int64, name string) []byte
	keysSorted() bool
	sealName(parent int64, name string) []byte
	openName(parent int64, stored []byte) (string, error)
	sealMeta(uid []byte, meta []byte) []byte
	openMeta(uid []byte, stored []byte) ([]byte, error)
	sealContent(blob []byte, w io.Writer) io.WriteCloser
	openContent(blob []byte, r io.ReaderAt, size int64) io.ReaderAt
	appendInPlace() bool
}

// plainSealer keeps everything as it is.
type plainSealer struct{}

func (plainSealer) nameKey(_ int64, name string) []byte  { return []byte(name) }
func (plainSealer) keysSorted() bool                     { return true }
func (plainSealer) sealName(_ int64, name string) []byte { return []byte(name) }
func (plainSealer) openName(_ int64, b []byte) (string, error) {
	return string(b), nil
}
func (plainSealer) sealMeta(_ []byte, meta []byte) []byte { return meta }
func (plainSealer) openMeta(_ []byte, b []byte) ([]byte, error) {
	if b == nil {
		return []byte{}, nil
	}
	return b, nil
}
func (plainSealer) sealContent(_ []byte, w io.Writer) io.WriteCloser { return nopWriteCloser{w} }
func (plainSealer) openContent(_ []byte, r io.ReaderAt, _ int64) io.ReaderAt {
	return r
}
func (plainSealer) appendInPlace() bool { return true }

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
