package handshake_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/nacl/secretbox"

	"github.com/safe-launcher/launcher/handshake"
)

// randomKeys returns a random session key and base nonce.
func randomKeys() (key handshake.Key, nonce handshake.Nonce) {
	_, _ = rand.Read(key[:])
	_, _ = rand.Read(nonce[:])
	return key, nonce
}

// inPlaceSizes are the message sizes checked box for box: around the 32
// bytes taken from key stream block 0, the 64-byte Salsa20 block, a page,
// 64 KiB, and a large odd size.
var inPlaceSizes = []int{0, 1, 15, 16, 31, 32, 33, 63, 64, 65, 95, 96, 97, 4095, 4096, 4097,
	64<<10 - 1, 64 << 10, 64<<10 + 1, 1<<20 + 3}

// nonceOf returns the nonce of message k sent by the app (launcher false) or
// the launcher, computed here independently of the package: base + 2k (+1
// for the launcher) as a 192-bit little-endian integer in counter mode, the
// base in fixed mode.
func nonceOf(mode handshake.Mode, base handshake.Nonce, k uint64, launcher bool) *[24]byte {
	n := [24]byte(base)
	if mode == handshake.Fixed {
		return &n
	}
	add := 2 * k
	if launcher {
		add++
	}
	for i := 0; i < len(n) && add != 0; i++ {
		s := uint64(n[i]) + add&0xff
		n[i] = byte(s)
		add = add>>8 + s>>8
	}
	return &n
}

// TestInPlaceMatchesSecretbox: SealInPlace makes exactly the boxes of
// x/crypto's secretbox.Seal, OpenInPlace opens them to the message, and
// secretbox.Open opens what SealInPlace makes, for every size class, in both
// modes and both directions, over several messages (so several nonces).
func TestInPlaceMatchesSecretbox(t *testing.T) {
	for _, mode := range []handshake.Mode{handshake.Counter, handshake.Fixed} {
		key, base := randomKeys()
		app := handshake.NewChannel(key, base, mode, false)
		l := handshake.NewChannel(key, base, mode, true)
		for i, n := range inPlaceSizes {
			k := uint64(i)
			t.Run(fmt.Sprintf("%s/%d", mode, n), func(t *testing.T) {
				for _, dir := range []struct {
					from, to *handshake.Channel
					launcher bool
				}{{app, l, false}, {l, app, true}} {
					msg := make([]byte, n)
					_, _ = rand.Read(msg)
					nonce := nonceOf(mode, base, k, dir.launcher)
					want := secretbox.Seal(nil, msg, nonce, (*[32]byte)(&key))

					box := append(make([]byte, handshake.Overhead), msg...)
					dir.from.SealInPlace(box)
					require.True(t, bytes.Equal(want, box), "SealInPlace differs from secretbox.Seal")
					opened, ok := secretbox.Open(nil, box, nonce, (*[32]byte)(&key))
					require.True(t, ok, "secretbox.Open refuses what SealInPlace made")
					require.True(t, bytes.Equal(msg, opened))

					plain, err := dir.to.OpenInPlace(box)
					require.NoError(t, err)
					require.True(t, bytes.Equal(msg, plain), "OpenInPlace opened a different message")
					require.Len(t, plain, n)
					if n > 0 {
						require.Same(t, &box[handshake.Overhead], &plain[0], "OpenInPlace did not open in place")
					}
				}
			})
		}
	}
}

// TestInPlaceInteroperates: in-place and appending calls share one nonce
// sequence per direction, in any mix.
func TestInPlaceInteroperates(t *testing.T) {
	key, base := randomKeys()
	app := handshake.NewChannel(key, base, handshake.Counter, false)
	l := handshake.NewChannel(key, base, handshake.Counter, true)
	for i := range 6 {
		msg := []byte(fmt.Sprintf("message %d", i))
		var box []byte
		if i%2 == 0 {
			box = app.Seal(nil, msg)
		} else {
			box = append(make([]byte, handshake.Overhead), msg...)
			app.SealInPlace(box)
		}
		var got []byte
		var err error
		if i%3 == 0 {
			got, err = l.Open(nil, box)
		} else {
			got, err = l.OpenInPlace(box)
		}
		require.NoError(t, err, "message %d", i)
		require.Equal(t, msg, got)
	}
}

// TestOpenInPlaceRefusesTampering: a box with any one bit flipped (tag,
// first message bytes, last byte), truncated, or sealed for another message
// number is refused with ErrOpen and left exactly as received; the genuine
// box still opens afterwards (the refusal took no message number).
func TestOpenInPlaceRefusesTampering(t *testing.T) {
	for _, n := range []int{0, 1, 40, 64<<10 + 1, 1<<20 + 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			key, base := randomKeys()
			app := handshake.NewChannel(key, base, handshake.Counter, false)
			l := handshake.NewChannel(key, base, handshake.Counter, true)
			msg := make([]byte, n)
			_, _ = rand.Read(msg)
			sealed := app.Seal(nil, msg)
			for _, at := range []int{0, handshake.Overhead - 1, handshake.Overhead, handshake.Overhead + 32, len(sealed) - 1} {
				if at >= len(sealed) {
					continue
				}
				for _, bit := range []byte{0x01, 0x80} {
					box := bytes.Clone(sealed)
					box[at] ^= bit
					received := bytes.Clone(box)
					_, err := l.OpenInPlace(box)
					require.ErrorIs(t, err, handshake.ErrOpen, "bit %#x of byte %d flipped", bit, at)
					require.True(t, bytes.Equal(received, box), "a refused box was changed")
				}
			}
			_, err := l.OpenInPlace(bytes.Clone(sealed[:len(sealed)-1]))
			require.ErrorIs(t, err, handshake.ErrOpen, "truncated")
			_, err = l.OpenInPlace(app.Seal(nil, msg)) // message 1, expected 0
			require.ErrorIs(t, err, handshake.ErrOpen, "out of order")

			got, err := l.OpenInPlace(sealed)
			require.NoError(t, err, "the genuine box after refusals")
			require.True(t, bytes.Equal(msg, got))
		})
	}
	for n := range handshake.Overhead {
		var l handshake.Channel
		_, err := l.OpenInPlace(make([]byte, n))
		require.ErrorIs(t, err, handshake.ErrOpen, "a %d-byte box", n)
	}
	require.Panics(t, func() { new(handshake.Channel).SealInPlace(make([]byte, handshake.Overhead-1)) })
}

// TestCloseZeroesTheKey: after Close the channel seals with the all-zero key
// and nonce, so nothing of its key is left.
func TestCloseZeroesTheKey(t *testing.T) {
	key, base := randomKeys()
	c := handshake.NewChannel(key, base, handshake.Fixed, false)
	c.Close()
	c.Close()
	var zk [32]byte
	var zn [24]byte
	require.Equal(t, secretbox.Seal(nil, []byte("x"), &zn, &zk), c.Seal(nil, []byte("x")))
}

// checkSealOpen seals msg with key and nonce in place and with secretbox and
// requires the same box, opens it in place, then requires a copy with one
// bit flipped (at flip, modulo its length) to be refused and left unchanged.
func checkSealOpen(t *testing.T, key handshake.Key, base handshake.Nonce, msg []byte, flip int) {
	t.Helper()
	want := secretbox.Seal(nil, msg, (*[24]byte)(&base), (*[32]byte)(&key))
	box := append(make([]byte, handshake.Overhead), msg...)
	handshake.NewChannel(key, base, handshake.Fixed, false).SealInPlace(box)
	if !bytes.Equal(want, box) {
		t.Fatalf("%d-byte message: SealInPlace differs from secretbox.Seal", len(msg))
	}
	tampered := bytes.Clone(box)
	tampered[flip%len(tampered)] ^= 1 << (flip % 8)
	received := bytes.Clone(tampered)
	l := handshake.NewChannel(key, base, handshake.Fixed, true)
	if _, err := l.OpenInPlace(tampered); err == nil {
		t.Fatalf("%d-byte message: a tampered box opened", len(msg))
	}
	if !bytes.Equal(received, tampered) {
		t.Fatalf("%d-byte message: a refused box was changed", len(msg))
	}
	got, err := l.OpenInPlace(box)
	if err != nil || !bytes.Equal(msg, got) {
		t.Fatalf("%d-byte message: OpenInPlace: %v", len(msg), err)
	}
}

// FuzzSealOpen: for any key, nonce and message, SealInPlace makes
// secretbox.Seal's box, OpenInPlace opens it, and a one-bit change is
// refused.
func FuzzSealOpen(f *testing.F) {
	for _, n := range []int{0, 1, 31, 32, 33, 64, 65, 200} {
		f.Add(bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{9}, 24), make([]byte, n), n)
	}
	f.Fuzz(func(t *testing.T, keyb, nonceb, msg []byte, flip int) {
		var key handshake.Key
		var base handshake.Nonce
		copy(key[:], keyb)
		copy(base[:], nonceb)
		if flip < 0 {
			flip = -(flip + 1)
		}
		checkSealOpen(t, key, base, msg, flip)
	})
}

// FuzzOpenInPlace: any bytes given to OpenInPlace get secretbox.Open's
// verdict and message, and a refused box is left as received.
func FuzzOpenInPlace(f *testing.F) {
	var key handshake.Key
	var base handshake.Nonce
	for i := range key {
		key[i] = byte(i)
	}
	for _, n := range []int{0, 1, 32, 33, 100} {
		good := secretbox.Seal(nil, bytes.Repeat([]byte{'m'}, n), (*[24]byte)(&base), (*[32]byte)(&key))
		f.Add(good)
		bad := bytes.Clone(good)
		bad[len(bad)-1] ^= 1
		f.Add(bad)
	}
	f.Add([]byte{})
	f.Add(make([]byte, handshake.Overhead-1))
	f.Fuzz(func(t *testing.T, box []byte) {
		want, wantOK := secretbox.Open(nil, box, (*[24]byte)(&base), (*[32]byte)(&key))
		received := bytes.Clone(box)
		got, err := handshake.NewChannel(key, base, handshake.Fixed, true).OpenInPlace(box)
		switch {
		case wantOK && err != nil:
			t.Fatalf("secretbox.Open opens it, OpenInPlace: %v", err)
		case !wantOK && err == nil:
			t.Fatal("OpenInPlace opened a box secretbox.Open refuses")
		case !wantOK && !bytes.Equal(received, box):
			t.Fatal("a refused box was changed")
		case wantOK && !bytes.Equal(want, got):
			t.Fatal("OpenInPlace opened a different message")
		case err != nil && !errors.Is(err, handshake.ErrOpen):
			t.Fatalf("undocumented error %v", err)
		}
	})
}
