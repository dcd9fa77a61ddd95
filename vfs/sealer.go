package vfs

import (
	"fmt"
)

// Purpose names a key of the store that other packages seal their own
// data with, in their own tables, through a Sealer.
type Purpose string

// The purposes a Sealer serves, one key each (Keys.DNS, Keys.Registry).
const (
	PurposeDNS      Purpose = "dns"      // DNS records (package dns)
	PurposeRegistry Purpose = "registry" // the app registry's per-app data (launcher/apps)
)

// sealerFormat is the first byte of every value a Sealer seals.
const sealerFormat = 1

// Sealer encrypts other packages' data at rest with the keys the store
// holds, inside a transaction of the store (Tx.Sealer): the app registry
// and DNS records in their own tables. It is valid while the function
// given to Update or View runs.
//
// The contract:
//
//   - Seal returns 1 || nonce (24 bytes, random) || XChaCha20-Poly1305
//     ciphertext and tag (16 bytes): len(plaintext)+41 bytes, under the
//     purpose's key. ad is bound to it (not stored): pass what says where
//     the value belongs (the row's key, the column's name), so that a
//     value moved to another row or column does not open.
//   - Open returns the plaintext of what Seal made with the same purpose
//     and ad, or an error wrapping ErrIntegrity (a changed byte, another
//     ad or purpose, a value not sealed by this store).
//   - Hash is a keyed hash (BLAKE2b-128 under Keys.NameLookup, bound to the
//     purpose): 16 bytes to find a row by a secret (a DNS long name, an
//     app's id) in an indexed column without storing it. Equal inputs give
//     equal hashes, for as long as the account keeps its keys.
//
// An unknown purpose panics (a programming error).
type Sealer struct{ k *keyset }

// Sealer returns the transaction's Sealer.
func (t *Tx) Sealer() Sealer { return Sealer{t.k} }

func (s Sealer) key(p Purpose) *[KeySize]byte {
	switch p {
	case PurposeDNS:
		return &s.k.k.DNS
	case PurposeRegistry:
		return &s.k.k.Registry
	}
	panic(fmt.Sprintf("vfs: Sealer: unknown purpose %q", string(p)))
}

func sealerAD(p Purpose, ad []byte) []byte {
	b := make([]byte, 0, len(adSealer)+len(p)+1+len(ad))
	b = append(b, adSealer...)
	b = append(b, p...)
	b = append(b, 0)
	return append(b, ad...)
}

// Seal seals plaintext for purpose p, bound to ad.
func (s Sealer) Seal(p Purpose, ad, plaintext []byte) []byte {
	return seal([]byte{sealerFormat}, s.key(p), plaintext, sealerAD(p, ad))
}

// Open opens what Seal made for purpose p with ad.
func (s Sealer) Open(p Purpose, ad, sealed []byte) ([]byte, error) {
	key := s.key(p)
	if len(sealed) < 1+sealOverhead || sealed[0] != sealerFormat {
		return nil, fmt.Errorf("%w: a sealed %s value of %d bytes", ErrIntegrity, p, len(sealed))
	}
	pt, err := open(nil, key, sealed[1:], sealerAD(p, ad))
	if err != nil {
		return nil, fmt.Errorf("%w: a sealed %s value: %v", ErrIntegrity, p, err)
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, nil
}

// Hash returns the keyed hash of data for purpose p.
func (s Sealer) Hash(p Purpose, data []byte) []byte {
	s.key(p) // checks p
	return s.k.hash(hSealer, []byte(p), []byte{0}, data)
}
