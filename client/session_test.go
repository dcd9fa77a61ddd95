package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/wire"
)

// TestCancelWhileWaiting: a caller whose context ends while its answer is
// on the way returns ctx.Err() at once; the answer, when it comes, is
// dropped by the receive loop, and the session goes on.
func TestCancelWhileWaiting(t *testing.T) {
	d, app := nfsEnv(t, launcher.Config{})
	p := startPauseProxy(t, d.Addr.String())
	c := dialThrough(t, d, p, app)
	bg := testCtx(t)
	require.NoError(t, c.WriteFile(bg, "f", false, []byte("content")))

	p.arm(0) // hold the next answer entirely
	ctx, cancel := context.WithCancel(bg)
	errc := make(chan error, 1)
	go func() {
		_, err := c.GetFile(ctx, client.GetFileRequest{FilePath: "f"})
		errc <- err
	}()
	within(t, p.paused, "the answer to reach the proxy") // so the request was sent
	cancel()
	require.ErrorIs(t, within(t, errc, "the caller to return"), context.Canceled)

	close(p.release)
	for i := range 20 {
		got, err := c.GetFile(bg, client.GetFileRequest{FilePath: "f"})
		require.NoError(t, err, "call %d after the late answer", i)
		require.Equal(t, "content", string(got.Content))
	}
	assert.Equal(t, uint64(1), c.StrayAnswers(), "the late answer was dropped")
}

// TestCancelMidFrame: a caller whose context ends while the receive loop is
// in the middle of its (large) answer returns at once; the loop finishes
// that frame when the rest comes, drops it, and every later answer is in
// place.
func TestCancelMidFrame(t *testing.T) {
	d, app := nfsEnv(t, launcher.Config{})
	p := startPauseProxy(t, d.Addr.String())
	c := dialThrough(t, d, p, app)
	bg := testCtx(t)
	big := make([]byte, 256<<10)
	_, _ = rand.Read(big)
	require.NoError(t, c.WriteFile(bg, "big", false, big))

	p.arm(1000) // the frame header and the start of its body
	ctx, cancel := context.WithCancel(bg)
	errc := make(chan error, 1)
	go func() {
		_, err := c.GetFile(ctx, client.GetFileRequest{FilePath: "big"})
		errc <- err
	}()
	within(t, p.paused, "the large answer to reach the proxy")
	cancel()
	require.ErrorIs(t, within(t, errc, "the caller to return"), context.Canceled)

	close(p.release)
	for range 3 {
		got, err := c.GetFile(bg, client.GetFileRequest{FilePath: "big"})
		require.NoError(t, err)
		require.True(t, bytes.Equal(big, got.Content))
	}
	select {
	case <-c.Done():
		t.Fatal("the session ended")
	default:
	}
}

// TestConcurrentCallers: many goroutines share one session, and every
// answer reaches its own caller: each reads back a file of its own.
func TestConcurrentCallers(t *testing.T) {
	d, app := nfsEnv(t, launcher.Config{})
	c := d.Dial(t, app)
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Go(func() {
			name := fmt.Sprintf("g%d", g)
			if err := c.CreateFile(ctx, client.CreateFileRequest{FilePath: name, UserMetadata: client.Bytes{}}); err != nil {
				errs <- err
				return
			}
			for i := range 100 {
				want := fmt.Sprintf("%s/%d", name, i)
				err := c.ModifyFile(ctx, client.ModifyFileRequest{FilePath: name, NewValues: client.FileNewValues{Content: &client.FileContent{Bytes: []byte(want)}}})
				if err != nil {
					errs <- err
					return
				}
				got, err := c.GetFile(ctx, client.GetFileRequest{FilePath: name})
				if err != nil {
					errs <- err
					return
				}
				if string(got.Content) != want {
					errs <- fmt.Errorf("%s read %q, want %q", name, got.Content, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Zero(t, c.StrayAnswers())
}

// TestDoneWhenIdle: a session with no request in flight notices that the
// launcher ended it; a call afterwards fails with ErrClosed, and no
// goroutine of the client is left, Close or not.
func TestDoneWhenIdle(t *testing.T) {
	d, app := nfsEnv(t, launcher.Config{})
	c := d.Dial(t, app)
	ctx := testCtx(t)
	_, err := c.GetDir(ctx, client.GetDirRequest{})
	require.NoError(t, err)
	d.Stop()
	within(t, c.Done(), "Done after the launcher stopped")
	_, err = c.GetDir(ctx, client.GetDirRequest{})
	require.ErrorIs(t, err, client.ErrClosed)
	requireNoClientGoroutines(t)
	require.NoError(t, c.Close())
}

// TestCloseWhileCallersWait: Close ends calls waiting for their answers
// (held by the proxy) with ErrClosed, returns once the receive loop has
// stopped, and leaves no goroutine of the client behind.
func TestCloseWhileCallersWait(t *testing.T) {
	d, app := nfsEnv(t, launcher.Config{})
	p := startPauseProxy(t, d.Addr.String())
	c := dialThrough(t, d, p, app)
	ctx := testCtx(t)
	_, err := c.GetDir(ctx, client.GetDirRequest{})
	require.NoError(t, err)

	p.arm(0)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := c.GetDir(ctx, client.GetDirRequest{})
			errs <- err
		}()
	}
	within(t, p.paused, "an answer to reach the proxy")
	require.NoError(t, c.Close())
	for range 8 {
		require.ErrorIs(t, within(t, errs, "a waiting caller to return"), client.ErrClosed)
	}
	requireNoClientGoroutines(t)
	require.NoError(t, c.Close(), "Close is idempotent")
	_, err = c.GetDir(ctx, client.GetDirRequest{})
	require.ErrorIs(t, err, client.ErrClosed)
}

// TestNoGoroutineLeft: after Close, no goroutine of the client remains,
// whatever the session did: calls, cancelled calls, streams left open.
func TestNoGoroutineLeft(t *testing.T) {
	d, app := nfsEnv(t, launcher.Config{})
	ctx := testCtx(t)
	for range 3 {
		c := d.Dial(t, app)
		require.NoError(t, c.WriteFile(ctx, "f", false, bytes.Repeat([]byte("x"), 5<<20)))
		short, cancel := context.WithCancel(ctx)
		cancel()
		_, err := c.GetDir(short, client.GetDirRequest{})
		require.ErrorIs(t, err, context.Canceled)
		r := c.NewFileReader(ctx, "f", client.StreamOptions{ChunkSize: 64 << 10, Window: 8})
		_, err = r.Read(make([]byte, 10))
		require.NoError(t, err)
		// r is left with chunks in flight.
		require.NoError(t, c.Close())
		requireNoClientGoroutines(t)
	}
}

// TestFixedNonceMode: the original fixed-nonce mode works end to end (every
// request of a session is then sealed with the same nonce, and identical
// requests have identical ids).
func TestFixedNonceMode(t *testing.T) {
	d, app := nfsEnv(t, launcher.Config{})
	c := d.Dial(t, app, client.WithFixedNonce())
	require.Equal(t, "fixed", c.Mode())
	ctx := testCtx(t)
	require.NoError(t, c.WriteFile(ctx, "f", false, []byte("one")))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			got, err := c.GetFile(ctx, client.GetFileRequest{FilePath: "f"})
			if assert.NoError(t, err) {
				assert.Equal(t, "one", string(got.Content))
			}
		})
	}
	wg.Wait()
}

// TestWrongLauncherString: a used launcher string is refused with the
// launcher's error, which errors.Is matches.
func TestWrongLauncherString(t *testing.T) {
	d, app := nfsEnv(t, launcher.Config{})
	v := d.Value(t, app)
	ctx := testCtx(t)
	c, err := client.Dial(ctx, v)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	_, err = client.Dial(ctx, v)
	require.True(t, errors.Is(err, wire.ErrLauncherString), "%v", err)
}
