package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/launcher/control"
)

// hold listens on addr for the rest of the test. It reports false when addr
// cannot be bound because someone else holds it or the IP is not on this
// machine (either way the daemon cannot have it).
func hold(t *testing.T, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	switch {
	case err == nil:
		t.Cleanup(func() { ln.Close() })
	case errors.Is(err, syscall.EADDRINUSE), errors.Is(err, syscall.EADDRNOTAVAIL):
	default:
		t.Fatalf("holding %s: %v", addr, err)
	}
}

func port(t *testing.T, hostport string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	require.NoError(t, err)
	n, err := strconv.Atoi(p)
	require.NoError(t, err)
	return n
}

// TestDefaultAddressesMove: with the default addresses taken, serve moves
// both the listener and the gateway to the next free ports; what it bound
// is printed, logged, shown by status and handed to launched apps in
// LAUNCHER_GATEWAY_URL, and dns ls uses it.
func TestDefaultAddressesMove(t *testing.T) {
	for _, a := range []string{"127.0.9.9:30000", "127.0.0.1:30000", "127.0.0.1:30080"} {
		hold(t, a)
	}
	data := newDataDir(t)
	d := startServe(t, data)
	defer d.stop()
	assert.NotContains(t, []string{"127.0.9.9:30000", "127.0.0.1:30000"}, d.addr)
	assert.Regexp(t, `^127\.0\.(9\.9|0\.1):\d+$`, d.addr)
	assert.Greater(t, port(t, d.addr), 30000)
	assert.Less(t, port(t, d.addr), 30100)
	assert.Regexp(t, `^127\.0\.0\.1:\d+$`, d.gateway)
	assert.Greater(t, port(t, d.gateway), 30080)
	assert.Less(t, port(t, d.gateway), 30180)
	gwURL := "http://" + d.gateway + "/"

	st, err := os.Stat(data)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm(), "serve creates the data directory 0700")

	out := ok(t, data, "status")
	assert.Contains(t, out, "address:   "+d.addr+"\n")
	assert.Contains(t, out, "gateway:   "+gwURL+"\n")
	var js control.Status
	require.NoError(t, json.Unmarshal([]byte(ok(t, data, "status", "--json")), &js))
	assert.Equal(t, d.addr, js.Address)
	assert.Equal(t, gwURL, js.GatewayURL)
	// Logged after the address is printed, and copied from the daemon's
	// stderr pipe by a goroutine of exec: it may come a moment later.
	want := fmt.Sprintf("addr=%s gateway=%s", d.addr, gwURL)
	assert.Eventually(t, func() bool { return strings.Contains(d.stderr.String(), want) }, 20*time.Second, 10*time.Millisecond,
		"the bound addresses are logged:\n%s", d.stderr)

	// A launched app finds the real gateway URL in its environment, after
	// the header of its launch in its log.
	exe := filepath.Join(t.TempDir(), "gw.sh")
	require.NoError(t, os.WriteFile(exe, []byte("#!/bin/sh\necho \"gateway=$LAUNCHER_GATEWAY_URL\"\n"), 0o755))
	ok(t, data, "app", "add", "gw", "--exec", exe)
	ok(t, data, "app", "launch", "gw")
	logPath := filepath.Join(data, "logs", "gw.log")
	var log string
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(logPath)
		log = string(b)
		return strings.HasSuffix(log, "\n") && strings.Contains(log, "gateway=")
	}, 15*time.Second, 10*time.Millisecond)
	assert.Regexp(t, `^==== \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ launcher: starting gw \(`+regexpQuote(exe)+`\) ====\ngateway=`+regexpQuote(gwURL)+`\n$`, log)
}

func regexpQuote(s string) string {
	return strings.NewReplacer(".", `\.`, "(", `\(`, ")", `\)`, "/", "/").Replace(s)
}

// TestExplicitAddresses: an address given with --listen or --gateway is
// bound as given (":0" and "localhost:0" are loopback), and a taken one is an
// error naming the flag and the address, exit 1.
func TestExplicitAddresses(t *testing.T) {
	t.Parallel()
	data := newDataDir(t)
	d := startServe(t, data, "--listen", ":0", "--gateway", "localhost:0")
	assert.Regexp(t, `^127\.0\.0\.1:\d+$`, d.addr)
	assert.Regexp(t, `^127\.0\.0\.1:\d+$`, d.gateway)
	assert.Contains(t, ok(t, data, "status"), "gateway:   http://"+d.gateway+"/\n")
	d.stop()

	d = startServe(t, data, "--listen", "127.0.0.1:0", "--gateway", "off")
	assert.Contains(t, ok(t, data, "status"), "gateway:   off\n")
	d.stop()

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	addr := taken.Addr().String()
	r := cli(t, data, "serve", "--listen", addr, "--gateway", "off")
	assert.Equal(t, exitFailure, r.code)
	assert.Empty(t, r.stdout)
	assert.Equal(t, "launcher: --listen "+addr+": the address is taken by another program; choose another port, or leave --listen out for the default, which moves to a free port\n", r.stderr)
	r = cli(t, data, "serve", "--listen", "127.0.0.1:0", "--gateway", addr)
	assert.Equal(t, exitFailure, r.code)
	assert.Equal(t, "launcher: --gateway "+addr+": the address is taken by another program; choose another port, or leave --gateway out for the default, which moves to a free port, or turn the gateway off with --gateway off\n", r.stderr)
}

// TestPlantedLogLink: a log file planted as a symbolic link makes the launch
// fail, and the link's target is untouched (no truncation, no output of the
// app, no launcher value).
func TestPlantedLogLink(t *testing.T) {
	t.Parallel()
	data := newDataDir(t)
	d := startDaemon(t, data)
	defer d.stop()
	ok(t, data, "app", "add", "evil", "--exec", bins.testapp)
	victim := filepath.Join(t.TempDir(), "victim")
	const content = "precious\n"
	require.NoError(t, os.WriteFile(victim, []byte(content), 0o600))
	require.NoError(t, os.MkdirAll(filepath.Join(data, "logs"), 0o700))
	require.NoError(t, os.Symlink(victim, filepath.Join(data, "logs", "evil.log")))
	r := cli(t, data, "app", "launch", "evil")
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, filepath.Join(data, "logs", "evil.log")+" is a symbolic link")
	b, err := os.ReadFile(victim)
	require.NoError(t, err)
	assert.Equal(t, content, string(b))
}
