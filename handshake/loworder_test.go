package handshake_test

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/handshake"
)

// lowOrderPoints are the encodings of Curve25519 points of small order that
// libsodium's has_small_order() blocklists (crypto_scalarmult/curve25519/
// ref10/x25519_ref10.c), ported, followed by the same with bit 255 set,
// which X25519 ignores (RFC 7748 section 5).
func lowOrderPoints() []handshake.Key {
	ff := func(low byte) handshake.Key { // p-1, p and p+1: 2^255 - 19 - 1 + ...
		k := handshake.Key{low}
		for i := 1; i < 31; i++ {
			k[i] = 0xff
		}
		k[31] = 0x7f
		return k
	}
	points := []handshake.Key{
		{},  // 0 (order 4)
		{1}, // 1 (order 1)
		{0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
			0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00}, // order 8
		{0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b,
			0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57}, // order 8
		ff(0xec), // p-1 (order 2)
		ff(0xed), // p (= 0)
		ff(0xee), // p+1 (= 1)
	}
	for _, p := range points[:7] {
		p[31] |= 0x80
		points = append(points, p)
	}
	return points
}

// TestAcceptRefusesLowOrderKey: Accept refuses every low-order
// asymm_pub_key with an error that is ErrLowOrderKey and ErrMalformed and
// whose text, sent as the description, says what is wrong and what to do;
// ordinary keys (the base point, random keys) are accepted.
func TestAcceptRefusesLowOrderKey(t *testing.T) {
	for i, point := range lowOrderPoints() {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			_, req, err := handshake.NewApp(rand.Reader, "s", "v1.0", handshake.Counter)
			require.NoError(t, err)
			parsed, err := handshake.ParseRequest(req)
			require.NoError(t, err)
			parsed.Data.AsymmPubKey = point[:]
			answer, ch, err := handshake.Accept(rand.Reader, parsed, true)
			require.ErrorIs(t, err, handshake.ErrLowOrderKey, "point %x", point)
			require.ErrorIs(t, err, handshake.ErrMalformed)
			assert.Nil(t, answer)
			assert.Nil(t, ch)
			assert.Equal(t, `handshake: malformed message: "data.asymm_pub_key" is a low-order point; generate a fresh key pair`, err.Error())
		})
	}
	for i, key := range []handshake.Key{{9}, {2}, {0xff, 0xff}} {
		_, req, err := handshake.NewApp(rand.Reader, "s", "v1.0", handshake.Counter)
		require.NoError(t, err)
		parsed, err := handshake.ParseRequest(req)
		require.NoError(t, err)
		parsed.Data.AsymmPubKey = key[:]
		_, _, err = handshake.Accept(rand.Reader, parsed, true)
		require.NoError(t, err, "ordinary key %d refused", i)
	}
}

// TestFinishRefusesLowOrderKey: the app refuses an answer whose
// launcher_public_key is a low-order point, and only that.
func TestFinishRefusesLowOrderKey(t *testing.T) {
	for i, point := range lowOrderPoints() {
		app, req, err := handshake.NewApp(rand.Reader, "s", "v1.0", handshake.Fixed)
		require.NoError(t, err)
		parsed, err := handshake.ParseRequest(req)
		require.NoError(t, err)
		answer, _, err := handshake.Accept(rand.Reader, parsed, true)
		require.NoError(t, err)
		var r handshake.ResponseMsg
		require.NoError(t, json.Unmarshal(answer, &r))
		r.Data.LauncherPublicKey = point[:]
		hostile, err := json.Marshal(r)
		require.NoError(t, err)
		ch, err := app.Finish(hostile)
		require.ErrorIs(t, err, handshake.ErrLowOrderKey, "point %d", i)
		require.ErrorIs(t, err, handshake.ErrMalformed)
		require.Nil(t, ch)
		assert.Contains(t, err.Error(), "launcher_public_key is a low-order point")
	}
	// The same answer with the genuine key is accepted, and once only.
	app, req, err := handshake.NewApp(rand.Reader, "s", "v1.0", handshake.Fixed)
	require.NoError(t, err)
	parsed, err := handshake.ParseRequest(req)
	require.NoError(t, err)
	answer, _, err := handshake.Accept(rand.Reader, parsed, true)
	require.NoError(t, err)
	_, err = app.Finish(answer)
	require.NoError(t, err)
	_, err = app.Finish(answer)
	require.Error(t, err, "Finish twice")
	require.False(t, errors.Is(err, handshake.ErrLowOrderKey))
}
