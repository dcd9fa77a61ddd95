package client_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/wire"
)

// TestGetFileWholeByDefault: GetFile with Length 0 reads to the end (the
// SDK sends -1); an explicit Length reads that range; StatFile gives the
// metadata without the content.
func TestGetFileWholeByDefault(t *testing.T) {
	d, app := nfsEnv(t, launcher.Config{})
	c := d.Dial(t, app)
	ctx := testCtx(t)
	require.NoError(t, c.WriteFile(ctx, "f", false, []byte("hello, world")))

	got, err := c.GetFile(ctx, client.GetFileRequest{FilePath: "f"})
	require.NoError(t, err)
	assert.Equal(t, "hello, world", string(got.Content))
	assert.Nil(t, got.Metadata)

	got, err = c.GetFile(ctx, client.GetFileRequest{FilePath: "f", Offset: 7})
	require.NoError(t, err)
	assert.Equal(t, "world", string(got.Content))

	got, err = c.GetFile(ctx, client.GetFileRequest{FilePath: "f", Offset: 7, Length: 3, IncludeMetadata: true})
	require.NoError(t, err)
	assert.Equal(t, "wor", string(got.Content))
	require.NotNil(t, got.Metadata)
	assert.Equal(t, int64(12), got.Metadata.Size)

	got, err = c.GetFile(ctx, client.GetFileRequest{FilePath: "f", Length: -1})
	require.NoError(t, err)
	assert.Equal(t, "hello, world", string(got.Content), "-1 still reads to the end")

	info, err := c.StatFile(ctx, false, "f")
	require.NoError(t, err)
	assert.Equal(t, "f", info.Name)
	assert.Equal(t, int64(12), info.Size)
	assert.False(t, info.Modified().IsZero())

	_, err = c.StatFile(ctx, false, "missing")
	require.ErrorIs(t, err, wire.ErrPathNotFound)
	_, err = c.GetFile(ctx, client.GetFileRequest{FilePath: "f", Offset: 13})
	require.ErrorIs(t, err, wire.ErrOutOfRange)
}

// TestReadWriteFile: WriteFile creates or replaces, ReadFile returns the
// whole file, for small files and for files of several chunks.
func TestReadWriteFile(t *testing.T) {
	d, app := nfsEnv(t, launcher.Config{})
	c := d.Dial(t, app)
	ctx := testCtx(t)

	// Created, replaced by a shorter content (no tail left), emptied.
	require.NoError(t, c.WriteFile(ctx, "small", false, []byte("first version")))
	require.NoError(t, c.WriteFile(ctx, "small", false, []byte("second")))
	got, err := c.ReadFile(ctx, "small", false)
	require.NoError(t, err)
	assert.Equal(t, "second", string(got))
	require.NoError(t, c.WriteFile(ctx, "small", false, nil))
	got, err = c.ReadFile(ctx, "small", false)
	require.NoError(t, err)
	assert.NotNil(t, got)
	assert.Empty(t, got)

	// Several chunks (DefaultChunkSize), not a multiple of it, over a
	// larger file.
	big := make([]byte, 2*client.DefaultChunkSize+12345)
	_, _ = rand.Read(big)
	require.NoError(t, c.WriteFile(ctx, "big", false, bytes.Repeat([]byte("z"), 3*client.DefaultChunkSize)))
	require.NoError(t, c.WriteFile(ctx, "big", false, big))
	got, err = c.ReadFile(ctx, "big", false)
	require.NoError(t, err)
	require.True(t, bytes.Equal(big, got), "read back byte for byte")
	info, err := c.StatFile(ctx, false, "big")
	require.NoError(t, err)
	assert.Equal(t, int64(len(big)), info.Size)

	// From a reader.
	require.NoError(t, c.WriteFileFrom(ctx, "from-reader", false, io.MultiReader(bytes.NewReader(big[:1000]), bytes.NewReader(big[1000:]))))
	got, err = c.ReadFile(ctx, "from-reader", false)
	require.NoError(t, err)
	require.True(t, bytes.Equal(big, got))

	// Errors: no parent, a directory, SAFEDrive without the grant, a
	// missing file, a failing reader.
	require.ErrorIs(t, c.WriteFile(ctx, "no/such/dir", false, []byte("x")), wire.ErrPathNotFound)
	require.NoError(t, c.CreateDir(ctx, client.CreateDirRequest{DirPath: "dir", UserMetadata: client.Bytes{}}))
	require.ErrorIs(t, c.WriteFile(ctx, "dir", false, []byte("x")), wire.ErrNotAFile)
	require.ErrorIs(t, c.WriteFile(ctx, "f", true, []byte("x")), wire.ErrSharedDenied)
	_, err = c.ReadFile(ctx, "missing", false)
	require.ErrorIs(t, err, wire.ErrPathNotFound)
	_, err = c.ReadFile(ctx, "dir", false)
	require.ErrorIs(t, err, wire.ErrNotAFile)
	broken := errors.New("broken source")
	err = c.WriteFileFrom(ctx, "broken", false, io.MultiReader(bytes.NewReader([]byte("part")), errReader{broken}))
	require.ErrorIs(t, err, broken)
	require.ErrorContains(t, err, "client: reading the content of broken")
	got, err = c.ReadFile(ctx, "broken", false)
	require.NoError(t, err)
	assert.Empty(t, got, "nothing of a failed source's content is written")
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
