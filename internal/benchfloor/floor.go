// Package benchfloor owns the compute floors the benchmarks measure the
// launcher against: the work the protocol forces on both ends of a message,
// done once in-process with no daemon, no socket and no store, on one
// goroutine, with golang.org/x/crypto and the standard library as an app
// developer would use them.
//
// Two floors live here:
//
//   - Floor, for a file transfer: the base64 of the content in its JSON
//     string, the secretbox seal, one SHA-512 of an upload's sealed body (the
//     answer id), the secretbox open and the base64 decode, and the store's
//     encryption at rest: one XChaCha20-Poly1305 pass over the content in
//     64 KiB chunks (a seal; the open of a download costs the same).
//   - App and Daemon, for a small request: the request's JSON (encoding/json),
//     its seal and SHA-512 on the app's side; its open and JSON decode, the
//     answer's JSON and seal on the daemon's side; the answer's open and JSON
//     decode on the app's side. The same App is what launcherbench's minimal
//     client sends and reads its requests with, so that the client and the
//     floor do the same work, the network aside.
//
// Each step is done once, in one pass, on one core: no step is split over
// goroutines or computed ahead. The floors are what the plain work costs, not
// the least any code could spend.
package benchfloor

import (
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/nacl/secretbox"
)

// ErrBroken is returned when a floor's bytes do not survive their own round
// trip, which would mean the floor measured something else than it says.
var ErrBroken = errors.New("benchfloor: round trip failed")

// The JSON around a transfer's content, as the request of an upload and the
// answer of a download carry it (the rest of either is a few dozen bytes).
const (
	contentPre  = `{"content":"`
	contentPost = `"}`
)

// Floor holds the buffers of a transfer floor so that repeated runs do not
// measure the allocator. It is not safe for concurrent use.
type Floor struct {
	key   [32]byte
	nonce [24]byte
	plain []byte
	box   []byte
	out   []byte
	sum   [sha512.Size]byte
	id    []byte
	rest  []byte // a chunk sealed at rest
}

// restChunk is the plaintext of a chunk of content at rest (vfs).
const restChunk = 64 << 10

// Upload does the work an upload of data forces: on the app's side the
// content's base64 in its JSON string and the seal; on the daemon's side the
// SHA-512 of the sealed body (the answer id), the open and the base64 decode.
// It returns an error wrapping ErrBroken if the bytes did not survive.
func (f *Floor) Upload(data []byte) error { return f.run(data, true) }

// Download does the work a download of data forces: on the daemon's side the
// content's base64 in its JSON string and the seal; on the app's side the
// open and the base64 decode. The answer's id is the hash of the app's small
// request, not of this body, so there is no SHA-512 here. It returns an
// error wrapping ErrBroken if the bytes did not survive.
func (f *Floor) Download(data []byte) error { return f.run(data, false) }

// Run is Upload, for callers that measure one direction of a transfer.
func (f *Floor) Run(data []byte) error { return f.Upload(data) }

// Decoded returns the content as the last run decoded it, for checks. It is
// valid until the next run.
func (f *Floor) Decoded() []byte { return f.out }

func (f *Floor) run(data []byte, hash bool) error {
	enc := base64.StdEncoding.EncodedLen(len(data))
	f.plain = grow(f.plain, len(contentPre)+enc+len(contentPost))
	copy(f.plain, contentPre)
	base64.StdEncoding.Encode(f.plain[len(contentPre):], data)
	copy(f.plain[len(contentPre)+enc:], contentPost)

	f.box = secretbox.Seal(f.box[:0], f.plain, &f.nonce, &f.key)
	if hash {
		f.sum = sha512.Sum512(f.box)
		f.id = base64.StdEncoding.AppendEncode(f.id[:0], f.sum[:])
	}
	opened, ok := secretbox.Open(f.plain[:0], f.box, &f.nonce, &f.key)
	if !ok {
		return fmt.Errorf("%w: the box did not open", ErrBroken)
	}
	s, ok := bytes.CutPrefix(opened, []byte(contentPre))
	if !ok {
		return fmt.Errorf("%w: the JSON lost its head", ErrBroken)
	}
	if s, ok = bytes.CutSuffix(s, []byte(contentPost)); !ok {
		return fmt.Errorf("%w: the JSON lost its tail", ErrBroken)
	}
	f.out = grow(f.out, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(f.out, s)
	if err != nil {
		return fmt.Errorf("%w: base64: %v", ErrBroken, err)
	}
	if f.out = f.out[:n]; n != len(data) {
		return fmt.Errorf("%w: %d bytes decoded, %d sent", ErrBroken, n, len(data))
	}
	return f.atRest(f.out)
}

// atRest does the store's encryption at rest of content: one
// XChaCha20-Poly1305 seal per 64 KiB chunk, each with its own nonce and
// associated data (as vfs seals content).
func (f *Floor) atRest(content []byte) error {
	aead, err := chacha20poly1305.NewX(f.key[:])
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBroken, err)
	}
	var nonce [chacha20poly1305.NonceSizeX]byte
	var ad [64]byte
	for i := 0; i < len(content); i += restChunk {
		nonce[0], ad[0] = byte(i>>16), byte(i>>16)
		f.rest = aead.Seal(f.rest[:0], nonce[:], content[i:min(i+restChunk, len(content))], ad[:])
	}
	return nil
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}
