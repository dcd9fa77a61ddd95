package nfs_test

import (
	"strings"
	"testing"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/launchertest"
	"github.com/safe-launcher/launcher/nfs"
	"github.com/safe-launcher/launcher/vfs"
	"github.com/safe-launcher/launcher/wire"
)

// TestQuotasThroughTheSDK: each per-app quota (entries, content bytes,
// metadata bytes) reached through the SDK gives -209 naming the limit,
// leaves nothing half-written, counts SAFEDrive writes against the writing
// app, and the usage is the same after the store is reopened.
func TestQuotasThroughTheSDK(t *testing.T) {
	dir := t.TempDir()
	opts := vfs.Options{AppQuota: vfs.Quota{Entries: 4, ContentBytes: 100, MetadataBytes: 20}}
	open := func() *vfs.Store {
		s, err := vfs.Open(afero.NewBasePathFs(afero.NewOsFs(), dir), opts)
		require.NoError(t, err)
		require.NoError(t, s.Unlock(&vfs.Keys{}))
		return s
	}
	store := open()
	_, err := store.CreateRoot(vfs.SharedRoot())
	require.NoError(t, err)
	d := launchertest.Start(t, launcher.Config{}, nfs.New(store))
	app := d.AddAppWithRoot(t, store, "quota", true)
	c := d.Dial(t, app.ID)
	ctx := ctxT(t)

	// Metadata bytes: 20 in all.
	require.NoError(t, c.CreateDir(ctx, wire.CreateDirRequest{DirPath: "d", UserMetadata: wire.Bytes("0123456789")}))
	err = c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "d/m", UserMetadata: wire.Bytes("0123456789x")})
	require.ErrorIs(t, err, wire.ErrStoreLimit)
	assert.Contains(t, err.Error(), "metadata")
	_, err = c.GetFile(ctx, wire.GetFileRequest{FilePath: "d/m"})
	require.ErrorIs(t, err, wire.ErrPathNotFound, "nothing half-written")

	// Content bytes: 100 in all.
	require.NoError(t, c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "d/f", UserMetadata: wire.Bytes{}}))
	require.NoError(t, c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: "d/f", NewValues: wire.FileNewValues{Content: &wire.FileContent{Bytes: []byte(strings.Repeat("a", 90))}}}))
	err = c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: "d/f", NewValues: wire.FileNewValues{Content: &wire.FileContent{Offset: i64p(90), Bytes: []byte(strings.Repeat("b", 11))}}})
	require.ErrorIs(t, err, wire.ErrStoreLimit)
	assert.Contains(t, err.Error(), "content")
	got, err := c.GetFile(ctx, wire.GetFileRequest{FilePath: "d/f", Length: -1})
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("a", 90), string(got.Content), "the refused write left the file as it was")

	// Entries: 4 in all, SAFEDrive writes counted against the app.
	require.NoError(t, c.CreateDir(ctx, wire.CreateDirRequest{IsPathShared: true, DirPath: "s1", UserMetadata: wire.Bytes{}}))
	require.NoError(t, c.CreateDir(ctx, wire.CreateDirRequest{DirPath: "e", UserMetadata: wire.Bytes{}}))
	err = c.CreateDir(ctx, wire.CreateDirRequest{IsPathShared: true, DirPath: "s2", UserMetadata: wire.Bytes{}})
	require.ErrorIs(t, err, wire.ErrStoreLimit)
	assert.Contains(t, err.Error(), "entries")
	assert.NotContains(t, err.Error(), "vfs:")

	before, err := store.AppUsage(ctx, app.RootDir)
	require.NoError(t, err)
	d.Stop()
	require.NoError(t, store.Close())
	store = open()
	defer store.Close()
	after, err := store.AppUsage(ctx, app.RootDir)
	require.NoError(t, err)
	assert.Equal(t, before, after, "usage after a restart")
	assert.Equal(t, int64(4), after.Entries)
	assert.Equal(t, int64(90), after.ContentBytes)
}
