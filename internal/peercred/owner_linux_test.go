//go:build linux

package peercred_test

import (
	"bufio"
	"errors"
	"fmt"
	"github.com/safe-launcher/launcher/internal/testbin"
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

// owners returns the lookups to test: sock_diag, where the kernel has it,
// and /proc. Each is closed when the test ends.
func owners(t testing.TB) []peercred.Owner {
	t.Helper()
	var all []peercred.Owner
	d, err := peercred.NewSockDiag()
	if errors.Is(err, peercred.ErrUnsupported) && os.Getenv(wantSockDiagEnv) == "" {
		t.Logf("no sock_diag here, testing /proc only: %v", err)
	} else {
		require.NoError(t, err)
		require.Equal(t, peercred.MethodSockDiag, d.Method())
		all = append(all, d)
	}
	p, err := peercred.NewProc()
	require.NoError(t, err)
	require.Equal(t, peercred.MethodProc, p.Method())
	all = append(all, p)
	for _, o := range all {
		t.Cleanup(func() { require.NoError(t, o.Close()) })
	}
	return all
}

// eachOwner runs f as a subtest for each of owners.
func eachOwner(t *testing.T, f func(t *testing.T, o peercred.Owner)) {
	t.Helper()
	for _, o := range owners(t) {
		t.Run(o.Method(), func(t *testing.T) { f(t, o) })
	}
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

// TestNew: New takes sock_diag where the kernel answers its probe.
func TestNew(t *testing.T) {
	o, err := peercred.New()
	require.NoError(t, err)
	defer o.Close()
	d, err := peercred.NewSockDiag()
	if err != nil {
		require.ErrorIs(t, err, peercred.ErrUnsupported)
		require.Equal(t, peercred.MethodProc, o.Method())
		return
	}
	defer d.Close()
	require.Equal(t, peercred.MethodSockDiag, o.Method())
}

func TestOwnProcess(t *testing.T) {
	eachOwner(t, testOwnProcess)
}

func testOwnProcess(t *testing.T, o peercred.Owner) {
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
	eachOwner(t, testMappedAddresses)
}

func testMappedAddresses(t *testing.T, o peercred.Owner) {
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
	eachOwner(t, func(t *testing.T, o peercred.Owner) {
		ln := listen(t, "tcp", "127.0.0.1:0")
		dialed, accepted := connect(t, ln, &net.Dialer{Timeout: guard}, "tcp")
		_, err := dialed.Write([]byte("hello"))
		require.NoError(t, err)
		require.NoError(t, dialed.Close())
		_, err = o.PeerUID(accepted)
		require.ErrorIs(t, err, peercred.ErrNotFound)
		require.Contains(t, err.Error(), dialed.LocalAddr().String())
		require.ErrorIs(t, peercred.Check(o, accepted, myUID()), peercred.ErrNotFound)
	})
}

// TestPeerReset: a peer that reset its connection has no socket left at
// all; and a listener that then takes the peer's address and port (which
// sock_diag answers, finding no established socket) is not the peer.
func TestPeerReset(t *testing.T) {
	eachOwner(t, func(t *testing.T, o peercred.Owner) {
		ln := listen(t, "tcp", "127.0.0.1:0")
		dialed, accepted := connect(t, ln, &net.Dialer{Timeout: guard}, "tcp")
		require.NoError(t, dialed.(*net.TCPConn).SetLinger(0))
		require.NoError(t, dialed.Close()) // sends a reset; the socket is gone
		_, err := o.PeerUID(accepted)
		require.ErrorIs(t, err, peercred.ErrNotFound)

		squatter, err := net.Listen("tcp", dialed.LocalAddr().String())
		if errors.Is(err, syscall.EADDRINUSE) {
			// Another socket on the machine (other tests run in parallel)
			// took the freed ephemeral port first.
			t.Logf("the peer's old port was taken meanwhile; the listener case is not checked this run")
			return
		}
		require.NoError(t, err, "listen on the peer's old address")
		defer squatter.Close()
		_, err = o.PeerUID(accepted)
		require.ErrorIs(t, err, peercred.ErrNotFound)
	})
}

// TestPeerBoundToLoopback: a peer whose socket is bound to the loopback
// interface (SO_BINDTODEVICE) is found; sock_diag finds it only when asked
// for a socket bound to that interface.
func TestPeerBoundToLoopback(t *testing.T) {
	eachOwner(t, func(t *testing.T, o peercred.Owner) {
		for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
			t.Run(addr, func(t *testing.T) {
				ln := listen(t, "tcp", addr)
				var bindErr error
				d := &net.Dialer{Timeout: guard, Control: func(_, _ string, c syscall.RawConn) error {
					err := c.Control(func(fd uintptr) {
						bindErr = syscall.SetsockoptString(int(fd), syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, "lo")
					})
					return errors.Join(err, bindErr)
				}}
				dialed, err := d.Dial("tcp", ln.Addr().String())
				if errors.Is(bindErr, syscall.EPERM) {
					t.Skipf("cannot bind a socket to lo here: %v", err)
				}
				require.NoError(t, err)
				defer dialed.Close()
				accepted, err := ln.Accept() // the connection is in the backlog
				require.NoError(t, err)
				defer accepted.Close()
				require.Equal(t, dialed.LocalAddr().String(), accepted.RemoteAddr().String())
				uid, err := o.PeerUID(accepted)
				require.NoError(t, err)
				require.Equal(t, myUID(), uid)
			})
		}
	})
}

// TestClose: lookups after Close fail; Close is idempotent.
func TestClose(t *testing.T) {
	eachOwner(t, func(t *testing.T, o peercred.Owner) {
		ln := listen(t, "tcp", "127.0.0.1:0")
		_, accepted := connect(t, ln, &net.Dialer{Timeout: guard}, "tcp")
		_, err := o.PeerUID(accepted)
		require.NoError(t, err)
		require.NoError(t, o.Close())
		_, err = o.PeerUID(accepted)
		require.ErrorIs(t, err, net.ErrClosed)
		require.NoError(t, o.Close())
	})
}

// TestNoDescriptorLeak: the sockets a lookup opens are closed, or kept for
// the next lookups and closed by Close, under concurrent lookups beyond
// what the Owner keeps.
func TestNoDescriptorLeak(t *testing.T) {
	const conns, rounds = 50, 4
	ln := listen(t, "tcp", "127.0.0.1:0")
	accepted := make([]net.Conn, conns)
	for i := range accepted {
		_, accepted[i] = connect(t, ln, &net.Dialer{Timeout: guard}, "tcp")
	}
	before := openFiles(t)
	for _, o := range owners(t) {
		var wg sync.WaitGroup
		errs := make(chan error, conns*rounds)
		for range rounds {
			for _, c := range accepted {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := o.PeerUID(c)
					errs <- err
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err, o.Method())
		}
		require.NoError(t, o.Close())
	}
	require.Equal(t, before, openFiles(t))
}

// openFiles lists this process's open file descriptors.
func openFiles(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	var fds []string
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil {
			continue // the directory ReadDir read, closed since
		}
		fds = append(fds, e.Name()+" "+target)
	}
	return fds
}

func TestNotTCP(t *testing.T) {
	eachOwner(t, testNotTCP)
}

func testNotTCP(t *testing.T, o peercred.Owner) {
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
	eachOwner(t, testConcurrentDials)
}

func testConcurrentDials(t *testing.T, o peercred.Owner) {
	const n = 200
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
	all := owners(t)
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(addr, func(t *testing.T) {
			ln := listen(t, "tcp", addr)
			cmd := exec.Command(testbin.CopyForOthers(t, "peercred.test"), "-test.run=^TestHelperDial$", "-test.count=1")
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
			for _, o := range all {
				uid, err := o.PeerUID(c)
				require.NoError(t, err, o.Method())
				require.Equal(t, uint32(nobody), uid, o.Method())
				err = peercred.Check(o, c, myUID())
				require.ErrorIs(t, err, peercred.ErrOtherUser, o.Method())
			}

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

// wantSockDiagEnv, set, makes owners fail if sock_diag is unavailable.
const wantSockDiagEnv = "PEERCRED_WANT_SOCKDIAG"

// TestUnprivileged: the daemon runs as an ordinary user, and the tests as
// root. It re-executes this test binary as uid 65534 to run the lookup
// tests there, requiring sock_diag if it works here.
func TestUnprivileged(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root, to run the tests again as uid 65534 (nobody)")
	}
	if os.Getenv(wantSockDiagEnv) != "" {
		t.Skip("already re-executed")
	}
	d, err := peercred.NewSockDiag()
	want := "0" // /proc only, as here
	if err == nil {
		want = "1"
		require.NoError(t, d.Close())
	}
	cmd := exec.Command(testbin.CopyForOthers(t, "peercred.test"), "-test.count=1", "-test.v",
		"-test.run=^(TestNew|TestOwnProcess|TestMappedAddresses|TestPeerClosed|TestPeerReset|TestConcurrentDials)$")
	cmd.Dir = filepath.Dir(cmd.Path)
	cmd.Env = os.Environ()
	if want == "1" {
		cmd.Env = append(cmd.Env, wantSockDiagEnv+"=1")
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "as uid %d:\n%s", nobody, out)
	require.Contains(t, string(out), "--- PASS: TestOwnProcess")
	if want == "1" {
		require.Contains(t, string(out), "--- PASS: TestOwnProcess/"+peercred.MethodSockDiag)
	}
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
