package handshake

import (
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"
)

// TestSecretsZeroed: Finish zeroes the app's private key, whether it
// succeeds or refuses the answer; Close zeroes a channel's key and nonce.
func TestSecretsZeroed(t *testing.T) {
	for _, hostile := range []bool{false, true} {
		app, req, err := NewApp(rand.Reader, "s", "v1.0", Counter)
		require.NoError(t, err)
		require.NotEqual(t, Key{}, app.priv)
		parsed, err := ParseRequest(req)
		require.NoError(t, err)
		answer, lch, err := Accept(rand.Reader, parsed, true)
		require.NoError(t, err)
		if hostile {
			answer = []byte(`{"id":"","data":{"encrypted_symm_key":"","launcher_public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}`)
		}
		ach, err := app.Finish(answer)
		require.Equal(t, hostile, err != nil, "%v", err)
		require.Equal(t, Key{}, app.priv, "Finish left the private key")
		for _, c := range []*Channel{lch, ach} {
			if c == nil {
				continue
			}
			require.NotEqual(t, Key{}, c.key)
			c.Close()
			require.Equal(t, Key{}, c.key, "Close left the key")
			require.Equal(t, Nonce{}, c.base, "Close left the nonce")
		}
	}
}

// TestZeroSecretKey: zeroSecretKey is what box.Precompute makes of a
// low-order peer key (an all-zero X25519 secret), whatever the private key.
func TestZeroSecretKey(t *testing.T) {
	for range 4 {
		_, priv, err := box.GenerateKey(rand.Reader)
		require.NoError(t, err)
		for _, peer := range []Key{{}, {1}} {
			var k [32]byte
			box.Precompute(&k, (*[32]byte)(&peer), priv)
			require.Equal(t, zeroSecretKey(), Key(k))
		}
	}
}

// TestSharedKeyRefusesExactlyLowOrder: sharedKey refuses a peer key exactly
// when curve25519.X25519 reports an all-zero secret, and otherwise returns
// box.Precompute's key. The peer keys are small integers (0 to 255, which
// include the low-order 0 and 1), their bit-255 twins, p-2 to p+3, and
// random keys.
func TestSharedKeyRefusesExactlyLowOrder(t *testing.T) {
	var peers []Key
	for i := range 256 {
		peers = append(peers, Key{byte(i)}, Key{byte(i), 31: 0x80})
	}
	for low := byte(0xeb); low <= 0xf0; low++ { // p-2 .. p+3
		k := Key{low}
		for i := 1; i < 31; i++ {
			k[i] = 0xff
		}
		k[31] = 0x7f
		peers = append(peers, k)
	}
	for range 16 {
		var k Key
		_, _ = rand.Read(k[:])
		peers = append(peers, k)
	}
	refused := 0
	for _, peer := range peers {
		_, priv, err := newKeyPair(rand.Reader)
		require.NoError(t, err)
		got, err := sharedKey(&priv, &peer, "f", "a")
		_, xerr := curve25519.X25519(priv[:], peer[:])
		require.Equal(t, xerr != nil, err != nil, "peer %x: X25519 says %v, sharedKey %v", peer, xerr, err)
		if err != nil {
			refused++
			require.ErrorIs(t, err, ErrLowOrderKey)
			require.Equal(t, Key{}, got)
			continue
		}
		var want [32]byte
		box.Precompute(&want, (*[32]byte)(&peer), (*[32]byte)(&priv))
		require.Equal(t, Key(want), got)
	}
	require.Equal(t, 4+3, refused, "0 and 1, their bit-255 twins, p-1, p and p+1")
}
