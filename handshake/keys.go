package handshake

import (
	"crypto/ecdh"
	"fmt"
	"io"

	"golang.org/x/crypto/salsa20/salsa"
)

// The box key pair and shared key of a handshake. They are exactly those of
// nacl/box (GenerateKey, Precompute), computed with two X25519 operations per
// side instead of three: x/crypto's curve25519, under box.Precompute, builds a
// crypto/ecdh private key from the scalar, and building one computes its
// public key, an X25519 the shared key does not need. Here the private key
// made for the key pair is kept and used for the shared key.
//
// crypto/ecdh keeps its own copy of the scalar, which cannot be zeroed (so did
// the x/crypto path); callers drop their *ecdh.PrivateKey as soon as the shared
// key is made.

// newKeyPair reads a private key from rand, as box.GenerateKey does (32 bytes,
// clamped by X25519), and returns it with its public key.
func newKeyPair(rand io.Reader) (*ecdh.PrivateKey, Key, error) {
	var pub, raw Key
	if _, err := io.ReadFull(rand, raw[:]); err != nil {
		return nil, pub, fmt.Errorf("handshake: generating key pair: %w", err)
	}
	priv, err := ecdh.X25519().NewPrivateKey(raw[:])
	clear(raw[:])
	if err != nil {
		return nil, pub, fmt.Errorf("handshake: generating key pair: %w", err)
	}
	copy(pub[:], priv.PublicKey().Bytes())
	return priv, pub, nil
}

// boxSharedKey returns box.Precompute(peer, priv): HSalsa20 of the X25519
// shared secret. For a low-order peer key the secret is all zeros, as with
// box.Precompute (whose curve25519.ScalarMult zeroes it), so that the box
// made is the one nacl/box would make.
func boxSharedKey(priv *ecdh.PrivateKey, peer *Key) Key {
	var k Key
	if pub, err := ecdh.X25519().NewPublicKey(peer[:]); err == nil {
		if s, err := priv.ECDH(pub); err == nil {
			copy(k[:], s)
			clear(s)
		}
	}
	var zeros [16]byte
	salsa.HSalsa20((*[32]byte)(&k), &zeros, (*[32]byte)(&k), &salsa.Sigma)
	return k
}
