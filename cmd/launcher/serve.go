package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/spf13/afero"

	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/apps"
	"github.com/safe-launcher/launcher/launcher/control"
	"github.com/safe-launcher/launcher/nfs"
	"github.com/safe-launcher/launcher/vfs"
)

// Names in the data directory (see docs/operations.md).
const (
	lockName     = "lock"
	registryName = "apps.json"
	storeName    = "store"
	logsName     = "logs"
)

// serve runs the daemon until ctx ends (SIGINT/SIGTERM).
func serve(ctx context.Context, e env, args []string) error {
	fs, data := newFlags("serve")
	listen := fs.String("listen", launcher.DefaultListen, "loopback address to listen on")
	pos, rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || len(rest) > 0 {
		return usagef("serve takes no arguments, only flags")
	}
	dir, err := absData(*data)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	unlock, err := lockDataDir(dir)
	if err != nil {
		return err
	}
	defer unlock()

	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	if st, err := os.Stat(dir); err == nil && st.Mode().Perm()&0o077 != 0 {
		log.Warn("the data directory is accessible to other users; chmod 700 it", "data", dir, "mode", st.Mode().Perm().String())
	}

	storeDir := filepath.Join(dir, storeName)
	if err := os.MkdirAll(storeDir, 0o700); err != nil {
		return fmt.Errorf("store directory: %w", err)
	}
	store, err := vfs.Open(afero.NewBasePathFs(afero.NewOsFs(), storeDir), vfs.Options{})
	if err != nil {
		return fmt.Errorf("opening the store: %w", err)
	}
	defer store.Close()
	if !store.RootExists(vfs.SharedRoot()) {
		if _, err := store.CreateRoot(vfs.SharedRoot()); err != nil {
			return fmt.Errorf("creating SAFEDrive: %w", err)
		}
	}

	reg, err := apps.Open(filepath.Join(dir, registryName), store, apps.Options{Logger: log})
	if err != nil {
		return err
	}

	modules := []launcher.Module{
		nfs.New(store),
		// Lead: dns.New(store) goes here.
	}
	cfg := launcher.DefaultConfig()
	cfg.Logger = log
	srv, err := launcher.New(cfg, reg, modules...)
	if err != nil {
		return err
	}
	ln, err := launcher.Listen(ctx, *listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	cln, err := control.Listen(filepath.Join(dir, control.SocketName))
	if err != nil {
		return err
	}
	defer cln.Close()

	runner := apps.NewRunner(apps.RunnerConfig{LogDir: filepath.Join(dir, logsName), Env: e.environ, Logger: log})
	ctl, err := control.New(control.Config{
		Registry: reg, Daemon: srv, Runner: runner, Addr: ln.Addr(),
		Version: version(), DataDir: dir, Logger: log,
	})
	if err != nil {
		return err
	}
	// Lead: the dns web gateway starts here, beside the control server.

	fmt.Fprintf(e.stdout, "listening on %s\n", ln.Addr())
	log.Info("launcher started", "addr", ln.Addr().String(), "data", dir, "control", cln.Addr().String())

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		cancel()
	}
	wg.Go(func() {
		if err := srv.Serve(ctx, ln); !errors.Is(err, launcher.ErrServerClosed) {
			fail(err)
		}
		cancel() // the daemon is gone: stop the rest
	})
	wg.Go(func() {
		if err := ctl.Serve(ctx, cln); !errors.Is(err, control.ErrServerClosed) {
			fail(err)
		}
		cancel()
	})
	wg.Go(func() { _ = runner.Run(ctx) })
	wg.Wait()
	log.Info("launcher stopped")
	return errors.Join(errs...)
}
