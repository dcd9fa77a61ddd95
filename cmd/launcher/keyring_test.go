package main

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/account"
	"github.com/safe-launcher/launcher/launcher/control"
)

// fakeDaemon is a lockable standing for the daemon (whose Lock and Unlock are
// tested in package launcher and end to end here); it counts the calls.
type fakeDaemon struct {
	locked          atomic.Bool
	locks, unlocked atomic.Int32
}

func newFakeDaemon() *fakeDaemon { f := &fakeDaemon{}; f.locked.Store(true); return f }

func (f *fakeDaemon) Lock()        { f.locked.Store(true); f.locks.Add(1) }
func (f *fakeDaemon) Unlock()      { f.locked.Store(false); f.unlocked.Add(1) }
func (f *fakeDaemon) Locked() bool { return f.locked.Load() }

// waits records the back-off waits asked for and returns at once (or
// ctx's error).
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) wait(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return ctx.Err()
}

func (w *waits) take() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	d := w.d
	w.d = nil
	return d
}

// newTestKeyring makes a cheap account in a temporary data directory and a
// locked keyring over it.
func newTestKeyring(t *testing.T, hooks keyHooks) (*keyring, *fakeDaemon, *waits, string) {
	t.Helper()
	dir := t.TempDir()
	m, f, err := account.Create(dir, []byte(testPass), cheapParams, rand.Reader)
	require.NoError(t, err)
	m.Wipe()
	srv, w := newFakeDaemon(), &waits{}
	k := newKeyring(keyringConfig{dir: dir, file: f, srv: srv, hooks: hooks, rand: rand.Reader, wait: w.wait})
	t.Cleanup(k.Close)
	return k, srv, w, dir
}

func TestBackoffSchedule(t *testing.T) {
	want := map[int]time.Duration{0: 0, 1: 0, 2: 0, 3: time.Second, 4: 2 * time.Second, 5: 4 * time.Second,
		6: 8 * time.Second, 7: 16 * time.Second, 8: 30 * time.Second, 9: 30 * time.Second, 1000: 30 * time.Second}
	for n, d := range want {
		assert.Equal(t, d, backoff(n), "after %d failures", n)
	}
}

// TestKeyringBackoff: three wrong passphrases in a row cost nothing more
// than their derivation; each next one waits 1s, 2s, 4s ... up to 30s first;
// a right passphrase resets the count; the error says the wait to come.
func TestKeyringBackoff(t *testing.T) {
	k, srv, w, _ := newTestKeyring(t, keyHooks{})
	ctx := context.Background()
	var got []time.Duration
	for range 9 {
		_, err := k.Unlock(ctx, []byte("wrong"))
		require.ErrorIs(t, err, control.ErrWrongPassphrase)
		got = append(got, w.take()...)
	}
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second}, got)
	_, err := k.Unlock(ctx, []byte("wrong"))
	assert.EqualError(t, err, "wrong passphrase (10 in a row: the next attempt waits 30s)")
	assert.Equal(t, []time.Duration{30 * time.Second}, w.take())
	assert.True(t, k.Locked())
	assert.True(t, srv.Locked())

	changed, err := k.Unlock(ctx, []byte(testPass))
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Equal(t, []time.Duration{30 * time.Second}, w.take(), "the right passphrase waits its turn too")
	assert.False(t, k.Locked())
	assert.False(t, srv.Locked())
	changed, err = k.Unlock(ctx, []byte("anything"))
	require.NoError(t, err)
	assert.False(t, changed, "unlocked already: the passphrase is not checked")

	assert.True(t, k.Lock(ctx))
	assert.False(t, k.Lock(ctx))
	assert.Equal(t, int32(1), srv.locks.Load())
	_, err = k.Unlock(ctx, []byte("wrong"))
	require.ErrorIs(t, err, control.ErrWrongPassphrase)
	assert.EqualError(t, err, "wrong passphrase", "the count was reset")
	assert.Empty(t, w.take())
}

// TestKeyringBackoffCancelled: an attempt whose context ends in its
// back-off is not checked and not counted.
func TestKeyringBackoffCancelled(t *testing.T) {
	k, _, w, _ := newTestKeyring(t, keyHooks{})
	for range 3 {
		_, err := k.Unlock(context.Background(), []byte("wrong"))
		require.ErrorIs(t, err, control.ErrWrongPassphrase)
	}
	calls := 0
	k.cfg.wait = func(ctx context.Context, d time.Duration) error {
		calls++
		if calls == 1 {
			return context.Canceled // the caller gave up in its back-off
		}
		return w.wait(ctx, d)
	}
	_, err := k.Unlock(context.Background(), []byte(testPass))
	require.ErrorIs(t, err, context.Canceled)
	assert.True(t, k.Locked())
	_, err = k.Unlock(context.Background(), []byte(testPass))
	require.NoError(t, err)
	assert.Equal(t, []time.Duration{time.Second}, w.take(), "the cancelled attempt was not counted: the next waits 1s too")
}

// TestKeyringSerialises: an attempt made while another waits out its
// back-off runs after it, and sees its result: its own back-off is the
// next one up.
func TestKeyringSerialises(t *testing.T) {
	k, _, _, _ := newTestKeyring(t, keyHooks{})
	for range 3 {
		_, err := k.Unlock(context.Background(), []byte("wrong"))
		require.ErrorIs(t, err, control.ErrWrongPassphrase)
	}
	entered := make(chan time.Duration, 2)
	gate := make(chan struct{})
	var inside atomic.Int32
	k.cfg.wait = func(ctx context.Context, d time.Duration) error {
		if inside.Add(1) > 1 {
			t.Error("two attempts in their back-off at once")
		}
		entered <- d
		<-gate
		inside.Add(-1)
		return nil
	}
	first := make(chan error, 1)
	go func() { _, err := k.Unlock(context.Background(), []byte("wrong")); first <- err }()
	assert.Equal(t, time.Second, <-entered, "the first attempt waits 1s, holding the turn")
	second := make(chan error, 1)
	go func() { _, err := k.Unlock(context.Background(), []byte(testPass)); second <- err }()
	close(gate)
	require.ErrorIs(t, <-first, control.ErrWrongPassphrase)
	assert.Equal(t, 2*time.Second, <-entered, "the second ran after the first failed")
	require.NoError(t, <-second)
	assert.False(t, k.Locked())
}

// TestKeyringHooks: unlocked gets the keys derived from the master key
// before the daemon lets apps in; locking runs after the daemon locked and
// before the keys are wiped; a failing unlocked hook keeps it locked.
func TestKeyringHooks(t *testing.T) {
	var seen *account.Keys
	var lockedWhenLocking bool
	var srvRef *fakeDaemon
	hooks := keyHooks{
		unlocked: func(k *account.Keys) error {
			if !srvRef.Locked() {
				return errors.New("apps were let in before the keys were handed over")
			}
			seen = k
			return nil
		},
		locking: func() {
			lockedWhenLocking = srvRef.Locked()
			var zero account.Key
			if seen.Content.Equal(&zero) {
				t.Error("the keys were wiped before the locking hook")
			}
		},
	}
	k, srv, _, dir := newTestKeyring(t, hooks)
	srvRef = srv
	_, err := k.Unlock(context.Background(), []byte(testPass))
	require.NoError(t, err)
	f, err := account.Load(dir)
	require.NoError(t, err)
	m, err := f.Open([]byte(testPass))
	require.NoError(t, err)
	want := account.DeriveKeys(m)
	require.NotNil(t, seen)
	assert.True(t, seen.Content.Equal(&want.Content))
	assert.True(t, seen.Registry.Equal(&want.Registry))
	require.True(t, k.Lock(context.Background()))
	assert.True(t, lockedWhenLocking, "the daemon locked (sessions ended) before the locking hook")
	var zero account.Key
	for _, key := range []*account.Key{&seen.Content, &seen.Names, &seen.NameLookup, &seen.Metadata, &seen.DNS, &seen.Registry} {
		assert.True(t, key.Equal(&zero), "the keys are wiped after lock")
	}

	bad, srv2, _, _ := newTestKeyring(t, keyHooks{unlocked: func(*account.Keys) error { return errors.New("store says no") }})
	_, err = bad.Unlock(context.Background(), []byte(testPass))
	require.ErrorContains(t, err, "store says no")
	assert.True(t, bad.Locked())
	assert.True(t, srv2.Locked())
	assert.Equal(t, int32(0), srv2.unlocked.Load())
}

// TestKeyringPasswd: a wrong current passphrase counts as a failure and
// changes nothing; a right one re-wraps the same master key in the key file
// (the old passphrase stops working) whether locked or unlocked; an invalid
// new one is refused before any derivation.
func TestKeyringPasswd(t *testing.T) {
	k, _, _, dir := newTestKeyring(t, keyHooks{})
	ctx := context.Background()
	require.ErrorIs(t, k.ChangePassphrase(ctx, []byte("wrong"), []byte("new")), control.ErrWrongPassphrase)
	assert.Equal(t, 1, k.failures)
	require.ErrorIs(t, k.ChangePassphrase(ctx, []byte(testPass), nil), control.ErrInvalid)
	require.NoError(t, k.ChangePassphrase(ctx, []byte(testPass), []byte("second")))
	assert.Equal(t, 0, k.failures)
	f, err := account.Load(dir)
	require.NoError(t, err)
	_, err = f.Open([]byte(testPass))
	require.ErrorIs(t, err, account.ErrWrongPassphrase)
	_, err = k.Unlock(ctx, []byte(testPass))
	require.ErrorIs(t, err, control.ErrWrongPassphrase, "the old passphrase stops working")
	_, err = k.Unlock(ctx, []byte("second"))
	require.NoError(t, err)
	require.NoError(t, k.ChangePassphrase(ctx, []byte("second"), []byte("third")), "unlocked too")
	assert.False(t, k.Locked())
	f, err = account.Load(dir)
	require.NoError(t, err)
	_, err = f.Open([]byte("third"))
	require.NoError(t, err)

	// A key file replaced behind the daemon's back (another master key) is
	// refused, and left as it is.
	other := t.TempDir()
	_, of, err := account.Create(other, []byte("third"), cheapParams, rand.Reader)
	require.NoError(t, err)
	k.mu.Lock()
	k.file = of
	k.mu.Unlock()
	require.ErrorContains(t, k.ChangePassphrase(ctx, []byte("third"), []byte("fourth")), "another master key")
}

// TestKeyringDev: a --dev keyring takes any passphrase, can lock and unlock
// again, has no passphrase to change, and wipes its key at Close.
func TestKeyringDev(t *testing.T) {
	dev, err := account.NewKey(rand.Reader)
	require.NoError(t, err)
	var keys *account.Keys
	srv := newFakeDaemon()
	k := newKeyring(keyringConfig{devKey: dev, srv: srv, rand: rand.Reader,
		hooks: keyHooks{unlocked: func(ks *account.Keys) error { keys = ks; return nil }}})
	ctx := context.Background()
	_, err = k.Unlock(ctx, nil)
	require.NoError(t, err)
	want := account.DeriveKeys(dev)
	assert.True(t, keys.Content.Equal(&want.Content))
	require.True(t, k.Lock(ctx))
	_, err = k.Unlock(ctx, []byte("whatever"))
	require.NoError(t, err)
	assert.False(t, srv.Locked())
	require.ErrorIs(t, k.ChangePassphrase(ctx, []byte("a"), []byte("b")), control.ErrNoAccount)
	k.Close()
	var zero account.Key
	assert.True(t, dev.Equal(&zero), "the dev key is wiped at Close")
	assert.True(t, keys.Content.Equal(&zero))
	_, err = k.Unlock(ctx, nil)
	require.ErrorIs(t, err, errClosing, "never unlocked after Close")
	assert.True(t, k.Locked())
}
