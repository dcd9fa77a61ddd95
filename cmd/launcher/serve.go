package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/spf13/afero"
	"github.com/spf13/cobra"

	"github.com/safe-launcher/launcher/account"
	"github.com/safe-launcher/launcher/dns"
	"github.com/safe-launcher/launcher/internal/peercred"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/apps"
	"github.com/safe-launcher/launcher/launcher/control"
	"github.com/safe-launcher/launcher/nfs"
	"github.com/safe-launcher/launcher/vfs"
)

// Names in the data directory (see docs/operations.md).
const (
	lockName = "lock"
	// oldRegistryName is the app registry of the format before the store's
	// database: serve refuses a data directory that has one (apps.ErrOldFormat).
	oldRegistryName = "apps.json"
	storeName       = "store"
	logsName        = "logs"
)

// serveOptions are serve's flags. Their defaults are the values they hold
// when the flags are defined.
type serveOptions struct {
	cfg       launcher.Config // the daemon's settings; flags write into it
	listen    *addrFlag
	gateway   *addrFlag
	sync      string
	syncDelay time.Duration
	fromStdin bool          // --passphrase-stdin
	dev       bool          // --dev
	autoLock  time.Duration // --auto-lock; 0: off
	// Quotas (vfs.Options.AppQuota, SharedQuota); entries as int for the
	// count flags.
	appQuota, driveQuota     vfs.Quota
	appEntries, driveEntries int
}

func newServeOptions() *serveOptions {
	return &serveOptions{
		cfg:          launcher.DefaultConfig(),
		listen:       newAddrFlag(launcher.DefaultListen),
		gateway:      newAddrFlag(dns.DefaultGatewayAddr),
		sync:         vfs.SyncBackground.String(),
		syncDelay:    vfs.DefaultSyncDelay,
		appQuota:     vfs.Quota{ContentBytes: vfs.DefaultAppContentBytes, MetadataBytes: vfs.DefaultAppMetadataBytes},
		driveQuota:   vfs.Quota{ContentBytes: vfs.DefaultSharedContentBytes, MetadataBytes: vfs.DefaultSharedMetadataBytes},
		appEntries:   vfs.DefaultAppEntries,
		driveEntries: vfs.DefaultSharedEntries,
	}
}

// quotas returns the store's quota options from the flags.
func (o *serveOptions) quotas() (app, drive vfs.Quota) {
	app, drive = o.appQuota, o.driveQuota
	app.Entries, drive.Entries = int64(o.appEntries), int64(o.driveEntries)
	return app, drive
}

func newServeCmd(e *env, g *globalOptions) *cobra.Command {
	o := newServeOptions()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the launcher daemon in the foreground",
		Long: `Run the launcher daemon in the foreground until SIGINT or SIGTERM.

Once it is ready it prints "listening on IP:PORT" on stdout, then "dns web
gateway on http://IP:PORT/" unless --gateway is off; logs go to stderr. The
addresses printed are the ones bound: the default addresses (--listen
127.0.9.9:30000, --gateway 127.0.0.1:30080) move to the next free port when
taken, while an address given with the flag is used as given or refused. Both
must be loopback: 127.0.0.1:PORT, [::1]:PORT, localhost:PORT or :PORT (":0"
picks a free port). Launched apps find the gateway's URL in the environment
variable LAUNCHER_GATEWAY_URL.

The data directory must belong to the user and be closed to group and others
(chmod 700); serve creates it with mode 0700 if it does not exist. Only one
daemon runs per data directory.

The user's account: serve starts locked (apps are refused with -134, the
web gateway answers 503) until "launcher unlock" is given the passphrase. With
--passphrase-stdin it reads the passphrase from stdin (one line) and starts
unlocked, for scripts and autostart. On a data directory without an account
(see "launcher init"), serve offers to create one when stdin is a terminal
(the passphrase is asked twice, then it serves unlocked); --passphrase-stdin
creates it from the line read; otherwise serve exits with status 2 and "no
account: run launcher init". --dev serves a fresh temporary data directory,
unlocked, with a random key and no passphrase, and deletes it at exit:
nothing is kept.

Sizes (BYTES) are bytes or a number with KiB, MiB, GiB or TiB (300MiB).
Durations need a unit: ms, s, m or h (10s, 2m). Limits must be more than 0.`,
		Example: `  launcher serve
  launcher serve --dev
  printf '%s\n' "$PASSPHRASE" | launcher serve --passphrase-stdin --auto-lock 15m
  launcher serve --data /tmp/d --listen 127.0.0.1:0 --gateway off
  launcher serve --max-conns 64 --handshake-timeout 5s --sync commit`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.dev && cmd.Flag("data").Changed {
				return usagef("--dev: serves a fresh temporary data directory of its own; leave --data out")
			}
			if o.dev && o.fromStdin {
				return usagef("--dev: needs no passphrase; leave --passphrase-stdin out")
			}
			dir, err := g.dataDir()
			if err != nil {
				return err
			}
			return serve(cmd.Context(), e, dir, o)
		},
	}
	o.bindFlags(cmd)
	return cmd
}

// bindFlags defines serve's flags. To add a daemon setting, add its field to
// launcher.Config and one line here with the definer of its type (flags.go):
// the help, the validation and the reference page in docs/cli/ (go test
// ./cmd/launcher -update) follow.
func (o *serveOptions) bindFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.SortFlags = false
	c := &o.cfg
	addrFlagVar(fs, o.listen, "listen", false, "loopback TCP address apps connect to; the default moves to the next free port when taken (and to 127.0.0.1 where 127.0.9.9 cannot be bound), an address given here is used as is")
	addrFlagVar(fs, o.gateway, "gateway", true, `loopback address of the dns web gateway, or "off"; the default moves to the next free port when taken, an address given here is used as is`)
	fs.BoolVar(&o.fromStdin, "passphrase-stdin", false, "read the account's passphrase from stdin (one line) and start unlocked; on a data directory without an account, create one with it")
	fs.BoolVar(&o.dev, "dev", false, "throwaway launcher for app developers: a fresh temporary data directory (not --data), unlocked, with a random key; deleted at exit, nothing is kept")
	durationOffFlag(fs, &o.autoLock, "auto-lock", "lock the launcher (as launcher lock does) once no app request has come for this long")
	countFlag(fs, &c.MaxConns, "max-conns", "concurrent connections; at the cap the oldest one still in its handshake is evicted, and when sessions alone fill it new ones are refused with a busy error (-140)")
	bytesFlag(fs, &c.MaxFrame, "max-frame", c.MaxHandshakeFrame, 1<<40, "largest frame payload accepted, checked before anything is allocated (at least the 64KiB handshake frame, at most 1TiB)")
	countFlag(fs, &c.MaxHandshakesPerUser, "max-handshakes-per-user", "connections of one user that may be in their handshake at once; more are refused with a busy error (-140)")
	bytesFlag(fs, &c.InFlightBudget, "inflight-budget", 1, 1<<50, "bytes of frames being read or processed, and of large answers being written, across all connections, taken as bytes arrive; an eighth is kept for frames of at most 64KiB; a frame that does not fit within --budget-wait is refused with -140")
	bytesFlag(fs, &c.AppBudget, "app-budget", 1, 1<<50, "the most of --inflight-budget one app's sessions may hold at once (default: half of it)")
	countFlag(fs, &o.appEntries, "app-quota-entries", "directories and files one app may hold (its private root and what it wrote in SAFEDrive); past it a create is refused with -209")
	bytesFlag(fs, &o.appQuota.ContentBytes, "app-quota-bytes", 1, 1<<60, "bytes of file content one app may hold (its private root and what it wrote in SAFEDrive); past it a write is refused with -209")
	bytesFlag(fs, &o.appQuota.MetadataBytes, "app-quota-metadata", 1, 1<<60, "bytes of user_metadata one app may hold; past it a change is refused with -209")
	countFlag(fs, &o.driveEntries, "drive-quota-entries", "directories and files SAFEDrive may hold in all, whoever wrote them")
	bytesFlag(fs, &o.driveQuota.ContentBytes, "drive-quota-bytes", 1, 1<<60, "bytes of file content SAFEDrive may hold in all")
	bytesFlag(fs, &o.driveQuota.MetadataBytes, "drive-quota-metadata", 1, 1<<60, "bytes of user_metadata SAFEDrive may hold in all")
	durationFlag(fs, &c.HandshakeTimeout, "handshake-timeout", "a connection must finish the handshake within this")
	durationFlag(fs, &c.TokenTTL, "token-ttl", "how long a minted launcher string stays valid")
	durationFlag(fs, &c.BudgetWait, "budget-wait", "how long a frame waits for in-flight budget before it is refused with -140")
	durationFlag(fs, &c.FrameIdleTimeout, "frame-idle-timeout", "once a frame's length has arrived, its body must keep arriving within this (and arrive whole within this plus 1s per MiB), or the session ends")
	durationFlag(fs, &c.WriteTimeout, "write-timeout", "deadline for writing one answer to an app that does not read")
	countFlag(fs, &c.MaxJSONDepth, "max-json-depth", "deepest JSON nesting accepted in a request (-104 beyond)")
	fs.BoolVar(&c.RefuseFixedNonce, "refuse-fixed-nonce", false, "refuse sessions in the original fixed-nonce mode (-132); see docs/security.md")
	enumFlag(fs, &o.sync, "sync", []string{vfs.SyncBackground.String(), vfs.SyncCommit.String()}, `the store's durability (SQLite's synchronous): "background" (NORMAL): an answered change survives a kill of the daemon, and a power loss may lose the last changes but never consistency; "commit" (FULL): an answered change survives a power loss too`)
	durationOrZeroFlag(fs, &o.syncDelay, "sync-delay", "fsyncs at once", `no effect since the store is on SQLite (accepted so that scripts keep working)`)
	_ = cmd.RegisterFlagCompletionFunc("sync", cobra.FixedCompletions([]string{vfs.SyncBackground.String(), vfs.SyncCommit.String()}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("gateway", cobra.FixedCompletions([]string{"off", "127.0.0.1:0"}, cobra.ShellCompDirectiveNoFileComp))
}

// serve runs the daemon until ctx ends (SIGINT/SIGTERM).
func serve(ctx context.Context, e *env, dir string, o *serveOptions) error {
	syncMode, err := vfs.ParseSync(o.sync)
	if err != nil {
		return usagef("--sync: %v", err)
	}
	appQuota, driveQuota := o.quotas()
	storeDelay := o.syncDelay
	if storeDelay == 0 {
		storeDelay = -1 // vfs: no wait (0 would mean its default)
	}
	if o.dev {
		tmp, err := os.MkdirTemp("", "launcher-dev-")
		if err != nil {
			return fmt.Errorf("--dev: creating a temporary data directory: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
		fmt.Fprintf(e.stderr, "dev mode: serving a fresh temporary data directory, unlocked, with a random key: nothing will be kept (it is deleted at exit)\ndev mode: data directory %s (give the other commands --data %s)\n", dir, dir)
	}
	if err := prepareDataDir(dir); err != nil {
		return err
	}
	unlockDir, err := lockDataDir(dir)
	if err != nil {
		return err
	}
	defer unlockDir()

	// The account, before anything is bound: a wrong passphrase or a
	// missing account stops serve here.
	master, keyFile, err := o.openAccount(ctx, e, dir)
	if err != nil {
		return err
	}
	defer func() {
		if master != nil {
			master.Wipe()
		}
	}()

	// The addresses first: a taken one is reported before anything is
	// logged or opened.
	ln, err := listen(ctx, "--listen", o.listen, netip.AddrFrom4([4]byte{127, 0, 0, 1}), "")
	if err != nil {
		return err
	}
	defer ln.Close()
	var gln net.Listener
	gatewayURL := ""
	if !o.gateway.off {
		gln, err = listen(ctx, "--gateway", o.gateway, netip.Addr{}, ", or turn the gateway off with --gateway off")
		if err != nil {
			return err
		}
		defer gln.Close()
		gatewayURL = "http://" + gln.Addr().String() + "/"
	}

	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	if syncMode == vfs.SyncBackground {
		log.Info("store: a change is answered once committed to SQLite's log (synchronous=NORMAL): it survives a kill of the daemon; a power loss may lose the last changes", "sync", syncMode.String())
	} else {
		log.Info("store: a change is answered once committed and fsynced (synchronous=FULL): it survives a power loss", "sync", syncMode.String())
	}

	storeDir := filepath.Join(dir, storeName)
	if err := ensurePrivateSubdir(storeDir); err != nil {
		return err
	}
	store, err := vfs.Open(afero.NewBasePathFs(afero.NewOsFs(), storeDir), vfs.Options{Sync: syncMode, SyncDelay: storeDelay, Logger: log, AppQuota: appQuota, SharedQuota: driveQuota})
	if err != nil {
		return fmt.Errorf("opening the store: %w", err)
	}
	defer store.Close() // the store opens locked: SAFEDrive is made at unlock (unlockStore)

	dnsMod, err := dns.New(store)
	if err != nil {
		return fmt.Errorf("opening the dns records: %w", err)
	}
	// app rm --purge deletes the app's dns names in its transaction.
	reg, err := apps.Open(store, apps.Options{Logger: log, OldFile: filepath.Join(dir, oldRegistryName), Purge: dnsMod.DeleteOwned})
	if err != nil {
		return err
	}
	modules := []launcher.Module{nfs.New(store), dnsMod}
	cfg := o.cfg
	cfg.Logger = log
	// Only this user's processes may connect (docs/security.md).
	switch owner, err := peercred.New(); {
	case errors.Is(err, peercred.ErrUnsupported):
		log.Warn("peer uid check is off on "+runtime.GOOS+": any local user who reads an app's launcher string can use it; register apps with --secret-env", "err", err)
	case err != nil:
		return fmt.Errorf("peer uid check: %w", err)
	default:
		defer owner.Close()
		cfg.PeerCheck = &launcher.PeerCheck{Owner: owner, UID: uint32(os.Getuid())}
		log.Info("peer uid check on", "method", owner.Method())
	}
	cfg.Version = version()
	cfg.GatewayURL = func() string { return gatewayURL }
	cfg.Locked = true // until the keyring has the keys
	srv, err := launcher.New(cfg, reg, modules...)
	if err != nil {
		return err
	}
	var devKey *account.Key
	if o.dev { // the keyring keeps a copy, to unlock again after a lock
		devKey = new(account.Key)
		*devKey = *master
	}
	kr := newKeyring(keyringConfig{dir: dir, file: keyFile, devKey: devKey, srv: srv, rand: rand.Reader, log: log,
		// The encrypted store takes the keys here; the registry and the dns
		// records, encrypted in it, are read once it is unlocked and the
		// registry's copy in memory is forgotten when it locks.
		hooks: keyHooks{
			unlocked: func(k *account.Keys) error {
				if err := unlockStore(store, k); err != nil {
					return err
				}
				if err := errors.Join(dnsMod.Load(), reg.Load()); err != nil {
					reg.Unload()
					store.Lock()
					return err
				}
				return nil
			},
			locking: func() {
				reg.Unload()
				store.Lock()
			},
		}})
	defer kr.Close()
	if master != nil {
		m := master
		master = nil // the keyring wipes it from now on
		if err := kr.load(m); err != nil {
			return err
		}
	}
	cln, err := control.Listen(filepath.Join(dir, control.SocketName))
	if err != nil {
		return err
	}
	defer cln.Close()

	runner := apps.NewRunner(apps.RunnerConfig{LogDir: filepath.Join(dir, logsName), Env: e.environ, GatewayURL: gatewayURL, Logger: log})
	ctlCfg := control.Config{
		Registry: reg, Daemon: srv, Runner: runner, Addr: ln.Addr(),
		Version: version(), DataDir: dir, Logger: log, DNS: dnsMod,
		Account: kr, Dev: o.dev,
		Storage:  storeStats{store},
		AppQuota: control.Usage(appQuota),
	}
	if gln != nil {
		ctlCfg.Gateway = gln.Addr()
	}
	ctl, err := control.New(ctlCfg)
	if err != nil {
		return err
	}

	fmt.Fprintf(e.stdout, "listening on %s\n", ln.Addr())
	if gln != nil {
		fmt.Fprintf(e.stdout, "dns web gateway on %s\n", gatewayURL)
	}
	log.Info("launcher started", "addr", ln.Addr().String(), "gateway", gatewayURL, "data", dir, "control", cln.Addr().String())
	if kr.Locked() {
		log.Info("the launcher is locked: apps are refused until it is unlocked with: launcher unlock --data " + dir)
	}

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
	if o.autoLock > 0 {
		al := &autoLocker{idle: o.autoLock, last: srv.LastActivity, locked: kr.Locked,
			lock: func() { kr.Lock(ctx) }, now: time.Now, after: time.After, log: log}
		wg.Go(func() { al.run(ctx) })
	}
	if gln != nil {
		gw := dns.NewGateway(dnsMod, dns.GatewayOptions{Logger: log, Locked: kr.Locked})
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

// listen binds an address flag: a default address moves to the next free
// port when taken (and to fallback, if valid, when its IP cannot be bound);
// an address the user gave is bound exactly, and a taken one is an error
// naming the flag and the address; more is appended to the advice.
func listen(ctx context.Context, flag string, a *addrFlag, fallback netip.Addr, more string) (net.Listener, error) {
	opts := launcher.ListenOptions{}
	if !a.set {
		opts = launcher.ListenOptions{NextFree: true, Fallback: fallback}
	}
	ln, err := launcher.ListenLoopback(ctx, a.addr, opts)
	switch {
	case err == nil:
		return ln, nil
	case errors.Is(err, launcher.ErrAddrInUse) && a.set:
		return nil, fmt.Errorf("%s %s: the address is taken by another program; choose another port, or leave %s out for the default, which moves to a free port%s", flag, a.text, flag, more)
	case errors.Is(err, launcher.ErrAddrInUse):
		return nil, fmt.Errorf("%s: %w; choose a free port with %s%s", flag, err, flag, more)
	}
	return nil, fmt.Errorf("%s %s: %w", flag, a.text, err)
}

// openAccount opens the data directory's account before the daemon starts
// (the caller holds the data directory's lock). It returns the master key
// to start unlocked with (nil: start locked) and the key file (nil for
// --dev, whose key is random and written nowhere):
//   - --dev: a random key;
//   - an account and --passphrase-stdin: the key the line read opens (a
//     wrong passphrase stops serve);
//   - an account alone: locked;
//   - no account: created from --passphrase-stdin's line, or from a
//     passphrase typed twice at the terminal; without either, a usage error
//     (exit 2): "no account: run launcher init".
func (o *serveOptions) openAccount(ctx context.Context, e *env, dir string) (*account.Key, *account.File, error) {
	if o.dev {
		m, err := account.NewKey(rand.Reader)
		return m, nil, err
	}
	if err := account.RemoveTemp(dir); err != nil {
		return nil, nil, err
	}
	in := &passphraseInput{fromStdin: o.fromStdin, stdin: e.stdin, term: e.term, cmd: "serve"}
	f, err := account.Load(dir)
	switch {
	case errors.Is(err, account.ErrNoAccount):
		if !o.fromStdin && e.term == nil {
			return nil, nil, usagef("no account: run launcher init --data %s to create one (or serve --passphrase-stdin, which creates it from a passphrase on stdin, or serve --dev for a throwaway launcher)", dir)
		}
		if !o.fromStdin {
			fmt.Fprintf(e.stderr, "There is no account in %s yet; create one now.\nChoose a passphrase: it unlocks the launcher and its data, and nothing can recover it.\n", dir)
		}
		pass, err := in.fresh(ctx, "New passphrase: ")
		if err != nil {
			return nil, nil, err
		}
		defer clear(pass)
		return createAccount(e, e.stderr, dir, pass)
	case err != nil:
		return nil, nil, err
	case !o.fromStdin:
		return nil, f, nil
	}
	pass, err := in.one(ctx, "Passphrase: ")
	if err != nil {
		return nil, nil, err
	}
	defer clear(pass)
	m, err := f.Open(pass)
	if errors.Is(err, account.ErrWrongPassphrase) {
		return nil, nil, fmt.Errorf("wrong passphrase for the account in %s", dir)
	}
	if err != nil {
		return nil, nil, err
	}
	return m, f, nil
}

// createAccount calibrates Argon2id and creates the account in dir (whose
// lock the caller holds), telling out what it does.
func createAccount(e *env, out io.Writer, dir string, pass []byte) (*account.Key, *account.File, error) {
	fmt.Fprintf(out, "Creating the account: timing Argon2id on this machine (about %s for each unlock)...\n", formatDuration(account.TargetDerivation))
	p := e.calibrate()
	m, f, err := account.Create(dir, pass, p, rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(out, "Created the account in %s (%s).\n", dir, p)
	return m, f, nil
}

// storeStats is what the control server asks the store (control.Storage).
type storeStats struct{ s *vfs.Store }

func (st storeStats) AppUsage(ctx context.Context, rootDir string) (control.Usage, error) {
	u, err := st.s.AppUsage(ctx, rootDir)
	return control.Usage(u), err
}

func (st storeStats) Size(ctx context.Context) (control.StoreSize, error) {
	sz, err := st.s.Size(ctx)
	return control.StoreSize{Usage: control.Usage(sz.Usage), DatabaseBytes: sz.DatabaseBytes}, err
}

// unlockStore gives the store the keys of its purposes (it copies them; the
// copy made here is wiped) and makes SAFEDrive if it is missing.
func unlockStore(store *vfs.Store, k *account.Keys) error {
	sk := vfs.Keys{Content: k.Content, Names: k.Names, NameLookup: k.NameLookup, Metadata: k.Metadata, DNS: k.DNS, Registry: k.Registry}
	defer sk.Wipe()
	if err := store.Unlock(&sk); err != nil {
		return err
	}
	if !store.RootExists(vfs.SharedRoot()) {
		if _, err := store.CreateRoot(vfs.SharedRoot()); err != nil && !errors.Is(err, vfs.ErrExists) {
			store.Lock()
			return fmt.Errorf("creating SAFEDrive: %w", err)
		}
	}
	return nil
}
