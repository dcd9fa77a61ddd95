package launcher

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
)

// DefaultListen is the RFC's listen address.
const DefaultListen = "127.0.9.9:30000"

// ErrNotLoopback is returned for a listen address that is not on loopback.
var ErrNotLoopback = errors.New("launcher: listen address must be a loopback address")

// maxPortTries bounds the RFC's "take the next port" rule.
const maxPortTries = 100

// Listen opens the daemon's TCP listener on addr ("" means DefaultListen). The
// host must be a loopback IP literal or "localhost"; anything else wraps
// ErrNotLoopback. When the port is in use and non-zero, the next ports are tried
// (the RFC's rule). When addr is the default and 127.0.9.9 cannot be bound (some
// systems only route 127.0.0.1), 127.0.0.1 is used with the same rule.
func Listen(ctx context.Context, addr string) (net.Listener, error) {
	if addr == "" {
		addr = DefaultListen
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("launcher: listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("%w: %q", ErrNotLoopback, addr)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("launcher: listen port %q: %w", portText, err)
	}
	ln, err := listenFrom(ctx, ip, uint16(port))
	if err != nil && addr == DefaultListen && errors.Is(err, syscall.EADDRNOTAVAIL) {
		return listenFrom(ctx, netip.MustParseAddr("127.0.0.1"), uint16(port))
	}
	return ln, err
}

func listenFrom(ctx context.Context, ip netip.Addr, port uint16) (net.Listener, error) {
	// No TCP keep-alive: its probes find peers lost across a network, and a
	// loopback peer's end is seen at once (the kernel closes or resets its
	// socket when its process exits). Turning it on costs four setsockopt
	// calls on every accepted connection.
	lc := net.ListenConfig{KeepAlive: -1}
	var lastErr error
	for i := 0; i < maxPortTries; i++ {
		p := int(port) + i
		if p > 65535 {
			break
		}
		ln, err := lc.Listen(ctx, "tcp", netip.AddrPortFrom(ip, uint16(p)).String())
		if err == nil {
			return ln, nil
		}
		lastErr = err
		if port == 0 || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return nil, fmt.Errorf("launcher: listen on %s from port %d: %w", ip, port, lastErr)
}
