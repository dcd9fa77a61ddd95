package handshake

import (
	"encoding/binary"
	"hash"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/poly1305" //nolint:staticcheck // the streaming MAC secretbox is built on
	"golang.org/x/crypto/salsa20/salsa"
)

// In-place secretbox. The boxes are exactly those of nacl/secretbox (XSalsa20
// and Poly1305, tag first); building them here lets a frame be sealed and
// opened in its own buffer, with no second copy of a payload, and lets large
// boxes use two cores: two goroutines share the key stream chunk by chunk,
// one of them MACing the chunks in order as well (when opening with the
// SHA-512 of the received box, the hash leads on one, the MAC follows on
// the other, and both decrypt what both have read).

// parallelMin is the box size from which sealing and opening use a second
// goroutine.
const parallelMin = 512 << 10

// chunkSize is the unit two goroutines take turns on (see chunks); small
// enough that they finish together, a multiple of the 64-byte block.
const chunkSize = 64 << 10

// boxKeys is the per-message key material of a secretbox.
type boxKeys struct {
	sub     [32]byte // XSalsa20 subkey (HSalsa20 of the key and nonce[:16])
	nonce   [8]byte  // nonce[16:]
	polyKey [32]byte // the first 32 bytes of key stream
	first   [32]byte // the next 32, for the message's first 32 bytes
}

func newBoxKeys(nonce *Nonce, key *Key) boxKeys {
	var k boxKeys
	var hNonce [16]byte
	copy(hNonce[:], nonce[:16])
	salsa.HSalsa20(&k.sub, &hNonce, (*[32]byte)(key), &salsa.Sigma)
	copy(k.nonce[:], nonce[16:])
	var block [64]byte
	k.xorBlocks(block[:], 0)
	copy(k.polyKey[:], block[:32])
	copy(k.first[:], block[32:])
	clear(block[:])
	return k
}

// xorBlocks applies the key stream from block number blk on to p, in place.
func (k *boxKeys) xorBlocks(p []byte, blk uint64) { k.xorBlocksTo(p, p, blk) }

// xorBlocksTo writes src XOR the key stream from block number blk to dst.
func (k *boxKeys) xorBlocksTo(dst, src []byte, blk uint64) {
	var ctr [16]byte
	copy(ctr[:8], k.nonce[:])
	binary.LittleEndian.PutUint64(ctr[8:], blk)
	salsa.XORKeyStream(dst, src, &ctr, &k.sub)
}

// xorRange applies the message key stream to m[from:to] in place. The first
// 32 message bytes use the second half of block 0; byte 32+64j starts block
// 1+j. from must be 0, or 32 plus a multiple of 64.
func (k *boxKeys) xorRange(m []byte, from, to int) { k.xorRangeTo(m, m, from, to) }

// xorRangeTo is xorRange from src to dst (of the same length), which must
// not overlap unless they are the same slice.
func (k *boxKeys) xorRangeTo(dst, src []byte, from, to int) {
	if from == 0 {
		head := min(to, 32)
		for i := range head {
			dst[i] = src[i] ^ k.first[i]
		}
		from = head
	}
	if from < to {
		k.xorBlocksTo(dst[from:to], src[from:to], 1+uint64(from-32)/64)
	}
}

func (k *boxKeys) wipe() { clear(k.sub[:]); clear(k.polyKey[:]); clear(k.first[:]) }

// sealBox seals box[Overhead:] in place and writes the tag to box[:Overhead].
func sealBox(box []byte, nonce *Nonce, key *Key) {
	if len(box)-Overhead < parallelMin {
		sealSmall(box, nonce, key)
		return
	}
	k := newBoxKeys(nonce, key)
	defer k.wipe()
	m := box[Overhead:]
	// Two goroutines apply the key stream to chunks in turn (it can start
	// anywhere); one of them also MACs the chunks in order, each once it
	// is encrypted, helping with the key stream while it waits.
	c := newChunks(len(m))
	xorNext := func() bool {
		i, ok := c.take()
		if !ok {
			return false
		}
		from, to := c.bounds(i)
		k.xorRange(m, from, to)
		close(c.ready[i])
		return true
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for xorNext() {
		}
	})
	mac := poly1305.New(&k.polyKey)
	for i := range c.ready {
		for !isClosed(c.ready[i]) && xorNext() {
		}
		<-c.ready[i]
		from, to := c.bounds(i)
		mac.Write(m[from:to])
	}
	wg.Wait()
	mac.Sum(box[:0])
}

// chunks splits a message of n bytes for two goroutines: chunk 0 is the
// 32-byte head (the second half of key stream block 0), chunk i > 0 whole
// blocks from 32+(i-1)*chunkSize. ready[i] is closed when chunk i is done
// (encrypted, or MACed: see the user); take hands out chunks in order.
type chunks struct {
	n     int
	next  atomic.Int64
	ready []chan struct{}
}

// isClosed reports whether ch is closed, without waiting.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func newChunks(n int) *chunks {
	c := &chunks{n: n, ready: make([]chan struct{}, 1+(max(n-32, 0)+chunkSize-1)/chunkSize)}
	for i := range c.ready {
		c.ready[i] = make(chan struct{})
	}
	return c
}

func (c *chunks) take() (int, bool) {
	i := int(c.next.Add(1) - 1)
	return i, i < len(c.ready)
}

func (c *chunks) bounds(i int) (from, to int) {
	if i == 0 {
		return 0, min(c.n, 32)
	}
	return 32 + (i-1)*chunkSize, min(c.n, 32+i*chunkSize)
}

// sealSmall is sealBox on one goroutine; its keys stay on the stack.
func sealSmall(box []byte, nonce *Nonce, key *Key) {
	k := newBoxKeys(nonce, key)
	m := box[Overhead:]
	k.xorRange(m, 0, len(m))
	poly1305.Sum((*[Overhead]byte)(box), m, &k.polyKey)
	k.wipe()
}

// openSmall is openBox for a box under parallelMin; its keys stay on the stack.
func openSmall(box []byte, nonce *Nonce, key *Key, h hash.Hash) bool {
	k := newBoxKeys(nonce, key)
	defer k.wipe()
	var tag [Overhead]byte
	copy(tag[:], box[:Overhead])
	m := box[Overhead:]
	// The box is left as received unless it authenticates.
	if h != nil {
		h.Write(box)
	}
	if !poly1305.Verify(&tag, m, &k.polyKey) {
		return false
	}
	k.xorRange(m, 0, len(m))
	return true
}

// openBox opens box in place: on success box[Overhead:] holds the message. If
// h is not nil it is first fed the whole box as received. On failure the
// content of box[Overhead:] is undefined.
func openBox(box []byte, nonce *Nonce, key *Key, h hash.Hash) bool {
	if len(box)-Overhead < parallelMin {
		return openSmall(box, nonce, key, h)
	}
	k := newBoxKeys(nonce, key)
	defer k.wipe()
	var tag [Overhead]byte
	copy(tag[:], box[:Overhead])
	m := box[Overhead:]
	mac := poly1305.New(&k.polyKey)
	if h == nil {
		// The MAC leads (it is the fastest) on one goroutine, which then
		// helps the other decrypt; a chunk is decrypted only once the MAC
		// has read it. Plaintext is released only if the tag verifies.
		c := newChunks(len(m))
		xorNext := func() bool {
			i, ok := c.take()
			if !ok {
				return false
			}
			<-c.ready[i]
			from, to := c.bounds(i)
			k.xorRange(m, from, to)
			return true
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := range c.ready {
				from, to := c.bounds(i)
				mac.Write(m[from:to])
				close(c.ready[i])
			}
			for xorNext() {
			}
		})
		for xorNext() {
		}
		wg.Wait()
		return mac.Verify(tag[:])
	}
	// The hash leads (it is the slowest, and must see the box as received)
	// on one goroutine; the other MACs each chunk the hash has read and,
	// while it waits for the hash, decrypts chunks already MACed. Once the
	// hash is done, its goroutine decrypts too. A chunk is decrypted only
	// once both the hash and the MAC have read it.
	c := newChunks(len(m))
	macd := make([]chan struct{}, len(c.ready))
	for i := range macd {
		macd[i] = make(chan struct{})
	}
	// xorMACed decrypts the next chunk if it is MACed already (wait false)
	// or once it is (wait true); false when none is left (or, without
	// waiting, none is ready).
	xorMACed := func(wait bool) bool {
		for {
			j := c.next.Load()
			if int(j) >= len(macd) || !wait && !isClosed(macd[j]) {
				return false
			}
			if c.next.CompareAndSwap(j, j+1) {
				<-macd[j]
				from, to := c.bounds(int(j))
				k.xorRange(m, from, to)
				return true
			}
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		h.Write(box[:Overhead])
		for i := range c.ready {
			from, to := c.bounds(i)
			h.Write(m[from:to])
			close(c.ready[i])
		}
		for xorMACed(true) {
		}
	})
	for i := range c.ready {
		for !isClosed(c.ready[i]) && xorMACed(false) {
		}
		<-c.ready[i]
		from, to := c.bounds(i)
		mac.Write(m[from:to])
		close(macd[i])
	}
	for xorMACed(true) {
	}
	wg.Wait()
	return mac.Verify(tag[:])
}

// openAside opens box into out (len(out) == len(box)-Overhead), leaving box
// as received. Since the box is not overwritten, the MAC and the decryption
// need not wait for each other: one goroutine checks the MAC and then helps
// the other decrypt, chunk by chunk. out is cleared if the tag does not
// verify.
func openAside(out, box []byte, nonce *Nonce, key *Key) bool {
	k := newBoxKeys(nonce, key)
	defer k.wipe()
	var tag [Overhead]byte
	copy(tag[:], box[:Overhead])
	m := box[Overhead:]
	if len(m) < parallelMin {
		if !poly1305.Verify(&tag, m, &k.polyKey) {
			return false
		}
		k.xorRangeTo(out, m, 0, len(m))
		return true
	}
	c := newChunks(len(m))
	decrypt := func() {
		for {
			i, more := c.take()
			if !more {
				return
			}
			from, to := c.bounds(i)
			k.xorRangeTo(out, m, from, to)
		}
	}
	var ok bool
	var wg sync.WaitGroup
	wg.Go(func() {
		ok = poly1305.Verify(&tag, m, &k.polyKey)
		decrypt()
	})
	decrypt()
	wg.Wait()
	if !ok {
		clear(out)
	}
	return ok
}

// OpenAside opens box with the peer's next nonce into out, which must be
// len(box)-Overhead bytes long (it panics otherwise) and must not overlap
// box, and returns out. box is left as received (so that, say, its hash can
// be taken afterwards or meanwhile). Large boxes use a second goroutine. It
// returns ErrOpen if the box does not authenticate, and out then holds none
// of the message; in counter mode the session must then end.
func (c *Channel) OpenAside(out, box []byte) ([]byte, error) {
	if len(box) < Overhead {
		return nil, ErrOpen
	}
	if len(out) != len(box)-Overhead {
		panic("handshake: OpenAside: out is not len(box)-Overhead bytes")
	}
	c.pre[1].drop()
	n := c.nonceFor(c.peer(), c.recv)
	if !openAside(out, box, &n, &c.key) {
		return nil, ErrOpen
	}
	c.recv++
	return out, nil
}

// SealInPlace seals the message in box[Overhead:] in place with this side's
// next nonce; box[:Overhead] is overwritten with the tag. The result is the
// same box Seal would append. Large boxes use a second goroutine.
func (c *Channel) SealInPlace(box []byte) {
	k := c.sent
	c.sent++
	if p := &c.pre[0]; p.ok {
		if p.usable(k) && len(box)-Overhead < parallelMin {
			p.seal(box)
			return
		}
		p.wipe() // stale, or a large box: made the usual way
	}
	n := c.nonceFor(c.role, k)
	sealBox(box, &n, &c.key)
}

// OpenInPlace opens box in place with the peer's next nonce and returns the
// message, box[Overhead:]. If h is not nil it is fed the whole box as
// received (for the answer id) before the box is overwritten. It returns
// ErrOpen if the box does not authenticate; a box under 512 KiB is then left
// as received, a larger one is undefined. In counter mode the session must
// then end. Large boxes use a second
// goroutine.
func (c *Channel) OpenInPlace(box []byte, h hash.Hash) ([]byte, error) {
	if len(box) < Overhead {
		if h != nil {
			h.Write(box)
		}
		return nil, ErrOpen
	}
	if p := &c.pre[1]; p.ok {
		if p.usable(c.recv) && len(box)-Overhead < parallelMin {
			if h != nil {
				h.Write(box)
			}
			if !p.open(box) {
				return nil, ErrOpen
			}
			c.recv++
			return box[Overhead:], nil
		}
		p.wipe() // stale, or a large box: opened the usual way
	}
	n := c.nonceFor(c.peer(), c.recv)
	if !openBox(box, &n, &c.key, h) {
		return nil, ErrOpen
	}
	c.recv++
	return box[Overhead:], nil
}
