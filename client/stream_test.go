package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/launchertest"
	"github.com/safe-launcher/launcher/nfs"
	"github.com/safe-launcher/launcher/wire"
)

// streamEnv runs the real daemon with nfs on an on-disk store, with frames
// capped at maxFrame so that a file of a few MiB is bigger than one frame.
func streamEnv(t *testing.T, maxFrame uint64) *client.Client {
	t.Helper()
	store, _ := launchertest.Store(t)
	d := launchertest.Start(t, launcher.Config{MaxFrame: maxFrame, MaxHandshakeFrame: 16 << 10}, nfs.New(store))
	a := d.AddAppWithRoot(t, store, "streamer", false)
	return d.Dial(t, a.ID, client.WithMaxFrame(maxFrame))
}

func streamCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestStreamBiggerThanAFrame(t *testing.T) {
	const maxFrame = 256 << 10
	c := streamEnv(t, maxFrame)
	ctx := streamCtx(t)
	data := make([]byte, 3<<20+17)
	_, _ = rand.Read(data)

	// One request cannot carry the file: its frame is over the maximum.
	require.NoError(t, c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "one-shot", UserMetadata: wire.Bytes{}}))
	err := c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: "one-shot", NewValues: wire.FileNewValues{Content: &wire.FileContent{Bytes: data}}})
	require.Error(t, err)
	c = streamEnv(t, maxFrame) // that session was closed by the launcher

	for _, opt := range []client.StreamOptions{
		{ChunkSize: 64 << 10, Window: 1, Create: true},
		{ChunkSize: 64 << 10, Window: 8, Create: true},
		{ChunkSize: 100_000, Window: 3, Create: true}, // chunks not aligned to anything
	} {
		name := "big-" + time.Now().Format("150405.000000000")
		w := c.NewFileWriter(ctx, name, opt)
		// Uneven writes, some bigger than a chunk.
		for rest, step := data, 1; len(rest) > 0; step = step*7%200_000 + 1 {
			k := min(step, len(rest))
			n, err := w.Write(rest[:k])
			require.NoError(t, err)
			require.Equal(t, k, n)
			rest = rest[k:]
		}
		require.NoError(t, w.Close())

		r := c.NewFileReader(ctx, name, opt)
		got, err := io.ReadAll(r)
		require.NoError(t, err)
		require.NoError(t, r.Close())
		assert.EqualValues(t, len(data), r.Size())
		require.True(t, bytes.Equal(data, got), "streamed back byte for byte (%+v)", opt)
	}
}

func TestStreamEdges(t *testing.T) {
	c := streamEnv(t, 1<<20)
	ctx := streamCtx(t)
	opt := client.StreamOptions{ChunkSize: 1000, Window: 2}

	// An empty write creates an empty file; rewriting truncates.
	w := c.NewFileWriter(ctx, "f", client.StreamOptions{Create: true})
	require.NoError(t, w.Close())
	got, err := io.ReadAll(c.NewFileReader(ctx, "f", opt))
	require.NoError(t, err)
	assert.Empty(t, got)
	w = c.NewFileWriter(ctx, "f", opt)
	_, err = w.Write(bytes.Repeat([]byte("x"), 5000))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	w = c.NewFileWriter(ctx, "f", opt)
	_, err = w.Write([]byte("short"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	got, err = io.ReadAll(c.NewFileReader(ctx, "f", opt))
	require.NoError(t, err)
	assert.Equal(t, "short", string(got))

	// Exactly a multiple of the chunk size.
	data := bytes.Repeat([]byte("0123456789"), 300)
	w = c.NewFileWriter(ctx, "g", client.StreamOptions{ChunkSize: 1000, Create: true})
	_, err = w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	got, err = io.ReadAll(c.NewFileReader(ctx, "g", opt))
	require.NoError(t, err)
	assert.Equal(t, data, got)

	// Errors: a missing file, an existing one with Create, SAFEDrive without the grant.
	_, err = io.ReadAll(c.NewFileReader(ctx, "missing", opt))
	require.ErrorIs(t, err, wire.ErrPathNotFound)
	w = c.NewFileWriter(ctx, "missing", opt)
	_, _ = w.Write([]byte("x"))
	require.ErrorIs(t, w.Close(), wire.ErrPathNotFound)
	w = c.NewFileWriter(ctx, "g", client.StreamOptions{Create: true})
	_, _ = w.Write([]byte("x"))
	require.ErrorIs(t, w.Close(), wire.ErrAlreadyExists)
	got, err = io.ReadAll(c.NewFileReader(ctx, "g", opt))
	require.NoError(t, err)
	assert.Equal(t, data, got, "a failed create writes nothing")
	_, err = io.ReadAll(c.NewFileReader(ctx, "g", client.StreamOptions{Shared: true}))
	require.ErrorIs(t, err, wire.ErrSharedDenied)

	// A file changed between two chunks is reported, not mixed.
	r := c.NewFileReader(ctx, "g", client.StreamOptions{ChunkSize: 1000, Window: 1})
	buf := make([]byte, 10)
	_, err = r.Read(buf)
	require.NoError(t, err)
	require.NoError(t, c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: "g", NewValues: wire.FileNewValues{Content: &wire.FileContent{Bytes: bytes.Repeat([]byte("y"), 3000)}}}))
	_, err = io.ReadAll(r)
	require.True(t, errors.Is(err, client.ErrFileChanged), "got %v", err)
	require.NoError(t, r.Close())
	_, err = r.Read(buf)
	require.Error(t, err)
}
