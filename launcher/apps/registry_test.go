package apps

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/vfs"
)

// fixture is a registry over an in-memory store, with an executable on disk.
type fixture struct {
	dir   string
	path  string
	store *vfs.Store
	exe   string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	store, err := vfs.Open(afero.NewMemMapFs(), vfs.Options{})
	require.NoError(t, err)
	require.NoError(t, store.Unlock(&vfs.Keys{})) // the store opens locked; fixed (zero) test keys
	t.Cleanup(func() { store.Close() })
	exe := filepath.Join(dir, "app.sh")
	require.NoError(t, os.WriteFile(exe, []byte("#!/bin/sh\nexit 0\n"), 0o755))
	return &fixture{dir: dir, path: filepath.Join(dir, "apps.json"), store: store, exe: exe}
}

func (f *fixture) open(t *testing.T) *Registry {
	t.Helper()
	r, err := Open(f.store, Options{OldFile: f.path})
	require.NoError(t, err)
	return r
}

func TestValidName(t *testing.T) {
	good := []string{"a", "Mail", "my-app_2.0", "9lives", strings.Repeat("x", 64)}
	for _, n := range good {
		assert.NoError(t, ValidName(n), n)
	}
	bad := []string{"", ".hidden", "-x", "_x", "a b", "a/b", "é", "a\x00", strings.Repeat("x", 65), "a:b"}
	for _, n := range bad {
		assert.ErrorIs(t, ValidName(n), ErrInvalidName, "%q", n)
	}
}

func TestAddPersistsAndReopens(t *testing.T) {
	f := newFixture(t)
	r := f.open(t)
	a, err := r.Add(AddRequest{Name: "mail", Exec: f.exe, SecretEnv: true})
	require.NoError(t, err)
	assert.Len(t, a.ID, 32)
	assert.Equal(t, "mail-Root-Dir", a.RootDir)
	assert.False(t, a.SafeDrive, "SAFEDrive is off by default")
	assert.Len(t, a.SHA512, 128)
	assert.True(t, f.store.RootExists(vfs.AppRoot("mail-Root-Dir")))

	la, ok := r.App(a.ID)
	require.True(t, ok)
	assert.Equal(t, "mail-Root-Dir", la.RootDir)
	assert.False(t, la.SharedDrive)

	_, err = r.SetSafeDrive("mail", true)
	require.NoError(t, err)
	la, _ = r.App(a.ID)
	assert.True(t, la.SharedDrive, "the change is visible at once")

	_, err = os.Lstat(f.path)
	assert.ErrorIs(t, err, os.ErrNotExist, "no registry file is written")

	r2 := f.open(t)
	got, err := r2.Get("mail")
	require.NoError(t, err)
	a.SafeDrive = true
	assert.Equal(t, a, got)
	assert.Equal(t, []App{a}, r2.List())
}

func TestAddErrors(t *testing.T) {
	f := newFixture(t)
	r := f.open(t)
	_, err := r.Add(AddRequest{Name: "a", Exec: f.exe})
	require.NoError(t, err)
	noexec := filepath.Join(f.dir, "noexec")
	require.NoError(t, os.WriteFile(noexec, []byte("x"), 0o644))
	cases := []struct {
		req  AddRequest
		want error
	}{
		{AddRequest{Name: "a", Exec: f.exe}, ErrExists},
		{AddRequest{Name: "b c", Exec: f.exe}, ErrInvalidName},
		{AddRequest{Name: "b", Exec: "relative/app"}, ErrBadExec},
		{AddRequest{Name: "b", Exec: filepath.Join(f.dir, "missing")}, ErrBadExec},
		{AddRequest{Name: "b", Exec: f.dir}, ErrBadExec},
		{AddRequest{Name: "b", Exec: noexec}, ErrBadExec},
	}
	for _, c := range cases {
		_, err := r.Add(c.req)
		assert.ErrorIs(t, err, c.want, "%+v", c.req)
	}
	assert.Len(t, r.List(), 1)
}

func TestRootNameClashAndPurge(t *testing.T) {
	f := newFixture(t)
	r := f.open(t)
	a1, err := r.Add(AddRequest{Name: "x", Exec: f.exe})
	require.NoError(t, err)
	_, err = r.Remove("x", false)
	require.NoError(t, err)
	assert.True(t, f.store.RootExists(vfs.AppRoot(a1.RootDir)), "rm keeps the root")
	_, ok := r.App(a1.ID)
	assert.False(t, ok)

	a2, err := r.Add(AddRequest{Name: "x", Exec: f.exe})
	require.NoError(t, err)
	assert.Equal(t, "x-Root-Dir-2", a2.RootDir, "a kept root is never reused by a new app")
	assert.NotEqual(t, a1.ID, a2.ID)

	res, err := r.Remove("x", true)
	require.NoError(t, err)
	assert.Equal(t, []string{"x-Root-Dir-2", "x-Root-Dir"}, res.Deleted, "purge also deletes the root an earlier x left")
	assert.False(t, f.store.RootExists(vfs.AppRoot("x-Root-Dir-2")))
	assert.False(t, f.store.RootExists(vfs.AppRoot("x-Root-Dir")))
	_, err = r.Remove("x", true)
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Empty(t, r.OrphanRoots())
}

// TestOrphanRoots: a root kept by rm is listed (also after a reopen), a
// root of a registered app is not, a purged one is gone; a root left before
// the registry recorded kept roots is found next to the roots of an app of
// the same name.
func TestOrphanRoots(t *testing.T) {
	f := newFixture(t)
	r := f.open(t)
	for _, n := range []string{"mail", "site"} {
		_, err := r.Add(AddRequest{Name: n, Exec: f.exe})
		require.NoError(t, err)
	}
	assert.Empty(t, r.OrphanRoots())
	_, err := r.Remove("mail", false)
	require.NoError(t, err)
	assert.Equal(t, []string{"mail-Root-Dir"}, r.OrphanRoots())
	a, err := r.Add(AddRequest{Name: "mail", Exec: f.exe})
	require.NoError(t, err)
	assert.Equal(t, "mail-Root-Dir-2", a.RootDir)
	assert.Equal(t, []string{"mail-Root-Dir"}, r.OrphanRoots(), "the new app's root is not an orphan")

	// Roots an older daemon kept without recording them: "old-Root-Dir"
	// and "old-Root-Dir-3" next to the registered app old's "-2", and
	// "gone-Root-Dir" of an app whose name is not in use.
	for _, root := range []string{"old-Root-Dir", "old-Root-Dir-2", "old-Root-Dir-3", "gone-Root-Dir"} {
		_, err := f.store.CreateRoot(vfs.AppRoot(root))
		require.NoError(t, err)
	}
	_, err = r.Add(AddRequest{Name: "old", Exec: f.exe})
	require.NoError(t, err)
	r = f.open(t)
	assert.Equal(t, []string{"mail-Root-Dir", "old-Root-Dir", "old-Root-Dir-2", "old-Root-Dir-3"}, r.OrphanRoots(),
		"kept roots survive a reopen; unrecorded ones are found by the name of a registered app")
	old, err := r.Get("old")
	require.NoError(t, err)
	assert.Equal(t, "old-Root-Dir-4", old.RootDir)

	// PurgeRoot deletes an orphan, also one not listed; refuses an app's
	// root and unknown names.
	require.NoError(t, r.PurgeRoot("gone-Root-Dir"))
	assert.False(t, f.store.RootExists(vfs.AppRoot("gone-Root-Dir")))
	require.NoError(t, r.PurgeRoot("mail-Root-Dir"))
	assert.ErrorIs(t, r.PurgeRoot("mail-Root-Dir"), ErrNoRoot)
	assert.ErrorIs(t, r.PurgeRoot("mail-Root-Dir-2"), ErrRootInUse)
	assert.ErrorIs(t, r.PurgeRoot("../x"), ErrNoRoot)
	assert.True(t, f.store.RootExists(vfs.AppRoot("mail-Root-Dir-2")))
	assert.Equal(t, []string{"old-Root-Dir", "old-Root-Dir-2", "old-Root-Dir-3"}, f.open(t).OrphanRoots())

	// rm --purge of old deletes its root and the three its namesakes left.
	res, err := r.Remove("old", true)
	require.NoError(t, err)
	assert.Equal(t, []string{"old-Root-Dir-4", "old-Root-Dir", "old-Root-Dir-2", "old-Root-Dir-3"}, res.Deleted)
	assert.Empty(t, r.OrphanRoots())
	r = f.open(t)
	assert.Empty(t, r.OrphanRoots())
	a, err = r.Add(AddRequest{Name: "old", Exec: f.exe})
	require.NoError(t, err)
	assert.Equal(t, "old-Root-Dir", a.RootDir, "purged names are free again, also after a reopen")
	assert.Zero(t, count(t, f.store, "apps_kept_roots"), "nothing kept is left in the tables")
}

func TestParseRootName(t *testing.T) {
	for _, c := range []struct {
		root string
		name string
		k    int
		ok   bool
	}{
		{"mail-Root-Dir", "mail", 1, true},
		{"mail-Root-Dir-2", "mail", 2, true},
		{"a-Root-Dir-Root-Dir-12", "a-Root-Dir", 12, true},
		{"mail-Root-Dir-1", "", 0, false},
		{"mail-Root-Dir-02", "", 0, false},
		{"mail-Root-Dir-x", "", 0, false},
		{"-Root-Dir", "", 0, false},
		{"mail", "", 0, false},
	} {
		n, k, ok := parseRootName(c.root)
		assert.Equal(t, c.ok, ok, c.root)
		if c.ok {
			assert.Equal(t, c.name, n, c.root)
			assert.Equal(t, c.k, k, c.root)
			assert.Equal(t, c.root, rootName(n, k))
		}
	}
}

// TestOldFormatRefused: a registry file of the format before the store's
// database (apps.json), also a symbolic link, is refused with ErrOldFormat
// saying so, and left alone.
func TestOldFormatRefused(t *testing.T) {
	f := newFixture(t)
	require.NoError(t, os.WriteFile(f.path, []byte(`{"version":1,"apps":[]}`), 0o600))
	_, err := Open(f.store, Options{OldFile: f.path})
	require.ErrorIs(t, err, ErrOldFormat)
	assert.Contains(t, err.Error(), "no migration")
	require.NoError(t, os.Remove(f.path))

	victim := filepath.Join(t.TempDir(), "victim")
	require.NoError(t, os.WriteFile(victim, []byte(`{"version":1,"apps":[]}`), 0o600))
	require.NoError(t, os.Symlink(victim, f.path))
	_, err = Open(f.store, Options{OldFile: f.path})
	require.ErrorIs(t, err, ErrOldFormat)
	b, err := os.ReadFile(victim)
	require.NoError(t, err)
	assert.Equal(t, `{"version":1,"apps":[]}`, string(b))
}

func TestVerify(t *testing.T) {
	f := newFixture(t)
	r := f.open(t)
	a, err := r.Add(AddRequest{Name: "v", Exec: f.exe})
	require.NoError(t, err)
	_, exe, err := r.Verify("v", false)
	require.NoError(t, err)
	exe.Close()

	require.NoError(t, os.WriteFile(f.exe, []byte("#!/bin/sh\nexit 1\n"), 0o755))
	_, exe, err = r.Verify("v", false)
	require.ErrorIs(t, err, ErrChanged)
	assert.Nil(t, exe)
	got, _ := r.Get("v")
	assert.Equal(t, a.SHA512, got.SHA512, "a refused change records nothing")

	b, exe, err := r.Verify("v", true)
	require.NoError(t, err)
	exe.Close()
	assert.NotEqual(t, a.SHA512, b.SHA512)
	_, exe, err = r.Verify("v", false)
	require.NoError(t, err, "the accepted hash is recorded")
	exe.Close()
	assert.Equal(t, b.SHA512, f.open(t).List()[0].SHA512, "and persisted")

	_, _, err = r.Verify("nope", false)
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestOpenRepairsAndRejects(t *testing.T) {
	f := newFixture(t)
	r := f.open(t)
	a, err := r.Add(AddRequest{Name: "a", Exec: f.exe})
	require.NoError(t, err)
	// A root deleted behind the registry's back is made again.
	require.NoError(t, f.store.DeleteRoot(vfs.AppRoot(a.RootDir)))
	f.open(t)
	assert.True(t, f.store.RootExists(vfs.AppRoot(a.RootDir)))

	sqlExec(t, f.store, `DELETE FROM apps_apps`)
	for _, bad := range []struct{ id, name, root, rec string }{
		{"1", "a", "r", `{`},
		{"1", "a", "r", `{"id":"2","name":"a","exec":"/x","root_dir":"r"}`},
		{"1", "a", "r", `{"id":"1","name":"b","exec":"/x","root_dir":"r"}`},
		{"1", "a", "r", `{"id":"1","name":"a","exec":"/x","root_dir":"s"}`},
		{"1", "a b", "r", `{"id":"1","name":"a b","exec":"/x","root_dir":"r"}`},
		{"1", "a", "r", `{"id":"1","name":"a","exec":"x","root_dir":"r"}`},
	} {
		putRaw(t, f.store, bad.id, bad.name, bad.root, []byte(bad.rec))
		_, err := Open(f.store, Options{})
		assert.ErrorIs(t, err, ErrCorrupt, bad.rec)
		assert.NotErrorIs(t, err, vfs.ErrIntegrity, bad.rec)
		sqlExec(t, f.store, `DELETE FROM apps_apps`)
	}
	putRaw(t, f.store, "1", "a", "r", []byte(`{"id":"1","name":"a","exec":"/x","root_dir":"r"}`))
	f.open(t) // the helper makes good rows
	sqlExec(t, f.store, `DELETE FROM apps_apps`)

	sqlExec(t, f.store, `UPDATE schema_version SET version = 3 WHERE component = 'apps'`)
	_, err = Open(f.store, Options{})
	assert.ErrorIs(t, err, ErrCorrupt)
	sqlExec(t, f.store, `UPDATE schema_version SET version = 1 WHERE component = 'apps'`)
	_, err = Open(f.store, Options{})
	assert.ErrorIs(t, err, ErrOldFormat, "the tables in the clear are refused")
	sqlExec(t, f.store, `UPDATE schema_version SET version = 2 WHERE component = 'apps'`)
	f.open(t)
}

// putRaw writes an apps_apps row as putApp would, with rec (JSON) as the
// sealed record, whatever it holds.
func putRaw(t *testing.T, s *vfs.Store, id, name, root string, rec []byte) {
	t.Helper()
	require.NoError(t, s.Update(context.Background(), func(tx *vfs.Tx) error {
		h := idHash(tx, id)
		_, err := tx.SQL().ExecContext(tx.Context(), `INSERT INTO apps_apps (id_hash, name_hash, root_hash, rec) VALUES (?, ?, ?, ?)`,
			h, nameHash(tx, name), rootHash(tx, root), sealRec(tx, tableApps, h, rec))
		return err
	}))
}

// TestTamperedRowsRefused: a changed byte in an app's or a kept root's
// sealed record, or a record moved to another row, makes Open fail with
// ErrCorrupt wrapping vfs.ErrIntegrity; put back, the registry opens.
func TestTamperedRowsRefused(t *testing.T) {
	f := newFixture(t)
	r := f.open(t)
	_, err := r.Add(AddRequest{Name: "a", Exec: f.exe})
	require.NoError(t, err)
	_, err = r.Add(AddRequest{Name: "b", Exec: f.exe})
	require.NoError(t, err)
	_, err = r.Add(AddRequest{Name: "k", Exec: f.exe})
	require.NoError(t, err)
	_, err = r.Remove("k", false)
	require.NoError(t, err)
	require.Equal(t, 1, count(t, f.store, "apps_kept_roots"))

	// Nothing of the apps is in the clear in the tables.
	for _, table := range []string{"apps_apps", "apps_kept_roots"} {
		require.NoError(t, f.store.View(context.Background(), func(tx *vfs.Tx) error {
			rows, err := tx.SQL().QueryContext(tx.Context(), `SELECT * FROM `+table)
			require.NoError(t, err)
			defer rows.Close()
			cols, err := rows.Columns()
			require.NoError(t, err)
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				require.NoError(t, rows.Scan(ptrs...))
				for i, v := range vals {
					b, ok := v.([]byte)
					require.True(t, ok, "%s.%s is a blob", table, cols[i])
					for _, s := range []string{"a-Root-Dir", "b-Root-Dir", "k-Root-Dir", f.exe} {
						assert.NotContains(t, string(b), s, "%s.%s", table, cols[i])
					}
				}
			}
			return rows.Err()
		}))
	}

	for _, table := range []string{"apps_apps", "apps_kept_roots"} {
		t.Run(table+" byte", func(t *testing.T) {
			var key, rec []byte
			require.NoError(t, f.store.View(context.Background(), func(tx *vfs.Tx) error {
				return tx.SQL().QueryRowContext(tx.Context(), `SELECT `+keyCol(table)+`, rec FROM `+table+` LIMIT 1`).Scan(&key, &rec)
			}))
			bad := append([]byte(nil), rec...)
			bad[len(bad)/2] ^= 1
			setRec(t, f.store, table, key, bad)
			_, err := Open(f.store, Options{})
			require.ErrorIs(t, err, ErrCorrupt)
			require.ErrorIs(t, err, vfs.ErrIntegrity)
			setRec(t, f.store, table, key, rec)
			f.open(t)
		})
	}
	t.Run("moved", func(t *testing.T) {
		var keys, recs [][]byte
		require.NoError(t, f.store.View(context.Background(), func(tx *vfs.Tx) error {
			rows, err := tx.SQL().QueryContext(tx.Context(), `SELECT id_hash, rec FROM apps_apps`)
			require.NoError(t, err)
			defer rows.Close()
			for rows.Next() {
				var k, r []byte
				require.NoError(t, rows.Scan(&k, &r))
				keys, recs = append(keys, k), append(recs, r)
			}
			return rows.Err()
		}))
		require.Len(t, keys, 2)
		setRec(t, f.store, "apps_apps", keys[0], recs[1])
		setRec(t, f.store, "apps_apps", keys[1], recs[0])
		_, err := Open(f.store, Options{})
		require.ErrorIs(t, err, vfs.ErrIntegrity)
		setRec(t, f.store, "apps_apps", keys[0], recs[0])
		setRec(t, f.store, "apps_apps", keys[1], recs[1])
		r := f.open(t)
		assert.Len(t, r.List(), 2)
		assert.Equal(t, []string{"k-Root-Dir"}, r.OrphanRoots())
	})
}

func keyCol(table string) string {
	if table == "apps_apps" {
		return "id_hash"
	}
	return "root_hash"
}

// setRec sets the rec of table's row with key.
func setRec(t *testing.T, s *vfs.Store, table string, key, rec []byte) {
	t.Helper()
	require.NoError(t, s.Update(context.Background(), func(tx *vfs.Tx) error {
		_, err := tx.SQL().ExecContext(tx.Context(), `UPDATE `+table+` SET rec = ? WHERE `+keyCol(table)+` = ?`, rec, key)
		return err
	}))
}

// sqlExec runs q on the store's database in a transaction of its own.
func sqlExec(t *testing.T, s *vfs.Store, q string) {
	t.Helper()
	require.NoError(t, s.Update(context.Background(), func(tx *vfs.Tx) error {
		_, err := tx.SQL().ExecContext(tx.Context(), q)
		return err
	}), q)
}

// count returns the number of rows of table.
func count(t *testing.T, s *vfs.Store, table string) int {
	t.Helper()
	var n int
	require.NoError(t, s.View(context.Background(), func(tx *vfs.Tx) error {
		return tx.SQL().QueryRowContext(tx.Context(), `SELECT count(*) FROM `+table).Scan(&n)
	}))
	return n
}

func TestConcurrentUse(t *testing.T) {
	f := newFixture(t)
	r := f.open(t)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			name := fmt.Sprintf("app%d", i)
			a, err := r.Add(AddRequest{Name: name, Exec: f.exe})
			assert.NoError(t, err)
			for j := range 5 {
				_, err := r.SetSafeDrive(name, j%2 == 0)
				assert.NoError(t, err)
				_, ok := r.App(a.ID)
				assert.True(t, ok)
				r.List()
			}
		})
	}
	wg.Wait()
	list := f.open(t).List()
	require.Len(t, list, 16)
	for _, a := range list {
		assert.True(t, a.SafeDrive)
	}
}
