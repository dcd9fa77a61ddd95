package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/spf13/afero"

	"github.com/safe-launcher/launcher/dns"
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
	gateway := fs.String("gateway", dns.DefaultGatewayAddr, `loopback address of the dns web gateway, or "off"`)
	def := launcher.DefaultConfig()
	maxConns := fs.Int("max-conns", def.MaxConns, "concurrent connections; the ones over it are closed at once")
	maxFrame := fs.Uint64("max-frame", def.MaxFrame, "largest frame payload in bytes")
	budget := fs.Int64("inflight-budget", def.InFlightBudget, "bytes of frames in flight across all connections")
	hsTimeout := fs.Duration("handshake-timeout", def.HandshakeTimeout, "deadline for completing the handshake")
	tokenTTL := fs.Duration("token-ttl", def.TokenTTL, "how long a launcher string stays valid")
	depth := fs.Int("max-json-depth", def.MaxJSONDepth, "deepest JSON nesting accepted in a request")
	budgetWait := fs.Duration("budget-wait", def.BudgetWait, "how long a frame waits for in-flight budget before a busy error")
	frameIdle := fs.Duration("frame-idle-timeout", def.FrameIdleTimeout, "once a frame's length has arrived, the body must keep arriving within this")
	writeTimeout := fs.Duration("write-timeout", def.WriteTimeout, "deadline for writing one answer to an app that does not read")
	refuseFixed := fs.Bool("refuse-fixed-nonce", false, "refuse sessions in the original fixed-nonce mode")
	syncDelay := fs.Duration("sync-delay", vfs.DefaultSyncDelay, "with --sync background: how long after a change the log is fsynced (changes within it share the fsync)")
	syncName := fs.String("sync", vfs.SyncBackground.String(), `when a change is acknowledged: "background" (once written to the OS; the log is fsynced right behind) or "commit" (once fsynced)`)
	pos, rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || len(rest) > 0 {
		return usagef("serve takes no arguments, only flags")
	}
	syncMode, err := vfs.ParseSync(*syncName)
	if err != nil {
		return usagef("--sync: %v", err)
	}
	*syncDelay = max(*syncDelay, 0)
	storeDelay := *syncDelay
	if storeDelay == 0 {
		storeDelay = -1 // vfs: no wait (0 would mean its default)
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
	if syncMode == vfs.SyncBackground {
		log.Info("store: changes are acknowledged once written; the log is fsynced right behind them", "sync", syncMode.String(), "sync_delay", *syncDelay)
	} else {
		log.Info("store: changes are acknowledged once fsynced", "sync", syncMode.String())
	}
	if st, err := os.Stat(dir); err == nil && st.Mode().Perm()&0o077 != 0 {
		log.Warn("the data directory is accessible to other users; chmod 700 it", "data", dir, "mode", st.Mode().Perm().String())
	}

	storeDir := filepath.Join(dir, storeName)
	if err := os.MkdirAll(storeDir, 0o700); err != nil {
		return fmt.Errorf("store directory: %w", err)
	}
	store, err := vfs.Open(afero.NewBasePathFs(afero.NewOsFs(), storeDir), vfs.Options{Sync: syncMode, SyncDelay: storeDelay, Logger: log})
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

	dnsMod, err := dns.New(store)
	if err != nil {
		return fmt.Errorf("opening the dns records: %w", err)
	}
	modules := []launcher.Module{nfs.New(store), dnsMod}
	cfg := def
	cfg.Logger = log
	cfg.MaxConns, cfg.MaxFrame, cfg.InFlightBudget = *maxConns, *maxFrame, *budget
	cfg.HandshakeTimeout, cfg.TokenTTL, cfg.MaxJSONDepth = *hsTimeout, *tokenTTL, *depth
	cfg.RefuseFixedNonce = *refuseFixed
	cfg.BudgetWait, cfg.FrameIdleTimeout, cfg.WriteTimeout = *budgetWait, *frameIdle, *writeTimeout
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

	var gln net.Listener
	var gatewayURL func(string) string
	if *gateway != "off" {
		gln, err = dns.ListenGateway(ctx, *gateway)
		if err != nil {
			return fmt.Errorf("dns web gateway: %w (use --gateway ADDR or --gateway off)", err)
		}
		defer gln.Close()
		_, port, _ := net.SplitHostPort(gln.Addr().String())
		gatewayURL = func(host string) string { return "http://" + host + ".localhost:" + port + "/" }
	}

	runner := apps.NewRunner(apps.RunnerConfig{LogDir: filepath.Join(dir, logsName), Env: e.environ, Logger: log})
	ctl, err := control.New(control.Config{
		Registry: reg, Daemon: srv, Runner: runner, Addr: ln.Addr(),
		Version: version(), DataDir: dir, Logger: log,
		DNS: dnsMod, GatewayURL: gatewayURL,
	})
	if err != nil {
		return err
	}

	fmt.Fprintf(e.stdout, "listening on %s\n", ln.Addr())
	if gln != nil {
		fmt.Fprintf(e.stdout, "dns web gateway on http://%s/\n", gln.Addr())
	}
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
	if gln != nil {
		gw := dns.NewGateway(dnsMod, dns.GatewayOptions{Logger: log})
		wg.Go(func() {
			if err := gw.Serve(ctx, gln); err != nil {
				fail(fmt.Errorf("dns web gateway: %w", err))
			}
		})
	}
	wg.Wait()
	log.Info("launcher stopped")
	return errors.Join(errs...)
}
