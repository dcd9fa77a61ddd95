//go:build linux

package peercred_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/internal/peercred"
)

// guard bounds every wait on a socket, so that a broken test fails instead
// of hanging. It orders nothing.
const guard = 10 * time.Second

func owner(t testing.TB) peercred.Owner {
	t.Helper()
	o, err := peercred.New()
	require.NoError(t, err)
	return o
}

func myUID() uint32 { return uint32(os.Getuid()) }

// listen listens on addr ("127.0.0.1:0", "[::1]:0"), skipping the test if
// the host cannot.
func listen(t testing.TB, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("cannot listen on %s %s here: %v", network, addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	require.NoError(t, ln.(*net.TCPListener).SetDeadline(time.Now().Add(guard)))
	return ln
}

// connect dials ln with d and returns the dialed and the accepted ends.
func connect(t testing.TB, ln net.Listener, d *net.Dialer, network string) (dialed, accepted net.Conn) {
	t.Helper()
	type result struct {
		c   net.Conn
		err error
	}
	acc := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		acc <- result{c, err}
	}()
	dialed, err := d.Dial(network, ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { dialed.Close() })
	r := <-acc
	require.NoError(t, r.err)
	t.Cleanup(func() { r.c.Close() })
	return dialed, r.c
}

func TestOwnProcess(t *testing.T) {
	o := owner(t)
	for _, addr := range []string{"127.0.0.1:0", "127.0.0.2:0", "[::1]:0"} {
		t.Run(addr, func(t *testing.T) {
			ln := listen(t, "tcp", addr)
			dialed, accepted := connect(t, ln, &net.Dialer{Timeout: guard}, "tcp")

			uid, err := o.PeerUID(accepted)
			require.NoError(t, err, "the dialer's socket, seen from the accepted end")
			require.Equal(t, myUID(), uid)
			uid, err = o.PeerUID(dialed)
			require.NoError(t, err, "the accepted socket, seen from the dialer")
			require.Equal(t, myUID(), uid)

			require.NoError(t, peercred.Check(o, accepted, myUID()))
			err = peercred.Check(o, accepted, myUID()+1)
			require.ErrorIs(t, err, peercred.ErrOtherUser)
			require.Contains(t, err.Error(), fmt.Sprintf("is uid %d, not %d", myUID(), myUID()+1))
		})
	}
}

// TestMappedAddresses covers IPv4 traffic on IPv6 sockets: the peer's row
// is in /proc/net/tcp6 with IPv4-mapped addresses, or the connection's own
// addresses are IPv4-mapped.
func TestMappedAddresses(t *testing.T) {
	o := owner(t)
	t.Run("IPv6 dialer to IPv4 listener", func(t *testing.T) {
		ln := listen(t, "tcp4", "127.0.0.1:0")
		// A local address of :: makes the dialer's socket AF_INET6.
		d := &net.Dialer{Timeout: guard, LocalAddr: &net.TCPAddr{IP: net.IPv6unspecified}}
		dialed, accepted := connect(t, ln, d, "tcp")
		require.True(t, dialed.LocalAddr().(*net.TCPAddr).AddrPort().Addr().Is4In6(),
			"the dialer's socket is IPv6 (%v)", dialed.LocalAddr())
		require.True(t, accepted.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Is4(),
			"the listener's side sees IPv4 (%v)", accepted.RemoteAddr())
		uid, err := o.PeerUID(accepted)
		require.NoError(t, err)
		require.Equal(t, myUID(), uid)
	})
	t.Run("IPv4 dialer to dual-stack listener", func(t *testing.T) {
		ln := listen(t, "tcp", "[::]:0")
		port := ln.Addr().(*net.TCPAddr).Port
		d := &net.Dialer{Timeout: guard}
		dialed, err := d.Dial("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		require.NoError(t, err)
		defer dialed.Close()
		accepted, err := ln.Accept()
		require.NoError(t, err)
		defer accepted.Close()
		require.Equal(t, dialed.LocalAddr().String(), accepted.RemoteAddr().String(), "accepted another connection")
		require.True(t, accepted.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Is4In6(),
			"the accepted socket is IPv6 (%v)", accepted.RemoteAddr())
		uid, err := o.PeerUID(accepted)
		require.NoError(t, err)
		require.Equal(t, myUID(), uid)
		uid, err = o.PeerUID(dialed)
		require.NoError(t, err, "the accepted socket's row is in tcp6, mapped")
		require.Equal(t, myUID(), uid)
	})
}

// TestPeerClosed: a peer that has closed its end (an app that sends a
// stolen string and goes) is not established any more; the kernel's row
// for it shows uid 0, which must not be taken.
func TestPeerClosed(t *testing.T) {
	o := owner(t)
	ln := listen(t, "tcp", "127.0.0.1:0")
	dialed, accepted := connect(t, ln, &net.Dialer{Timeout: guard}, "tcp")
	_, err := dialed.Write([]byte("hello"))
	require.NoError(t, err)
	require.NoError(t, dialed.Close())
	_, err = o.PeerUID(accepted)
	require.ErrorIs(t, err, peercred.ErrNotFound)
	require.Contains(t, err.Error(), dialed.LocalAddr().String())
	require.ErrorIs(t, peercred.Check(o, accepted, myUID()), peercred.ErrNotFound)
}

func TestNotTCP(t *testing.T) {
	o := owner(t)
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	_, err := o.PeerUID(a)
	require.ErrorIs(t, err, peercred.ErrNotTCP)

	udp, err := net.Dial("udp", "127.0.0.1:9")
	require.NoError(t, err)
	defer udp.Close()
	_, err = o.PeerUID(udp)
	require.ErrorIs(t, err, peercred.ErrNotTCP)
}

// TestConcurrentDials: the dialer's row is in the table by the time the
// listener accepts (connect returned on the dialer's side before the
// connection could be accepted), even with many connections arriving and
// being looked up at once.
func TestConcurrentDials(t *testing.T) {
	const n = 200
	o := owner(t)
	ln := listen(t, "tcp", "127.0.0.1:0")

	// The dialers hold their connections until every lookup is done.
	release := make(chan struct{})
	dialErr := make(chan error, n)
	var dialers sync.WaitGroup
	for range n {
		dialers.Add(1)
		go func() {
			defer dialers.Done()
			d := net.Dialer{Timeout: guard}
			c, err := d.Dial("tcp", ln.Addr().String())
			if err != nil {
				dialErr <- err
				return
			}
			defer c.Close()
			<-release
		}()
	}
	defer dialers.Wait()
	defer close(release)

	type result struct {
		uid uint32
		err error
	}
	results := make(chan result, n)
	var lookups sync.WaitGroup
	for range n {
		c, err := ln.Accept()
		require.NoError(t, err)
		lookups.Add(1)
		go func() {
			defer lookups.Done()
			defer c.Close()
			uid, err := o.PeerUID(c)
			results <- result{uid, err}
		}()
	}
	lookups.Wait()
	close(results)
	close(dialErr)
	for err := range dialErr {
		require.NoError(t, err)
	}
	got := 0
	for r := range results {
		require.NoError(t, r.err)
		require.Equal(t, myUID(), r.uid)
		got++
	}
	require.Equal(t, n, got)
}

// helperEnv holds the address TestHelperDial dials when re-executed.
const helperEnv = "PEERCRED_HELPER_DIAL"

// nobody is the uid and gid TestOtherUID runs its helper as.
const nobody = 65534

// TestOtherUID: a connection made by a process of another uid gives that
// uid. It re-executes this test binary as uid 65534 running TestHelperDial,
// which dials the listener, sends its own uid, and holds the connection
// until its stdin closes.
func TestOtherUID(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root, to start a helper process as uid 65534 (nobody)")
	}
	o := owner(t)
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(addr, func(t *testing.T) {
			ln := listen(t, "tcp", addr)
			cmd := exec.Command(helperBinary(t), "-test.run=^TestHelperDial$", "-test.count=1")
			cmd.Env = append(os.Environ(), helperEnv+"="+ln.Addr().String())
			cmd.Dir = filepath.Dir(cmd.Path)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			stdin, err := cmd.StdinPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			waited := false
			defer func() {
				if !waited {
					stdin.Close()
					_ = cmd.Wait()
				}
			}()

			c, err := ln.Accept()
			require.NoError(t, err, "helper: %s", &out)
			defer c.Close()
			uid, err := o.PeerUID(c)
			require.NoError(t, err)
			require.Equal(t, uint32(nobody), uid)
			err = peercred.Check(o, c, myUID())
			require.ErrorIs(t, err, peercred.ErrOtherUser)

			// The helper's own word for its uid: the test set up what it meant to.
			require.NoError(t, c.SetReadDeadline(time.Now().Add(guard)))
			line, err := bufio.NewReader(c).ReadString('\n')
			require.NoError(t, err, "helper: %s", &out)
			require.Equal(t, strconv.Itoa(nobody)+"\n", line)

			require.NoError(t, stdin.Close())
			waited = true
			require.NoError(t, cmd.Wait(), "helper: %s", &out)
		})
	}
}

// helperBinary copies this test binary where uid 65534 can run it (the go
// command builds it in a directory only its owner can enter).
func helperBinary(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	dir, err := os.MkdirTemp("", "peercred-helper-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	src, err := os.Open(self)
	require.NoError(t, err)
	defer src.Close()
	path := filepath.Join(dir, "peercred.test")
	dst, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	require.NoError(t, err)
	_, err = io.Copy(dst, src)
	require.NoError(t, errors.Join(err, dst.Close()))
	return path
}

// TestHelperDial is TestOtherUID's helper process, not a test of its own.
func TestHelperDial(t *testing.T) {
	addr := os.Getenv(helperEnv)
	if addr == "" {
		t.Skip("helper process of TestOtherUID; runs only when re-executed by it")
	}
	d := net.Dialer{Timeout: guard}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := fmt.Fprintf(c, "%d\n", os.Getuid()); err != nil {
		t.Fatal(err)
	}
	// Hold the connection until the parent closes stdin.
	if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
		t.Fatal(err)
	}
}
