package launcher_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/framing"
	"github.com/safe-launcher/launcher/handshake"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/wire"
)

// TestLargeBodiesOpenedAside: request bodies around and inside the sizes the
// daemon opens into a second buffer (hashing them while the request runs)
// get the right answer and the right id, pipelined, in both nonce modes; a
// tampered body is answered -3 with its own id (a fixed-nonce session goes
// on, a counter one ends); and the in-flight budget comes back whole.
func TestLargeBodiesOpenedAside(t *testing.T) {
	d, app := start(t, launcher.Config{InFlightBudget: 64 << 20})
	sizes := []int{500 << 10, 600 << 10, 1 << 20, 3 << 20, 5 << 20, 700 << 10, 2 << 20}
	for _, mode := range []handshake.Mode{handshake.Counter, handshake.Fixed} {
		t.Run(mode.String(), func(t *testing.T) {
			s := openSession(t, d, app.ID, mode)
			payloads := make([]string, len(sizes))
			boxes := make([][]byte, len(sizes))
			for i, n := range sizes {
				payloads[i] = strings.Repeat(string(rune('a'+i)), n)
				boxes[i] = s.ch.Seal(nil, echoMsg(payloads[i]))
			}
			// All frames are written before any answer is read.
			sent := make(chan error, 1)
			go func() {
				for _, b := range boxes {
					if err := framing.WriteFrame(s, b); err != nil {
						sent <- err
						return
					}
				}
				sent <- nil
			}()
			for i, b := range boxes {
				resp := s.answer(t, wire.ID(b))
				require.Nil(t, resp.Error, "size %d", sizes[i])
				var got struct{ P string }
				require.NoError(t, json.Unmarshal(resp.Data, &got))
				require.True(t, got.P == payloads[i], "size %d: echo differs", sizes[i])
			}
			require.NoError(t, <-sent)

			// A tampered 1 MiB body: -3 with the id of the bytes received.
			bad := s.ch.Seal(nil, echoMsg(strings.Repeat("t", 1<<20)))
			bad[len(bad)/2] ^= 1
			require.NoError(t, framing.WriteFrame(s, bad))
			resp := s.answer(t, wire.ID(bad))
			require.NotNil(t, resp.Error)
			assert.Equal(t, wire.CodeDecrypt, resp.Error.Code)
			next := s.ch.Seal(nil, echoMsg("after"))
			werr := framing.WriteFrame(s, next)
			if mode == handshake.Counter {
				// The session ends: the write may still succeed, the read fails.
				_, rerr := s.fr.ReadFrame()
				require.True(t, werr != nil || rerr != nil, "a counter session went on after a bad box")
				return
			}
			require.NoError(t, werr)
			resp = s.answer(t, wire.ID(next))
			require.Nil(t, resp.Error)
			assert.JSONEq(t, `{"p":"after"}`, string(resp.Data))
		})
	}
	require.Eventually(t, func() bool { return d.Srv.Stats().InFlightBytes == 0 }, 5*time.Second, time.Millisecond)
}

// TestAsideFallsBackToInPlace: a body the daemon would open aside, but whose
// second buffer the in-flight budget cannot take, is opened in place and
// served, not refused or delayed.
func TestAsideFallsBackToInPlace(t *testing.T) {
	const n = 1 << 20
	d, app := start(t, launcher.Config{InFlightBudget: n + n/2, BudgetWait: 100 * time.Millisecond})
	s := openSession(t, d, app.ID, handshake.Counter)
	payload := strings.Repeat("q", n-100)
	box := s.ch.Seal(nil, echoMsg(payload))
	require.Greater(t, 2*len(box), n+n/2, "the body must not fit twice")
	require.NoError(t, framing.WriteFrame(s, box))
	resp := s.answer(t, wire.ID(box))
	require.Nil(t, resp.Error)
	var got struct{ P string }
	require.NoError(t, json.Unmarshal(resp.Data, &got))
	require.True(t, bytes.Equal([]byte(payload), []byte(got.P)), "echo differs")
	require.Eventually(t, func() bool { return d.Srv.Stats().InFlightBytes == 0 }, 5*time.Second, time.Millisecond)
}
