// Package launchertest runs a real launcher daemon in-process for tests: on
// 127.0.0.1:0, over real TCP, with the modules a test chooses. It owns the
// daemon's goroutine and stops it when the test ends.
package launchertest

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/vfs"
)

// Daemon is a running server.
type Daemon struct {
	Srv  *launcher.Server
	Apps *launcher.MemApps
	Addr net.Addr

	cancel context.CancelFunc
	done   chan error
	stop   sync.Once
}

// Start runs a server with cfg (zero values take defaults) and modules on
// 127.0.0.1:0. It is shut down when the test ends.
func Start(t testing.TB, cfg launcher.Config, modules ...launcher.Module) *Daemon {
	t.Helper()
	apps := launcher.NewMemApps()
	return StartWith(t, cfg, apps, modules...)
}

// StartWith is Start with a given MemApps.
func StartWith(t testing.TB, cfg launcher.Config, apps *launcher.MemApps, modules ...launcher.Module) *Daemon {
	t.Helper()
	srv, err := launcher.New(cfg, apps, modules...)
	if err != nil {
		t.Fatalf("launcher.New: %v", err)
	}
	ln, err := launcher.Listen(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &Daemon{Srv: srv, Apps: apps, Addr: ln.Addr(), cancel: cancel, done: make(chan error, 1)}
	go func() { d.done <- srv.Serve(ctx, ln) }()
	t.Cleanup(d.Stop)
	return d
}

// Stop shuts the daemon down and waits for it. It is idempotent.
func (d *Daemon) Stop() {
	d.stop.Do(func() {
		d.cancel()
		select {
		case err := <-d.done:
			if err != nil && !errors.Is(err, launcher.ErrServerClosed) {
				panic("launchertest: Serve: " + err.Error())
			}
		case <-time.After(30 * time.Second):
			panic("launchertest: daemon did not stop within 30s")
		}
	})
}

// AddApp registers an app whose private root is "<name>-Root-Dir".
func (d *Daemon) AddApp(name string, shared bool) launcher.App {
	a := launcher.App{ID: "id-" + name, Name: name, RootDir: name + "-Root-Dir", SharedDrive: shared}
	d.Apps.Put(a)
	return a
}

// Value mints a launcher string for appID and returns the --launcher value.
func (d *Daemon) Value(t testing.TB, appID string) string {
	t.Helper()
	s, err := d.Srv.MintLauncherString(appID)
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return launcher.LauncherValue(d.Addr, s)
}

// Dial connects a new SDK client as appID; it is closed when the test ends.
func (d *Daemon) Dial(t testing.TB, appID string, opts ...client.Option) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, d.Value(t, appID), opts...)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Store opens a vfs store on a real on-disk temp directory, with SAFEDrive
// created. It is closed when the test ends. It returns the store and the host
// directory it lives in.
func Store(t testing.TB) (*vfs.Store, string) {
	t.Helper()
	dir := t.TempDir()
	store, err := vfs.Open(afero.NewBasePathFs(afero.NewOsFs(), dir), vfs.Options{})
	if err != nil {
		t.Fatalf("vfs.Open: %v", err)
	}
	// The store opens locked: unlock it with fixed (zero) keys, the same at every open.
	if err := store.Unlock(&vfs.Keys{}); err != nil {
		t.Fatalf("vfs.Open: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := store.CreateRoot(vfs.SharedRoot()); err != nil {
		t.Fatalf("creating SAFEDrive: %v", err)
	}
	return store, dir
}

// AddAppWithRoot registers an app (as AddApp) and creates its private root in
// store, as the registry does when an app is added.
func (d *Daemon) AddAppWithRoot(t testing.TB, store *vfs.Store, name string, shared bool) launcher.App {
	t.Helper()
	a := d.AddApp(name, shared)
	if _, err := store.CreateRoot(vfs.AppRoot(a.RootDir)); err != nil {
		t.Fatalf("creating the root of %s: %v", name, err)
	}
	return a
}
