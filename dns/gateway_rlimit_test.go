//go:build unix

package dns_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/dns"
)

// floodEnv tells the test binary, run again as a child, to be the flood:
// "<addr>,<connections>".
const floodEnv = "DNS_GATEWAY_FLOOD"

// TestGatewayFloodAtTheDescriptorLimit replays the hostile test at a small
// scale: this process's descriptor limit is lowered to 1024, the gateway
// takes its default cap from it (1024 - GatewayFDReserve = 512), and another
// process (this test binary again) opens three times the limit in idle
// connections to the gateway. The gateway holds its cap, the launcher port
// still completes handshakes through the real SDK, and a visitor is served.
// Without the cap the gateway would take every descriptor, and the handshake
// would fail with "too many open files".
func TestGatewayFloodAtTheDescriptorLimit(t *testing.T) {
	const limit, flood = 1024, 3 * 1024
	var old syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old))
	if uint64(old.Max) < limit {
		t.Skipf("the hard descriptor limit is %d, below %d", old.Max, limit)
	}
	if n := openFDs(t); n < 0 || n > 200 {
		t.Skipf("cannot count this process's descriptors, or too many are open (%d)", n)
	}
	lowered := old
	lowered.Cur = limit
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered))
	t.Cleanup(func() { require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)) })

	s := newSiteOpts(t, dns.GatewayOptions{ReadHeaderTimeout: time.Hour, IdleTimeout: time.Hour, ShutdownTimeout: time.Second})
	require.Equal(t, limit-dns.GatewayFDReserve, s.g.Stats().Max, "the default cap comes from the limit")

	cmd := exec.Command(os.Args[0], "-test.run=^TestGatewayFloodHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%d", floodEnv, s.addr, flood))
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	cmd.WaitDelay = 10 * time.Second
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		stdin.Close() // the flood ends
		assert.NoError(t, cmd.Wait())
	})
	sc := bufio.NewScanner(stdout)
	ready := false
	for !ready && sc.Scan() {
		line := sc.Text()
		require.False(t, strings.HasPrefix(line, "flood error"), line)
		ready = line == "flood ready "+strconv.Itoa(flood)
	}
	require.True(t, ready, "the flood process did not open its connections: %v", sc.Err())
	go func() { _, _ = io.Copy(io.Discard, stdout) }()

	// A visitor is served: by then the gateway has gone through the whole
	// flood in its accept queue, evicting as it went.
	resp, body := s.do(t, "GET", s.host(), "/")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "home page")
	st := s.g.Stats()
	assert.Equal(t, uint64(flood+1), st.Accepted)
	assert.LessOrEqual(t, st.Open, st.Max)
	assert.GreaterOrEqual(t, st.Evicted, uint64(flood+1-st.Max))

	// The launcher port still completes handshakes and answers.
	_, c2 := s.app(t, "beta", false)
	names, err := c2.ListLongNames(ctxT(t))
	require.NoError(t, err)
	assert.Equal(t, []string{"example"}, names)
	assert.Less(t, openFDs(t), limit-dns.GatewayFDReserve/2, "descriptors left for the rest of the daemon")
}

// TestGatewayFloodHelper is the flood process of
// TestGatewayFloodAtTheDescriptorLimit; it skips when run on its own.
func TestGatewayFloodHelper(t *testing.T) {
	spec := os.Getenv(floodEnv)
	if spec == "" {
		t.Skip("the flood process of TestGatewayFloodAtTheDescriptorLimit")
	}
	addr, count, _ := strings.Cut(spec, ",")
	n, err := strconv.Atoi(count)
	require.NoError(t, err)
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		c, err := net.DialTimeout("tcp", addr, 30*time.Second)
		if err != nil {
			fmt.Printf("flood error: connection %d: %v\n", i, err)
			return
		}
		conns = append(conns, c)
	}
	fmt.Printf("flood ready %d\n", n)
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes it
}
