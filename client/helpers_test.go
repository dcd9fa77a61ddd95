package client_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/launchertest"
	"github.com/safe-launcher/launcher/nfs"
)

// testCtx is a context that bounds a test (so that a bug fails it rather
// than hanging it), cancelled when the test ends.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// nfsEnv runs the real daemon with nfs on an on-disk store, registers an
// app with its private root, and returns the daemon and the app's id.
func nfsEnv(t *testing.T, cfg launcher.Config) (*launchertest.Daemon, string) {
	t.Helper()
	store, _ := launchertest.Store(t)
	d := launchertest.Start(t, cfg, nfs.New(store))
	a := d.AddAppWithRoot(t, store, "app", false)
	return d, a.ID
}

// within fails the test if ch is not closed or sent on within a generous
// bound; what is waited for does not depend on time, only a bug would make
// it wait that long.
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// clientGoroutines returns the stacks of the goroutines running code of
// package client (not of its tests).
func clientGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var ours []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "github.com/safe-launcher/launcher/client.") {
			ours = append(ours, g)
		}
	}
	return ours
}

// requireNoClientGoroutines polls, for a bounded time, until no goroutine
// runs code of package client, and fails with their stacks if some remain.
func requireNoClientGoroutines(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		left := clientGoroutines()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines of package client remain:\n%s", len(left), strings.Join(left, "\n\n"))
		}
		<-tick.C
	}
}

// pauseProxy forwards TCP connections to the launcher and, once armed,
// lets through only the next n bytes from the launcher, then holds the rest
// until released: an answer stops before it or in its middle.
type pauseProxy struct {
	ln      net.Listener
	mu      sync.Mutex
	budget  int           // bytes still let through once armed; -1: not armed
	paused  chan struct{} // closed when the budget is spent
	release chan struct{}
}

func startPauseProxy(t *testing.T, target string) *pauseProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &pauseProxy{ln: ln, budget: -1, paused: make(chan struct{}), release: make(chan struct{})}
	var wg sync.WaitGroup
	stopped := make(chan struct{})
	var conns []net.Conn
	var cmu sync.Mutex
	t.Cleanup(func() {
		close(stopped)
		ln.Close()
		cmu.Lock()
		for _, c := range conns {
			c.Close()
		}
		cmu.Unlock()
		wg.Wait()
	})
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
			cmu.Lock()
			conns = append(conns, in, out)
			cmu.Unlock()
			stop := func() { in.Close(); out.Close() }
			wg.Go(func() { defer stop(); _, _ = io.Copy(out, in) })
			wg.Go(func() { defer stop(); p.down(in, out, stopped) })
		}
	})
	return p
}

// down copies the launcher's bytes to the client, holding them once the
// armed budget is spent.
func (p *pauseProxy) down(in, out net.Conn, stopped <-chan struct{}) {
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
				select {
				case <-p.release:
				case <-stopped:
					return
				}
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

// arm lets n more bytes through, then holds the rest until release is closed.
func (p *pauseProxy) arm(n int) {
	p.mu.Lock()
	p.budget = n
	p.mu.Unlock()
}

// dialThrough dials the daemon d as appID through the proxy p.
func dialThrough(t *testing.T, d *launchertest.Daemon, p *pauseProxy, appID string, opts ...client.Option) *client.Client {
	t.Helper()
	s, err := d.Srv.MintLauncherString(appID)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, launcher.LauncherValue(p.ln.Addr(), s), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// gatedConn is a net.Conn that reports, on bigWrite, each write of more
// than 1 MiB as it starts.
type gatedConn struct {
	net.Conn
	bigWrite chan struct{}
}

func (g *gatedConn) Write(p []byte) (int, error) {
	if len(p) > 1<<20 {
		select {
		case g.bigWrite <- struct{}{}:
		default:
		}
	}
	return g.Conn.Write(p)
}

// withGatedConn returns a dialer option whose connection reports large
// writes on the returned channel.
func withGatedConn() (client.Option, <-chan struct{}) {
	big := make(chan struct{}, 1)
	return client.WithDialer(func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		nc, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &gatedConn{Conn: nc, bigWrite: big}, nil
	}), big
}

// largeRequest is a request message of 32 MiB, more than loopback buffers
// hold, so that writing it blocks while nobody reads.
func largeRequest() []byte {
	return append(append([]byte(`{"endpoint":"safe-api/v1.0/test/large","data":"`), bytes.Repeat([]byte("a"), 32<<20)...), `"}`...)
}
