package handshake

import (
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/require"
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
