package control_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/apps"
	"github.com/safe-launcher/launcher/launcher/control"
	"github.com/safe-launcher/launcher/nfs"
	"github.com/safe-launcher/launcher/vfs"
	"github.com/safe-launcher/launcher/wire"
)

// env is an in-process daemon with its control server on a real Unix socket.
type env struct {
	srv    *launcher.Server
	reg    *apps.Registry
	store  *vfs.Store
	socket string
	ctl    *control.Client
	exe    string
	stop   func()
}

func start(t *testing.T, cfg control.Config) *env {
	t.Helper()
	dir := t.TempDir()
	store, err := vfs.Open(afero.NewMemMapFs(), vfs.Options{})
	require.NoError(t, err)
	require.NoError(t, store.Unlock(&vfs.Keys{})) // the store opens locked; fixed (zero) test keys
	_, err = store.CreateRoot(vfs.SharedRoot())
	require.NoError(t, err)
	reg, err := apps.Open(store, apps.Options{})
	require.NoError(t, err)
	srv, err := launcher.New(launcher.DefaultConfig(), reg, nfs.New(store))
	require.NoError(t, err)
	ln, err := launcher.Listen(context.Background(), "127.0.0.1:0")
	require.NoError(t, err)
	socket := filepath.Join(dir, control.SocketName)
	cln, err := control.Listen(socket)
	require.NoError(t, err)
	cfg.Registry, cfg.Daemon, cfg.Addr = reg, srv, ln.Addr()
	cfg.Runner = apps.NewRunner(apps.RunnerConfig{LogDir: filepath.Join(dir, "logs")})
	cfg.Version = "test"
	ctl, err := control.New(cfg)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { assert.ErrorIs(t, srv.Serve(ctx, ln), launcher.ErrServerClosed) })
	wg.Go(func() { assert.ErrorIs(t, ctl.Serve(ctx, cln), control.ErrServerClosed) })
	exe := filepath.Join(dir, "app.sh")
	require.NoError(t, os.WriteFile(exe, []byte("#!/bin/sh\nexit 0\n"), 0o755))
	e := &env{srv: srv, reg: reg, store: store, socket: socket, ctl: control.NewClient(socket), exe: exe}
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			e.ctl.Close()
			cancel()
			wg.Wait()
			store.Close()
		})
	}
	t.Cleanup(e.stop)
	return e
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (e *env) dial(t *testing.T, name string) *client.Client {
	t.Helper()
	v, err := e.ctl.Token(ctxT(t), name)
	require.NoError(t, err)
	c, err := client.Dial(ctxT(t), v)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestGrantRevokeApplyToLiveSessions(t *testing.T) {
	e := start(t, control.Config{})
	ctx := ctxT(t)
	_, err := e.ctl.Add(ctx, control.AddRequest{Name: "app", Exec: e.exe})
	require.NoError(t, err)
	c := e.dial(t, "app")
	shared := func(p string) error {
		return c.CreateDir(ctx, wire.CreateDirRequest{IsPathShared: true, DirPath: p})
	}
	require.ErrorIs(t, shared("a"), wire.ErrSharedDenied, "no SAFEDrive by default")
	a, err := e.ctl.Grant(ctx, "app")
	require.NoError(t, err)
	assert.True(t, a.SafeDrive)
	assert.Equal(t, 1, a.Sessions)
	require.NoError(t, shared("a"), "granted without reconnecting")
	_, err = e.ctl.Revoke(ctx, "app")
	require.NoError(t, err)
	require.ErrorIs(t, shared("b"), wire.ErrSharedDenied)
	_, err = c.GetDir(ctx, wire.GetDirRequest{IsPathShared: true, DirPath: "a"})
	require.ErrorIs(t, err, wire.ErrSharedDenied, "reads are denied too")
}

func TestRemoveEndsSessionsWithin100ms(t *testing.T) {
	e := start(t, control.Config{})
	ctx := ctxT(t)
	for _, n := range []string{"gone", "other"} {
		_, err := e.ctl.Add(ctx, control.AddRequest{Name: n, Exec: e.exe})
		require.NoError(t, err)
	}
	c1, c2, other := e.dial(t, "gone"), e.dial(t, "gone"), e.dial(t, "other")
	pending, err := e.ctl.Token(ctx, "gone")
	require.NoError(t, err)

	res, err := e.ctl.Remove(ctx, "gone", false)
	require.NoError(t, err)
	removed := time.Now()
	assert.Equal(t, 2, res.EndedSessions)
	assert.False(t, res.Purged)
	for _, c := range []*client.Client{c1, c2} {
		select {
		case <-c.Done():
		case <-time.After(100*time.Millisecond - time.Since(removed)):
			t.Fatal("session still open 100 ms after the removal")
		}
	}
	_, err = client.Dial(ctx, pending)
	require.ErrorIs(t, err, &wire.Error{Code: wire.CodeLauncherString}, "pending strings are invalid")
	_, err = e.ctl.Token(ctx, "gone")
	require.ErrorIs(t, err, control.ErrNotFound)
	assert.True(t, e.store.RootExists(vfs.AppRoot("gone-Root-Dir")), "root kept without purge")

	// Other apps are untouched.
	require.NoError(t, other.CreateDir(ctx, wire.CreateDirRequest{DirPath: "still-here"}))
	st, err := e.ctl.Status(ctx)
	require.NoError(t, err)
	require.Len(t, st.Sessions, 1)
	assert.Equal(t, "other", st.Sessions[0].App)
	assert.Equal(t, int64(1), st.Sessions[0].Requests)
	assert.Positive(t, st.Sessions[0].BytesIn)
	assert.Equal(t, 1, st.Apps)
	assert.Equal(t, "test", st.Version)
}

func TestErrorsAndRoutes(t *testing.T) {
	e := start(t, control.Config{})
	ctx := ctxT(t)
	_, err := e.ctl.Add(ctx, control.AddRequest{Name: "a", Exec: e.exe})
	require.NoError(t, err)
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"dup", func() error { _, err := e.ctl.Add(ctx, control.AddRequest{Name: "a", Exec: e.exe}); return err }(), control.ErrExists},
		{"bad name", func() error { _, err := e.ctl.Add(ctx, control.AddRequest{Name: "a/b", Exec: e.exe}); return err }(), control.ErrInvalid},
		{"bad exec", func() error { _, err := e.ctl.Add(ctx, control.AddRequest{Name: "b", Exec: "x"}); return err }(), control.ErrInvalid},
		{"rm", func() error { _, err := e.ctl.Remove(ctx, "zz", false); return err }(), control.ErrNotFound},
		{"grant", func() error { _, err := e.ctl.Grant(ctx, "zz"); return err }(), control.ErrNotFound},
		{"launch", func() error { _, err := e.ctl.Launch(ctx, "zz", control.LaunchRequest{}); return err }(), control.ErrNotFound},
	}
	for _, c := range cases {
		assert.ErrorIs(t, c.err, c.want, c.name)
	}

	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", e.socket)
	}}}
	defer hc.CloseIdleConnections()
	for _, c := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/v1/status", "", 404, control.CodeUnknownRoute},
		{"PUT", "/v0/apps", "", 404, control.CodeUnknownRoute},
		{"POST", "/v0/apps", `{"name":"x","exec":"/bin/sh","bogus":1}`, 400, control.CodeInvalid},
		{"POST", "/v0/apps", `not json`, 400, control.CodeInvalid},
		{"GET", "/v0/status", "", 200, ""},
	} {
		req, err := http.NewRequestWithContext(ctx, c.method, "http://x"+c.path, strings.NewReader(c.body))
		require.NoError(t, err)
		resp, err := hc.Do(req)
		require.NoError(t, err)
		b := new(strings.Builder)
		_, _ = io.Copy(b, resp.Body)
		resp.Body.Close()
		assert.Equal(t, c.status, resp.StatusCode, "%s %s: %s", c.method, c.path, b)
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		if c.code != "" {
			assert.Contains(t, b.String(), `"code":"`+c.code+`"`)
		}
	}
}

func TestOtherUIDRefused(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("peer credentials are checked on Linux only")
	}
	other := os.Getuid() + 1
	e := start(t, control.Config{AllowedUID: &other})
	_, err := e.ctl.Status(ctxT(t))
	require.Error(t, err)
	var ce *control.Error
	assert.False(t, errors.As(err, &ce), "the connection is closed unanswered, got %v", err)
	st, err := os.Stat(e.socket)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}

func TestNotRunningAndShutdown(t *testing.T) {
	e := start(t, control.Config{})
	_, err := e.ctl.Status(ctxT(t))
	require.NoError(t, err)
	e.stop()
	_, err = os.Stat(e.socket)
	assert.ErrorIs(t, err, os.ErrNotExist, "the socket is removed on shutdown")
	c := control.NewClient(e.socket)
	_, err = c.Status(ctxT(t))
	assert.ErrorIs(t, err, control.ErrNotRunning)

	// A stale socket file (kill -9) is replaced by Listen.
	dir := t.TempDir()
	p := filepath.Join(dir, "s.sock")
	ln, err := control.Listen(p)
	require.NoError(t, err)
	ln.(interface{ SetUnlinkOnClose(bool) }).SetUnlinkOnClose(false)
	ln.Close()
	_, err = control.NewClient(p).Status(ctxT(t))
	assert.ErrorIs(t, err, control.ErrNotRunning, "a stale socket means not running")
	ln, err = control.Listen(p)
	require.NoError(t, err)
	ln.Close()
	require.NoError(t, os.WriteFile(p, nil, 0o600))
	_, err = control.Listen(p)
	assert.ErrorIs(t, err, control.ErrSocket, "a regular file is never removed")
}

// TestRootsRoutes: a root kept by rm is listed by GET /v0/roots and deleted
// by DELETE /v0/roots/{root}; an app's own root and unknown roots are refused;
// rm with purge reports the roots it deleted.
func TestRootsRoutes(t *testing.T) {
	e := start(t, control.Config{})
	ctx := ctxT(t)
	roots, err := e.ctl.Roots(ctx)
	require.NoError(t, err)
	assert.Empty(t, roots)
	_, err = e.ctl.Add(ctx, control.AddRequest{Name: "x", Exec: e.exe})
	require.NoError(t, err)
	_, err = e.ctl.Remove(ctx, "x", false)
	require.NoError(t, err)
	a, err := e.ctl.Add(ctx, control.AddRequest{Name: "x", Exec: e.exe})
	require.NoError(t, err)
	roots, err = e.ctl.Roots(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"x-Root-Dir"}, roots)

	assert.ErrorIs(t, e.ctl.PurgeRoot(ctx, a.RootDir), control.ErrInvalid, "an app's root")
	assert.ErrorIs(t, e.ctl.PurgeRoot(ctx, "nope-Root-Dir"), control.ErrNotFound)
	require.NoError(t, e.ctl.PurgeRoot(ctx, "x-Root-Dir"))
	assert.False(t, e.store.RootExists(vfs.AppRoot("x-Root-Dir")))

	_, err = e.ctl.Remove(ctx, "x", false)
	require.NoError(t, err)
	_, err = e.ctl.Add(ctx, control.AddRequest{Name: "x", Exec: e.exe})
	require.NoError(t, err)
	res, err := e.ctl.Remove(ctx, "x", true)
	require.NoError(t, err)
	assert.Equal(t, []string{"x-Root-Dir", "x-Root-Dir-2"}, res.DeletedRoots)
	roots, err = e.ctl.Roots(ctx)
	require.NoError(t, err)
	assert.Empty(t, roots)
}

// TestGatewayAddress: status carries the gateway's base URL, and site URLs
// carry its port; without a gateway both are empty.
func TestGatewayAddress(t *testing.T) {
	e := start(t, control.Config{Gateway: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 30123}})
	st, err := e.ctl.Status(ctxT(t))
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:30123/", st.GatewayURL)

	off := start(t, control.Config{})
	st, err = off.ctl.Status(ctxT(t))
	require.NoError(t, err)
	assert.Empty(t, st.GatewayURL)
}
