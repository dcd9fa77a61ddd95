package client_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/spf13/afero"

	"github.com/safe-launcher/launcher/dns"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/nfs"
	"github.com/safe-launcher/launcher/vfs"
)

// appArgs returns the command-line arguments the launcher would start a new
// app with: "--launcher tcp:127.0.0.1:<port>:<launcher_string>", for a new
// app with its own private root, on the daemon TestMain runs for the
// examples. Set only by TestMain.
var appArgs func() []string

// TestMain runs one real daemon (nfs and dns on an on-disk store in a
// temporary directory) for the package's examples, which cannot take a
// *testing.T; tests start their own with launchertest.
func TestMain(m *testing.M) {
	os.Exit(runWithDaemon(m))
}

func runWithDaemon(m *testing.M) int {
	dir, err := os.MkdirTemp("", "client-examples-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	store, err := vfs.Open(afero.NewBasePathFs(afero.NewOsFs(), dir), vfs.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The store opens locked: unlock it with fixed (zero) keys, the same at every open.
	if err := store.Unlock(&vfs.Keys{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer store.Close()
	if _, err := store.CreateRoot(vfs.SharedRoot()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	names, err := dns.New(store)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	apps := launcher.NewMemApps()
	srv, err := launcher.New(launcher.Config{}, apps, nfs.New(store), names)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := launcher.Listen(ctx, "127.0.0.1:0")
	if err != nil {
		cancel()
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	defer func() {
		cancel()
		<-served
	}()

	var mu sync.Mutex
	n := 0
	appArgs = func() []string {
		mu.Lock()
		n++
		a := launcher.App{ID: fmt.Sprintf("example-%d", n), Name: fmt.Sprintf("example%d", n), RootDir: fmt.Sprintf("example%d-Root-Dir", n)}
		mu.Unlock()
		apps.Put(a)
		if _, err := store.CreateRoot(vfs.AppRoot(a.RootDir)); err != nil {
			panic(err)
		}
		s, err := srv.MintLauncherString(a.ID)
		if err != nil {
			panic(err)
		}
		return []string{"--launcher", launcher.LauncherValue(ln.Addr(), s)}
	}
	return m.Run()
}
