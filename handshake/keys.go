package handshake

import (
	"crypto/subtle"
	"fmt"
	"io"

	"golang.org/x/crypto/nacl/box"
)

// The box key pair and shared key of a handshake are nacl/box's
// (box.GenerateKey, box.Precompute), with a low-order peer key refused.
//
// A low-order public key (a point of order 1, 2, 4 or 8, such as all zeros)
// makes the X25519 shared secret all zeros whatever the private key (RFC
// 7748 section 6.1). box.Precompute does not report it: x/crypto's
// curve25519.ScalarMult documents that it then yields all zeros, and
// Precompute's HSalsa20 turns those into one fixed key, zeroSecretKey. So a
// shared key equal to zeroSecretKey (compared in constant time) means a
// low-order peer key; any other peer key gives it with probability 2^-256.
// Checking this way costs nothing; asking curve25519.X25519 first would cost
// two more scalar multiplications a side (it makes a crypto/ecdh private
// key, which computes a public key too), about 80 µs of a 200 µs Accept.
// The tests check the refusal against curve25519.X25519's error for every
// low-order encoding of libsodium's blocklist.

// zeroSecretKey returns box.Precompute's key for an all-zero X25519
// secret: HSalsa20 of 32 zero bytes under the zero nonce
// (TestZeroSecretKey checks it).
func zeroSecretKey() Key {
	return Key{
		0x35, 0x1f, 0x86, 0xfa, 0xa3, 0xb9, 0x88, 0x46,
		0x8a, 0x85, 0x01, 0x22, 0xb6, 0x5b, 0x0a, 0xce,
		0xce, 0x9c, 0x48, 0x26, 0x80, 0x6a, 0xee, 0xe6,
		0x3d, 0xe9, 0xc0, 0xda, 0x2b, 0xd7, 0xf9, 0x1e,
	}
}

// lowOrderError is the refusal of a low-order public key. It is ErrMalformed
// and ErrLowOrderKey; its text names the field and is fit to send to the
// peer.
type lowOrderError struct{ field, advice string }

func (e *lowOrderError) Error() string {
	return fmt.Sprintf("%v: %s is a low-order point; %s", ErrMalformed, e.field, e.advice)
}

func (e *lowOrderError) Unwrap() []error { return []error{ErrMalformed, ErrLowOrderKey} }

// newKeyPair reads a private key from rand, as box.GenerateKey does (32 bytes,
// clamped by X25519), and returns its public key and the private key.
func newKeyPair(rand io.Reader) (pub, priv Key, err error) {
	p, s, err := box.GenerateKey(rand)
	if err != nil {
		return pub, priv, fmt.Errorf("handshake: generating key pair: %w", err)
	}
	pub, priv = *p, *s
	clear(s[:])
	return pub, priv, nil
}

// sharedKey returns box.Precompute(peer, priv), the key of the box between
// the two, or a *lowOrderError naming field (with advice) if peer is a
// low-order point.
func sharedKey(priv, peer *Key, field, advice string) (Key, error) {
	var k Key
	box.Precompute((*[32]byte)(&k), (*[32]byte)(peer), (*[32]byte)(priv))
	zero := zeroSecretKey()
	if subtle.ConstantTimeCompare(k[:], zero[:]) == 1 {
		clear(k[:])
		return k, &lowOrderError{field: field, advice: advice}
	}
	return k, nil
}
