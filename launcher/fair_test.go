package launcher_test

// The fairness cases of the session engine, each found by trying it against
// an earlier daemon, as end-to-end tests over real TCP: a frame holds
// in-flight budget for the bytes that arrived, not for what its header
// claims; one app cannot take the whole budget; a launcher string survives
// its connection being evicted; handshakes are capped per peer user; a
// flood of wrong launcher strings is logged at a bounded rate.

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/framing"
	"github.com/safe-launcher/launcher/handshake"
	"github.com/safe-launcher/launcher/internal/lockedbuf"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/wire"
)

// TestFairHugeClaimsHoldOnlyWhatArrived: four sessions each claim a 256 MiB
// frame and send one byte. Before, each reserved its whole claim at its
// header and every other app's request failed with -140; now each holds at
// most a read chunk, and another app's requests succeed at once.
func TestFairHugeClaimsHoldOnlyWhatArrived(t *testing.T) {
	d, _ := start(t, launcher.Config{BudgetWait: 50 * time.Millisecond})
	for i := range 4 {
		app := d.AddApp("claimer"+string(rune('a'+i)), false)
		s := openSession(t, d, app.ID, handshake.Counter)
		_, err := s.Write(append(hdr(256<<20), 'x'))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return d.Srv.Stats().InFlightBytes > 0 }, 5*time.Second, time.Millisecond)
	assert.LessOrEqual(t, d.Srv.Stats().InFlightBytes, int64(4*(64<<10+1)), "a claim holds at most one read chunk beyond what arrived")
	other := d.AddApp("other", false)
	c := d.Dial(t, other.ID)
	for range 20 {
		probeClient(t, c)
	}
	big := strings.Repeat("y", 2<<20)
	var out map[string]string
	require.NoError(t, c.Call(ctx10(t), "safe-api/v1.0/test/echo", map[string]string{"p": big}, &out), "a large request of another app fits too")
	assert.Equal(t, big, out["p"])
}

// TestFairOneAppCannotTakeAll: with a 1 MiB budget, an app that stalls in the
// middle of a large frame holds at most its share (half); its next large
// frame is refused with -140 (and its session goes on), while another app's
// large frame and a third app's small one are served.
func TestFairOneAppCannotTakeAll(t *testing.T) {
	const budget = 1 << 20
	d, hog := start(t, launcher.Config{InFlightBudget: budget, BudgetWait: 100 * time.Millisecond})

	holder := openSession(t, d, hog.ID, handshake.Counter)
	_, err := holder.Write(append(hdr(900<<10), make([]byte, 400<<10)...))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return d.Srv.Stats().InFlightBytes >= 400<<10 }, 5*time.Second, time.Millisecond)

	// The same app's next large frame does not fit its share.
	second := openSession(t, d, hog.ID, handshake.Counter)
	bigMsg := second.ch.Seal(nil, echoMsg(strings.Repeat("x", 300<<10)))
	require.NoError(t, framing.WriteFrame(second, bigMsg))
	resp := second.answer(t, wire.ID(bigMsg))
	require.NotNil(t, resp.Error)
	require.Equal(t, wire.CodeBusy, resp.Error.Code, resp.Error.Description)
	// Its session goes on.
	small := second.ch.Seal(nil, echoMsg("small"))
	require.NoError(t, framing.WriteFrame(second, small))
	resp = second.answer(t, wire.ID(small))
	require.Nil(t, resp.Error)
	assert.JSONEq(t, `{"p":"small"}`, string(resp.Data))

	// Another app's large frame fits in what the hog cannot take.
	fair := d.AddApp("fair", false)
	s := openSession(t, d, fair.ID, handshake.Counter)
	msg := s.ch.Seal(nil, echoMsg(strings.Repeat("z", 300<<10)))
	require.NoError(t, framing.WriteFrame(s, msg))
	resp = s.answer(t, wire.ID(msg))
	require.Nil(t, resp.Error, "another app's large frame is served")
	assert.LessOrEqual(t, d.Srv.Stats().InFlightBytes, int64(budget))

	// And a third app's small request.
	probe(t, d, d.AddApp("third", false).ID)

	holder.Close()
	require.Eventually(t, func() bool { return d.Srv.Stats().InFlightBytes == 0 }, 5*time.Second, 5*time.Millisecond)
}

// TestFairFiftyHugeClaims: fifty sessions each claim a 300 MiB frame and send
// 64 KiB. None is refused (they hold only what arrived), memory grows only
// with the bytes sent, and a fresh app is served.
func TestFairFiftyHugeClaims(t *testing.T) {
	if testing.Short() {
		t.Skip("fifty sessions")
	}
	d, app := start(t, launcher.Config{BudgetWait: 100 * time.Millisecond, FrameIdleTimeout: time.Minute})
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	chunk := make([]byte, 64<<10)
	var stallers []*session
	for range 50 {
		s := openSession(t, d, app.ID, handshake.Counter)
		_, err := s.Write(append(hdr(300<<20), chunk...))
		require.NoError(t, err)
		stallers = append(stallers, s)
	}
	require.Eventually(t, func() bool { return d.Srv.Stats().InFlightBytes >= 50*64<<10 }, 10*time.Second, 10*time.Millisecond)
	assert.LessOrEqual(t, d.Srv.Stats().InFlightBytes, int64(50*2*64<<10))
	probe(t, d, d.AddApp("fresh", false).ID)

	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapInuse) - int64(before.HeapInuse)
	assert.Less(t, grown, int64(64<<20), "heap grew by %d MiB for 50 claims of 300 MiB", grown>>20)

	for _, s := range stallers {
		s.Close()
	}
	require.Eventually(t, func() bool {
		return d.Srv.Stats().InFlightBytes == 0
	}, 10*time.Second, 10*time.Millisecond)
}

// TestFairStringSurvivesEviction: a connection that presented its launcher
// string and died before the handshake answer was written does not use the
// string up; and pre-handshake connections evicted by the connection cap
// never burn a string: the app's handshake after the flood succeeds.
func TestFairStringSurvivesEviction(t *testing.T) {
	d, app := start(t, launcher.Config{MaxConns: 8})
	tok, err := d.Srv.MintLauncherString(app.ID)
	require.NoError(t, err)

	// The app connects, then a flood of idle connections evicts it before it
	// sends its handshake.
	// (Eviction takes connections whose peer is not checked yet first, then
	// the oldest handshaking one: the victim goes once the newer ones are
	// checked, so the flood goes on until it is gone.)
	victim := dialRaw(t, d)
	gone := false
	for i := 0; i < 200 && !gone; i++ {
		r := dialRaw(t, d)
		defer r.Close()
		_ = victim.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		var b [1]byte
		_, err := victim.Read(b[:])
		gone = err != nil && !isTimeoutErr(err)
	}
	require.True(t, gone, "the victim was never evicted")
	_ = victim.SetReadDeadline(time.Now().Add(15 * time.Second))
	require.Positive(t, d.Srv.Stats().Evicted)

	// A connection that sends the handshake and closes before reading the
	// answer: if the daemon's write fails, the string is given back; if it
	// succeeded, the string is used. Either way no second session can get
	// keys the first one has; what must hold is that an unused string works.
	r := dialRaw(t, d)
	_, req, err := handshake.NewApp(randReader{}, tok, "v1.0", handshake.Counter)
	require.NoError(t, err)
	require.NoError(t, framing.WriteFrame(r, req[:len(req)/2])) // an incomplete handshake frame
	r.Close()

	// The app retries with the same string and gets its session.
	c := d.Dial(t, app.ID) // a fresh string: the cap and eviction still let it in
	probeClient(t, c)
	r2 := dialRaw(t, d)
	ch := r2.handshakeRaw(t, tok, handshake.Counter)
	require.NotNil(t, ch, "the string survived the evicted and the dropped connections")
	ch.Close()
}

// TestFairHandshakesPerUser: connections of one peer user that have not
// finished their handshake are capped; past the cap they are refused with a
// busy error, while established sessions go on.
func TestFairHandshakesPerUser(t *testing.T) {
	d, app := start(t, launcher.Config{MaxHandshakesPerUser: 4})
	c := d.Dial(t, app.ID)
	var idle []*rawConn
	for range 4 {
		r := dialRaw(t, d)
		defer r.Close()
		idle = append(idle, r)
	}
	require.Eventually(t, func() bool { return d.Srv.Stats().Conns == 5 }, 5*time.Second, time.Millisecond)
	extra := dialRaw(t, d)
	extra.expectPlainError(t, wire.CodeBusy)
	probeClient(t, c)
	idle[0].Close()
	require.Eventually(t, func() bool { return d.Srv.Stats().Conns == 4 }, 5*time.Second, time.Millisecond)
	probe(t, d, app.ID) // a handshake slot is free again
}

// TestFairRefusalsAreRateLimited: thousands of wrong launcher strings write a
// few log lines, which count what they held back.
func TestFairRefusalsAreRateLimited(t *testing.T) {
	var logs lockedbuf.Buffer
	d, _ := start(t, launcher.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 250 {
				r := dialRaw(t, d)
				require.NoError(t, framing.WriteFrame(r, bogusHandshake(t)))
				r.expectPlainError(t, wire.CodeLauncherString)
				r.Close()
			}
		})
	}
	wg.Wait()
	lines := strings.Count(logs.String(), "handshake refused")
	assert.Positive(t, lines)
	assert.Less(t, lines, 50, "1,000 refusals in a few seconds write a line a second")
	if lines > 1 {
		assert.Contains(t, logs.String(), "suppressed=")
	}
}

// TestLowOrderKeyRefused: a handshake whose asymm_pub_key is a low-order
// point (all zeros: the shared key would be a constant anyone can compute)
// is refused with -131 naming the field, and the launcher string it
// presented is given back: the app's real handshake with it then succeeds.
func TestLowOrderKeyRefused(t *testing.T) {
	d, app := start(t, launcher.Config{})
	tok, err := d.Srv.MintLauncherString(app.ID)
	require.NoError(t, err)
	zero := base64.StdEncoding.EncodeToString(make([]byte, 32))
	nonce := base64.StdEncoding.EncodeToString(make([]byte, 24))
	for _, mode := range []string{"", `,"nonce_mode":"counter"`} {
		r := dialRaw(t, d)
		msg := fmt.Sprintf(`{"endpoint":"safe-api/v1.0/handshake/authenticate-app","data":{"launcher_string":%q,"asymm_nonce":%q,"asymm_pub_key":%q%s}}`, tok, nonce, zero, mode)
		require.NoError(t, framing.WriteFrame(r, []byte(msg)))
		b, err := r.fr.ReadFrame()
		require.NoError(t, err)
		var resp wire.Response
		require.NoError(t, json.Unmarshal(b, &resp))
		require.NotNil(t, resp.Error)
		require.Equal(t, wire.CodeHandshake, resp.Error.Code)
		assert.Contains(t, resp.Error.Description, "asymm_pub_key")
		assert.Contains(t, resp.Error.Description, "low-order")
		r.expectClosed(t)
	}
	ch := dialRaw(t, d).handshakeRaw(t, tok, handshake.Counter)
	ch.Close()
}

// isTimeoutErr reports whether err is a read deadline passing.
func isTimeoutErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
