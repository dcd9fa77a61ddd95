package apps

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/vfs"
)

var errInjected = errors.New("injected failure")

// failAt makes r fail at the step named step.
func failAt(r *Registry, step string) {
	r.failAfter = func(s string) error {
		if s == step {
			return errInjected
		}
		return nil
	}
}

// TestAddAllOrNothing: a failure after the root is created leaves neither
// the root nor the app.
func TestAddAllOrNothing(t *testing.T) {
	f := newFixture(t)
	r := f.open(t)
	failAt(r, "add: root")
	_, err := r.Add(AddRequest{Name: "mail", Exec: f.exe})
	require.ErrorIs(t, err, errInjected)
	assert.False(t, f.store.RootExists(vfs.AppRoot("mail-Root-Dir")))
	assert.Empty(t, r.List())
	assert.Zero(t, count(t, f.store, "apps_apps"))
	r.failAfter = nil
	a, err := r.Add(AddRequest{Name: "mail", Exec: f.exe})
	require.NoError(t, err)
	assert.Equal(t, "mail-Root-Dir", a.RootDir)
}

// TestRemovePurgeAllOrNothing: app rm --purge deletes the app's row, its
// roots (its own and one an earlier app of its name kept) and, through
// Options.Purge, what else it owns, in one transaction: a failure at any
// step leaves all of it (rows, tree, content, usage), and the app stays
// registered; without a failure all of it goes.
func TestRemovePurgeAllOrNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	// Purge deletes the app's rows of a table of another component, as the
	// dns module does with its names.
	sqlExec(t, f.store, `CREATE TABLE test_owned (owner TEXT, name TEXT)`)
	purged := 0
	purge := func(tx *vfs.Tx, appID string) ([]string, error) {
		res, err := tx.SQL().ExecContext(tx.Context(), `DELETE FROM test_owned WHERE owner = ?`, appID)
		if err != nil {
			return nil, err
		}
		n, _ := res.RowsAffected()
		purged++
		return []string{"n" + string(rune('0'+n))}, nil
	}
	r, err := Open(f.store, Options{Purge: purge})
	require.NoError(t, err)
	_, err = r.Add(AddRequest{Name: "x", Exec: f.exe})
	require.NoError(t, err)
	_, err = r.Remove("x", false)
	require.NoError(t, err)
	a, err := r.Add(AddRequest{Name: "x", Exec: f.exe})
	require.NoError(t, err)
	require.Equal(t, "x-Root-Dir-2", a.RootDir)
	for _, root := range []string{"x-Root-Dir", "x-Root-Dir-2"} {
		_, err := f.store.CreateFile(ctx, vfs.AppRoot(root), vfs.Path{"f"}, []byte("meta"))
		require.NoError(t, err)
		_, err = f.store.ModifyFile(ctx, vfs.AppRoot(root), vfs.Path{"f"}, vfs.FileChange{Content: &vfs.Content{Bytes: []byte("content")}})
		require.NoError(t, err)
	}
	sqlExec(t, f.store, `INSERT INTO test_owned VALUES ('`+a.ID+`', 'a'), ('`+a.ID+`', 'b'), ('other', 'c')`)
	size0, err := f.store.Size(ctx)
	require.NoError(t, err)
	usage0, err := f.store.AppUsage(ctx, a.RootDir)
	require.NoError(t, err)
	require.EqualValues(t, 1, usage0.Entries)

	for _, step := range []string{"remove: app", "remove: root x-Root-Dir-2", "remove: root x-Root-Dir", "remove: purge"} {
		failAt(r, step)
		_, err := r.Remove("x", true)
		require.ErrorIs(t, err, errInjected, step)
		assert.Contains(t, err.Error(), "not removed", step)
		got, err := r.Get("x")
		require.NoError(t, err, step)
		assert.Equal(t, a, got, step)
		assert.Equal(t, []string{"x-Root-Dir"}, r.OrphanRoots(), step)
		for _, root := range []string{"x-Root-Dir", "x-Root-Dir-2"} {
			b, _, err := f.store.ReadFile(ctx, vfs.AppRoot(root), vfs.Path{"f"}, 0, -1)
			require.NoError(t, err, "%s: %s", step, root)
			assert.Equal(t, "content", string(b), step)
		}
		assert.Equal(t, 3, count(t, f.store, "test_owned"), step)
		size, err := f.store.Size(ctx)
		require.NoError(t, err)
		assert.Equal(t, size0.Usage, size.Usage, step)
		usage, err := f.store.AppUsage(ctx, a.RootDir)
		require.NoError(t, err)
		assert.Equal(t, usage0, usage, step)
		// And so after a reopen.
		r2, err := Open(f.store, Options{})
		require.NoError(t, err)
		assert.Len(t, r2.List(), 1, step)
		assert.Equal(t, []string{"x-Root-Dir"}, r2.OrphanRoots(), step)
	}
	assert.Equal(t, 1, purged, "purge ran in the one attempt that got that far, and was undone")

	// Purge itself failing undoes the removal too.
	r.failAfter = nil
	r.purge = func(*vfs.Tx, string) ([]string, error) { return nil, errInjected }
	_, err = r.Remove("x", true)
	require.ErrorIs(t, err, errInjected)
	_, err = r.Get("x")
	require.NoError(t, err)

	r.purge = purge
	res, err := r.Remove("x", true)
	require.NoError(t, err)
	assert.Equal(t, []string{"x-Root-Dir-2", "x-Root-Dir"}, res.Deleted)
	assert.Equal(t, []string{"n2"}, res.Names)
	assert.Equal(t, 1, count(t, f.store, "test_owned"), "only the app's rows went")
	assert.False(t, f.store.RootExists(vfs.AppRoot("x-Root-Dir")))
	assert.False(t, f.store.RootExists(vfs.AppRoot("x-Root-Dir-2")))
	assert.Zero(t, count(t, f.store, "apps_apps"))
	assert.Zero(t, count(t, f.store, "apps_kept_roots"))
	usage, err := f.store.AppUsage(ctx, a.RootDir)
	assert.True(t, err != nil || usage.Entries == 0, "the deleted root's usage is gone: %+v %v", usage, err)
}
