package handshake

import (
	"encoding/binary"

	"golang.org/x/crypto/poly1305"
	"golang.org/x/crypto/salsa20/salsa"
)

// The in-place secretbox. x/crypto's secretbox.Seal and Open refuse
// overlapping buffers, and a frame may be 300 MiB: sealing or opening a
// frame in its own buffer saves a second copy of that size. So the boxes of
// nacl/secretbox (XSalsa20 and Poly1305, the 16-byte tag first) are built
// here from the two packages secretbox itself is made of, salsa20/salsa and
// poly1305, exactly as secretbox.Seal builds them. Both are marked
// deprecated for direct use because they are building blocks that are unsafe
// when combined wrongly; here they are combined as secretbox combines them,
// and every size class is checked box for box against secretbox.Seal and
// Open (TestInPlaceMatchesSecretbox, FuzzSealOpen, FuzzOpenInPlace).
//
// Each box takes two plain passes on one goroutine, as secretbox.Open does:
// seal encrypts, then MACs the ciphertext; open MACs the ciphertext, then,
// only if the tag verifies, decrypts, so a box that does not authenticate is
// left as received and none of it is decrypted. One interleaved pass (MAC
// and key stream chunk by chunk) measured the same in thread CPU time up to
// 4 MiB and for seals of every size, and 2-5% faster only for opens of 16
// MiB and more (where the box no longer fits the cache): not worth opening
// before authenticating.

// boxKeys is the per-message key material of one secretbox.
type boxKeys struct {
	sub     Key      // XSalsa20 subkey: HSalsa20 of the key and nonce[:16]
	counter [16]byte // nonce[16:], then the little-endian block number
	polyKey Key      // the first 32 bytes of key stream: Poly1305's one-time key
	head    Key      // the next 32 bytes, for the message's first 32 bytes
}

// newBoxKeys derives the key material of the box sealed with nonce and key,
// as secretbox's setup does.
func newBoxKeys(k *boxKeys, nonce *Nonce, key *Key) {
	salsa.HSalsa20((*[32]byte)(&k.sub), (*[16]byte)(nonce[:16]), (*[32]byte)(key), &salsa.Sigma)
	copy(k.counter[:8], nonce[16:])
	var block [64]byte // block 0 of the key stream
	salsa.XORKeyStream(block[:], block[:], &k.counter, (*[32]byte)(&k.sub))
	copy(k.polyKey[:], block[:32])
	copy(k.head[:], block[32:])
	clear(block[:])
}

// xor applies the message key stream to m in place: the message's first 32
// bytes take the second half of block 0, the rest blocks 1, 2, ...
func (k *boxKeys) xor(m []byte) {
	n := min(len(m), 32)
	for i := range n {
		m[i] ^= k.head[i]
	}
	if len(m) > n {
		binary.LittleEndian.PutUint64(k.counter[8:], 1)
		salsa.XORKeyStream(m[n:], m[n:], &k.counter, (*[32]byte)(&k.sub))
	}
}

// wipe zeroes the key material.
func (k *boxKeys) wipe() { *k = boxKeys{} }

// sealInPlace seals box[Overhead:] in place and writes the tag to
// box[:Overhead]: the box is secretbox.Seal(nil, box[Overhead:], nonce, key).
func sealInPlace(box []byte, nonce *Nonce, key *Key) {
	var k boxKeys
	newBoxKeys(&k, nonce, key)
	m := box[Overhead:]
	k.xor(m)
	poly1305.Sum((*[Overhead]byte)(box), m, (*[32]byte)(&k.polyKey))
	k.wipe()
}

// openInPlace opens box in place and reports whether it authenticated: on
// success box[Overhead:] holds the message; on failure box is unchanged.
// len(box) must be at least Overhead.
func openInPlace(box []byte, nonce *Nonce, key *Key) bool {
	var k boxKeys
	newBoxKeys(&k, nonce, key)
	defer k.wipe()
	m := box[Overhead:]
	if !poly1305.Verify((*[Overhead]byte)(box), m, (*[32]byte)(&k.polyKey)) {
		return false
	}
	k.xor(m)
	return true
}
