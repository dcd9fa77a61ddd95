package apps

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/client"
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
	t.Cleanup(func() { store.Close() })
	exe := filepath.Join(dir, "app.sh")
	require.NoError(t, os.WriteFile(exe, []byte("#!/bin/sh\nexit 0\n"), 0o755))
	return &fixture{dir: dir, path: filepath.Join(dir, "apps.json"), store: store, exe: exe}
}

func (f *fixture) open(t *testing.T) *Registry {
	t.Helper()
	r, err := Open(f.path, f.store, Options{})
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

	st, err := os.Stat(f.path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

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

	_, err = r.Remove("x", true)
	require.NoError(t, err)
	assert.False(t, f.store.RootExists(vfs.AppRoot("x-Root-Dir-2")))
	_, err = r.Remove("x", true)
	assert.ErrorIs(t, err, ErrNotFound)
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
	// A crash after the registry write and before the root's creation.
	require.NoError(t, f.store.DeleteRoot(vfs.AppRoot(a.RootDir)))
	// And a leftover temporary file of an interrupted write.
	leftover := f.path + ".tmp-123"
	require.NoError(t, os.WriteFile(leftover, []byte("{"), 0o600))
	f.open(t)
	assert.True(t, f.store.RootExists(vfs.AppRoot(a.RootDir)))
	_, err = os.Stat(leftover)
	assert.ErrorIs(t, err, os.ErrNotExist)

	for _, bad := range []string{"{", `{"version":2,"apps":[]}`,
		`{"version":1,"apps":[{"id":"1","name":"a","exec":"/x","root_dir":"r"},{"id":"2","name":"a","exec":"/x","root_dir":"s"}]}`,
		`{"version":1,"apps":[{"id":"1","name":"a b","exec":"/x","root_dir":"r"}]}`} {
		require.NoError(t, os.WriteFile(f.path, []byte(bad), 0o600))
		_, err := Open(f.path, f.store, Options{})
		assert.ErrorIs(t, err, ErrCorrupt, bad)
	}
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

func TestRunnerStartsAndReaps(t *testing.T) {
	require.Equal(t, client.EnvLauncher, EnvLauncher, "the SDK looks where the runner puts it")
	dir := t.TempDir()
	exe := filepath.Join(dir, "app.sh")
	out := filepath.Join(dir, "out")
	require.NoError(t, os.WriteFile(exe, []byte("#!/bin/sh\necho \"$@|$SAFE_LAUNCHER\" > "+out+"\necho logged\n"), 0o755))
	run := NewRunner(RunnerConfig{LogDir: filepath.Join(dir, "logs"), Env: []string{"SAFE_LAUNCHER=leak", "PATH=/usr/bin:/bin"}, ReapInterval: 5 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- run.Run(ctx) }()
	defer func() { cancel(); <-done }()

	for _, secret := range []bool{false, true} {
		os.Remove(out)
		a := App{Name: "sh", Exec: exe, SecretEnv: secret}
		f, err := os.Open(exe)
		require.NoError(t, err)
		pid, err := run.Start(a, f, "tcp:127.0.0.1:1:abc", []string{"x", "y"})
		f.Close()
		require.NoError(t, err)
		assert.Positive(t, pid)
		var got []byte
		require.Eventually(t, func() bool {
			got, err = os.ReadFile(out)
			return err == nil && bytes.HasSuffix(got, []byte("\n"))
		}, 10*time.Second, 5*time.Millisecond)
		if secret {
			assert.Equal(t, "x y|tcp:127.0.0.1:1:abc\n", string(got))
		} else {
			assert.Equal(t, "--launcher tcp:127.0.0.1:1:abc x y|\n", string(got), "the daemon's SAFE_LAUNCHER is not passed on")
		}
		require.Eventually(t, func() bool { return run.Running() == 0 }, 10*time.Second, 5*time.Millisecond, "reaped")
	}
	log, err := os.ReadFile(filepath.Join(dir, "logs", "sh.log"))
	require.NoError(t, err)
	assert.Equal(t, "logged\nlogged\n", string(log))
}
