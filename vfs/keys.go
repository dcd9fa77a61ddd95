package vfs

import (
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
	"runtime"
)

// KeySize is the size of each of the store's keys.
const KeySize = 32

// Keys are the keys the store encrypts with, one per purpose, derived by
// the caller from the user's master key (the daemon passes the keys of
// package account, purpose by purpose). Each is used for its purpose only.
// Keys formats as "[redacted]" with fmt and log/slog.
type Keys struct {
	Content    [KeySize]byte // file content, in chunks (XChaCha20-Poly1305)
	Names      [KeySize]byte // entry names and root keys (XChaCha20-Poly1305)
	NameLookup [KeySize]byte // keyed BLAKE2b of (parent, name), root and app keys, Sealer.Hash
	Metadata   [KeySize]byte // user metadata (XChaCha20-Poly1305)
	DNS        [KeySize]byte // Sealer with PurposeDNS
	Registry   [KeySize]byte // Sealer with PurposeRegistry
}

// RandomKeys returns keys read from rand (crypto/rand.Reader for a real
// store): for a throwaway store, and tests.
func RandomKeys(rand io.Reader) (*Keys, error) {
	k := new(Keys)
	for _, b := range k.all() {
		if _, err := io.ReadFull(rand, b[:]); err != nil {
			return nil, fmt.Errorf("%w: reading random keys: %w", ErrIO, stripPath(err))
		}
	}
	return k, nil
}

func (k *Keys) all() []*[KeySize]byte {
	return []*[KeySize]byte{&k.Content, &k.Names, &k.NameLookup, &k.Metadata, &k.DNS, &k.Registry}
}

// Wipe zeroes every key.
func (k *Keys) Wipe() {
	for _, b := range k.all() {
		clear(b[:])
	}
	runtime.KeepAlive(k)
}

// Equal reports whether k and o hold the same keys, in constant time.
func (k *Keys) Equal(o *Keys) bool {
	eq := 1
	a, b := k.all(), o.all()
	for i := range a {
		eq &= subtle.ConstantTimeCompare(a[i][:], b[i][:])
	}
	return eq == 1
}

// String hides the keys.
func (Keys) String() string { return "[redacted]" }

// GoString hides the keys from %#v.
func (Keys) GoString() string { return "[redacted]" }

// Format hides the keys from every fmt verb.
func (Keys) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "[redacted]") }

// LogValue hides the keys from log/slog.
func (Keys) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Unlock gives the store its keys (copied: the caller wipes its own) and
// lets operations in. Until then, and after Lock, every operation returns
// ErrLocked. Unlocking an unlocked store replaces its keys (with the same
// keys: changes nothing). A nil k is an error.
func (s *Store) Unlock(k *Keys) error {
	if k == nil {
		return fmt.Errorf("%w: no keys", ErrLocked)
	}
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if s.keys == nil {
		s.keys = new(keyset)
	}
	s.keys.k = *k
	return nil
}

// Lock zeroes the store's keys: operations that had started go on with a
// copy of their own (wiped when each ends), new ones return ErrLocked. It
// is idempotent and does not wait.
func (s *Store) Lock() {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if s.keys != nil {
		s.keys.wipe()
		s.keys = nil
	}
}

// Locked reports whether the store is locked (has no keys).
func (s *Store) Locked() bool {
	s.keyMu.RLock()
	defer s.keyMu.RUnlock()
	return s.keys == nil
}

// takeKeys returns a copy of the keys for one operation (the caller wipes
// it), or ErrLocked.
func (s *Store) takeKeys() (*keyset, error) {
	s.keyMu.RLock()
	defer s.keyMu.RUnlock()
	if s.keys == nil {
		return nil, ErrLocked
	}
	ks := new(keyset)
	ks.k = s.keys.k
	return ks, nil
}
