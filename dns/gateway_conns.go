package dns

import (
	"container/list"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// GatewayFDReserve is how many file descriptors the default gateway
// connection cap leaves to the rest of the daemon: the launcher port (256
// connections by default, launcher.Config.MaxConns), the control socket, the
// store's files, the apps' log files and pipes, and slack.
const GatewayFDReserve = 512

// GatewayMaxConnsCeiling is the largest default gateway connection cap,
// whatever the descriptor limit: a browser opens about six connections per
// site, and every connection costs a goroutine and its buffers.
const GatewayMaxConnsCeiling = 1024

// fallbackFileLimit is the descriptor limit assumed where the process's
// RLIMIT_NOFILE cannot be read (the usual soft limit).
const fallbackFileLimit = 1024

// DefaultGatewayMaxConns returns the gateway's default connection cap for
// this process: its RLIMIT_NOFILE soft limit minus GatewayFDReserve, at least
// a quarter of the limit and at most GatewayMaxConnsCeiling (1024 where the
// limit cannot be read). With a limit of 1024 it is 512; with 1536 or more,
// 1024.
//
// Go programs raise their soft limit to the hard limit at start-up, so this
// is usually the hard limit's share.
func DefaultGatewayMaxConns() int {
	limit, ok := openFileLimit()
	if !ok {
		limit = fallbackFileLimit
	}
	return maxConnsFor(limit)
}

// maxConnsFor is DefaultGatewayMaxConns for a descriptor limit.
func maxConnsFor(limit uint64) int {
	const big = 1 << 20 // RLIM_INFINITY and other huge limits
	l := int64(min(limit, big))
	n := max(l-GatewayFDReserve, l/4)
	return int(min(max(n, 1), GatewayMaxConnsCeiling))
}

// GatewayStats are a gateway's connection counters, for tests and status
// output.
type GatewayStats struct {
	// Max is the connection cap (GatewayOptions.MaxConns).
	Max int
	// Open is how many connections are open now (at most Max).
	Open int
	// Accepted counts the connections accepted since NewGateway.
	Accepted uint64
	// Evicted counts idle connections closed to make room for a new one.
	Evicted uint64
}

// connGate caps a gateway's open connections and, when they are all taken,
// closes the longest-idle one to make room. It is shared by every listener
// the gateway serves.
//
// A connection is idle from its acceptance until the first request's headers
// are read (http.StateNew), and between requests (http.StateIdle); it is
// never evicted while a request is being answered (http.StateActive). The
// idle list is ordered by when each connection last became idle, oldest
// first.
type connGate struct {
	slots chan struct{} // one token per open connection; cap is the limit

	mu   sync.Mutex
	idle list.List     // of *gateConn, longest idle first
	woke chan struct{} // cap 1: a connection became idle

	accepted atomic.Uint64
	evicted  atomic.Uint64
}

func newConnGate(limit int) *connGate {
	return &connGate{slots: make(chan struct{}, limit), woke: make(chan struct{}, 1)}
}

func (g *connGate) stats() GatewayStats {
	return GatewayStats{Max: cap(g.slots), Open: len(g.slots), Accepted: g.accepted.Load(), Evicted: g.evicted.Load()}
}

// acquire takes a slot for a connection that was just accepted, evicting idle
// connections while every slot is taken. With no idle connection it waits
// for a slot, or for a connection to become idle, until done is closed
// (net.ErrClosed).
func (g *connGate) acquire(done <-chan struct{}) error {
	for {
		select {
		case g.slots <- struct{}{}:
			return nil
		default:
		}
		if g.evictOldest() {
			continue // its Close freed a slot (unless another listener took it)
		}
		select {
		case g.slots <- struct{}{}:
			return nil
		case <-g.woke:
		case <-done:
			return net.ErrClosed
		}
	}
}

// evictOldest closes the longest-idle connection; false if none is idle.
func (g *connGate) evictOldest() bool {
	g.mu.Lock()
	e := g.idle.Front()
	if e == nil {
		g.mu.Unlock()
		return false
	}
	c := g.idle.Remove(e).(*gateConn)
	c.elem = nil
	g.mu.Unlock()
	g.evicted.Add(1)
	c.Close()
	return true
}

// connState is the http.Server's ConnState hook: it keeps the idle list.
func (g *connGate) connState(nc net.Conn, s http.ConnState) {
	c, ok := nc.(*gateConn)
	if !ok {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if c.elem != nil {
		g.idle.Remove(c.elem)
		c.elem = nil
	}
	if c.closed || (s != http.StateNew && s != http.StateIdle) {
		return
	}
	c.elem = g.idle.PushBack(c)
	select {
	case g.woke <- struct{}{}:
	default:
	}
}

// gateConn is a connection holding one of the gate's slots until it is
// closed.
type gateConn struct {
	net.Conn
	gate *connGate
	once sync.Once

	// guarded by gate.mu
	elem   *list.Element
	closed bool
}

// Close closes the connection and frees its slot; it may be called more than
// once, from any goroutine (the server and an eviction).
func (c *gateConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		g := c.gate
		g.mu.Lock()
		c.closed = true
		if c.elem != nil {
			g.idle.Remove(c.elem)
			c.elem = nil
		}
		g.mu.Unlock()
		<-g.slots
	})
	return err
}

// gateListener is a net.Listener that holds every accepted connection to the
// gate's cap: beyond it, Accept evicts an idle connection or waits for a
// slot, holding the one new connection; the others wait in the kernel's
// accept queue, using no descriptor of the process.
type gateListener struct {
	net.Listener
	gate      *connGate
	done      chan struct{}
	closeOnce sync.Once
}

func (l *gateListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if err := l.gate.acquire(l.done); err != nil {
		c.Close()
		return nil, err
	}
	l.gate.accepted.Add(1)
	return &gateConn{Conn: c, gate: l.gate}, nil
}

// Close closes the listener and ends an Accept waiting for a slot.
func (l *gateListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}
