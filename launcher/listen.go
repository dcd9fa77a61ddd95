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

// Errors of the listen functions; every error they return wraps one of them.
var (
	// ErrNotLoopback is returned for a listen address that is not on loopback.
	ErrNotLoopback = errors.New("launcher: listen address must be a loopback address")
	// ErrBadAddress is returned for a listen address that does not parse.
	ErrBadAddress = errors.New("launcher: bad listen address")
	// ErrAddrInUse is returned when the exact address asked for is taken (or,
	// with NextFree, when no port in the range tried is free).
	ErrAddrInUse = errors.New("launcher: listen address in use")
)

// AddressError says why a listen address was refused. Err is ErrNotLoopback
// or ErrBadAddress; Reason says what is wrong in words meant for the user
// (e.g. "port 99999 out of range 0-65535").
type AddressError struct {
	Addr   string
	Reason string
	Err    error
}

func (e *AddressError) Error() string { return fmt.Sprintf("%v: %q: %s", e.Err, e.Addr, e.Reason) }

// Unwrap returns ErrNotLoopback or ErrBadAddress.
func (e *AddressError) Unwrap() error { return e.Err }

// maxPortTries bounds the "take the next port" rule.
const maxPortTries = 100

// ParseLoopback parses a listen address HOST:PORT whose host is a loopback IP
// literal (127.0.0.0/8 or ::1), "localhost" or empty (":PORT"); the last two
// mean 127.0.0.1. The port is 0 to 65535 (0: the OS picks a free one). Host
// names other than localhost are refused rather than resolved. Errors are an
// *AddressError.
func ParseLoopback(addr string) (netip.AddrPort, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, &AddressError{Addr: addr, Err: ErrBadAddress,
			Reason: "want HOST:PORT, e.g. 127.0.0.1:30000, localhost:30000 or :0"}
	}
	port, err := strconv.ParseUint(portText, 10, 64)
	switch {
	case err != nil && portText == "":
		return netip.AddrPort{}, &AddressError{Addr: addr, Err: ErrBadAddress, Reason: "the port is missing (use :0 for any free port)"}
	case err != nil:
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return netip.AddrPort{}, &AddressError{Addr: addr, Err: ErrBadAddress, Reason: fmt.Sprintf("port %s out of range 0-65535", portText)}
		}
		return netip.AddrPort{}, &AddressError{Addr: addr, Err: ErrBadAddress, Reason: fmt.Sprintf("port %q is not a number", portText)}
	case port > 65535:
		return netip.AddrPort{}, &AddressError{Addr: addr, Err: ErrBadAddress, Reason: fmt.Sprintf("port %d out of range 0-65535", port)}
	}
	var ip netip.Addr
	switch host {
	case "", "localhost":
		ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	default:
		ip, err = netip.ParseAddr(host)
		if err != nil || !ip.IsLoopback() {
			return netip.AddrPort{}, &AddressError{Addr: addr, Err: ErrNotLoopback,
				Reason: fmt.Sprintf("%s is not a loopback address; use 127.0.0.1, ::1, localhost or nothing (\":PORT\")", host)}
		}
		ip = ip.Unmap()
	}
	return netip.AddrPortFrom(ip, uint16(port)), nil
}

// ListenOptions says how ListenLoopback treats an address it cannot bind.
// The zero value binds exactly the address asked for.
type ListenOptions struct {
	// NextFree: when the port is taken, try the next ones (up to 100 further)
	// and bind the first free one. Meant for default addresses only: an
	// address the user chose should fail, not move.
	NextFree bool
	// Fallback, when valid: if the address's IP cannot be bound at all
	// (EADDRNOTAVAIL: some systems route only 127.0.0.1 of 127.0.0.0/8), bind
	// this IP instead, with the same port and rule.
	Fallback netip.Addr
}

// ListenLoopback opens a TCP listener on addr (which must be on loopback,
// see ParseLoopback) following opts. A taken port wraps ErrAddrInUse and names
// the address. The listener's Addr is the address really bound.
func ListenLoopback(ctx context.Context, addr netip.AddrPort, opts ListenOptions) (net.Listener, error) {
	if !addr.Addr().IsLoopback() {
		return nil, &AddressError{Addr: addr.String(), Err: ErrNotLoopback, Reason: "not a loopback address"}
	}
	ln, err := listenFrom(ctx, addr, opts.NextFree)
	if err != nil && opts.Fallback.IsValid() && opts.Fallback != addr.Addr() && errors.Is(err, syscall.EADDRNOTAVAIL) {
		return listenFrom(ctx, netip.AddrPortFrom(opts.Fallback, addr.Port()), opts.NextFree)
	}
	return ln, err
}

// Listen opens the daemon's TCP listener on addr ("" means DefaultListen),
// which must be on loopback (see ParseLoopback). When the port is in use and
// non-zero, the next ports are tried; when 127.0.9.9 cannot be bound, the
// default falls back to 127.0.0.1. This is the RFC's rule for any address,
// kept for in-process callers; cmd/launcher uses ListenLoopback, which moves
// only its default addresses.
func Listen(ctx context.Context, addr string) (net.Listener, error) {
	if addr == "" {
		addr = DefaultListen
	}
	ap, err := ParseLoopback(addr)
	if err != nil {
		return nil, err
	}
	opts := ListenOptions{NextFree: true}
	if addr == DefaultListen {
		opts.Fallback = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	return ListenLoopback(ctx, ap, opts)
}

func listenFrom(ctx context.Context, addr netip.AddrPort, nextFree bool) (net.Listener, error) {
	// No TCP keep-alive: its probes find peers lost across a network, and a
	// loopback peer's end is seen at once (the kernel closes or resets its
	// socket when its process exits). Turning it on costs four setsockopt
	// calls on every accepted connection.
	lc := net.ListenConfig{KeepAlive: -1}
	port := int(addr.Port())
	var lastErr error
	for i := 0; i < maxPortTries; i++ {
		p := port + i
		if p > 65535 {
			break
		}
		ln, err := lc.Listen(ctx, "tcp", netip.AddrPortFrom(addr.Addr(), uint16(p)).String())
		if err == nil {
			return ln, nil
		}
		lastErr = err
		if port == 0 || !nextFree || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	if errors.Is(lastErr, syscall.EADDRINUSE) {
		if nextFree && port != 0 {
			return nil, fmt.Errorf("%w: %s and the %d ports after it are taken: %w", ErrAddrInUse, addr, maxPortTries-1, lastErr)
		}
		return nil, fmt.Errorf("%w: %s is taken by another program: %w", ErrAddrInUse, addr, lastErr)
	}
	return nil, fmt.Errorf("launcher: listen on %s: %w", addr, lastErr)
}
