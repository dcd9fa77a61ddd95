package nfs_test

// Encryption at rest (issue 17 item 4), end to end: the real daemon on a
// real data directory, driven through the real SDK.

import (
	"bytes"
	crand "crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/dns"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/launchertest"
	"github.com/safe-launcher/launcher/nfs"
	"github.com/safe-launcher/launcher/vfs"
	"github.com/safe-launcher/launcher/wire"
	"github.com/spf13/afero"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"
)

type atRest struct {
	dir   string
	store *vfs.Store
	d     *launchertest.Daemon
	app   launcher.App
	c     *client.Client
}

// newAtRest starts the daemon with nfs and dns on a store unlocked with
// random keys, and an app with SAFEDrive access.
func newAtRest(t *testing.T) *atRest {
	t.Helper()
	dir := t.TempDir()
	store, err := vfs.Open(afero.NewBasePathFs(afero.NewOsFs(), dir), vfs.Options{})
	require.NoError(t, err)
	keys, err := vfs.RandomKeys(crand.Reader)
	require.NoError(t, err)
	require.NoError(t, store.Unlock(keys))
	keys.Wipe()
	t.Cleanup(func() { store.Close() })
	_, err = store.CreateRoot(vfs.SharedRoot())
	require.NoError(t, err)
	dm, err := dns.New(store)
	require.NoError(t, err)
	d := launchertest.Start(t, launcher.Config{}, nfs.New(store), dm)
	a := d.AddAppWithRoot(t, store, "Auditor-App-9d1e", true)
	return &atRest{dir: dir, store: store, d: d, app: a, c: d.Dial(t, a.ID)}
}

func wireCode(err error) wire.Code {
	var we *wire.Error
	if errors.As(err, &we) {
		return we.Code
	}
	return 0
}

// TestAuditNothingInTheClear writes known content, names and metadata in a
// private root, SAFEDrive and a DNS name with its service, stops the
// daemon, and searches every byte of every file under the data directory
// for each of them (as they are, in base64 and in hex): none appears.
func TestAuditNothingInTheClear(t *testing.T) {
	e := newAtRest(t)
	ctx := ctxT(t)
	c := e.c
	secrets := map[string]string{
		"private dir":        "Private-Dir-Name-7f3a61",
		"private dir meta":   "private-dir-metadata-91c2ab",
		"private file":       "private-file-name-a81b44.txt",
		"private file meta":  "private-file-metadata-0c7d19",
		"private content":    "private-content-5e2f8c3b",
		"drive dir":          "Drive-Dir-Name-55e1d0",
		"drive file":         "drive-file-name-6d2c7e.txt",
		"drive content":      "drive-content-b3a94f12",
		"drive file meta":    "drive-file-metadata-8e21aa",
		"site dir":           "site-dir-name-4c9e2b",
		"site file":          "site-page-name-13fa7c.html",
		"site content":       "site-page-content-7a0d5e",
		"dns long name":      "auditlongname42x",
		"dns service":        "auditservice9q",
		"app root dir":       e.app.RootDir,
		"renamed file":       "renamed-file-name-2b8f60",
		"overwritten middle": "patched-bytes-c41d0f",
	}
	big := strings.Repeat(secrets["private content"]+" ", 20000) // several chunks
	require.NoError(t, c.CreateDir(ctx, wire.CreateDirRequest{DirPath: secrets["private dir"], IsPrivate: true, UserMetadata: []byte(secrets["private dir meta"])}))
	pf := secrets["private dir"] + "/" + secrets["private file"]
	require.NoError(t, c.CreateFile(ctx, wire.CreateFileRequest{FilePath: pf, UserMetadata: []byte(secrets["private file meta"])}))
	require.NoError(t, c.WriteFile(ctx, pf, false, []byte(big)))
	require.NoError(t, c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: pf, NewValues: wire.FileNewValues{
		Content: &wire.FileContent{Offset: i64p(100000), Bytes: []byte(secrets["overwritten middle"])}}}))
	require.NoError(t, c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "tmp", UserMetadata: wire.Bytes{}}))
	require.NoError(t, c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: "tmp", NewValues: wire.FileNewValues{Name: strp(secrets["renamed file"])}}))

	require.NoError(t, c.CreateDir(ctx, wire.CreateDirRequest{DirPath: secrets["drive dir"], IsPathShared: true, UserMetadata: wire.Bytes{}}))
	df := secrets["drive dir"] + "/" + secrets["drive file"]
	require.NoError(t, c.CreateFile(ctx, wire.CreateFileRequest{FilePath: df, IsPathShared: true, UserMetadata: []byte(secrets["drive file meta"])}))
	require.NoError(t, c.WriteFile(ctx, df, true, []byte(secrets["drive content"])))

	require.NoError(t, c.CreateDir(ctx, wire.CreateDirRequest{DirPath: secrets["site dir"], UserMetadata: wire.Bytes{}}))
	require.NoError(t, c.WriteFile(ctx, secrets["site dir"]+"/"+secrets["site file"], false, []byte(secrets["site content"])))
	require.NoError(t, c.RegisterDNS(ctx, client.ServiceRequest{LongName: secrets["dns long name"], ServiceName: secrets["dns service"],
		ServiceHomeDirPath: secrets["site dir"]}))

	// Everything reads back as written.
	got, err := c.ReadFile(ctx, pf, false)
	require.NoError(t, err)
	want := []byte(big)
	copy(want[100000:], secrets["overwritten middle"])
	require.True(t, bytes.Equal(got, want), "private content differs")
	l, err := c.GetDir(ctx, wire.GetDirRequest{DirPath: secrets["drive dir"], IsPathShared: true})
	require.NoError(t, err)
	require.Len(t, l.Files, 1)
	require.Equal(t, secrets["drive file"], l.Files[0].Name)
	require.Equal(t, secrets["drive file meta"], string(l.Files[0].UserMetadata))
	page, err := c.GetServiceFile(ctx, client.ServiceFileRequest{LongName: secrets["dns long name"], ServiceName: secrets["dns service"], FilePath: secrets["site file"]})
	require.NoError(t, err)
	require.Equal(t, secrets["site content"], string(page.Content))

	c.Close()
	e.d.Stop()
	require.NoError(t, e.store.Close())

	var files int
	var total int64
	require.NoError(t, filepath.WalkDir(e.dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		total += int64(len(b))
		lower := bytes.ToLower(b)
		for what, s := range secrets {
			for _, form := range []string{s, base64.StdEncoding.EncodeToString([]byte(s))[:len(s)*4/3-2], hex.EncodeToString([]byte(s))} {
				if bytes.Contains(b, []byte(form)) || bytes.Contains(lower, bytes.ToLower([]byte(form))) {
					t.Errorf("%s (%q) found in %s", what, form, strings.TrimPrefix(p, e.dir))
				}
			}
		}
		return nil
	}))
	require.Greater(t, files, 2, "the audit found nothing to search")
	require.Greater(t, total, int64(len(big)), "the audit searched less than the content written")
}

// TestTamperedBlob: a flipped byte in a content blob gives -210 on the read
// that meets it, and the daemon goes on.
func TestTamperedBlob(t *testing.T) {
	e := newAtRest(t)
	ctx := ctxT(t)
	content := bytes.Repeat([]byte("tamper me "), 30000)
	require.NoError(t, e.c.WriteFile(ctx, "victim", false, content))
	require.NoError(t, e.c.WriteFile(ctx, "bystander", false, []byte("still fine")))
	blobs, err := filepath.Glob(filepath.Join(e.dir, "content", "*"))
	require.NoError(t, err)
	var victim string
	for _, b := range blobs {
		if fi, err := os.Stat(b); err == nil && fi.Size() > int64(len(content)) {
			victim = b
		}
	}
	require.NotEmpty(t, victim, "no blob of the victim's size")
	b, err := os.ReadFile(victim)
	require.NoError(t, err)
	b[len(b)-100] ^= 0x20 // in the last chunk
	require.NoError(t, os.WriteFile(victim, b, 0o600))

	// A read of the first chunk alone does not meet it.
	r, err := e.c.GetFile(ctx, wire.GetFileRequest{FilePath: "victim", Offset: 0, Length: 10})
	require.NoError(t, err)
	require.Equal(t, content[:10], []byte(r.Content))
	_, err = e.c.ReadFile(ctx, "victim", false)
	require.Equal(t, wire.CodeIntegrity, wireCode(err), "whole read: %v", err)
	_, err = e.c.GetFile(ctx, wire.GetFileRequest{FilePath: "victim", Offset: int64(len(content) - 5), Length: 5})
	require.Equal(t, wire.CodeIntegrity, wireCode(err), "read of the last chunk: %v", err)
	got, err := e.c.ReadFile(ctx, "bystander", false)
	require.NoError(t, err)
	require.Equal(t, "still fine", string(got))
	// Replacing the content heals the file.
	require.NoError(t, e.c.WriteFile(ctx, "victim", false, []byte("new")))
	got, err = e.c.ReadFile(ctx, "victim", false)
	require.NoError(t, err)
	require.Equal(t, "new", string(got))
}

// TestTamperedDatabase: a flipped byte in an encrypted column of store.db
// (a sealed name, sealed metadata, the authenticated header) gives -210 on
// the read that meets it, and the daemon goes on.
func TestTamperedDatabase(t *testing.T) {
	for _, where := range []string{"header", "name", "metadata"} {
		t.Run(where, func(t *testing.T) {
			e := newAtRest(t)
			ctx := ctxT(t)
			require.NoError(t, e.c.CreateDir(ctx, wire.CreateDirRequest{DirPath: "d", UserMetadata: wire.Bytes{}}))
			require.NoError(t, e.c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "d/victim", UserMetadata: []byte("victim's metadata")}))
			const size = 12345 // finds the row
			require.NoError(t, e.c.WriteFile(ctx, "d/victim", false, make([]byte, size)))
			require.NoError(t, e.c.CreateDir(ctx, wire.CreateDirRequest{DirPath: "other", UserMetadata: wire.Bytes{}}))

			db, err := sql.Open("sqlite", filepath.Join(e.dir, vfs.DatabaseName)+"?_pragma=busy_timeout(10000)")
			require.NoError(t, err)
			defer db.Close()
			var rec []byte
			require.NoError(t, db.QueryRow(`SELECT rec FROM nodes WHERE kind = 1 AND size = ?`, size).Scan(&rec))
			switch where {
			case "header":
				rec[20] ^= 1 // the created time
			case "name":
				rec[51+1+30] ^= 1 // inside the sealed name
			case "metadata":
				rec[len(rec)-3] ^= 1 // inside the sealed metadata (it comes last)
			}
			_, err = db.Exec(`UPDATE nodes SET rec = ? WHERE kind = 1 AND size = ?`, rec, size)
			require.NoError(t, err)

			_, err = e.c.GetDir(ctx, wire.GetDirRequest{DirPath: "d"})
			require.Equal(t, wire.CodeIntegrity, wireCode(err), "listing: %v", err)
			_, err = e.c.ReadFile(ctx, "d/victim", false)
			require.Equal(t, wire.CodeIntegrity, wireCode(err), "read: %v", err)
			// The daemon goes on.
			l, err := e.c.GetDir(ctx, wire.GetDirRequest{DirPath: "/"})
			require.NoError(t, err)
			require.Len(t, l.SubDirectories, 2)
			require.NoError(t, e.c.WriteFile(ctx, "other/f", false, []byte("ok")))
		})
	}
}
