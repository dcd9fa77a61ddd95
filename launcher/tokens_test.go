package launcher

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokens(t *testing.T) {
	now := time.Unix(1000, 0)
	tk := newTokens(rand.Reader, func() time.Time { return now }, time.Minute)
	a, err := tk.mint("app-a")
	require.NoError(t, err)
	b, err := tk.mint("app-b")
	require.NoError(t, err)
	assert.NotEqual(t, a, b)
	assert.Len(t, a, 43, "32 bytes, unpadded base64url")

	id, ka, err := tk.reserve(a)
	require.NoError(t, err)
	assert.Equal(t, "app-a", id)
	_, _, err = tk.reserve(a)
	require.ErrorIs(t, err, ErrLauncherString, "one handshake at a time")
	tk.release(ka)
	id, ka, err = tk.reserve(a)
	require.NoError(t, err, "a string given back can be presented again")
	assert.Equal(t, "app-a", id)
	tk.commit(ka)
	_, _, err = tk.reserve(a)
	require.ErrorIs(t, err, ErrLauncherString, "single use once committed")
	tk.release(ka)
	_, _, err = tk.reserve(a)
	require.ErrorIs(t, err, ErrLauncherString, "a release after commit changes nothing")
	_, _, err = tk.reserve(a[:len(a)-1] + "x")
	require.ErrorIs(t, err, ErrLauncherString)

	_, kb, err := tk.reserve(b)
	require.NoError(t, err)
	tk.revokeApp("app-b")
	tk.release(kb)
	_, _, err = tk.reserve(b)
	require.ErrorIs(t, err, ErrLauncherString, "revoked with its app, even while reserved")

	c, _ := tk.mint("app-c")
	now = now.Add(time.Minute)
	_, _, err = tk.reserve(c)
	require.ErrorIs(t, err, ErrLauncherString, "expired at the TTL")
}

// TestTokenSweepBounded: expired strings are dropped as minting goes on, so the
// table cannot grow without bound, and minting many stays cheap.
func TestTokenSweepBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	tk := newTokens(rand.Reader, func() time.Time { return now }, time.Second)
	for i := 0; i < 10_000; i++ {
		_, err := tk.mint("app")
		require.NoError(t, err)
		now = now.Add(10 * time.Millisecond) // 100 alive at any time
	}
	assert.Less(t, len(tk.pending), 500)
}
