package client_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/framing"
	"github.com/safe-launcher/launcher/handshake"
	"github.com/safe-launcher/launcher/wire"
)

// A scripted launcher is a launcher of the test's own: it completes the
// handshake, then reads requests one by one and answers the n-th with the
// frames answer(ctx, n, id) returns, sealed. It lets a test send what the
// real daemon never writes, and hold its answers on the test's gates.
// ctx ends when the test does.
type script func(ctx context.Context, n int, id string) []string

// Special frames a script may return.
const (
	// holdFrame makes the scripted launcher stop reading (and writing)
	// until the test ends, keeping the connection open.
	holdFrame = "\x00hold"
	// plainPrefix, before a frame, makes it go unsealed.
	plainPrefix = "\x00plain"
)

// scriptedLauncher runs a scripted launcher for one connection and returns
// its launcher value. It stops when the test ends.
func scriptedLauncher(t *testing.T, answer script) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		nc net.Conn
	)
	t.Cleanup(func() {
		cancel()
		ln.Close()
		mu.Lock()
		if nc != nil {
			nc.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		mu.Lock()
		nc = conn
		mu.Unlock()
		if ctx.Err() != nil {
			conn.Close()
			return
		}
		defer conn.Close()
		fr := framing.NewReader(conn, framing.DefaultMaxSize)
		b, err := fr.ReadFrame()
		if err != nil {
			return
		}
		req, err := handshake.ParseRequest(b)
		if err != nil {
			return
		}
		ans, ch, err := handshake.Accept(rand.Reader, req, true)
		if err != nil || framing.WriteFrame(conn, ans) != nil {
			return
		}
		for n := 0; ; n++ {
			box, err := fr.ReadFrame()
			if err != nil {
				return
			}
			if _, err := ch.Open(nil, box); err != nil {
				return
			}
			for _, a := range answer(ctx, n, wire.ID(box)) {
				if a == holdFrame {
					<-ctx.Done()
					return
				}
				out := []byte(a)
				if p, ok := strings.CutPrefix(a, plainPrefix); ok {
					out = []byte(p)
				} else {
					out = ch.Seal(nil, out)
				}
				if framing.WriteFrame(conn, out) != nil {
					return
				}
			}
		}
	})
	return "tcp:" + ln.Addr().String() + ":scripted"
}

// scriptedSession dials a scripted launcher (see scriptedLauncher).
func scriptedSession(t *testing.T, answer script, opts ...client.Option) (context.Context, *client.Client) {
	t.Helper()
	ctx := testCtx(t)
	c, err := client.Dial(ctx, scriptedLauncher(t, answer), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return ctx, c
}

// dirData is a get-dir answer's data, naming the directory name.
func dirData(name string) string {
	return `{"info":{"name":"` + name + `","creation_time_sec":1,"creation_time_nsec":0,"modification_time_sec":1,"modification_time_nsec":0,"is_private":true,"is_versioned":false,"user_metadata":""},` +
		`"sub_directories":[],"files":[{"name":"f","size":3,"creation_time_sec":1,"creation_time_nsec":0,"modification_time_sec":1,"modification_time_nsec":0,"user_metadata":""}]}`
}

// TestAnswerShapes: every answer is parsed in full (wire.ParseResponse),
// whatever its shape: an error member after the data is the answer's error,
// spaces are fine, and a malformed answer ends the session.
func TestAnswerShapes(t *testing.T) {
	data := dirData("d")
	ctx, c := scriptedSession(t, func(_ context.Context, n int, id string) []string {
		switch n {
		case 0, 3: // as the launcher writes it
			return []string{`{"id":"` + id + `","data":` + data + `}`}
		case 1: // data, then an error: the error is the answer
			return []string{`{"id":"` + id + `","data":` + data + `,"error":{"code":-1502,"description":"scripted"}}`}
		case 2: // the same data with spaces
			return []string{`{ "id" : "` + id + `" , "data" : ` + data + ` }`}
		default: // one brace too many: malformed
			return []string{`{"id":"` + id + `","data":` + data + `}}`}
		}
	})
	for n := range 5 {
		got, err := c.GetDir(ctx, client.GetDirRequest{DirPath: "d"})
		switch n {
		case 0, 2, 3:
			require.NoError(t, err, "answer %d", n)
			require.Equal(t, "d", got.Info.Name)
			require.Len(t, got.Files, 1)
			require.Equal(t, int64(3), got.Files[0].Size)
		case 1:
			var we *client.Error
			require.ErrorAs(t, err, &we, "answer 1")
			require.Equal(t, client.Code(-1502), we.Code)
		case 4:
			require.ErrorIs(t, err, client.ErrClosed, "a malformed answer ends the session")
			require.ErrorIs(t, err, client.ErrMalformedAnswer)
		}
	}
	_, err := c.GetDir(ctx, client.GetDirRequest{DirPath: "d"})
	require.ErrorIs(t, err, client.ErrClosed)
	within(t, c.Done(), "the session to end after a malformed answer")
}

// TestBadData: data that does not decode into the answer type is the
// caller's error, with the endpoint named; the session goes on.
func TestBadData(t *testing.T) {
	ctx, c := scriptedSession(t, func(_ context.Context, n int, id string) []string {
		if n == 0 {
			return []string{`{"id":"` + id + `","data":{"info":7}}`}
		}
		return []string{`{"id":"` + id + `","data":` + dirData("d") + `}`}
	})
	_, err := c.GetDir(ctx, client.GetDirRequest{DirPath: "d"})
	require.ErrorContains(t, err, "client: decoding safe-api/v1.0/nfs/get-dir answer")
	require.ErrorIs(t, err, wire.ErrWrongType)
	_, err = c.GetDir(ctx, client.GetDirRequest{DirPath: "d"})
	require.NoError(t, err)
}

// TestRawCall: CallRaw returns the raw data, or the error member after it.
func TestRawCall(t *testing.T) {
	data := dirData("d")
	ctx, c := scriptedSession(t, func(_ context.Context, n int, id string) []string {
		if n == 0 {
			return []string{`{"id":"` + id + `","data":` + data + `,"error":{"code":-1503,"description":"scripted"}}`}
		}
		return []string{`{"id":"` + id + `","data":` + data + `}`}
	})
	msg := []byte(`{"endpoint":"safe-api/v1.0/nfs/get-dir","data":{"dir_path":"d"}}`)
	_, err := c.CallRaw(ctx, msg)
	var we *wire.Error
	require.True(t, errors.As(err, &we), "%v", err)
	require.Equal(t, wire.Code(-1503), we.Code)
	raw, err := c.CallRaw(ctx, msg)
	require.NoError(t, err)
	require.JSONEq(t, data, string(raw))
}

// TestMalformedAnswerNobodyWaitsFor: a malformed answer to a request whose
// caller has given up still ends the session: the loop checks every frame.
func TestMalformedAnswerNobodyWaitsFor(t *testing.T) {
	got, gate := make(chan int, 4), make(chan struct{})
	ctx, c := scriptedSession(t, func(ctx context.Context, n int, id string) []string {
		got <- n
		if n == 0 {
			select {
			case <-gate: // after its caller gave up
			case <-ctx.Done():
			}
			return []string{`{"id":"` + id + `","data":{}}}`}
		}
		return []string{`{"id":"` + id + `","data":` + dirData("d") + `}`}
	})
	short, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := c.GetDir(short, client.GetDirRequest{DirPath: "d"})
		errc <- err
	}()
	within(t, got, "the request to arrive")
	cancel()
	require.ErrorIs(t, within(t, errc, "the caller to give up"), context.Canceled)
	close(gate)
	within(t, c.Done(), "the session to end")
	_, err := c.GetDir(ctx, client.GetDirRequest{DirPath: "d"})
	require.ErrorIs(t, err, client.ErrClosed)
	require.ErrorIs(t, err, client.ErrMalformedAnswer)
}

// TestRepeatedID: an answer naming two ids goes where a full parse sends it
// (the last id, as encoding/json would take it): not to the first id's
// caller, who gets the next answer with its id.
func TestRepeatedID(t *testing.T) {
	ctx, c := scriptedSession(t, func(_ context.Context, n int, id string) []string {
		return []string{
			`{"id":"` + id + `","data":` + dirData("first") + `,"id":"somebody-else"}`,
			`{"id":"` + id + `","data":` + dirData("second") + `}`,
		}
	})
	got, err := c.GetDir(ctx, client.GetDirRequest{DirPath: "d"})
	require.NoError(t, err)
	require.Equal(t, "second", got.Info.Name)
	require.Equal(t, uint64(1), c.StrayAnswers())
}

// TestEvents: a frame with an "event" member and no id answers no request:
// it is counted and dropped, and the session goes on. An answer with an
// empty id is dropped likewise.
func TestEvents(t *testing.T) {
	ctx, c := scriptedSession(t, func(_ context.Context, n int, id string) []string {
		return []string{
			`{"event":"changed","data":{"path":"d"}}`,
			`{"id":"","error":{"code":-140,"description":"unassociated"}}`,
			`{"event":"changed"}`,
			`{"id":"` + id + `","data":` + dirData("d") + `}`,
		}
	})
	for i := range 3 {
		got, err := c.GetDir(ctx, client.GetDirRequest{DirPath: "d"})
		require.NoError(t, err, "call %d", i)
		require.Equal(t, "d", got.Info.Name)
	}
	assert.Equal(t, uint64(6), c.DroppedEvents())
	assert.Equal(t, uint64(3), c.StrayAnswers())
}

// TestPlainErrorFrame: the launcher's unencrypted error just before it
// closes (a frame over its limit) ends the session with that error.
func TestPlainErrorFrame(t *testing.T) {
	ctx, c := scriptedSession(t, func(_ context.Context, n int, id string) []string {
		return []string{plainPrefix + `{"id":"","error":{"code":-121,"description":"frame too large"}}`, holdFrame}
	})
	_, err := c.GetDir(ctx, client.GetDirRequest{DirPath: "d"})
	require.ErrorIs(t, err, client.ErrClosed)
	var we *wire.Error
	require.ErrorAs(t, err, &we)
	require.Equal(t, wire.CodeFrameTooLarge, we.Code)
	within(t, c.Done(), "the session to end")
}

// TestAnswerThatDoesNotOpen: a sealed frame that fails to open ends the
// session.
func TestAnswerThatDoesNotOpen(t *testing.T) {
	ctx, c := scriptedSession(t, func(_ context.Context, n int, id string) []string {
		return []string{plainPrefix + strings.Repeat("\x01", 40), holdFrame}
	})
	_, err := c.GetDir(ctx, client.GetDirRequest{DirPath: "d"})
	require.ErrorIs(t, err, client.ErrClosed)
	require.ErrorContains(t, err, "did not open")
}

// TestIdenticalRequestsInFixedMode: in fixed mode identical requests have
// identical ids; a caller that gave up keeps its place in the queue, so
// the next identical request gets its own answer, not the earlier one's.
func TestIdenticalRequestsInFixedMode(t *testing.T) {
	got, gate := make(chan int, 4), make(chan struct{})
	ctx, c := scriptedSession(t, func(ctx context.Context, n int, id string) []string {
		got <- n
		switch n {
		case 0:
			return nil // answered with the next one's
		case 1:
			select {
			case <-gate:
			case <-ctx.Done():
			}
			return []string{`{"id":"` + id + `","data":` + dirData("first") + `}`, `{"id":"` + id + `","data":` + dirData("second") + `}`}
		default:
			return []string{`{"id":"` + id + `","data":` + dirData("later") + `}`}
		}
	}, client.WithFixedNonce())
	short, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := c.GetDir(short, client.GetDirRequest{DirPath: "d"})
		errc <- err
	}()
	within(t, got, "the first request to arrive")
	cancel()
	require.ErrorIs(t, within(t, errc, "the first caller to give up"), context.Canceled)
	second := make(chan *client.GetDirResponse, 1)
	go func() {
		d, err := c.GetDir(ctx, client.GetDirRequest{DirPath: "d"})
		assert.NoError(t, err)
		second <- d
	}()
	within(t, got, "the second request to arrive")
	close(gate)
	d := within(t, second, "the second answer")
	require.NotNil(t, d)
	require.Equal(t, "second", d.Info.Name)
	assert.Equal(t, uint64(1), c.StrayAnswers(), "the first answer was dropped")
}

// TestEndWhileASenderIsBlocked: the session ends (a malformed answer) while
// another caller is blocked writing a large request the launcher does not
// read. Closing the connection frees the writer: Done closes and both calls
// fail.
func TestEndWhileASenderIsBlocked(t *testing.T) {
	got, gate := make(chan int, 4), make(chan struct{})
	dial, bigWrite := withGatedConn()
	ctx, c := scriptedSession(t, func(ctx context.Context, n int, id string) []string {
		got <- n
		select {
		case <-gate:
		case <-ctx.Done():
		}
		return []string{"not an answer", holdFrame}
	}, dial)
	first := make(chan error, 1)
	go func() {
		_, err := c.CallRaw(ctx, []byte(`{"endpoint":"safe-api/v1.0/nfs/get-dir","data":{"dir_path":"/"}}`))
		first <- err
	}()
	within(t, got, "the first request to arrive")
	second := make(chan error, 1)
	go func() {
		_, err := c.CallRaw(ctx, largeRequest())
		second <- err
	}()
	within(t, bigWrite, "the large request's write to start")
	close(gate)
	within(t, c.Done(), "the session to end")
	require.ErrorIs(t, within(t, first, "the first call"), client.ErrMalformedAnswer)
	require.ErrorIs(t, within(t, second, "the second call"), client.ErrClosed)
}

// TestContextEndsMidWrite: a caller whose context ends while its large
// request is being written (the launcher does not read) returns ctx.Err();
// the session ends, since half a frame cannot be taken back, and the other
// calls say why.
func TestContextEndsMidWrite(t *testing.T) {
	got := make(chan int, 4)
	dial, bigWrite := withGatedConn()
	ctx, c := scriptedSession(t, func(ctx context.Context, n int, id string) []string {
		got <- n
		return []string{holdFrame}
	}, dial)
	first := make(chan error, 1)
	go func() {
		_, err := c.GetDir(ctx, client.GetDirRequest{DirPath: "d"})
		first <- err
	}()
	within(t, got, "the first request to arrive")
	short, cancel := context.WithCancel(ctx)
	second := make(chan error, 1)
	go func() {
		_, err := c.CallRaw(short, largeRequest())
		second <- err
	}()
	within(t, bigWrite, "the large request's write to start")
	cancel()
	require.ErrorIs(t, within(t, second, "the writer to return"), context.Canceled)
	within(t, c.Done(), "the session to end")
	err := within(t, first, "the waiting call")
	require.ErrorIs(t, err, client.ErrClosed)
	require.ErrorContains(t, err, "client: writing a request")
	requireNoClientGoroutines(t)
}

// TestWaitForTheWriteLock: a caller waiting for the write lock (another
// caller's large request blocks it) gives up when its context ends, and
// the session goes on.
func TestWaitForTheWriteLock(t *testing.T) {
	got, gate := make(chan int, 4), make(chan struct{})
	dial, bigWrite := withGatedConn()
	ctx, c := scriptedSession(t, func(ctx context.Context, n int, id string) []string {
		got <- n
		if n == 0 {
			select { // read nothing while the large request waits
			case <-gate:
			case <-ctx.Done():
			}
		}
		return []string{`{"id":"` + id + `","error":{"code":0,"description":""}}`}
	}, dial)
	first := make(chan error, 1)
	go func() {
		_, err := c.CallRaw(ctx, []byte(`{"endpoint":"safe-api/v1.0/test/first"}`))
		first <- err
	}()
	within(t, got, "the first request to arrive")
	large := make(chan error, 1)
	go func() {
		_, err := c.CallRaw(ctx, largeRequest())
		large <- err
	}()
	within(t, bigWrite, "the large request's write to start")
	short, cancel := context.WithCancel(ctx)
	cancel()
	_, err := c.CallRaw(short, []byte(`{"endpoint":"safe-api/v1.0/test/waiting"}`))
	require.ErrorIs(t, err, context.Canceled)
	close(gate)
	require.NoError(t, within(t, first, "the first call"))
	require.NoError(t, within(t, large, "the large call"))
	_, err = c.CallRaw(ctx, []byte(`{"endpoint":"safe-api/v1.0/test/after"}`))
	require.NoError(t, err)
}

// TestAnswerOverMaxFrame: an answer frame over WithMaxFrame ends the
// session before anything of it is allocated beyond what arrived.
func TestAnswerOverMaxFrame(t *testing.T) {
	ctx, c := scriptedSession(t, func(_ context.Context, n int, id string) []string {
		return []string{`{"id":"` + id + `","data":"` + strings.Repeat("x", 4096) + `"}`, holdFrame}
	}, client.WithMaxFrame(1024))
	_, err := c.CallRaw(ctx, []byte(`{"endpoint":"safe-api/v1.0/test/big"}`))
	require.ErrorIs(t, err, client.ErrClosed)
	require.ErrorIs(t, err, framing.ErrTooLarge)
	within(t, c.Done(), "the session to end")
}
