package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/launchertest"
	"github.com/safe-launcher/launcher/route"
	"github.com/safe-launcher/launcher/wire"
)

// gateModule answers test/echo at once, and test/held only once the test
// sends on release.
type gateModule struct{ release chan struct{} }

func (m gateModule) Register(t *route.Table) {
	t.Handle("test", "echo", wire.V1_0, func(_ context.Context, _ route.Caller, data json.RawMessage) (route.Result, error) {
		return route.Answer(wire.RawObject(data)), nil
	})
	t.Handle("test", "held", wire.V1_0, func(ctx context.Context, _ route.Caller, data json.RawMessage) (route.Result, error) {
		select {
		case <-m.release:
		case <-ctx.Done():
		}
		return route.Answer(wire.RawObject(data)), nil
	})
}

func gateEnv(t *testing.T) (*launchertest.Daemon, *client.Client, gateModule) {
	m := gateModule{release: make(chan struct{})}
	d := launchertest.Start(t, launcher.Config{}, m)
	app := d.AddApp("reader", false)
	return d, d.Dial(t, app.ID), m
}

func echo(ctx context.Context, c *client.Client, s string) error {
	var got string
	if err := c.Call(ctx, "safe-api/v1.0/test/echo", s, &got); err != nil {
		return err
	}
	if got != s {
		return fmt.Errorf("echo %q came back as %q", s, got)
	}
	return nil
}

// TestCancelWhileReading: a caller reading its own answer (the session is
// not idle, so nobody else reads) returns when its context ends; its
// answer, arriving later, is read by the background reader, and the
// session goes on.
func TestCancelWhileReading(t *testing.T) {
	_, c, m := gateEnv(t)
	bg := context.Background()
	require.NoError(t, echo(bg, c, "warm"))
	ctx, cancel := context.WithCancel(bg)
	errc := make(chan error, 1)
	go func() { errc <- c.Call(ctx, "safe-api/v1.0/test/held", "late", nil) }()
	time.Sleep(50 * time.Millisecond) // let it take the reader role and block
	endAndGoOn(t, c, cancel, errc, m.release, "a caller reading for its answer")
}

// endAndGoOn ends a waiting caller's context and requires the caller to
// return context.Canceled at once; then it lets the held answer go and
// requires the session to answer 20 more calls.
func endAndGoOn(t *testing.T, c *client.Client, cancel context.CancelFunc, errc <-chan error, release chan struct{}, who string) {
	t.Helper()
	cancel()
	select {
	case err := <-errc:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not return when its context ended", who)
	}
	close(release)
	for i := range 20 {
		require.NoError(t, echo(context.Background(), c, fmt.Sprintf("after %d", i)))
	}
}

// TestConcurrentCallers: many goroutines share one session; every answer
// reaches its own caller, whoever reads it, as the reader role changes
// hands between callers and the background reader.
func TestConcurrentCallers(t *testing.T) {
	_, c, _ := gateEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Go(func() {
			for i := range 300 {
				if err := echo(ctx, c, fmt.Sprintf("%d/%d", g, i)); err != nil {
					errs <- err
					return
				}
				if i%50 == 0 {
					time.Sleep(15 * time.Millisecond) // let the session go idle now and then
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// TestDoneWhenIdle: a session with no request in flight notices that the
// launcher ended it, and a call afterwards fails with ErrClosed.
func TestDoneWhenIdle(t *testing.T) {
	d, c, _ := gateEnv(t)
	require.NoError(t, echo(context.Background(), c, "once"))
	d.Stop()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after the launcher stopped")
	}
	err := echo(context.Background(), c, "after")
	require.True(t, errors.Is(err, client.ErrClosed), "%v", err)
}

// pauseProxy forwards a TCP connection to the launcher and, once armed,
// lets through only the next n bytes from the launcher, then holds the rest
// until released: a frame the client reads stops in the middle.
type pauseProxy struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	budget  int           // bytes still let through once armed; -1: not armed
	paused  chan struct{} // closed when the budget is spent
	release chan struct{}
}

func startPauseProxy(t *testing.T, target string) *pauseProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &pauseProxy{ln: ln, target: target, budget: -1, paused: make(chan struct{}), release: make(chan struct{})}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			stop := func() { in.Close(); out.Close() }
			wg.Go(func() { defer stop(); _, _ = io.Copy(out, in) })
			wg.Go(func() { defer stop(); p.down(in, out) })
		}
	})
	return p
}

// down copies the launcher's bytes to the client, holding them once the
// armed budget is spent.
func (p *pauseProxy) down(in, out net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := out.Read(buf)
		b := buf[:n]
		for len(b) > 0 {
			p.mu.Lock()
			k := len(b)
			if p.budget >= 0 {
				k = min(k, p.budget)
				p.budget -= k
			}
			spent := p.budget == 0
			p.mu.Unlock()
			if k > 0 {
				if _, werr := in.Write(b[:k]); werr != nil {
					return
				}
				b = b[k:]
			}
			if spent {
				select {
				case <-p.paused:
				default:
					close(p.paused)
				}
				<-p.release
				p.mu.Lock()
				p.budget = -1
				p.mu.Unlock()
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *pauseProxy) arm(n int) {
	p.mu.Lock()
	p.budget = n
	p.mu.Unlock()
}

// TestCancelMidFrame: a caller whose context ends while it is reading the
// middle of a large answer returns at once; the rest of that frame, when it
// comes, is finished by the next reader (and dropped: its caller is gone),
// and the session goes on with every later answer in place.
func TestCancelMidFrame(t *testing.T) {
	d, _, _ := gateEnv(t)
	app := d.AddApp("midframe", false)
	p := startPauseProxy(t, d.Addr.String())
	s, err := d.Srv.MintLauncherString(app.ID)
	require.NoError(t, err)
	bg := context.Background()
	dctx, dcancel := context.WithTimeout(bg, 10*time.Second)
	c, err := client.Dial(dctx, launcher.LauncherValue(p.ln.Addr(), s))
	dcancel()
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	// Calls back to back: the first answer may be read by the background
	// reader (a session starts idle), the later ones by their callers, who
	// leave the reader role free for the next (the background reader takes
	// it only after idleRead without a call). So the large answer's caller
	// reads it itself.
	for i := range 5 {
		require.NoError(t, echo(bg, c, fmt.Sprintf("warm %d", i)))
	}

	big := strings.Repeat("0123456789abcdef", 16<<10) // a 256 KiB answer
	p.arm(1000)                                       // the frame header and the start of its body
	ctx, cancel := context.WithCancel(bg)
	errc := make(chan error, 1)
	go func() { errc <- echo(ctx, c, big) }()
	select {
	case <-p.paused:
	case <-time.After(10 * time.Second):
		t.Fatal("the large answer never reached the proxy")
	}
	// Let the caller take in the bytes that got through, so that its
	// context ends with the frame half read (ending it sooner only makes
	// the test weaker, not wrong).
	time.Sleep(100 * time.Millisecond)
	endAndGoOn(t, c, cancel, errc, p.release, "a caller reading the middle of a frame")
	require.NoError(t, echo(bg, c, big), "a large answer after the resumed one")
	select {
	case <-c.Done():
		t.Fatal("the session ended")
	default:
	}
}
