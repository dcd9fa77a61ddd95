package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/account"
)

// serveIn runs serve in-process on data, for the refusals that come before
// anything is bound.
func serveIn(t *testing.T, data string) (code int, stderr string) {
	t.Helper()
	code, _, stderr = runIn(t, "serve", "--data", data, "--listen", "127.0.0.1:0", "--gateway", "127.0.0.1:0")
	require.NotEqual(t, exitOK, code, "serve ran: %s", stderr)
	return code, stderr
}

// TestDataDirRefused: serve refuses, with exit 1 and a line naming the
// problem and the fix, a data directory open to group or others, or that is
// not a directory; it touches nothing in it.
func TestDataDirRefused(t *testing.T) {
	for _, mode := range []os.FileMode{0o755, 0o750, 0o707, 0o777, 0o701} {
		data := filepath.Join(t.TempDir(), "data")
		require.NoError(t, os.Mkdir(data, 0o700))
		require.NoError(t, os.Chmod(data, mode))
		code, errs := serveIn(t, data)
		assert.Equal(t, exitFailure, code)
		assert.Equal(t, "launcher: data directory "+data+" is open to other users (mode d"+mode.String()[1:]+"); it must be yours alone: chmod 700 "+data+"\n", errs)
		ents, err := os.ReadDir(data)
		require.NoError(t, err)
		assert.Empty(t, ents, "nothing is created in a refused directory")
	}

	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	code, errs := serveIn(t, file)
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, errs, "file")
	assert.Equal(t, 1, strings.Count(errs, "\n"), errs)
}

// TestDataDirOwner: a data directory, or a file in it, owned by another
// user is refused. Changing owners needs root.
func TestDataDirOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing a file's owner needs root; run the tests as root to cover the owner checks")
	}
	const other = 65534
	data := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.Mkdir(data, 0o700))
	require.NoError(t, os.Chown(data, other, other))
	code, errs := serveIn(t, data)
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, errs, "data directory "+data+" belongs to uid 65534, not to you (uid 0)")

	require.NoError(t, os.Chown(data, 0, 0))
	lock := filepath.Join(data, lockName)
	require.NoError(t, os.WriteFile(lock, []byte("victim\n"), 0o600))
	require.NoError(t, os.Chown(lock, other, other))
	code, errs = serveIn(t, data)
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, errs, lock+" belongs to uid 65534")
	b, err := os.ReadFile(lock)
	require.NoError(t, err)
	assert.Equal(t, "victim\n", string(b), "a refused lock file is not truncated")

	require.NoError(t, os.Remove(lock))
	ensureAccount(t, data)
	store := filepath.Join(data, storeName)
	require.NoError(t, os.Mkdir(store, 0o700))
	require.NoError(t, os.Chown(store, other, other))
	code, errs = serveIn(t, data)
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, errs, "directory "+store+" belongs to uid 65534")
}

// TestPlantedLinksLeaveVictimsAlone plants symbolic and hard links where the
// daemon keeps its files: serve refuses to start and the link's target is
// untouched.
func TestPlantedLinksLeaveVictimsAlone(t *testing.T) {
	const content = "precious data\n"
	for _, c := range []struct {
		name  string
		plant func(data, victim string) error
		want  string
	}{
		{"lock symlink", func(data, victim string) error { return os.Symlink(victim, filepath.Join(data, lockName)) },
			"lock file DATA/lock is a symbolic link, which the daemon never makes; remove it (rm DATA/lock) and start again"},
		{"lock hard link", func(data, victim string) error { return os.Link(victim, filepath.Join(data, lockName)) },
			"DATA/lock has 2 hard links, which the daemon never makes; remove it"},
		{"old registry symlink", func(data, victim string) error { return os.Symlink(victim, filepath.Join(data, oldRegistryName)) },
			"DATA/apps.json is the app registry of an older launcher; the registry is now kept in the store's database and there is no migration"},
		{"store symlink", func(data, victim string) error {
			return os.Symlink(filepath.Dir(victim), filepath.Join(data, storeName))
		}, "DATA/store is a symbolic link, which the daemon never makes; remove it (rm DATA/store) and start again"},
		{"key file symlink", func(data, victim string) error {
			return os.Symlink(victim, filepath.Join(data, account.FileName))
		}, "DATA/account.key is a symbolic link, which the launcher never makes; remove it"},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			require.NoError(t, os.Mkdir(data, 0o700))
			victim := filepath.Join(t.TempDir(), "victim")
			require.NoError(t, os.WriteFile(victim, []byte(content), 0o600))
			if c.name != "key file symlink" {
				ensureAccount(t, data) // serve goes on (locked) to open the rest
			}
			require.NoError(t, c.plant(data, victim))
			code, errs := serveIn(t, data)
			assert.Equal(t, exitFailure, code)
			assert.Contains(t, errs, strings.ReplaceAll(c.want, "DATA", data))
			b, err := os.ReadFile(victim)
			require.NoError(t, err)
			assert.Equal(t, content, string(b), "the victim is untouched")
			ents, err := os.ReadDir(filepath.Dir(victim))
			require.NoError(t, err)
			assert.Len(t, ents, 1, "nothing was created next to the victim")
		})
	}
}

// TestDataDirCreatedPrivate: a missing data directory (and its missing
// parents) is created with mode 0700; the refusal of a later chmod names the fix.
func TestDataDirCreatedPrivate(t *testing.T) {
	data := filepath.Join(t.TempDir(), "a", "b", "data")
	require.NoError(t, prepareDataDir(data))
	st, err := os.Stat(data)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	require.NoError(t, prepareDataDir(data), "an existing private directory is accepted")
	require.NoError(t, os.Chmod(data, 0o770))
	err = prepareDataDir(data)
	require.ErrorIs(t, err, errDataDir)
	assert.Contains(t, err.Error(), "chmod 700 "+data)
}
