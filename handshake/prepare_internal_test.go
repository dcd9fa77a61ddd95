package handshake

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPreparedIsWiped: material prepared ahead is zeroed once used, and by
// Close when never used.
func TestPreparedIsWiped(t *testing.T) {
	zero := isWiped

	c, l := channelPair(1, roleLauncher)
	c.PrepareSeal(2000)
	require.False(t, zero(&c.pre[0]), "nothing was prepared")
	box := make([]byte, Overhead+1500)
	c.SealInPlace(box)
	require.True(t, zero(&c.pre[0]), "prepared material left after use")

	l.PrepareOpen(2000)
	_, err := l.OpenInPlace(box, nil)
	require.NoError(t, err)
	require.True(t, zero(&l.pre[1]), "prepared material left after use")

	c.PrepareSeal(3000)
	l.PrepareOpen(3000)
	c.Close()
	l.Close()
	require.True(t, zero(&c.pre[0]), "Close left prepared material")
	require.True(t, zero(&l.pre[1]), "Close left prepared material")
}

// TestPreparedOnlyForItsMessage: material prepared for message k is never
// used for another, even if a path that takes k forgot to drop it (every
// path does today; this guards the next one).
func TestPreparedOnlyForItsMessage(t *testing.T) {
	ref, c := channelPair(3, roleApp)
	msg := make([]byte, 1000)
	for i := range msg {
		msg[i] = byte(i)
	}
	c.PrepareSeal(len(msg))
	c.sent++ // message 0 taken without dropping what was prepared for it
	_ = ref.Seal(nil, msg)
	c.PrepareSeal(len(msg)) // for message 1: must not keep message 0's stream
	box := append(make([]byte, Overhead), msg...)
	c.SealInPlace(box)
	require.Equal(t, ref.Seal(nil, msg), box, "message 1 sealed with message 0's key stream")

	c.PrepareSeal(len(msg))
	c.sent++ // message 2 taken without dropping
	_ = ref.Seal(nil, msg)
	box = append(make([]byte, Overhead), msg...)
	c.SealInPlace(box) // message 3: must not use message 2's material
	require.Equal(t, ref.Seal(nil, msg), box, "message 3 sealed with message 2's key material")
}

// isWiped reports whether p holds no material: marked empty, keys and the
// whole key stream buffer zero.
func isWiped(p *prepared) bool {
	for _, b := range p.stream[:cap(p.stream)] {
		if b != 0 {
			return false
		}
	}
	return !p.ok && p.keys == boxKeys{}
}

// TestPreparedDroppedByOtherCalls: a call that takes the prepared message
// number without using the material (Seal, Open, OpenAside, Skip, a box of
// 512 KiB or more) wipes it.
func TestPreparedDroppedByOtherCalls(t *testing.T) {
	app, l := channelPair(5, roleLauncher)
	msg := make([]byte, 1500)
	large := make([]byte, parallelMin+100)

	app.PrepareSeal(len(msg))
	b1 := app.Seal(nil, msg)
	require.True(t, isWiped(&app.pre[0]), "Seal left prepared material")
	app.PrepareSeal(len(msg))
	b2 := append(make([]byte, Overhead), large...)
	app.SealInPlace(b2)
	require.True(t, isWiped(&app.pre[0]), "a large SealInPlace left prepared material")
	b3 := app.Seal(nil, msg)
	_ = app.Seal(nil, msg) // skipped below
	b5 := app.Seal(nil, msg)

	l.PrepareOpen(len(msg))
	_, err := l.Open(nil, b1)
	require.NoError(t, err)
	require.True(t, isWiped(&l.pre[1]), "Open left prepared material")
	l.PrepareOpen(len(msg))
	_, err = l.OpenInPlace(b2, nil)
	require.NoError(t, err)
	require.True(t, isWiped(&l.pre[1]), "a large OpenInPlace left prepared material")
	l.PrepareOpen(len(msg))
	_, err = l.OpenAside(make([]byte, len(b3)-Overhead), b3)
	require.NoError(t, err)
	require.True(t, isWiped(&l.pre[1]), "OpenAside left prepared material")
	l.PrepareOpen(len(msg))
	l.Skip()
	require.True(t, isWiped(&l.pre[1]), "Skip left prepared material")
	l.PrepareOpen(len(msg))
	_, err = l.OpenInPlace(b5, nil)
	require.NoError(t, err, "the message after the skipped one")
}

// channelPair returns a counter-mode app channel and a second channel of
// role r on a key and nonce made from seed.
func channelPair(seed byte, r role) (app, other *Channel) {
	var key Key
	var nonce Nonce
	key[0], nonce[0] = seed, seed+1
	return newChannel(key, nonce, Counter, roleApp), newChannel(key, nonce, Counter, r)
}
