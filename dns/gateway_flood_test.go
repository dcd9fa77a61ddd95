package dns_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/dns"
	"github.com/safe-launcher/launcher/wire"
)

// openFDs counts the process's open descriptors, or returns -1 where
// /proc/self/fd is missing.
func openFDs(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// flood holds idle connections to a gateway, as the hostile test did. Each
// connection's reader reports on closed when the gateway closes it, and
// closes its end then.
type flood struct {
	conns  []net.Conn
	closed chan int
}

// openFlood opens n connections to addr; every odd one first asks for path
// on host and reads the answer, keeping the connection alive, the even ones
// send nothing.
func openFlood(t *testing.T, addr, host, path string, n int) *flood {
	t.Helper()
	f := &flood{closed: make(chan int, n)}
	t.Cleanup(func() {
		for _, c := range f.conns {
			c.Close()
		}
	})
	for i := range n {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		require.NoError(t, err, "connection %d", i)
		f.conns = append(f.conns, c)
		br := bufio.NewReader(c)
		if i%2 == 1 {
			require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
			_, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host)
			require.NoError(t, err)
			resp, err := http.ReadResponse(br, nil)
			require.NoError(t, err, "connection %d", i)
			_, err = io.Copy(io.Discard, resp.Body)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode, "connection %d is served during the flood", i)
			require.NoError(t, c.SetDeadline(time.Time{}))
		}
		go func() {
			_, _ = io.Copy(io.Discard, br) // until the gateway (or the test) closes it
			c.Close()
			f.closed <- i
		}()
	}
	return f
}

// waitClosed waits until n more flood connections were closed by the
// gateway.
func (f *flood) waitClosed(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for range n {
		select {
		case <-f.closed:
		case <-timeout:
			t.Fatalf("the gateway did not close %d idle connections", n)
		}
	}
}

// TestGatewayFloodHolds opens MaxConns+extra idle connections to a gateway
// capped at MaxConns (half fresh, half keep-alive after one request). The
// gateway closes the longest-idle ones to make room, so it never holds more
// than MaxConns, the connections beyond the cap hold no descriptor of the
// daemon, every new visitor is served, and the launcher port keeps
// completing handshakes through the real SDK.
//
// The control socket (launcher/control) is not started here; the launcher
// port stands for the daemon's other listeners.
func TestGatewayFloodHolds(t *testing.T) {
	const limit, extra = 200, 100
	s := newSiteOpts(t, dns.GatewayOptions{
		MaxConns:          limit,
		ReadHeaderTimeout: time.Hour, // so only evictions close connections
		IdleTimeout:       time.Hour,
		ShutdownTimeout:   time.Second,
	})
	base := openFDs(t)

	f := openFlood(t, s.addr, s.host(), "/readme.txt", limit+extra)
	f.waitClosed(t, extra)
	st := s.g.Stats()
	assert.Equal(t, limit, st.Max)
	assert.LessOrEqual(t, st.Open, limit)
	assert.GreaterOrEqual(t, st.Evicted, uint64(extra))
	assert.GreaterOrEqual(t, st.Accepted, uint64(limit+extra))

	// A new visitor is served: its connection takes the slot of the
	// longest-idle one.
	resp, body := s.do(t, "GET", s.host(), "/")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "home page")
	f.waitClosed(t, 1)

	// The launcher port still completes handshakes and answers.
	_, c2 := s.app(t, "beta", false)
	names, err := c2.ListLongNames(ctxT(t))
	require.NoError(t, err)
	assert.Equal(t, []string{"example"}, names)
	got, err := c2.GetServiceFile(ctxT(t), wire.ServiceFileRequest{LongName: "example", ServiceName: "www", FilePath: "readme.txt", Length: -1})
	require.NoError(t, err)
	assert.Equal(t, "text", string(got.Content))

	// Descriptors: the flood's open client ends (at most limit now) and the
	// gateway's (at most limit, plus one waiting for a slot), and a few for
	// the visitor and the SDK. Without the cap the gateway alone would hold
	// limit+extra+1.
	if base >= 0 {
		now := openFDs(t)
		assert.LessOrEqual(t, now-base, 2*limit+16, "descriptors: %d before the flood, %d now", base, now)
	}
	st = s.g.Stats()
	assert.LessOrEqual(t, st.Open, limit)
	assert.Equal(t, uint64(limit+extra+1), st.Accepted, "the flood and the visitor")
	assert.Equal(t, uint64(extra+1), st.Evicted, "one eviction per connection beyond the cap")
}

// TestGatewayIdleConnectionsTimeOut: a connection that sends nothing is
// closed after ReadHeaderTimeout, a keep-alive one after IdleTimeout, and one
// that stops halfway through its headers after ReadHeaderTimeout.
func TestGatewayIdleConnectionsTimeOut(t *testing.T) {
	s := newSiteOpts(t, dns.GatewayOptions{
		ReadHeaderTimeout: 200 * time.Millisecond,
		IdleTimeout:       200 * time.Millisecond,
	})
	f := openFlood(t, s.addr, s.host(), "/readme.txt", 2) // one silent, one used
	c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	_, err = fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nX-Slow: ", s.host())
	require.NoError(t, err)

	f.waitClosed(t, 2)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second)))
	b, err := io.ReadAll(c) // the server's close ends it, with no answer or a 400/408
	require.NoError(t, err, "the gateway closed the half-sent request: %q", b)
	assert.NotContains(t, string(b), "home page")
	assert.Zero(t, s.g.Stats().Evicted, "closed by timeouts, not evictions")
}

// TestGatewaySlowReaderCut: with the only slot taken by a download whose
// client stopped reading, a new connection waits (nothing is idle, so nothing
// is evicted); the gateway cuts the download after WriteTimeout without
// progress, and the waiting visitor is served in its slot.
func TestGatewaySlowReaderCut(t *testing.T) {
	s := newSiteOpts(t, dns.GatewayOptions{MaxConns: 1, WriteTimeout: 300 * time.Millisecond})
	big := make([]byte, 8<<20) // more than the socket buffers below hold
	put(t, s.c, false, "site/huge.bin", big)

	c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.(*net.TCPConn).SetReadBuffer(64<<10))
	require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
	_, err = fmt.Fprintf(c, "GET /huge.bin HTTP/1.1\r\nHost: %s\r\n\r\n", s.host())
	require.NoError(t, err)
	br := bufio.NewReaderSize(c, 512)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	// The download is under way (its connection is active); stop reading.

	resp2, body := s.do(t, "GET", s.host(), "/readme.txt")
	require.Equal(t, http.StatusOK, resp2.StatusCode)
	assert.Equal(t, "text", string(body))
	st := s.g.Stats()
	assert.Zero(t, st.Evicted, "the active download was not evicted")
	assert.Equal(t, uint64(2), st.Accepted)

	n, _ := io.Copy(io.Discard, resp.Body)
	assert.Less(t, n, int64(len(big)), "the stalled download was cut")
}

// TestGatewaySlowDownloadGoesOn: a download that takes several times
// WriteTimeout and ReadTimeout, at a steady pace, is not cut: each chunk
// sent moves the write deadline, and the read deadline ends with the request.
func TestGatewaySlowDownloadGoesOn(t *testing.T) {
	const timeout = time.Second
	s := newSiteOpts(t, dns.GatewayOptions{WriteTimeout: timeout, ReadTimeout: timeout})
	big := bytes.Repeat(mib(), 12)
	put(t, s.c, false, "site/twelve.bin", big)

	c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	// A small receive buffer, so that the gateway cannot hand the whole
	// file to the kernel at once (its own send buffer grows to 4 MiB).
	require.NoError(t, c.(*net.TCPConn).SetReadBuffer(64<<10))
	require.NoError(t, c.SetDeadline(time.Now().Add(60*time.Second)))
	_, err = fmt.Fprintf(c, "GET /twelve.bin HTTP/1.1\r\nHost: %s\r\n\r\n", s.host())
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	// A slow client: 128 KiB every 40 ms, so nearly 4 s for the file, and
	// the gateway still writing after 2 s (the socket buffers hold about
	// 4 MiB), while each 256 KiB chunk takes a twelfth of WriteTimeout.
	tick := time.NewTicker(40 * time.Millisecond)
	defer tick.Stop()
	var got []byte
	buf := make([]byte, 128<<10)
	start := time.Now()
	for {
		n, err := io.ReadFull(resp.Body, buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
		<-tick.C
	}
	took := time.Since(start)
	assert.Greater(t, took, 2*timeout, "the download outlasted the timeouts")
	assert.True(t, bytes.Equal(big, got), "the whole file arrived: %d of %d bytes in %v", len(got), len(big), took)
}

// TestGatewayListenerFailure: when the listener fails, Serve returns its
// error and closes the connections it holds.
func TestGatewayListenerFailure(t *testing.T) {
	e := newEnvClock(t, newTestClock())
	ctx := ctxT(t)
	ln, err := dns.ListenGateway(ctx, "127.0.0.1:0")
	require.NoError(t, err)
	g := dns.NewGateway(e.dns, dns.GatewayOptions{IdleTimeout: time.Hour, ReadHeaderTimeout: time.Hour})
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, ln) }()
	f := openFlood(t, ln.Addr().String(), "localhost", "/", 1) // accepted, idle
	resp, _ := rawExchange(t, ln.Addr().String(), "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	require.Equal(t, http.StatusMisdirectedRequest, resp.StatusCode, "served")

	ln.Close() // as if the listener failed
	select {
	case err := <-done:
		require.ErrorIs(t, err, net.ErrClosed)
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return")
	}
	f.waitClosed(t, 1)
	assert.Zero(t, g.Stats().Open)
}

// TestGatewayBadOptions: Serve refuses negative options and closes the
// listener.
func TestGatewayBadOptions(t *testing.T) {
	e := newEnvClock(t, newTestClock())
	ln, err := dns.ListenGateway(ctxT(t), "127.0.0.1:0")
	require.NoError(t, err)
	g := dns.NewGateway(e.dns, dns.GatewayOptions{MaxConns: -5})
	err = g.Serve(ctxT(t), ln)
	require.ErrorIs(t, err, dns.ErrBadGatewayOptions)
	assert.Contains(t, err.Error(), "MaxConns")
	_, err = ln.Accept()
	require.ErrorIs(t, err, net.ErrClosed)
}
