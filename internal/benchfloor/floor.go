// Package benchfloor measures the compute floor of a file transfer: the work the
// protocol forces on every byte, done once on the same bytes with no daemon, no
// socket and no store. Benchmarks report their transfers as a ratio to it.
//
// One direction of a transfer costs: base64-encoding the content into its JSON
// string, sealing the JSON with secretbox, SHA-512 of the ciphertext (the answer
// id), opening the box and decoding the base64 back. The floor runs these with
// x/crypto and the standard library, using both cores where the work allows:
// the hash runs beside the open, and base64 is split in two halves.
package benchfloor

import (
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"sync"

	"golang.org/x/crypto/nacl/secretbox"
)

// Floor holds the buffers of a floor measurement so that repeated runs do not
// measure the allocator. It is not safe for concurrent use.
type Floor struct {
	key   [32]byte
	nonce [24]byte
	plain []byte
	box   []byte
	out   []byte
}

// Run does one direction's forced work on data and returns an error if the
// bytes did not survive the round trip (which would mean a broken floor).
func (f *Floor) Run(data []byte) error {
	// JSON with the base64 content, encoded in two halves at a 3-byte boundary.
	const pre, post = `{"content":"`, `"}`
	enc := base64.StdEncoding.EncodedLen(len(data))
	f.plain = grow(f.plain, len(pre)+enc+len(post))
	copy(f.plain, pre)
	copy(f.plain[len(pre)+enc:], post)
	half := len(data) / 2 / 3 * 3
	var wg sync.WaitGroup
	wg.Go(func() { base64.StdEncoding.Encode(f.plain[len(pre):], data[:half]) })
	base64.StdEncoding.Encode(f.plain[len(pre)+base64.StdEncoding.EncodedLen(half):], data[half:])
	wg.Wait()

	f.box = secretbox.Seal(f.box[:0], f.plain, &f.nonce, &f.key)

	var sum [sha512.Size]byte
	wg.Go(func() { sum = sha512.Sum512(f.box) })
	opened, ok := secretbox.Open(f.plain[:0], f.box, &f.nonce, &f.key)
	wg.Wait()
	_ = base64.StdEncoding.EncodeToString(sum[:])
	if !ok {
		return fmt.Errorf("benchfloor: box did not open")
	}

	s := opened[len(pre) : len(pre)+enc]
	f.out = grow(f.out, len(data))
	hs := base64.StdEncoding.EncodedLen(half)
	var n1 int
	var e1 error
	wg.Go(func() { n1, e1 = base64.StdEncoding.Decode(f.out, s[:hs]) })
	n2, e2 := base64.StdEncoding.Decode(f.out[half:], s[hs:])
	wg.Wait()
	if e1 != nil || e2 != nil || n1+n2 != len(data) {
		return fmt.Errorf("benchfloor: base64 round trip failed: %v %v", e1, e2)
	}
	return nil
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}
