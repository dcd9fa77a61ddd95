package launcher_test

// Tests for each limit that keeps a hostile peer from exhausting the daemon,
// against the real daemon over TCP: the handshake deadline, the connection cap,
// the in-flight byte budget, the frame idle deadline, the JSON depth cap and
// field sizes, the write deadline, panic recovery, and no goroutine or file
// descriptor leak after an attack.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/framing"
	"github.com/safe-launcher/launcher/handshake"
	"github.com/safe-launcher/launcher/internal/lockedbuf"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/launchertest"
	"github.com/safe-launcher/launcher/wire"
)

// bogusHandshake is a well-formed handshake with an unknown launcher string.
func bogusHandshake(t *testing.T) []byte {
	t.Helper()
	_, req, err := handshake.NewApp(randReader{}, "limits-test-unknown-launcher-string", "v1.0", handshake.Counter)
	require.NoError(t, err)
	return req
}

// session is a raw, hand-driven encrypted session.
type session struct {
	*rawConn
	ch *handshake.Channel
}

func openSession(t *testing.T, d *launchertest.Daemon, appID string, mode handshake.Mode) *session {
	t.Helper()
	tok, err := d.Srv.MintLauncherString(appID)
	require.NoError(t, err)
	r := dialRaw(t, d)
	return &session{rawConn: r, ch: r.handshakeRaw(t, tok, mode)}
}

// answer reads one answer, checks its id and returns it.
func (s *session) answer(t *testing.T, wantID string) wire.Response {
	t.Helper()
	b, err := s.fr.ReadFrame()
	require.NoError(t, err)
	plain, err := s.ch.Open(nil, b)
	require.NoError(t, err, "answer does not decrypt: %q", b)
	var resp wire.Response
	require.NoError(t, json.Unmarshal(plain, &resp))
	require.Equal(t, wantID, resp.ID)
	return resp
}

func echoMsg(payload string) []byte {
	return fmt.Appendf(nil, `{"endpoint":"safe-api/v1.0/test/echo","data":{"p":%q}}`, payload)
}

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd on this system")
	}
	return len(ents)
}

// TestLimitHandshakeDeadlineCutsDrips drips handshake frames one byte at a
// time from several connections: the handshake deadline must close each one
// long before its frame is complete, and the daemon must go on serving.
func TestLimitHandshakeDeadlineCutsDrips(t *testing.T) {
	d, app := start(t, launcher.Config{HandshakeTimeout: 300 * time.Millisecond})
	f := framing.AppendFrame(nil, bogusHandshake(t))
	const drippers = 8
	sentBytes := make([]int, drippers)
	var wg sync.WaitGroup
	for i := range drippers {
		wg.Go(func() {
			r := dialRaw(t, d)
			var one [1]byte
			for sentBytes[i] = 0; sentBytes[i] < len(f); sentBytes[i]++ {
				if _, err := r.Write(f[sentBytes[i] : sentBytes[i]+1]); err != nil {
					return
				}
				_ = r.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
				if _, err := r.Read(one[:]); err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						continue // still open: next byte
					}
					return // closed by the daemon
				}
				return // an answer before the frame is complete: recorded below
			}
		})
	}
	wg.Wait()
	for i, n := range sentBytes {
		// The whole frame would take len(f)*50ms, several seconds; the deadline is 300ms.
		assert.Less(t, n, len(f), "dripper %d was never cut", i)
	}
	require.Eventually(t, func() bool { return d.Srv.Stats().Conns == 0 }, 5*time.Second, 10*time.Millisecond)
	probe(t, d, app.ID)
}

// TestLimitConnectionCap fills the cap with live sessions: the connections over
// it get a busy error and are closed at once, and the sessions under it keep
// being served.
func TestLimitConnectionCap(t *testing.T) {
	d, app := start(t, launcher.Config{MaxConns: 3, HandshakeTimeout: 10 * time.Second})
	var clients []*client.Client
	for range 3 {
		clients = append(clients, d.Dial(t, app.ID))
	}
	for range 5 {
		began := time.Now()
		r := dialRaw(t, d)
		r.expectPlainError(t, wire.CodeBusy)
		// Closed at once: not left to the handshake deadline.
		assert.Less(t, time.Since(began), 5*time.Second)
	}
	assert.EqualValues(t, 5, d.Srv.Stats().Rejected)
	for _, c := range clients {
		probeClient(t, c)
	}
	require.NoError(t, clients[0].Close())
	require.Eventually(t, func() bool { return d.Srv.Stats().Conns == 2 }, 5*time.Second, 10*time.Millisecond)
	probe(t, d, app.ID)
	for _, c := range clients[1:] {
		probeClient(t, c)
	}
}

// TestLimitStalledFrameReleasesBudget: a session that claims a frame and stops
// sending its body is ended after FrameIdleTimeout, which gives its budget back.
func TestLimitStalledFrameReleasesBudget(t *testing.T) {
	d, app := start(t, launcher.Config{InFlightBudget: 1 << 20, BudgetWait: 50 * time.Millisecond, FrameIdleTimeout: 300 * time.Millisecond})
	for _, size := range []uint64{900 << 10, 4 << 20} { // under the budget (held), over it (refused and drained)
		s := openSession(t, d, app.ID, handshake.Counter)
		_, err := s.Write(append(hdr(size), make([]byte, 100)...))
		require.NoError(t, err)
		s.expectClosedOrAnswer(t)
		require.Eventually(t, func() bool { return d.Srv.Stats().InFlightBytes == 0 }, 5*time.Second, 5*time.Millisecond)
	}
	// An idle session (between frames) is not affected by the frame deadline.
	c := d.Dial(t, app.ID)
	// Time passing is what is tested here (no event to wait for): twice
	// the frame idle timeout.
	time.Sleep(600 * time.Millisecond)
	probeClient(t, c)
}

// expectClosedOrAnswer waits for the connection to close, allowing one frame
// (a busy answer) first.
func (s *session) expectClosedOrAnswer(t *testing.T) {
	t.Helper()
	_ = s.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := s.fr.ReadFrame(); err == nil {
		plain, err := s.ch.Open(nil, b)
		require.NoError(t, err)
		require.Contains(t, string(plain), fmt.Sprint(int64(wire.CodeBusy)))
	}
	s.expectClosed(t)
}

// TestLimitJSONDepth: nesting over MaxJSONDepth is refused with CodeLimit,
// nesting at it is served, brackets inside strings do not count, and the
// session goes on.
func TestLimitJSONDepth(t *testing.T) {
	d, app := start(t, launcher.Config{MaxJSONDepth: 8})
	c := d.Dial(t, app.ID)
	nest := func(levels int) []byte { // the envelope is one level, data one more
		inner := strings.Repeat("[", levels-2) + "1" + strings.Repeat("]", levels-2)
		return fmt.Appendf(nil, `{"endpoint":"safe-api/v1.0/test/echo","data":{"a":%s}}`, inner)
	}
	_, err := c.CallRaw(ctx10(t), nest(8))
	require.NoError(t, err)
	_, err = c.CallRaw(ctx10(t), nest(9))
	require.ErrorIs(t, err, wire.ErrLimit)
	_, err = c.CallRaw(ctx10(t), []byte(strings.Repeat("[", 1_000_000)))
	require.ErrorIs(t, err, wire.ErrLimit)
	_, err = c.CallRaw(ctx10(t), fmt.Appendf(nil, `{"endpoint":"safe-api/v1.0/test/echo","data":{"s":"%s\"[[["}}`, strings.Repeat("[", 1000)))
	require.NoError(t, err)
	probeClient(t, c)
}

// TestLimitFieldSizes: oversized fields are refused with short descriptions
// that do not echo them, in the handshake and in a session.
func TestLimitFieldSizes(t *testing.T) {
	d, app := start(t, launcher.Config{})
	c := d.Dial(t, app.ID)
	err := c.Call(ctx10(t), "safe-api/v1.0/"+strings.Repeat("m", 10_000)+"/x", nil, nil)
	require.ErrorIs(t, err, wire.ErrBadEndpoint)
	var we *wire.Error
	require.ErrorAs(t, err, &we)
	assert.Less(t, len(we.Description), 512)

	// A 60 KiB launcher string fits the handshake frame and is refused as unknown.
	huge := strings.Repeat("L", 60<<10)
	msg := fmt.Sprintf(`{"endpoint":"safe-api/v1.0/handshake/authenticate-app","data":{"launcher_string":%q,"asymm_nonce":"%s","asymm_pub_key":"%s"}}`,
		huge, strings.Repeat("A", 32), strings.Repeat("A", 43)+"=")
	r := dialRaw(t, d)
	require.NoError(t, framing.WriteFrame(r, []byte(msg)))
	b, err := r.fr.ReadFrame()
	require.NoError(t, err)
	assert.Less(t, len(b), 512, "the answer must not echo the string")
	assert.Contains(t, string(b), fmt.Sprint(int64(wire.CodeLauncherString)))

	// Over the handshake frame limit: refused before reading the body.
	r = dialRaw(t, d)
	_, err = r.Write(hdr(65<<10 + 1))
	require.NoError(t, err)
	r.expectPlainError(t, wire.CodeFrameTooLarge)
	probeClient(t, c)
}

// TestLimitWriteTimeout: a peer that sends requests and never reads answers is
// disconnected after WriteTimeout instead of holding a goroutine forever.
func TestLimitWriteTimeout(t *testing.T) {
	d, app := start(t, launcher.Config{WriteTimeout: 300 * time.Millisecond})
	s := openSession(t, d, app.ID, handshake.Counter)
	var wg sync.WaitGroup
	wg.Go(func() {
		big := strings.Repeat("z", 256<<10)
		for range 200 {
			_ = s.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if framing.WriteFrame(s, s.ch.Seal(nil, echoMsg(big))) != nil {
				return // the daemon gave up on us
			}
		}
	})
	require.Eventually(t, func() bool { return d.Srv.Stats().Conns == 0 }, 15*time.Second, 10*time.Millisecond)
	s.Close()
	wg.Wait()
	probe(t, d, app.ID)
}

// TestLimitPanicBecomesErrorAnswer: a handler panic is an internal error answer
// without the panic's text, a log line with it, and the session goes on.
func TestLimitPanicBecomesErrorAnswer(t *testing.T) {
	var logs lockedbuf.Buffer
	d, app := start(t, launcher.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	c := d.Dial(t, app.ID)
	err := c.Call(ctx10(t), "safe-api/v1.0/test/panic", nil, nil)
	require.ErrorIs(t, err, wire.ErrInternal)
	var we *wire.Error
	require.ErrorAs(t, err, &we)
	assert.NotContains(t, we.Description, "boom")
	assert.NotContains(t, we.Description, "goroutine")
	probeClient(t, c)
	assert.Contains(t, logs.String(), "panic in handler")
	assert.Contains(t, logs.String(), "boom")
}

// TestLimitNoLeakAfterAttack drives hostile connections of every kind, then
// requires goroutines and file descriptors back at their baseline.
func TestLimitNoLeakAfterAttack(t *testing.T) {
	d, app := start(t, launcher.Config{HandshakeTimeout: 200 * time.Millisecond, FrameIdleTimeout: 200 * time.Millisecond, MaxConns: 64})
	probe(t, d, app.ID)
	runtime.GC()
	baseG, baseFD := runtime.NumGoroutine(), countFDs(t)

	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			nc, err := net.Dial("tcp", d.Addr.String())
			if err != nil {
				return
			}
			defer nc.Close()
			_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
			switch i % 5 {
			case 0: // drip, cut by the handshake deadline
				_, _ = nc.Write([]byte{50, 0})
				_, _ = nc.Read(make([]byte, 1))
			case 1: // garbage
				_, _ = nc.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
				_, _ = nc.Read(make([]byte, 512))
			case 2: // half a frame, then gone
				_, _ = nc.Write(append(hdr(100), 1, 2, 3))
			case 3: // a session with a bit flip (counter mode: ended by the daemon)
				tok, err := d.Srv.MintLauncherString(app.ID)
				if err != nil {
					return
				}
				r := &rawConn{Conn: nc, fr: framing.NewReader(nc, 0)}
				ch := r.handshakeRaw(t, tok, handshake.Counter)
				sealed := ch.Seal(nil, echoMsg("x"))
				sealed[3] ^= 1
				_ = framing.WriteFrame(nc, sealed)
				_, _ = readUntilClosed(nc)
			case 4: // a session that claims a frame and stalls until the frame deadline
				tok, err := d.Srv.MintLauncherString(app.ID)
				if err != nil {
					return
				}
				r := &rawConn{Conn: nc, fr: framing.NewReader(nc, 0)}
				r.handshakeRaw(t, tok, handshake.Fixed)
				_, _ = nc.Write(append(hdr(1<<20), 9))
				_, _ = readUntilClosed(nc)
			}
		})
	}
	wg.Wait()
	var last string
	ok := assert.Eventually(t, func() bool {
		st, g, fds := d.Srv.Stats(), runtime.NumGoroutine(), countFDs(t)
		last = fmt.Sprintf("goroutines %d (baseline %d), fds %d (baseline %d), stats %+v", g, baseG, fds, baseFD, st)
		// +1: testify runs this condition in a goroutine of its own.
		return st.Conns == 1 && st.InFlightBytes == 0 && g <= baseG+1 && fds <= baseFD
	}, 10*time.Second, 20*time.Millisecond)
	if !ok {
		var stacks bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
		t.Fatalf("%s\n%s", last, stacks.String())
	}
	probe(t, d, app.ID)
}

// readUntilClosed reads until the peer closes or the deadline passes.
func readUntilClosed(nc net.Conn) (int, error) {
	buf := make([]byte, 4096)
	total := 0
	for {
		n, err := nc.Read(buf)
		total += n
		if err != nil {
			return total, err
		}
	}
}

func hdr(n uint64) []byte {
	var b [framing.HeaderSize]byte
	for i := range b {
		b[i] = byte(n >> (8 * i))
	}
	return b[:]
}

// TestLimitTrickledFrameReleasesBudget: a peer that sends a frame's body one
// byte at a time, each inside the idle timeout, is still cut once the body's
// overall deadline (idle timeout + size at 1 MiB/s) passes, and the budget
// its frame claimed comes back.
func TestLimitTrickledFrameReleasesBudget(t *testing.T) {
	d, app := start(t, launcher.Config{FrameIdleTimeout: 300 * time.Millisecond})
	s := openSession(t, d, app.ID, handshake.Counter)
	const claim = 64 << 10 // overall deadline: 300 ms + 62.5 ms
	_, err := s.Write(hdr(claim))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return d.Srv.Stats().InFlightBytes == claim }, 5*time.Second, 5*time.Millisecond)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				if _, err := s.Write([]byte{0}); err != nil {
					return
				}
			}
		}
	}()
	require.Eventually(t, func() bool { return d.Srv.Stats().InFlightBytes == 0 }, 5*time.Second, 10*time.Millisecond,
		"a trickled frame must not hold its budget past its overall deadline")
	probe(t, d, app.ID)
}
