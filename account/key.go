package account

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
	"runtime"

	"golang.org/x/crypto/hkdf"
)

// KeySize is the size of every key of the account: the master key and each
// derived key.
const KeySize = 32

// Key is a 32-byte secret key. Pass it by pointer, and Wipe it when done.
// It formats as "[redacted]" with fmt and log/slog.
type Key [KeySize]byte

// NewKey returns a fresh random key read from rand (crypto/rand in the
// daemon), for a new account's master key or a throwaway one.
func NewKey(rand io.Reader) (*Key, error) {
	k := new(Key)
	if _, err := io.ReadFull(rand, k[:]); err != nil {
		return nil, fmt.Errorf("account: reading a random key: %w", err)
	}
	return k, nil
}

// Wipe zeroes k.
func (k *Key) Wipe() {
	clear(k[:])
	runtime.KeepAlive(k)
}

// Equal reports whether k and o hold the same key, in constant time.
func (k *Key) Equal(o *Key) bool { return subtle.ConstantTimeCompare(k[:], o[:]) == 1 }

// String hides the key.
func (Key) String() string { return "[redacted]" }

// GoString hides the key from %#v.
func (Key) GoString() string { return "[redacted]" }

// Format hides the key from every fmt verb (%x and %v included).
func (Key) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "[redacted]") }

// LogValue hides the key from log/slog.
func (Key) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// The purposes of the derived keys. Each is the last part of the HKDF info
// string "safe-launcher/account/v1/<purpose>", so every purpose has a key of
// its own and no key serves two.
const (
	PurposeContent    = "content"     // file content, in chunks
	PurposeNames      = "names"       // entry names, encrypted
	PurposeNameLookup = "name-lookup" // keyed hash of (parent id, name) for lookups
	PurposeMetadata   = "metadata"    // user_metadata and other per-entry metadata
	PurposeDNS        = "dns"         // DNS records
	PurposeRegistry   = "registry"    // the app registry's per-app data
)

// hkdfSalt is HKDF's salt: a fixed label of this derivation (the master key
// is already uniformly random, RFC 5869 section 3.1).
const hkdfSalt = "safe-launcher account key derivation"

// infoPrefix is the start of every HKDF info string.
const infoPrefix = "safe-launcher/account/v1/"

// Derive returns the key of purpose (one of the Purpose constants, or a new
// label for a later purpose) derived from master by HKDF-SHA256. The same
// master and purpose always give the same key. It panics on an empty purpose.
func Derive(master *Key, purpose string) Key {
	if purpose == "" {
		panic("account: Derive with an empty purpose")
	}
	var k Key
	r := hkdf.New(sha256.New, master[:], []byte(hkdfSalt), []byte(infoPrefix+purpose))
	if _, err := io.ReadFull(r, k[:]); err != nil {
		panic("account: hkdf: " + err.Error()) // cannot happen: 32 bytes are far below HKDF's limit
	}
	return k
}

// Keys are the keys derived from the master key, one per purpose. Pass them
// by pointer; Wipe them when the launcher locks and at exit.
type Keys struct {
	Content    Key // file content, in chunks
	Names      Key // entry names, encrypted
	NameLookup Key // keyed hash of (parent id, name) for lookups
	Metadata   Key // user_metadata and other per-entry metadata
	DNS        Key // DNS records
	Registry   Key // the app registry's per-app data
}

// DeriveKeys derives every purpose's key from master.
func DeriveKeys(master *Key) *Keys {
	return &Keys{
		Content:    Derive(master, PurposeContent),
		Names:      Derive(master, PurposeNames),
		NameLookup: Derive(master, PurposeNameLookup),
		Metadata:   Derive(master, PurposeMetadata),
		DNS:        Derive(master, PurposeDNS),
		Registry:   Derive(master, PurposeRegistry),
	}
}

// Wipe zeroes every key.
func (k *Keys) Wipe() {
	for _, key := range []*Key{&k.Content, &k.Names, &k.NameLookup, &k.Metadata, &k.DNS, &k.Registry} {
		key.Wipe()
	}
}
