package handshake_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha512"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/handshake"
)

// randomKeys returns a random session key and base nonce.
func randomKeys() (key handshake.Key, nonce handshake.Nonce) {
	_, _ = rand.Read(key[:])
	_, _ = rand.Read(nonce[:])
	return key, nonce
}

// channelPairs returns two app/launcher pairs of channels on one random key
// and nonce, in mode: a reference pair (for x/crypto's Seal and Open) and a
// pair under test.
func channelPairs(mode handshake.Mode) (ref, got, refL, gotL *handshake.Channel) {
	key, nonce := randomKeys()
	return handshake.NewChannel(key, nonce, mode, false), handshake.NewChannel(key, nonce, mode, false),
		handshake.NewChannel(key, nonce, mode, true), handshake.NewChannel(key, nonce, mode, true)
}

// TestInPlaceMatchesSecretbox: SealInPlace makes exactly the boxes Seal makes,
// and OpenInPlace opens them, for sizes around the 32-byte head, the 64-byte
// block, the pipeline chunk and the parallel threshold, in both modes.
func TestInPlaceMatchesSecretbox(t *testing.T) {
	sizes := []int{0, 1, 31, 32, 33, 63, 64, 95, 96, 97, 1000, 256<<10 + 31, 256<<10 + 32, 256<<10 + 33,
		512<<10 - 1, 512 << 10, 512<<10 + 1, 32 + 8*(64<<10) - 1, 32 + 8*(64<<10), 32 + 8*(64<<10) + 1, 3<<20 + 17}
	for _, mode := range []handshake.Mode{handshake.Counter, handshake.Fixed} {
		ref, inp, refL, inpL := channelPairs(mode)
		for _, n := range sizes {
			t.Run(fmt.Sprintf("%s/%d", mode, n), func(t *testing.T) {
				msg := make([]byte, n)
				_, _ = rand.Read(msg)
				want := ref.Seal(nil, msg)
				box := append(make([]byte, handshake.Overhead), msg...)
				inp.SealInPlace(box)
				require.True(t, bytes.Equal(want, box), "sealed in place differs from Seal")

				// Open in place, with and without a hash, matches Open.
				got, err := refL.Open(nil, want)
				require.NoError(t, err)
				require.True(t, bytes.Equal(msg, got))
				h := sha512.New()
				plain, err := inpL.OpenInPlace(box, h)
				require.NoError(t, err)
				require.True(t, bytes.Equal(msg, plain))
				sum := sha512.Sum512(want)
				assert.Equal(t, sum[:], h.Sum(nil), "hash of the box as received")
			})
		}
	}
}

func TestOpenInPlaceRefusesTampering(t *testing.T) {
	for _, n := range []int{0, 40, 2 << 20} {
		for _, withHash := range []bool{false, true} {
			var key handshake.Key
			var nonce handshake.Nonce
			app := handshake.NewChannel(key, nonce, handshake.Counter, false)
			l := handshake.NewChannel(key, nonce, handshake.Counter, true)
			box := app.Seal(nil, make([]byte, n))
			box[len(box)-1] ^= 1
			h := sha512.New()
			if !withHash {
				h = nil
			}
			_, err := l.OpenInPlace(box, h)
			require.ErrorIs(t, err, handshake.ErrOpen, "size %d", n)
		}
	}
	var l handshake.Channel
	_, err := l.OpenInPlace(make([]byte, 5), nil)
	require.ErrorIs(t, err, handshake.ErrOpen)
}

// TestOpenAside: OpenAside opens what Seal makes into a separate buffer,
// leaves the box as received, and refuses a tampered box (anywhere in it)
// without leaving any of the message in out.
func TestOpenAside(t *testing.T) {
	sizes := []int{0, 1, 31, 32, 33, 64<<10 + 31, 64<<10 + 32, 64<<10 + 33,
		512<<10 - 1, 512 << 10, 512<<10 + 1, 3<<20 + 17}
	for _, mode := range []handshake.Mode{handshake.Counter, handshake.Fixed} {
		key, nonce := randomKeys()
		app := handshake.NewChannel(key, nonce, mode, false)
		l := handshake.NewChannel(key, nonce, mode, true)
		for _, n := range sizes {
			t.Run(fmt.Sprintf("%s/%d", mode, n), func(t *testing.T) {
				msg := make([]byte, n)
				_, _ = rand.Read(msg)
				box := app.Seal(nil, msg)
				received := bytes.Clone(box)
				out := make([]byte, n)
				got, err := l.OpenAside(out, box)
				require.NoError(t, err)
				require.True(t, bytes.Equal(msg, got), "opened message differs")
				require.True(t, bytes.Equal(received, box), "the box was changed")

				// The next box, tampered at its start, middle or end.
				for _, at := range []int{0, len(box) / 2, len(box) - 1} {
					f := handshake.NewChannel(key, nonce, handshake.Fixed, true)
					sealed := handshake.NewChannel(key, nonce, handshake.Fixed, false).Seal(nil, msg)
					sealed[at] ^= 0x40
					out := make([]byte, n)
					_, err := f.OpenAside(out, sealed)
					require.ErrorIs(t, err, handshake.ErrOpen, "tampered at %d of %d", at, len(sealed))
					require.True(t, bytes.Equal(make([]byte, n), out), "plaintext left in out")
				}
			})
		}
	}
	var l handshake.Channel
	_, err := l.OpenAside(nil, make([]byte, 5))
	require.ErrorIs(t, err, handshake.ErrOpen)
	require.Panics(t, func() { _, _ = l.OpenAside(make([]byte, 3), make([]byte, handshake.Overhead+4)) })
}
