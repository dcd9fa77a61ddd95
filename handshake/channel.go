package handshake

import (
	"crypto/subtle"

	"golang.org/x/crypto/nacl/secretbox"
)

// Overhead is the number of bytes secretbox adds to each message.
const Overhead = secretbox.Overhead

type role int

const (
	roleApp role = iota
	roleLauncher
)

// Channel seals and opens the messages of one session.
//
// A sealing call (Seal, SealInPlace) may run concurrently with an opening
// call (Open, OpenInPlace, Skip), but not with another sealing call, nor an
// opening call with another opening call: in counter mode each call uses the
// next nonce of its direction, so frames must be written in the order they
// were sealed and opened in the order they were received. Close must not run
// concurrently with any call.
type Channel struct {
	key  Key
	base Nonce
	mode Mode
	role role
	sent uint64 // messages sealed
	recv uint64 // messages opened
}

func newChannel(key Key, base Nonce, mode Mode, r role) *Channel {
	return &Channel{key: key, base: base, mode: mode, role: r}
}

// NewChannel builds a channel from known material. It exists for tests and tools
// (golden vectors, the frame generator); sessions get theirs from Accept or Finish.
// launcherSide selects which nonce parity the channel sends with.
func NewChannel(key Key, base Nonce, mode Mode, launcherSide bool) *Channel {
	r := roleApp
	if launcherSide {
		r = roleLauncher
	}
	return newChannel(key, base, mode, r)
}

// Mode returns the channel's nonce mode.
func (c *Channel) Mode() Mode { return c.mode }

// nonceFor returns the nonce of message k sent by side r.
func (c *Channel) nonceFor(r role, k uint64) Nonce {
	if c.mode == Fixed {
		return c.base
	}
	return addNonce(c.base, k, r == roleLauncher)
}

// peer is the role of the other side.
func (c *Channel) peer() role {
	if c.role == roleApp {
		return roleLauncher
	}
	return roleApp
}

// addNonce returns base + 2k (+1 if odd), as 192-bit little-endian integers
// modulo 2^192.
func addNonce(base Nonce, k uint64, odd bool) Nonce {
	// 2k+odd may need 65 bits.
	lo := k << 1
	hi := k >> 63
	if odd {
		lo |= 1
	}
	out := base
	var carry uint64
	for i := 0; i < NonceSize/8; i++ {
		var word uint64
		for j := 0; j < 8; j++ {
			word |= uint64(out[i*8+j]) << (8 * j)
		}
		var add uint64
		switch i {
		case 0:
			add = lo
		case 1:
			add = hi
		}
		sum := word + add
		c1 := uint64(0)
		if sum < word {
			c1 = 1
		}
		sum2 := sum + carry
		if sum2 < sum {
			c1 = 1
		}
		carry = c1
		for j := 0; j < 8; j++ {
			out[i*8+j] = byte(sum2 >> (8 * j))
		}
	}
	return out
}

// Seal appends the sealed msg to dst and returns it, using this side's next
// nonce. dst and msg must not overlap (see SealInPlace).
func (c *Channel) Seal(dst, msg []byte) []byte {
	n := c.nonceFor(c.role, c.sent)
	c.sent++
	return secretbox.Seal(dst, msg, (*[24]byte)(&n), (*[32]byte)(&c.key))
}

// Open appends the opened box to dst, using the peer's next nonce. dst and
// sealed must not overlap (see OpenInPlace). It returns ErrOpen if the box
// does not authenticate; in counter mode the session must then end (the
// peer's counter can no longer be trusted).
func (c *Channel) Open(dst, sealed []byte) ([]byte, error) {
	n := c.nonceFor(c.peer(), c.recv)
	out, ok := secretbox.Open(dst, sealed, (*[24]byte)(&n), (*[32]byte)(&c.key))
	if !ok {
		return dst, ErrOpen
	}
	c.recv++
	return out, nil
}

// SealInPlace seals the message in box[Overhead:] in place with this side's
// next nonce and writes the tag to box[:Overhead]: box becomes exactly what
// Seal(nil, box[Overhead:]) returns, with no second buffer. It panics if box
// is shorter than Overhead.
func (c *Channel) SealInPlace(box []byte) {
	if len(box) < Overhead {
		panic("handshake: SealInPlace: box shorter than Overhead")
	}
	n := c.nonceFor(c.role, c.sent)
	c.sent++
	sealInPlace(box, &n, &c.key)
}

// OpenInPlace opens box in place with the peer's next nonce and returns the
// message, box[Overhead:]. A caller that needs the box as received (the
// answer id is the SHA-512 of the request frame's body) hashes it before. It
// returns ErrOpen if the box does not authenticate (or is shorter than
// Overhead); box is then left as received, and in counter mode the session
// must end.
func (c *Channel) OpenInPlace(box []byte) ([]byte, error) {
	if len(box) < Overhead {
		return nil, ErrOpen
	}
	n := c.nonceFor(c.peer(), c.recv)
	if !openInPlace(box, &n, &c.key) {
		return nil, ErrOpen
	}
	c.recv++
	return box[Overhead:], nil
}

// Close zeroes the key and the base nonce. The channel must not be used
// afterwards; Close may be called more than once.
func (c *Channel) Close() {
	clear(c.key[:])
	clear(c.base[:])
}

// EqualKeys reports whether a and b are equal, in constant time.
func EqualKeys(a, b Key) bool { return subtle.ConstantTimeCompare(a[:], b[:]) == 1 }

// Skip advances the receive counter past one message without opening it, for a
// message the receiver refused unread (counter mode keeps its place).
func (c *Channel) Skip() {
	c.recv++
}
