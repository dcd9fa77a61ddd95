package dns_test

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/dns"
	"github.com/safe-launcher/launcher/vfs"
)

// testClock is a store clock that moves only when a test says so.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2016, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newEnvClock is newEnv with the store's clock injected.
func newEnvClock(t testing.TB, clk *testClock) *env {
	t.Helper()
	dir := t.TempDir()
	store, err := vfs.Open(afero.NewBasePathFs(afero.NewOsFs(), dir), vfs.Options{Clock: clk.Now})
	require.NoError(t, err)
	require.NoError(t, store.Unlock(&vfs.Keys{})) // the store opens locked; fixed (zero) test keys
	t.Cleanup(func() { store.Close() })
	_, err = store.CreateRoot(vfs.SharedRoot())
	require.NoError(t, err)
	m, err := dns.New(store)
	require.NoError(t, err)
	return &env{d: startWith(t, store, m), store: store, dns: m, dir: dir}
}

// runGateway serves e's sites with opts on a real loopback listener until
// the test ends (checking that Serve returns nil) and returns the gateway and
// its address.
func runGateway(t testing.TB, e *env, opts dns.GatewayOptions) (*dns.Gateway, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := dns.ListenGateway(ctx, "127.0.0.1:0")
	require.NoError(t, err)
	g := dns.NewGateway(e.dns, opts)
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("gateway Serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("gateway did not stop")
		}
	})
	return g, ln.Addr().String()
}

// httpClient returns a client that sends every request to addr, whatever
// the URL's host (as a browser resolving *.localhost), without following
// redirects; keepAlive keeps its connections open between requests.
func httpClient(t testing.TB, addr string, keepAlive bool) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
		DisableKeepAlives: !keepAlive,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
