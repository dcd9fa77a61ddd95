package handshake_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha512"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/handshake"
)

// TestPreparedMatchesSecretbox: boxes sealed and opened with key material
// prepared ahead are exactly those of nacl/secretbox (x/crypto's Seal and
// Open), for message sizes around the 32-byte head, the 64-byte block and
// PrepareMax, prepared for fewer, as many and more bytes than the message
// has, in both modes.
func TestPreparedMatchesSecretbox(t *testing.T) {
	sizes := []int{0, 1, 31, 32, 33, 63, 64, 95, 96, 97, 160, 1000, 2300,
		handshake.PrepareMax - 1, handshake.PrepareMax, handshake.PrepareMax + 1, 3*handshake.PrepareMax + 5}
	for _, mode := range []handshake.Mode{handshake.Counter, handshake.Fixed} {
		ref, pre, refL, preL := channelPairs(mode)
		for _, n := range sizes {
			for _, ahead := range []int{0, 1, 32, 33, 64, n - 1, n, n + 100, handshake.PrepareMax} {
				t.Run(fmt.Sprintf("%s/%d/ahead%d", mode, n, ahead), func(t *testing.T) {
					msg := make([]byte, n)
					_, _ = rand.Read(msg)
					want := ref.Seal(nil, msg)
					box := append(make([]byte, handshake.Overhead), msg...)
					pre.PrepareSeal(ahead)
					pre.SealInPlace(box)
					require.True(t, bytes.Equal(want, box), "sealed with prepared keys differs from secretbox")

					got, err := refL.Open(nil, want)
					require.NoError(t, err)
					require.True(t, bytes.Equal(msg, got))
					preL.PrepareOpen(ahead)
					h := sha512.New()
					plain, err := preL.OpenInPlace(box, h)
					require.NoError(t, err)
					require.True(t, bytes.Equal(msg, plain), "opened with prepared keys differs")
					sum := sha512.Sum512(want)
					require.Equal(t, sum[:], h.Sum(nil), "hash of the box as received")
				})
			}
		}
	}
}

// TestPreparedRefusesTampering: a box that does not authenticate is refused
// with prepared keys too, left as received, and the next message number is
// not taken: the genuine box still opens (with the same prepared keys).
func TestPreparedRefusesTampering(t *testing.T) {
	for _, n := range []int{0, 40, 2300} {
		key, nonce := randomKeys()
		app := handshake.NewChannel(key, nonce, handshake.Counter, false)
		l := handshake.NewChannel(key, nonce, handshake.Counter, true)
		msg := bytes.Repeat([]byte{'m'}, n)
		box := app.Seal(nil, msg)
		for _, i := range []int{0, len(box) - 1} {
			bad := bytes.Clone(box)
			bad[i] ^= 1
			asReceived := bytes.Clone(bad)
			l.PrepareOpen(n)
			_, err := l.OpenInPlace(bad, nil)
			require.ErrorIs(t, err, handshake.ErrOpen)
			require.Equal(t, asReceived, bad, "a refused box is left as received")
		}
		plain, err := l.OpenInPlace(box, nil)
		require.NoError(t, err)
		require.Equal(t, msg, plain)
	}
}

// TestPreparedGoesStale: material prepared for a message number that another
// call takes (Seal, Open, Skip, a box of 512 KiB or more) is not used for
// the next one.
func TestPreparedGoesStale(t *testing.T) {
	for _, mode := range []handshake.Mode{handshake.Counter, handshake.Fixed} {
		ref, pre, refL, preL := channelPairs(mode)
		msg := bytes.Repeat([]byte("stale "), 50)
		sealBoth := func(inPlace bool, m []byte) []byte {
			t.Helper()
			want := ref.Seal(nil, m)
			var got []byte
			if inPlace {
				got = append(make([]byte, handshake.Overhead), m...)
				pre.SealInPlace(got)
			} else {
				got = pre.Seal(nil, m)
			}
			require.True(t, bytes.Equal(want, got), "%s: box differs from secretbox", mode)
			return want
		}
		openBoth := func(box []byte, m []byte) {
			t.Helper()
			got, err := refL.Open(nil, box)
			require.NoError(t, err)
			require.Equal(t, m, got)
			plain, err := preL.OpenInPlace(bytes.Clone(box), nil)
			require.NoError(t, err, "%s: prepared open", mode)
			require.Equal(t, m, plain)
		}

		// Seal takes the prepared number; the next in-place seal is k+1.
		pre.PrepareSeal(len(msg))
		b1 := sealBoth(false, msg)
		b2 := sealBoth(true, msg)
		// Open takes it on the receiving side.
		preL.PrepareOpen(len(msg))
		got, err := preL.Open(nil, b1)
		require.NoError(t, err)
		require.Equal(t, msg, got)
		_, err = refL.Open(nil, b1)
		require.NoError(t, err)
		openBoth(b2, msg)

		// Skip takes it.
		b3 := sealBoth(true, msg)
		b4 := sealBoth(true, msg)
		preL.PrepareOpen(len(msg))
		preL.Skip()
		refL.Skip()
		_ = b3
		openBoth(b4, msg)

		// A large box takes it.
		large := make([]byte, 600<<10)
		_, _ = rand.Read(large)
		pre.PrepareSeal(handshake.PrepareMax)
		preL.PrepareOpen(handshake.PrepareMax)
		bl := sealBoth(true, large)
		openBoth(bl, large)
		pre.PrepareSeal(len(msg))
		preL.PrepareOpen(len(msg))
		b5 := sealBoth(true, msg)
		openBoth(b5, msg)

		// Preparing again for the same message extends what is prepared.
		long := bytes.Repeat([]byte("x"), 3000)
		pre.PrepareSeal(100)
		pre.PrepareSeal(3000)
		preL.PrepareOpen(100)
		preL.PrepareOpen(3000)
		openBoth(sealBoth(true, long), long)
	}
}

// FuzzPrepared drives a prepared pair of channels and a reference pair with
// the same sequence of operations (prepare, seal in place or not, open,
// skip, tamper) and requires the same boxes and messages.
func FuzzPrepared(f *testing.F) {
	f.Add([]byte{0, 10, 1, 20, 2, 10, 3, 0})
	f.Add([]byte{0, 200, 1, 255, 4, 3, 2, 255, 3, 1, 3, 0, 5, 3, 0})
	f.Add([]byte{0, 3, 0, 90, 1, 70, 4, 5, 2, 3, 2, 90, 3, 0, 3, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		mode := handshake.Counter
		if len(ops) > 0 && ops[0]&0x80 != 0 {
			mode = handshake.Fixed
		}
		ref, pre, refL, preL := channelPairs(mode)
		type sent struct{ box, msg []byte }
		var queue []sent
		for i := 0; i+1 < len(ops) && i < 200; i += 2 {
			op, arg := ops[i]%6, int(ops[i+1])*24 // sizes up to 6 KiB
			switch op {
			case 0:
				pre.PrepareSeal(arg)
			case 1, 4: // seal in place (1) or with Seal (4)
				msg := bytes.Repeat([]byte{ops[i+1]}, arg)
				want := ref.Seal(nil, msg)
				var got []byte
				if op == 1 {
					got = append(make([]byte, handshake.Overhead), msg...)
					pre.SealInPlace(got)
				} else {
					got = pre.Seal(nil, msg)
				}
				if !bytes.Equal(want, got) {
					t.Fatalf("op %d: box of %d bytes differs from secretbox", i/2, arg)
				}
				queue = append(queue, sent{want, msg})
			case 2:
				preL.PrepareOpen(arg)
			case 3, 5: // open the next box (3), tampered first if arg is odd; or skip it (5)
				if len(queue) == 0 {
					continue
				}
				s := queue[0]
				queue = queue[1:]
				if op == 5 {
					refL.Skip()
					preL.Skip()
					continue
				}
				if arg%2 == 1 {
					bad := bytes.Clone(s.box)
					bad[arg%len(bad)] ^= 0x40
					if _, err := preL.OpenInPlace(bad, nil); err == nil {
						t.Fatalf("op %d: a tampered box opened", i/2)
					}
				}
				want, err := refL.Open(nil, s.box)
				if err != nil {
					t.Fatalf("op %d: reference open: %v", i/2, err)
				}
				got, err := preL.OpenInPlace(bytes.Clone(s.box), nil)
				if err != nil || !bytes.Equal(want, got) || !bytes.Equal(s.msg, got) {
					t.Fatalf("op %d: prepared open differs (err %v)", i/2, err)
				}
			}
		}
	})
}
