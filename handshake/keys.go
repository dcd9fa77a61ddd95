package handshake

import (
	"fmt"
	"io"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"
)

// The box key pair and shared key of a handshake are nacl/box's
// (box.GenerateKey, box.Precompute). box.Precompute of a low-order peer key
// (a point of order 1, 2, 4 or 8, such as all zeros) silently yields the key
// of an all-zero X25519 secret, which anyone can compute: such a key is
// refused first, by curve25519.X25519, which reports an all-zero result as
// an error (RFC 7748 section 6.1).

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
// the two, or a *lowOrderError naming field if peer is a low-order point.
func sharedKey(priv, peer *Key, field, advice string) (Key, error) {
	var k Key
	secret, err := curve25519.X25519(priv[:], peer[:])
	clear(secret)
	if err != nil {
		// With 32-byte inputs, X25519's only error is an all-zero result
		// (in FIPS 140-only mode, which refuses X25519, box.GenerateKey
		// has already panicked).
		return k, &lowOrderError{field: field, advice: advice}
	}
	box.Precompute((*[32]byte)(&k), (*[32]byte)(peer), (*[32]byte)(priv))
	return k, nil
}
