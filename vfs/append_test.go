package vfs

import (
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// fileState is a file's blob and content version, from its row.
func fileState(t *testing.T, s *Store, p string) (blob []byte, version int64) {
	t.Helper()
	require.NoError(t, s.View(bg, func(tx *Tx) error {
		f, err := tx.resolveFile(app, P(t, p))
		if err == nil {
			blob, version = bytes.Clone(f.blob), f.version
		}
		return err
	}))
	return blob, version
}

func appendAt(t *testing.T, s *Store, p string, off int64, b []byte) {
	t.Helper()
	_, err := s.ModifyFile(bg, app, P(t, p), FileChange{Content: &Content{Offset: &off, Bytes: b}})
	require.NoError(t, err)
}

// TestAppendInPlace: an append to content of whole chunks seals only the
// new chunks, into the file's blob itself, at the same content version;
// any other write (an unaligned append, an overwrite) makes a new blob for
// the next version. A reader opened before an append reads the content it
// opened; a blob with the tail of an append that never committed reads
// fine, and the next append writes a new blob rather than build on it.
func TestAppendInPlace(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		{
			s, fsys, _ := newT(t, b, Options{})
			mkdir(t, s, app, "d")
			want := make([]byte, 2*chunkSize)
			_, _ = rand.Read(want)
			mkfile(t, s, app, "d/f", string(want))
			blob0, v0 := fileState(t, s, "d/f")

			// Opened before the appends: it keeps reading what it opened.
			old, size, _, err := s.OpenContent(bg, app, P(t, "d/f"), 0, -1)
			require.NoError(t, err)
			require.Equal(t, int64(len(want)), size)

			more := make([]byte, 3*chunkSize+100) // ends in a partial chunk
			_, _ = rand.Read(more)
			appendAt(t, s, "d/f", int64(len(want)), more)
			want = append(want, more...)
			blob1, v1 := fileState(t, s, "d/f")
			require.Equal(t, blob0, blob1, "an aligned append stays in the blob")
			require.Equal(t, v0, v1, "and at the same version")
			require.Equal(t, want, []byte(readAll(t, s, app, "d/f")))

			got, err := io.ReadAll(old)
			require.NoError(t, err)
			require.NoError(t, old.Close())
			require.Equal(t, want[:2*chunkSize], got, "the reader opened before sees the content it opened")

			// Unaligned now: the next append makes a new blob.
			tail := []byte("tail")
			appendAt(t, s, "d/f", int64(len(want)), tail)
			want = append(want, tail...)
			blob2, v2 := fileState(t, s, "d/f")
			require.NotEqual(t, blob1, blob2)
			require.Equal(t, v1+1, v2)
			require.Equal(t, want, []byte(readAll(t, s, app, "d/f")))

			// Whole chunks again (an overwrite, a new blob), then the tail
			// of an append that never committed.
			want = want[:4*chunkSize]
			_, err = s.ModifyFile(bg, app, P(t, "d/f"), FileChange{Content: &Content{Bytes: want}})
			require.NoError(t, err)
			blob3, v3 := fileState(t, s, "d/f")
			require.NotEqual(t, blob2, blob3)
			name := contentName(blob3)
			if _, err := fsys.Stat(name); err != nil {
				name = incomingName(blob3)
			}
			h, err := fsys.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
			require.NoError(t, err)
			_, err = h.Write(bytes.Repeat([]byte{0xee}, 1000))
			require.NoError(t, err)
			require.NoError(t, h.Close())
			require.Equal(t, want, []byte(readAll(t, s, app, "d/f")), "a tail past the size is never read")

			appendAt(t, s, "d/f", int64(len(want)), more)
			want = append(want, more...)
			blob4, v4 := fileState(t, s, "d/f")
			require.NotEqual(t, blob3, blob4, "no append builds on a tail that did not commit")
			require.Equal(t, v3+1, v4)
			require.Equal(t, want, []byte(readAll(t, s, app, "d/f")))

			// After a reopen the content is all there.
			require.NoError(t, s.Close())
			s2 := openT(t, fsys, Options{})
			require.Equal(t, want, []byte(readAll(t, s2, app, "d/f")))
		}
	})
}
