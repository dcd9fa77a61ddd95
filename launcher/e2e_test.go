package launcher_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/framing"
	"github.com/safe-launcher/launcher/handshake"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/launchertest"
	"github.com/safe-launcher/launcher/route"
	"github.com/safe-launcher/launcher/wire"
)

// testModule is a module for exercising the core without a store.
type testModule struct{ calls atomic.Int64 }

func (m *testModule) Register(t *route.Table) {
	t.Handle("test", "echo", wire.V1_0, func(ctx context.Context, c route.Caller, data json.RawMessage) (route.Result, error) {
		m.calls.Add(1)
		return echo(data), nil
	})
	t.Handle("test", "empty", wire.V1_0, func(ctx context.Context, c route.Caller, data json.RawMessage) (route.Result, error) {
		return route.Result{}, nil
	})
	t.Handle("test", "whoami", wire.V1_0, func(ctx context.Context, c route.Caller, data json.RawMessage) (route.Result, error) {
		b, err := json.Marshal(map[string]any{"app": c.AppID(), "root": c.RootDir(), "shared": c.SharedAllowed()})
		return route.Answer(wire.RawObject(b)), err
	})
	t.Handle("test", "panic", wire.V1_0, func(ctx context.Context, c route.Caller, data json.RawMessage) (route.Result, error) {
		panic("boom")
	})
	t.Handle("test", "sleep", wire.V1_0, func(ctx context.Context, c route.Caller, data json.RawMessage) (route.Result, error) {
		select {
		case <-time.After(300 * time.Millisecond):
			return route.Answer(wire.RawObject(`{"slept":true}`)), nil
		case <-ctx.Done():
			return route.Result{}, ctx.Err()
		}
	})
	t.Handle("test", "added", wire.V1_1, func(ctx context.Context, c route.Caller, data json.RawMessage) (route.Result, error) {
		return route.Answer(wire.RawObject(`{"v11":true}`)), nil
	})
}

// echo answers with the request's data, or success without data when there
// is none (or null).
func echo(data json.RawMessage) route.Result {
	if d := strings.TrimSpace(string(data)); d == "" || d == "null" {
		return route.Result{}
	}
	return route.Answer(wire.RawObject(data))
}

func start(t *testing.T, cfg launcher.Config) (*launchertest.Daemon, launcher.App) {
	t.Helper()
	d := launchertest.Start(t, cfg, &testModule{})
	return d, d.AddApp("app", false)
}

func ctx10(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// probe proves the daemon still serves a fresh app correctly.
func probe(t *testing.T, d *launchertest.Daemon, appID string) {
	t.Helper()
	c := d.Dial(t, appID)
	var out map[string]string
	require.NoError(t, c.Call(ctx10(t), "safe-api/v1.0/test/echo", map[string]string{"k": "v"}, &out))
	require.Equal(t, "v", out["k"])
}

func TestRoundTripBothModes(t *testing.T) {
	d, app := start(t, launcher.Config{})
	for _, mode := range []struct {
		name string
		opts []client.Option
	}{{"counter", nil}, {"fixed", []client.Option{client.WithFixedNonce()}}} {
		t.Run(mode.name, func(t *testing.T) {
			c := d.Dial(t, app.ID, mode.opts...)
			assert.Equal(t, mode.name, c.Mode())
			var out map[string]any
			require.NoError(t, c.Call(ctx10(t), "safe-api/v1.0/test/echo", map[string]any{"x": 1.5, "s": "héllo"}, &out))
			assert.Equal(t, map[string]any{"x": 1.5, "s": "héllo"}, out)
			require.NoError(t, c.Call(ctx10(t), "safe-api/v1.0/test/empty", nil, nil))
			out = nil
			require.NoError(t, c.Call(ctx10(t), "safe-api/v1.0/test/whoami", nil, &out))
			assert.Equal(t, map[string]any{"app": app.ID, "root": "app-Root-Dir", "shared": false}, out)
			// v1.0 routes are served in v1.1; v1.1 additions are not in v1.0.
			require.NoError(t, c.Call(ctx10(t), "safe-api/v1.1/test/echo", map[string]int{"a": 1}, &out))
			require.NoError(t, c.Call(ctx10(t), "safe-api/v1.1/test/added", nil, &out))
			err := c.Call(ctx10(t), "safe-api/v1.0/test/added", nil, &out)
			assert.ErrorIs(t, err, wire.ErrUnknownRequest)
		})
	}
}

func TestManyGoroutines(t *testing.T) {
	d, app := start(t, launcher.Config{})
	for _, opts := range [][]client.Option{nil, {client.WithFixedNonce()}} {
		c := d.Dial(t, app.ID, opts...)
		var wg sync.WaitGroup
		errs := make(chan error, 64*20)
		for g := 0; g < 64; g++ {
			wg.Go(func() {
				for i := 0; i < 20; i++ {
					// Half the goroutines send identical requests: in fixed mode
					// their ids are identical too.
					v := fmt.Sprintf("g%d-i%d", g, i)
					if g%2 == 0 {
						v = "same"
					}
					if g%32 == 1 && i < 3 {
						// Large requests (hashed while sent) among the small
						// ones queued behind each other's writes.
						v = strings.Repeat(v, 1<<20/len(v)+1)
					}
					var out map[string]string
					if err := c.Call(ctx10(t), "safe-api/v1.0/test/echo", map[string]string{"v": v}, &out); err != nil {
						errs <- err
						return
					}
					if out["v"] != v {
						errs <- fmt.Errorf("got %q want %q", out["v"], v)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
}

func TestRoutingErrors(t *testing.T) {
	d, app := start(t, launcher.Config{})
	c := d.Dial(t, app.ID)
	cases := []struct {
		endpoint string
		want     *wire.Error
		inText   string
	}{
		{"safe-api/v1.0/nosuch/thing", wire.ErrUnknownModule, `"nosuch"`},
		{"safe-api/v9.9/test/echo", wire.ErrUnknownVersion, "v9.9"},
		{"safe-api/v1.0/test/nosuch", wire.ErrUnknownRequest, `"nosuch"`},
		{"safe-api/v1.0/handshake/authenticate-app", &wire.Error{Code: wire.CodeHandshakeAgain}, "already"},
		{"other-api/v1.0/test/echo", wire.ErrBadEndpoint, "other-api"},
		{"safe-api/v1.0/test", wire.ErrBadEndpoint, "not <id>"},
		{"safe-api/1.0/test/echo", wire.ErrBadEndpoint, "version"},
		{"safe-api/v01.0/test/echo", wire.ErrBadEndpoint, "version"},
		{"safe-api/v1.0/Test/echo", wire.ErrBadEndpoint, "module"},
		{"", wire.ErrBadEndpoint, ""},
	}
	for _, tc := range cases {
		t.Run(tc.endpoint, func(t *testing.T) {
			err := c.Call(ctx10(t), tc.endpoint, nil, nil)
			require.ErrorIs(t, err, tc.want)
			var we *wire.Error
			require.ErrorAs(t, err, &we)
			assert.Contains(t, we.Description, tc.inText)
		})
	}
	// Malformed envelopes.
	for _, msg := range []string{`[]`, `{"endpoint":5}`, `{}`, `not json`, strings.Repeat("[", 100) + strings.Repeat("]", 100)} {
		_, err := c.CallRaw(ctx10(t), []byte(msg))
		var we *wire.Error
		require.ErrorAs(t, err, &we, msg)
		assert.Less(t, int64(we.Code), int64(0))
	}
	// A panic in a handler is an internal error, and the session goes on.
	err := c.Call(ctx10(t), "safe-api/v1.0/test/panic", nil, nil)
	require.ErrorIs(t, err, wire.ErrInternal)
	probeClient(t, c)
}

func probeClient(t *testing.T, c *client.Client) {
	t.Helper()
	var out map[string]int
	require.NoError(t, c.Call(ctx10(t), "safe-api/v1.0/test/echo", map[string]int{"n": 7}, &out))
	require.Equal(t, 7, out["n"])
}

// rawConn is a hand-driven connection for hostile cases.
type rawConn struct {
	net.Conn
	fr *framing.Reader
}

func dialRaw(t *testing.T, d *launchertest.Daemon) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", d.Addr.String())
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(15 * time.Second))
	return &rawConn{Conn: nc, fr: framing.NewReader(nc, 0)}
}

// handshakeRaw completes a handshake by hand and returns the app's channel.
func (r *rawConn) handshakeRaw(t *testing.T, token string, mode handshake.Mode) *handshake.Channel {
	t.Helper()
	app, req, err := handshake.NewApp(randReader{}, token, "v1.0", mode)
	require.NoError(t, err)
	require.NoError(t, framing.WriteFrame(r, req))
	ans, err := r.fr.ReadFrame()
	require.NoError(t, err)
	ch, err := app.Finish(ans)
	require.NoError(t, err)
	return ch
}

// expectPlainError reads one unencrypted frame and checks its code and empty id,
// then that the connection is closed.
func (r *rawConn) expectPlainError(t *testing.T, code wire.Code) {
	t.Helper()
	b, err := r.fr.ReadFrame()
	require.NoError(t, err)
	var resp wire.Response
	require.NoError(t, json.Unmarshal(b, &resp), string(b))
	require.Equal(t, "", resp.ID)
	require.NotNil(t, resp.Error)
	require.Equal(t, code, resp.Error.Code, resp.Error.Description)
	r.expectClosed(t)
}

func (r *rawConn) expectClosed(t *testing.T) {
	t.Helper()
	_ = r.SetReadDeadline(time.Now().Add(5 * time.Second))
	var one [1]byte
	_, err := r.Read(one[:])
	require.Error(t, err)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("connection still open")
	}
}

func TestLauncherStrings(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	d, app := start(t, launcher.Config{Now: clock, TokenTTL: time.Minute})

	t.Run("wrong", func(t *testing.T) {
		r := dialRaw(t, d)
		app0, req, _ := handshake.NewApp(randReader{}, "not-a-real-launcher-string", "v1.0", handshake.Counter)
		_ = app0
		require.NoError(t, framing.WriteFrame(r, req))
		r.expectPlainError(t, wire.CodeLauncherString)
	})
	t.Run("reused", func(t *testing.T) {
		tok, err := d.Srv.MintLauncherString(app.ID)
		require.NoError(t, err)
		r := dialRaw(t, d)
		r.handshakeRaw(t, tok, handshake.Counter)
		r2 := dialRaw(t, d)
		_, req, _ := handshake.NewApp(randReader{}, tok, "v1.0", handshake.Counter)
		require.NoError(t, framing.WriteFrame(r2, req))
		r2.expectPlainError(t, wire.CodeLauncherString)
	})
	t.Run("expired", func(t *testing.T) {
		tok, err := d.Srv.MintLauncherString(app.ID)
		require.NoError(t, err)
		mu.Lock()
		now = now.Add(61 * time.Second)
		mu.Unlock()
		r := dialRaw(t, d)
		_, req, _ := handshake.NewApp(randReader{}, tok, "v1.0", handshake.Counter)
		require.NoError(t, framing.WriteFrame(r, req))
		r.expectPlainError(t, wire.CodeLauncherString)
	})
	t.Run("unknown app", func(t *testing.T) {
		_, err := d.Srv.MintLauncherString("nobody")
		require.ErrorIs(t, err, launcher.ErrUnknownApp)
	})
	probe(t, d, app.ID)
}

func TestHostileHandshakes(t *testing.T) {
	d, app := start(t, launcher.Config{HandshakeTimeout: 300 * time.Millisecond})
	t.Run("stalled", func(t *testing.T) {
		r := dialRaw(t, d)
		start := time.Now()
		_, _ = r.Write([]byte{10, 0, 0}) // part of a header, then nothing
		r.expectClosed(t)
		assert.Less(t, time.Since(start), 4*time.Second)
	})
	t.Run("oversized prefix", func(t *testing.T) {
		r := dialRaw(t, d)
		_, _ = r.Write([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		r.expectPlainError(t, wire.CodeFrameTooLarge)
	})
	t.Run("garbage", func(t *testing.T) {
		r := dialRaw(t, d)
		require.NoError(t, framing.WriteFrame(r, []byte("GET / HTTP/1.1\r\n\r\n")))
		r.expectPlainError(t, wire.CodeHandshake)
	})
	t.Run("wrong first endpoint", func(t *testing.T) {
		r := dialRaw(t, d)
		tok, _ := d.Srv.MintLauncherString(app.ID)
		_, req, _ := handshake.NewApp(randReader{}, tok, "v1.0", handshake.Counter)
		req = []byte(strings.Replace(string(req), "handshake/authenticate-app", "nfs/get-dir", 1))
		require.NoError(t, framing.WriteFrame(r, req))
		r.expectPlainError(t, wire.CodeHandshake)
	})
	t.Run("unknown version", func(t *testing.T) {
		r := dialRaw(t, d)
		tok, _ := d.Srv.MintLauncherString(app.ID)
		_, req, _ := handshake.NewApp(randReader{}, tok, "v3.0", handshake.Counter)
		require.NoError(t, framing.WriteFrame(r, req))
		r.expectPlainError(t, wire.CodeUnknownVersion)
	})
	t.Run("bad key length", func(t *testing.T) {
		r := dialRaw(t, d)
		msg := `{"endpoint":"safe-api/v1.0/handshake/authenticate-app","data":{"launcher_string":"x","asymm_nonce":"AAAA","asymm_pub_key":"AAAA"}}`
		require.NoError(t, framing.WriteFrame(r, []byte(msg)))
		r.expectPlainError(t, wire.CodeHandshake)
	})
	probe(t, d, app.ID)
}

func TestFixedRefused(t *testing.T) {
	d, app := start(t, launcher.Config{})
	d2 := launchertest.Start(t, launcher.Config{RefuseFixedNonce: true}, &testModule{})
	a2 := d2.AddApp("strict", false)
	_, err := client.Dial(ctx10(t), d2.Value(t, a2.ID), client.WithFixedNonce())
	require.ErrorIs(t, err, &wire.Error{Code: wire.CodeFixedRefused})
	probe(t, d2, a2.ID)
	probe(t, d, app.ID)
}

func TestHostileSession(t *testing.T) {
	d, app := start(t, launcher.Config{})
	for _, mode := range []handshake.Mode{handshake.Fixed, handshake.Counter} {
		t.Run("bitflip-"+mode.String(), func(t *testing.T) {
			tok, _ := d.Srv.MintLauncherString(app.ID)
			r := dialRaw(t, d)
			ch := r.handshakeRaw(t, tok, mode)
			sealed := ch.Seal(nil, []byte(`{"endpoint":"safe-api/v1.0/test/echo","data":{"a":1}}`))
			sealed[len(sealed)/2] ^= 0x10
			require.NoError(t, framing.WriteFrame(r, sealed))
			ans, err := r.fr.ReadFrame()
			require.NoError(t, err)
			plain, err := ch.Open(nil, ans)
			require.NoError(t, err)
			var resp wire.Response
			require.NoError(t, json.Unmarshal(plain, &resp))
			assert.Equal(t, wire.ID(sealed), resp.ID)
			require.Equal(t, wire.CodeDecrypt, resp.Error.Code)
			if mode == handshake.Counter {
				r.expectClosed(t)
				return
			}
			// Fixed mode: the session goes on.
			good := ch.Seal(nil, []byte(`{"endpoint":"safe-api/v1.0/test/echo","data":{"a":2}}`))
			require.NoError(t, framing.WriteFrame(r, good))
			ans, err = r.fr.ReadFrame()
			require.NoError(t, err)
			plain, err = ch.Open(nil, ans)
			require.NoError(t, err)
			assert.JSONEq(t, fmt.Sprintf(`{"id":%q,"data":{"a":2}}`, wire.ID(good)), string(plain))
		})
	}
	t.Run("replay-counter", func(t *testing.T) {
		tok, _ := d.Srv.MintLauncherString(app.ID)
		r := dialRaw(t, d)
		ch := r.handshakeRaw(t, tok, handshake.Counter)
		sealed := ch.Seal(nil, []byte(`{"endpoint":"safe-api/v1.0/test/echo","data":{}}`))
		require.NoError(t, framing.WriteFrame(r, sealed))
		first, err := r.fr.ReadFrame()
		require.NoError(t, err)
		_, err = ch.Open(nil, first)
		require.NoError(t, err)
		require.NoError(t, framing.WriteFrame(r, sealed)) // replay
		ans, err := r.fr.ReadFrame()
		require.NoError(t, err)
		plain, err := ch.Open(nil, ans)
		require.NoError(t, err)
		assert.Contains(t, string(plain), fmt.Sprint(wire.CodeDecrypt))
		r.expectClosed(t)
	})
	t.Run("oversized prefix in session", func(t *testing.T) {
		tok, _ := d.Srv.MintLauncherString(app.ID)
		r := dialRaw(t, d)
		r.handshakeRaw(t, tok, handshake.Counter)
		_, _ = r.Write([]byte{0, 0, 0, 0, 0, 0, 0, 0x80})
		r.expectPlainError(t, wire.CodeFrameTooLarge)
	})
	t.Run("truncated frame", func(t *testing.T) {
		tok, _ := d.Srv.MintLauncherString(app.ID)
		r := dialRaw(t, d)
		r.handshakeRaw(t, tok, handshake.Counter)
		_, _ = r.Write([]byte{100, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3})
		r.Conn.(*net.TCPConn).CloseWrite()
		r.expectClosed(t)
	})
	t.Run("pipelined before reading", func(t *testing.T) {
		tok, _ := d.Srv.MintLauncherString(app.ID)
		r := dialRaw(t, d)
		ch := r.handshakeRaw(t, tok, handshake.Counter)
		var ids []string
		for i := 0; i < 50; i++ {
			s := ch.Seal(nil, fmt.Appendf(nil, `{"endpoint":"safe-api/v1.0/test/echo","data":{"i":%d}}`, i))
			ids = append(ids, wire.ID(s))
			require.NoError(t, framing.WriteFrame(r, s))
		}
		for i := 0; i < 50; i++ {
			ans, err := r.fr.ReadFrame()
			require.NoError(t, err)
			plain, err := ch.Open(nil, ans)
			require.NoError(t, err)
			assert.JSONEq(t, fmt.Sprintf(`{"id":%q,"data":{"i":%d}}`, ids[i], i), string(plain))
		}
	})
	probe(t, d, app.ID)
}

func TestSharedAppliesLive(t *testing.T) {
	d, app := start(t, launcher.Config{})
	c := d.Dial(t, app.ID)
	var out map[string]any
	require.NoError(t, c.Call(ctx10(t), "safe-api/v1.0/test/whoami", nil, &out))
	assert.Equal(t, false, out["shared"])
	app.SharedDrive = true
	d.Apps.Put(app)
	require.NoError(t, c.Call(ctx10(t), "safe-api/v1.0/test/whoami", nil, &out))
	assert.Equal(t, true, out["shared"])
}

func TestEndApp(t *testing.T) {
	d, app := start(t, launcher.Config{})
	c := d.Dial(t, app.ID)
	pending := d.Value(t, app.ID)
	probeClient(t, c)
	d.Apps.Delete(app.ID)
	start := time.Now()
	d.Srv.EndApp(app.ID)
	// Status taken right after EndApp no longer lists the ended sessions,
	// though their goroutines may still be unwinding.
	assert.Empty(t, d.Srv.Sessions())
	assert.Zero(t, d.Srv.Stats().Sessions)
	select {
	case <-c.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("session still open after EndApp")
	}
	assert.Less(t, time.Since(start), 500*time.Millisecond)
	require.ErrorIs(t, c.Call(ctx10(t), "safe-api/v1.0/test/echo", nil, nil), client.ErrClosed)
	_, err := client.Dial(ctx10(t), pending)
	require.ErrorIs(t, err, wire.ErrLauncherString)
}

// TestConnectionCap: idle pre-authentication connections, which any local
// process can open, cannot lock apps out: at the cap the oldest of them is
// evicted to make room. Authenticated sessions are never evicted; when they
// alone fill the cap, a new connection is refused at once.
func TestConnectionCap(t *testing.T) {
	d, app := start(t, launcher.Config{MaxConns: 3, HandshakeTimeout: 5 * time.Second})
	var held []*rawConn
	for i := 0; i < 3; i++ {
		held = append(held, dialRaw(t, d))
	}
	require.Eventually(t, func() bool { return d.Srv.Stats().Conns == 3 }, 5*time.Second, 10*time.Millisecond)
	c := d.Dial(t, app.ID) // evicts held[0], the oldest handshaking connection
	probeClient(t, c)
	held[0].expectClosed(t)
	assert.EqualValues(t, 1, d.Srv.Stats().Evicted)
	c2 := d.Dial(t, app.ID) // evicts held[1]
	c3 := d.Dial(t, app.ID) // evicts held[2]
	held[2].expectClosed(t)
	// Now three authenticated sessions fill the cap: the next is refused.
	over := dialRaw(t, d)
	over.expectPlainError(t, wire.CodeBusy)
	assert.EqualValues(t, 1, d.Srv.Stats().Rejected)
	for _, k := range []*client.Client{c, c2, c3} {
		probeClient(t, k)
	}
	require.NoError(t, c.Close())
	require.Eventually(t, func() bool { return d.Srv.Stats().Conns == 2 }, 5*time.Second, 10*time.Millisecond)
	probe(t, d, app.ID)
}

func TestGracefulShutdown(t *testing.T) {
	d, app := start(t, launcher.Config{})
	c := d.Dial(t, app.ID)
	result := make(chan error, 1)
	go func() {
		var out map[string]bool
		result <- c.Call(context.Background(), "safe-api/v1.0/test/sleep", nil, &out)
	}()
	require.Eventually(t, func() bool { // the request reached the daemon
		ss := d.Srv.Sessions()
		return len(ss) == 1 && ss[0].Requests == 1
	}, 5*time.Second, time.Millisecond)
	d.Stop()
	require.NoError(t, <-result, "in-flight request must finish")
	select {
	case <-c.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("session not closed by shutdown")
	}
	_, err := net.DialTimeout("tcp", d.Addr.String(), time.Second)
	require.Error(t, err, "listener must be closed")
}

func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		d, app := start(t, launcher.Config{HandshakeTimeout: 200 * time.Millisecond})
		for i := 0; i < 10; i++ {
			c := d.Dial(t, app.ID)
			probeClient(t, c)
			c.Close()
			r := dialRaw(t, d)
			_, _ = r.Write([]byte{1})
		}
		d.Stop()
	}()
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= before+2 }, 5*time.Second, 20*time.Millisecond,
		"goroutines: before %d, now %d", before, runtime.NumGoroutine())
}

func TestListenRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "8.8.8.8:30000", "example.com:1", "[::]:0"} {
		_, err := launcher.Listen(context.Background(), addr)
		require.ErrorIs(t, err, launcher.ErrNotLoopback, addr)
	}
	ln, err := launcher.Listen(context.Background(), "localhost:0")
	require.NoError(t, err)
	ln.Close()
}

func TestListenTakesNextPort(t *testing.T) {
	a, err := launcher.Listen(context.Background(), "127.0.0.1:0")
	require.NoError(t, err)
	defer a.Close()
	port := a.Addr().(*net.TCPAddr).Port
	b, err := launcher.Listen(context.Background(), fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err)
	defer b.Close()
	assert.Greater(t, b.Addr().(*net.TCPAddr).Port, port)
}

type randReader struct{}

func (randReader) Read(p []byte) (int, error) { return cryptoRand(p) }
