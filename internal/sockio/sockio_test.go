package sockio_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/internal/sockio"
)

// pair returns the two ends of a loopback TCP connection, the first wrapped.
func pair(t *testing.T) (wrapped, peer net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	p, ok := <-accepted
	require.True(t, ok, "accept failed")
	w := sockio.Wrap(c)
	t.Cleanup(func() { w.Close(); p.Close() })
	return w, p
}

func TestWrapIsRawOnLinuxTCP(t *testing.T) {
	w, _ := pair(t)
	_, plain := w.(*net.TCPConn)
	require.Equal(t, runtime.GOOS == "linux" && !raceBuild, sockio.Raw, "raw calls on Linux unless built for the race detector")
	require.Equal(t, !sockio.Raw, plain, "Wrap of a TCP connection on %s", runtime.GOOS)
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	require.Same(t, a, sockio.Wrap(a), "a connection that is not TCP is returned as it is")
}

// TestRoundTrips moves data both ways in every size class: raw calls (up to
// RawMax) and the ones left to the net package, and a write far larger than
// the socket buffers, which must wait for room and still write everything.
func TestRoundTrips(t *testing.T) {
	w, p := pair(t)
	for _, n := range []int{1, 7, 2 << 10, sockio.RawMax - 1, sockio.RawMax, sockio.RawMax + 1, 8 << 20} {
		out := make([]byte, n)
		_, _ = rand.Read(out)
		// wrapped -> peer
		errc := make(chan error, 1)
		go func() {
			_, err := w.Write(out)
			errc <- err
		}()
		got := make([]byte, n)
		_, err := io.ReadFull(p, got)
		require.NoError(t, err)
		require.NoError(t, <-errc)
		require.True(t, bytes.Equal(out, got), "%d bytes written raw arrived changed", n)
		// peer -> wrapped, read in raw-sized pieces
		go func() {
			_, err := p.Write(out)
			errc <- err
		}()
		got = got[:0]
		buf := make([]byte, min(n, sockio.RawMax))
		for len(got) < n {
			k, err := w.Read(buf)
			require.NoError(t, err)
			require.Positive(t, k)
			got = append(got, buf[:k]...)
		}
		require.NoError(t, <-errc)
		require.True(t, bytes.Equal(out, got), "%d bytes read raw arrived changed", n)
	}
}

func TestReadEOFAndEmpty(t *testing.T) {
	w, p := pair(t)
	n, err := w.Read(nil)
	require.NoError(t, err)
	require.Zero(t, n)
	_, err = p.Write([]byte("last"))
	require.NoError(t, err)
	require.NoError(t, p.Close())
	// The data, then io.EOF (never a read of 0 bytes and no error, which
	// would make a reader spin).
	var got []byte
	buf := make([]byte, 8)
	for range 100 {
		n, err = w.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			require.ErrorIs(t, err, io.EOF)
			break
		}
		require.Positive(t, n, "a read returned nothing and no error")
	}
	require.Equal(t, "last", string(got))
	n, err = w.Read(buf)
	require.ErrorIs(t, err, io.EOF)
	require.Zero(t, n)
}

// TestDeadlines: a raw read waits through the runtime's poller, so read and
// write deadlines interrupt it with os.ErrDeadlineExceeded, as net's do.
func TestDeadlines(t *testing.T) {
	w, p := pair(t)
	require.NoError(t, w.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
	start := time.Now()
	_, err := w.Read(make([]byte, 64))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	var oe *net.OpError
	require.ErrorAs(t, err, &oe)
	require.Equal(t, "read", oe.Op, "named as net names it")
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "a timeout: %v", err)
	require.Less(t, time.Since(start), 5*time.Second)

	// A deadline already past fails the next read at once, even with data
	// waiting; clearing it lets the data through.
	_, err = p.Write([]byte("x"))
	require.NoError(t, err)
	require.NoError(t, w.SetReadDeadline(time.Now().Add(-time.Second)))
	_, err = w.Read(make([]byte, 64))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.NoError(t, w.SetReadDeadline(time.Time{}))
	buf := make([]byte, 64)
	n, err := w.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "x", string(buf[:n]))

	// Writes block once the peer stops reading and the buffers are full;
	// the write deadline ends them, reporting what was written.
	require.NoError(t, w.SetWriteDeadline(time.Now().Add(50*time.Millisecond)))
	chunk := make([]byte, sockio.RawMax)
	total := 0
	for range 10000 {
		n, err = w.Write(chunk)
		total += n
		if err != nil {
			break
		}
	}
	require.ErrorIs(t, err, os.ErrDeadlineExceeded, "after %d bytes", total)
	require.Less(t, n, len(chunk)+1)
}

// TestCloseWakesReader: closing the connection ends a raw read that waits,
// with net.ErrClosed, as net's own does.
func TestCloseWakesReader(t *testing.T) {
	w, _ := pair(t)
	errc := make(chan error, 1)
	go func() {
		_, err := w.Read(make([]byte, 64))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, w.Close())
	select {
	case err := <-errc:
		require.ErrorIs(t, err, net.ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("the read did not end when the connection was closed")
	}
	_, err := w.Write([]byte("x"))
	require.ErrorIs(t, err, net.ErrClosed)
}

// TestWriteToResetPeer: a write to a peer that has gone reports the
// system's error, wrapped as net wraps it.
func TestWriteToResetPeer(t *testing.T) {
	w, p := pair(t)
	require.NoError(t, p.(*net.TCPConn).SetLinger(0))
	require.NoError(t, p.Close()) // RST
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for err == nil && time.Now().Before(deadline) {
		_, err = w.Write([]byte("are you there"))
		time.Sleep(time.Millisecond)
	}
	require.Error(t, err)
	var oe *net.OpError
	require.ErrorAs(t, err, &oe)
	require.Equal(t, "write", oe.Op)
}
