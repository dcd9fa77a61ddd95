package vfs_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/afero"

	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/launchertest"
	"github.com/safe-launcher/launcher/nfs"
	"github.com/safe-launcher/launcher/vfs"
	"github.com/safe-launcher/launcher/wire"
)

// TestQuotasThroughTheSDK runs the real daemon over a store with small
// quotas on a real temp directory and reaches each quota through the SDK:
// the app gets -209 naming the quota and the numbers, nothing of the refused
// change is there, and the usage is the same after the store is reopened.
func TestQuotasThroughTheSDK(t *testing.T) {
	dir := t.TempDir()
	opts := vfs.Options{AppQuota: vfs.Quota{Entries: 4, ContentBytes: 20, MetadataBytes: 6}}
	store, err := vfs.Open(afero.NewBasePathFs(afero.NewOsFs(), dir), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Unlock(&vfs.Keys{}); err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.CreateRoot(vfs.SharedRoot()); err != nil {
		t.Fatal(err)
	}
	d := launchertest.Start(t, launcher.Config{}, nfs.New(store))
	app := d.AddAppWithRoot(t, store, "mail", false)
	c := d.Dial(t, app.ID)
	ctx := t.Context()
	root := vfs.AppRoot(app.RootDir)

	ok := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	refused := func(what string, err error, msg string) {
		t.Helper()
		var we *wire.Error
		if !errors.As(err, &we) || we.Code != wire.CodeStoreLimit {
			t.Fatalf("%s: %v, want -209", what, err)
		}
		if !strings.Contains(we.Description, "quota") || !strings.Contains(we.Description, msg) {
			t.Fatalf("%s: %q does not say %q", what, we.Description, msg)
		}
	}
	ok("create-dir", c.CreateDir(ctx, wire.CreateDirRequest{DirPath: "docs", UserMetadata: wire.Bytes("ab")}))
	ok("create-file", c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "docs/a.txt", UserMetadata: wire.Bytes("cd")}))
	ok("write", c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: "docs/a.txt",
		NewValues: wire.FileNewValues{Content: &wire.FileContent{Bytes: wire.Bytes("0123456789")}}}))
	ok("create-file", c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "b.txt"}))
	before, err := store.Usage(ctx, root)
	ok("usage", err)
	if before != (vfs.Usage{Entries: 3, ContentBytes: 10, MetadataBytes: 4}) {
		t.Fatalf("usage %+v", before)
	}

	ok("create-file", c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "c.txt"}))
	refused("entries", c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "d.txt"}), "would hold 5 entries, its quota is 4")
	refused("content", c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: "docs/a.txt",
		NewValues: wire.FileNewValues{Content: &wire.FileContent{Offset: ptr(int64(10)), Bytes: wire.Bytes("0123456789X")}}}),
		"would hold 21 bytes of content, its quota is 20")
	meta := wire.Bytes("efghi")
	refused("metadata", c.ModifyDir(ctx, wire.ModifyDirRequest{DirPath: "docs", NewValues: wire.DirNewValues{UserMetadata: &meta}}),
		"would hold 7 bytes of user metadata, its quota is 6")

	l, err := c.GetDir(ctx, wire.GetDirRequest{DirPath: "docs"})
	ok("get-dir", err)
	if string(l.Info.UserMetadata) != "ab" || len(l.Files) != 1 || l.Files[0].Size != 10 {
		t.Fatalf("the refused changes left a trace: %+v", l)
	}
	f, err := c.GetFile(ctx, wire.GetFileRequest{FilePath: "docs/a.txt", Length: -1})
	ok("get-file", err)
	if string(f.Content) != "0123456789" {
		t.Fatalf("content %q", f.Content)
	}
	after, err := store.Usage(ctx, root)
	ok("usage", err)
	d.Stop()
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	store2, err := vfs.Open(afero.NewBasePathFs(afero.NewOsFs(), dir), opts)
	ok("reopen", err)
	ok("unlock", store2.Unlock(&vfs.Keys{}))
	defer store2.Close()
	again, err := store2.Usage(context.Background(), root)
	ok("usage after reopen", err)
	if again != after || after != (vfs.Usage{Entries: 4, ContentBytes: 10, MetadataBytes: 4}) {
		t.Fatalf("usage %+v, after reopen %+v", after, again)
	}
}

// TestLoneSurrogateThroughTheSDK: a path with a JSON lone surrogate
// ("a\ud800b", which the daemon's decoder turns into U+FFFD) is refused with
// -202 naming the segment, and so is the other lone surrogate that would
// otherwise collide with it.
func TestLoneSurrogateThroughTheSDK(t *testing.T) {
	store, _ := launchertest.Store(t)
	d := launchertest.Start(t, launcher.Config{}, nfs.New(store))
	app := d.AddAppWithRoot(t, store, "mail", false)
	c := d.Dial(t, app.ID)
	ctx := t.Context()
	for _, raw := range []string{`a\ud800b`, `a\udfffb`, `ok/a\ud800`} {
		data := json.RawMessage(`{"dir_path":"` + raw + `","is_private":false,"is_versioned":false,"is_path_shared":false,"user_metadata":""}`)
		err := c.Call(ctx, "safe-api/v1.0/nfs/create-dir", data, nil)
		var we *wire.Error
		if !errors.As(err, &we) || we.Code != wire.CodeInvalidPath || !strings.Contains(we.Description, `\ufffd`) {
			t.Fatalf("create-dir %s: %v, want -202 naming the segment", raw, err)
		}
	}
	l, err := c.GetDir(ctx, wire.GetDirRequest{})
	if err != nil || len(l.SubDirectories) != 0 {
		t.Fatalf("refused names made something: %+v %v", l, err)
	}
}

func ptr[T any](v T) *T { return &v }
