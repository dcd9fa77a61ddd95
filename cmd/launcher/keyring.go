package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/safe-launcher/launcher/account"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/control"
)

// Back-off of wrong passphrases: the first freeFailures in a row cost only
// their derivation; each next attempt first waits firstBackoff, doubling,
// at most maxBackoff. A right passphrase resets the count.
const (
	freeFailures = 3
	firstBackoff = time.Second
	maxBackoff   = 30 * time.Second
)

// backoff is the wait before an attempt after failures wrong passphrases in a row.
func backoff(failures int) time.Duration {
	if failures < freeFailures {
		return 0
	}
	n := failures - freeFailures
	if n >= 5 { // 1s<<5 = 32s, past the cap
		return maxBackoff
	}
	return min(firstBackoff<<n, maxBackoff)
}

// lockable is what the keyring drives of the daemon: *launcher.Server.
type lockable interface {
	Lock()
	Unlock()
	Locked() bool
}

var _ lockable = (*launcher.Server)(nil)

// errClosing: the daemon is stopping.
var errClosing = errors.New("the launcher is stopping")

// keyHooks let what encrypts the user's data (the store, issue 17 item 4)
// take the keys when the launcher unlocks and forget them when it locks:
// wiring it in is one line each way.
type keyHooks struct {
	// unlocked is called with the derived keys once a passphrase opened the
	// account and before apps are let in. The keys stay valid until
	// locking returns; keep no copy past it. An error keeps the launcher
	// locked.
	unlocked func(*account.Keys) error
	// locking is called once every session has ended, before the keys are
	// wiped.
	locking func()
}

// keyringConfig configures a keyring.
type keyringConfig struct {
	dir    string        // the data directory (for the key file)
	file   *account.File // the key file as loaded at start; nil for --dev
	devKey *account.Key  // --dev: the random master key (taken over)
	srv    lockable
	hooks  keyHooks
	rand   io.Reader
	log    *slog.Logger
	// wait waits d or until ctx ends (nil: a timer).
	wait func(ctx context.Context, d time.Duration) error
}

// keyring is the daemon's hold on the user's account: the key file as
// loaded at start (the daemon holds the data directory's lock, so nothing
// else changes it), the keys while unlocked, and the count of wrong
// passphrases. It implements control.Account.
//
// Passphrase checks (unlock, passwd) run one at a time, each after the
// back-off its predecessors earned; locking never waits for them.
type keyring struct {
	cfg     keyringConfig
	attempt chan struct{} // holds a token while a passphrase is checked
	// failures counts wrong passphrases in a row; only the holder of the
	// attempt token touches it.
	failures int

	mu       sync.Mutex // orders unlock, lock and close; guards the fields below
	file     *account.File
	master   *account.Key  // nil while locked
	keys     *account.Keys // nil while locked
	closed   bool          // Close ran: never unlock again
	unlocked atomic.Bool   // keys != nil, read without mu
}

var _ control.Account = (*keyring)(nil)

// newKeyring returns a locked keyring; the daemon (cfg.srv) should be locked too.
func newKeyring(cfg keyringConfig) *keyring {
	if cfg.wait == nil {
		cfg.wait = sleepCtx
	}
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	return &keyring{cfg: cfg, attempt: make(chan struct{}, 1), file: cfg.file}
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Locked implements control.Account.
func (k *keyring) Locked() bool { return !k.unlocked.Load() }

// load takes master (wiped by the keyring from then on), derives the keys,
// hands them to the unlocked hook and lets apps in.
func (k *keyring) load(master *account.Key) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		master.Wipe()
		return errClosing
	}
	if k.keys != nil {
		master.Wipe()
		return nil
	}
	keys := account.DeriveKeys(master)
	if h := k.cfg.hooks.unlocked; h != nil {
		if err := h(keys); err != nil {
			keys.Wipe()
			master.Wipe()
			return fmt.Errorf("unlocking: %w", err)
		}
	}
	k.master, k.keys = master, keys
	k.unlocked.Store(true)
	k.cfg.srv.Unlock()
	return nil
}

// take waits for the attempt token and the back-off; release gives it back.
func (k *keyring) take(ctx context.Context) (release func(), err error) {
	select {
	case k.attempt <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	release = func() { <-k.attempt }
	if d := backoff(k.failures); d > 0 {
		if err := k.cfg.wait(ctx, d); err != nil {
			release()
			return nil, err
		}
	}
	return release, nil
}

// open checks a passphrase against the key file (the full derivation) and
// counts the result. The attempt token is held.
func (k *keyring) open(passphrase []byte) (*account.Key, error) {
	if k.cfg.devKey != nil {
		m := *k.cfg.devKey
		return &m, nil
	}
	k.mu.Lock()
	f := k.file
	k.mu.Unlock()
	m, err := f.Open(passphrase)
	if err != nil {
		k.failures++
		msg := "wrong passphrase"
		if d := backoff(k.failures); d > 0 {
			msg += fmt.Sprintf(" (%d in a row: the next attempt waits %s)", k.failures, formatDuration(d))
		}
		k.cfg.log.Warn("a wrong passphrase was given", "failures_in_a_row", k.failures, "next_wait", backoff(k.failures))
		return nil, &control.Error{Code: control.CodeWrongPassphrase, Message: msg}
	}
	k.failures = 0
	return m, nil
}

// Unlock implements control.Account.
func (k *keyring) Unlock(ctx context.Context, passphrase []byte) (bool, error) {
	if !k.Locked() {
		return false, nil
	}
	release, err := k.take(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	if !k.Locked() {
		return false, nil
	}
	m, err := k.open(passphrase)
	if err != nil {
		return false, err
	}
	if err := k.load(m); err != nil {
		return false, err
	}
	k.cfg.log.Info("launcher unlocked")
	return true, nil
}

// Lock implements control.Account: the daemon refuses new connections and
// ends every session (each gets a last -134 frame), the locking hook runs,
// and the keys are wiped.
func (k *keyring) Lock(context.Context) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys == nil {
		return false
	}
	k.cfg.srv.Lock()
	k.unlocked.Store(false)
	k.drop()
	k.cfg.log.Info("launcher locked: the keys are wiped")
	return true
}

// drop runs the locking hook and wipes the keys; k.mu is held.
func (k *keyring) drop() {
	if k.keys == nil {
		return
	}
	if h := k.cfg.hooks.locking; h != nil {
		h()
	}
	k.keys.Wipe()
	k.master.Wipe()
	k.keys, k.master = nil, nil
}

// ChangePassphrase implements control.Account: it opens the key file with
// oldPass (a wrong one counts as a failure and earns back-off like unlock),
// seals the same master key under newPass with the file's parameters, a new
// salt and nonce, and replaces the key file atomically.
func (k *keyring) ChangePassphrase(ctx context.Context, oldPass, newPass []byte) error {
	if k.cfg.devKey != nil {
		return &control.Error{Code: control.CodeNoAccount, Message: "a --dev launcher has no account and no passphrase"}
	}
	if err := account.CheckPassphrase(newPass); err != nil {
		return &control.Error{Code: control.CodeInvalid, Message: "the new passphrase is empty or longer than 1024 bytes"}
	}
	release, err := k.take(ctx)
	if err != nil {
		return err
	}
	defer release()
	m, err := k.open(oldPass)
	if err != nil {
		return err
	}
	defer m.Wipe()
	k.mu.Lock()
	f := k.file
	same := k.master == nil || k.master.Equal(m)
	k.mu.Unlock()
	if !same {
		return fmt.Errorf("the key file %s holds another master key than the one in use; it was replaced behind the daemon's back", account.Path(k.cfg.dir))
	}
	nf, err := account.Seal(m, newPass, f.Params, k.cfg.rand)
	if err != nil {
		return err
	}
	if err := account.Replace(k.cfg.dir, nf, k.cfg.rand); err != nil {
		return err
	}
	k.mu.Lock()
	k.file = nf
	k.mu.Unlock()
	k.cfg.log.Info("passphrase changed: the master key was re-wrapped")
	return nil
}

// Close wipes the keys (and the --dev key) at exit; the daemon has stopped
// serving.
func (k *keyring) Close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed = true
	k.unlocked.Store(false)
	k.drop()
	if k.cfg.devKey != nil {
		k.cfg.devKey.Wipe()
	}
}
