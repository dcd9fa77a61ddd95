package launcher_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/framing"
	"github.com/safe-launcher/launcher/handshake"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/launchertest"
	"github.com/safe-launcher/launcher/wire"
)

// TestLockEndsSessionsAndRefuses: Lock ends every session with a last
// encrypted -134 frame and refuses new connections with a plain -134,
// without using up their launcher strings; Unlock serves again.
func TestLockEndsSessionsAndRefuses(t *testing.T) {
	d, app := start(t, launcher.Config{})
	var live []*session
	for _, mode := range []handshake.Mode{handshake.Counter, handshake.Fixed} {
		s := openSession(t, d, app.ID, mode)
		msg := s.ch.Seal(nil, echoMsg("before"))
		require.NoError(t, framing.WriteFrame(s, msg))
		require.Nil(t, s.answer(t, wire.ID(msg)).Error)
		live = append(live, s)
	}
	before := d.Srv.LastActivity()
	d.Srv.Lock()
	assert.True(t, d.Srv.Locked())
	assert.Empty(t, d.Srv.Sessions())
	for _, s := range live {
		b, err := s.fr.ReadFrame()
		require.NoError(t, err, "a last frame")
		plain, err := s.ch.Open(nil, b)
		require.NoError(t, err)
		var resp wire.Response
		require.NoError(t, json.Unmarshal(plain, &resp))
		assert.Equal(t, "", resp.ID)
		require.ErrorIs(t, resp.Err(), wire.ErrLocked)
		assert.Contains(t, resp.Error.Description, "locked")
		s.expectClosed(t)
	}

	tok := handshakeRefusedLocked(t, d, app.ID)

	d.Srv.Unlock()
	assert.False(t, d.Srv.Locked())
	assert.False(t, d.Srv.LastActivity().Before(before))
	ch := dialRaw(t, d).handshakeRaw(t, tok, handshake.Counter) // the string survived the refusal
	ch.Close()
	probe(t, d, app.ID)
}

// TestStartLocked: a launcher configured Locked refuses apps until Unlock.
func TestStartLocked(t *testing.T) {
	d, app := start(t, launcher.Config{Locked: true})
	handshakeRefusedLocked(t, d, app.ID)
	d.Srv.Unlock()
	probe(t, d, app.ID)
}

// handshakeRefusedLocked mints a launcher string for appID, sends its
// handshake and expects the locked launcher's plain -134; it returns the
// string.
func handshakeRefusedLocked(t *testing.T, d *launchertest.Daemon, appID string) string {
	t.Helper()
	tok, err := d.Srv.MintLauncherString(appID)
	require.NoError(t, err)
	r := dialRaw(t, d)
	_, req, err := handshake.NewApp(randReader{}, tok, "v1.0", handshake.Counter)
	require.NoError(t, err)
	require.NoError(t, framing.WriteFrame(r, req))
	r.expectPlainError(t, wire.CodeLocked)
	return tok
}
