package handshake

import (
	"crypto/subtle"

	"golang.org/x/crypto/poly1305" //nolint:staticcheck // the streaming MAC secretbox is built on
)

// Key material computed ahead. Sealing or opening a small box is mostly
// key stream: HSalsa20 for the subkey, one Salsa20 block for the Poly1305
// key, then one block per 64 bytes of message (a 2.3 KB get-dir answer is
// about 5 µs on the machines here). None of it depends on the message, only
// on the key and the nonce, and in a session the next nonce of each
// direction is known. So an owner that is about to wait (the daemon before
// it reads the next request, the SDK while its request is answered) can
// compute the next message's key material then (PrepareSeal, PrepareOpen),
// and the seal or open that follows does only the XOR and the MAC.
//
// Prepared material is used only for the message number it was computed
// for, once: a box sealed or opened with it is exactly the box of
// nacl/secretbox, and the material is wiped when used, when it goes stale
// (its message number was taken by another call), and by Close.

// PrepareMax is the most key stream computed ahead for one message; the
// rest of a longer message's key stream is computed when it is sealed or
// opened, as without preparation. It bounds what an idle session holds
// (4 KiB a direction).
const PrepareMax = 4 << 10

// prepared is the key material computed ahead for message number k of one
// direction.
type prepared struct {
	ok     bool
	k      uint64
	keys   boxKeys
	stream []byte // key stream for message bytes [32, 32+len(stream)): whole blocks 1, 2, …
}

// fill makes p the key material of message k (nonce), with key stream for
// at least the first n message bytes (up to PrepareMax), keeping what p
// already holds for k.
func (p *prepared) fill(k uint64, nonce *Nonce, key *Key, n int) {
	if !p.ok || p.k != k {
		p.wipe()
		p.keys = newBoxKeys(nonce, key)
		p.k, p.ok = k, true
	}
	n = min(n, PrepareMax) - 32 // the first 32 bytes are keys.first
	if n <= len(p.stream) {
		return
	}
	n = (n + 63) &^ 63
	old := len(p.stream)
	if cap(p.stream) < n {
		s := make([]byte, old, n)
		copy(s, p.stream)
		clear(p.stream)
		p.stream = s
	}
	p.stream = p.stream[:n]
	clear(p.stream[old:])
	p.keys.xorBlocks(p.stream[old:], 1+uint64(old)/64)
}

// usable reports whether p holds the material of message k.
func (p *prepared) usable(k uint64) bool { return p.ok && p.k == k }

// xor applies the message key stream to m in place: the prepared part from
// p, the rest computed.
func (p *prepared) xor(m []byte) {
	head := min(len(m), 32)
	subtle.XORBytes(m[:head], m[:head], p.keys.first[:head])
	if len(m) <= 32 {
		return
	}
	rest := m[32:]
	done := subtle.XORBytes(rest, rest, p.stream) // min(len(rest), len(stream))
	if done < len(rest) {
		// done is len(p.stream), a whole number of blocks.
		p.keys.xorBlocks(rest[done:], 1+uint64(done)/64)
	}
}

// drop wipes p if it holds material: the message number it was for is
// being taken by a call that does not use it.
func (p *prepared) drop() {
	if p.ok {
		p.wipe()
	}
}

// wipe zeroes p's material and marks it empty, keeping its buffer.
func (p *prepared) wipe() {
	p.keys.wipe()
	clear(p.stream)
	p.stream = p.stream[:0]
	p.ok = false
}

// seal seals box[Overhead:] in place with p (see sealSmall) and wipes p.
func (p *prepared) seal(box []byte) {
	m := box[Overhead:]
	p.xor(m)
	poly1305.Sum((*[Overhead]byte)(box), m, &p.keys.polyKey)
	p.wipe()
}

// open opens box in place with p (see openSmall). On success p is wiped;
// on failure box is left as received and p kept (the message number was
// not taken).
func (p *prepared) open(box []byte) bool {
	var tag [Overhead]byte
	copy(tag[:], box[:Overhead])
	m := box[Overhead:]
	if !poly1305.Verify(&tag, m, &p.keys.polyKey) {
		return false
	}
	p.xor(m)
	p.wipe()
	return true
}

// PrepareSeal computes ahead the key material of the next message sealed,
// with key stream for its first n bytes (at most PrepareMax), so that
// SealInPlace of a box under 512 KiB computes no keys, and key stream only
// past what was prepared. It must not run concurrently with Seal or
// SealInPlace.
func (c *Channel) PrepareSeal(n int) {
	n0 := c.nonceFor(c.role, c.sent)
	c.pre[0].fill(c.sent, &n0, &c.key, n)
}

// PrepareOpen computes ahead the key material of the next message opened,
// with key stream for its first n bytes (at most PrepareMax), so that
// OpenInPlace of a box under 512 KiB computes no keys, and key stream only
// past what was prepared. It must not run concurrently with Open,
// OpenInPlace or OpenAside.
func (c *Channel) PrepareOpen(n int) {
	n0 := c.nonceFor(c.peer(), c.recv)
	c.pre[1].fill(c.recv, &n0, &c.key, n)
}
