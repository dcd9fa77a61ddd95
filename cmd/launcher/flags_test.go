package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/internal/cliflags"
	"github.com/safe-launcher/launcher/launcher"
)

// TestConfigErrors: every invalid flag value is a usage error (exit 2) with
// one line naming the flag and what it expects, found before anything is
// created on disk.
func TestConfigErrors(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cases := []struct {
		args []string
		want string // the whole stderr line
	}{
		{[]string{"--max-conns", "-5"}, "--max-conns: must be a positive integer, got -5"},
		{[]string{"--max-conns", "0"}, "--max-conns: must be a positive integer, got 0"},
		{[]string{"--max-conns", "many"}, `--max-conns: must be a positive integer, got "many"`},
		{[]string{"--max-conns=99999999999999999999"}, "--max-conns: 99999999999999999999 is too large"},
		{[]string{"--max-json-depth", "0"}, "--max-json-depth: must be a positive integer, got 0"},
		{[]string{"--listen", "127.0.0.1:99999"}, "--listen: port 99999 out of range 0-65535"},
		{[]string{"--listen", "127.0.0.1:-1"}, `--listen: port "-1" is not a number`},
		{[]string{"--listen", "127.0.0.1"}, "--listen: want HOST:PORT, e.g. 127.0.0.1:30000, localhost:30000 or :0"},
		{[]string{"--listen", "127.0.0.1:"}, "--listen: the port is missing (use :0 for any free port)"},
		{[]string{"--listen", "0.0.0.0:1"}, `--listen: 0.0.0.0 is not a loopback address; use 127.0.0.1, ::1, localhost or nothing (":PORT")`},
		{[]string{"--listen", "example.com:1"}, `--listen: example.com is not a loopback address; use 127.0.0.1, ::1, localhost or nothing (":PORT")`},
		{[]string{"--listen", "off"}, "--listen: want HOST:PORT, e.g. 127.0.0.1:30000, localhost:30000 or :0"},
		{[]string{"--gateway", "[::]:80"}, `--gateway: :: is not a loopback address; use 127.0.0.1, ::1, localhost or nothing (":PORT")`},
		{[]string{"--gateway", "127.0.0.1:70000"}, "--gateway: port 70000 out of range 0-65535"},
		{[]string{"--handshake-timeout", "10"}, `--handshake-timeout: "10" needs a unit, e.g. 10s (units: ms, s, m, h)`},
		{[]string{"--handshake-timeout", "0"}, "--handshake-timeout: must be more than 0, got 0"},
		{[]string{"--token-ttl", "-1m"}, "--token-ttl: must be more than 0, got -1m"},
		{[]string{"--budget-wait", "soon"}, `--budget-wait: "soon" is not a duration; use a number with a unit, e.g. 500ms, 10s, 2m`},
		{[]string{"--frame-idle-timeout", "1.5"}, `--frame-idle-timeout: "1.5" needs a unit, e.g. 1.5s (units: ms, s, m, h)`},
		{[]string{"--write-timeout", "0s"}, "--write-timeout: must be more than 0, got 0s"},
		{[]string{"--sync-delay", "-1ms"}, "--sync-delay: must not be negative, got -1ms (0 fsyncs at once)"},
		{[]string{"--max-frame", "0"}, "--max-frame: must be more than 0, got 0"},
		{[]string{"--max-frame", "1KiB"}, "--max-frame: must be at least 64KiB, got 1KiB"},
		{[]string{"--max-frame", "2TiB"}, "--max-frame: must be at most 1TiB, got 2TiB"},
		{[]string{"--max-frame", "10MB"}, `--max-frame: "10MB" is not a size; give bytes or a number with KiB, MiB, GiB or TiB, e.g. 300MiB`},
		{[]string{"--inflight-budget", "-1"}, "--inflight-budget: must be a positive size, got -1"},
		{[]string{"--inflight-budget", "99999999999TiB"}, "--inflight-budget: 99999999999TiB is too large"},
		{[]string{"--sync", "always"}, `--sync: must be background or commit, got "always"`},
		{[]string{"--max-conns"}, `--max-conns needs a value; run "launcher help serve" for its meaning`},
		{[]string{"--bogus"}, `serve: unknown flag: --bogus; run "launcher help serve"`},
		{[]string{"extra"}, `serve takes no arguments, only flags; got "extra"`},
		{[]string{"--auto-lock", "10"}, `--auto-lock: "10" needs a unit, e.g. 10s (units: ms, s, m, h)`},
		{[]string{"--auto-lock", "-1m"}, "--auto-lock: must not be negative, got -1m (0 or off: never)"},
		{[]string{"--auto-lock"}, `--auto-lock needs a value; run "launcher help serve" for its meaning`},
		{[]string{"--dev"}, "--dev: serves a fresh temporary data directory of its own; leave --data out"},
		{[]string{"--passphrase-stdin=maybe"}, `--passphrase-stdin: invalid value "maybe": strconv.ParseBool: parsing "maybe": invalid syntax`},
	}
	for _, c := range cases {
		code, out, errs := runIn(t, append([]string{"serve", "--data", data}, c.args...)...)
		assert.Equal(t, exitUsage, code, "%v: %s", c.args, errs)
		assert.Empty(t, out, "%v", c.args)
		assert.Equal(t, "launcher: "+c.want+"\n", errs, "%v", c.args)
	}
	_, err := os.Stat(data)
	assert.ErrorIs(t, err, os.ErrNotExist, "a usage error creates nothing")

	// --data "" is refused by every command, not taken as the default.
	for _, args := range [][]string{{"serve", "--data", ""}, {"--data=", "status"}, {"app", "ls", "--data", ""}} {
		code, _, errs := runIn(t, args...)
		assert.Equal(t, exitUsage, code, "%v", args)
		assert.Equal(t, "launcher: --data: must not be empty\n", errs, "%v", args)
	}
}

// TestUsageErrors: command-line mistakes other than flag values exit 2 with
// one line that says what to do.
func TestUsageErrors(t *testing.T) {
	data := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, `launcher: missing command (app, completion, dns, init, lock, passwd, serve, status, unlock); run "launcher help"`},
		{[]string{"frobnicate"}, `launcher: unknown command "frobnicate"; run "launcher help"`},
		{[]string{"stauts"}, `launcher: unknown command "stauts" (did you mean "status"?); run "launcher help"`},
		{[]string{"app"}, `launcher: app: missing command (add, grant, launch, ls, revoke, rm, roots, token); run "launcher help app"`},
		{[]string{"app", "lss"}, `launcher: app: unknown subcommand "lss" (did you mean "ls"?); run "launcher help app"`},
		{[]string{"dns"}, `launcher: dns: missing command (ls, resolve); run "launcher help dns"`},
		{[]string{"completion"}, `launcher: completion: missing command (bash, fish, powershell, zsh); run "launcher help completion"`},
		{[]string{"completion", "bash", "x"}, `launcher: completion bash: unknown command "x" for "launcher completion bash"`},
		{[]string{"help", "nope"}, `launcher: help: unknown command "nope"; run "launcher help"`},
		{[]string{"app", "add"}, `launcher: app add: missing NAME; run "launcher help app add"`},
		{[]string{"app", "add", "x"}, `launcher: app add: --exec PATH is required`},
		{[]string{"app", "add", "a", "b", "--exec", "/bin/sh"}, `launcher: app add: one NAME expected, got "a b"`},
		{[]string{"app", "add", "a", "--exec", "/bin/sh", "--", "x"}, `launcher: app add: unexpected arguments after --`},
		{[]string{"app", "launch"}, `launcher: app launch: missing NAME; run "launcher help app launch"`},
		{[]string{"app", "launch", "a", "b"}, `launcher: app launch: one NAME expected, got "a b" (put the app's arguments after --)`},
		{[]string{"app", "ls", "x"}, `launcher: app ls takes no arguments, only flags; got "x"`},
		{[]string{"app", "ls", "--bogus"}, `launcher: app ls: unknown flag: --bogus; run "launcher help app ls"`},
		{[]string{"app", "roots", "x"}, `launcher: app roots takes no arguments, only flags; got "x"`},
		{[]string{"dns", "resolve"}, `launcher: dns resolve: missing HOST; run "launcher help dns resolve"`},
		{[]string{"status", "--json=maybe"}, `launcher: --json: invalid value "maybe": strconv.ParseBool: parsing "maybe": invalid syntax`},
		{[]string{"init", "x"}, `launcher: init takes no arguments, only flags; got "x"`},
		{[]string{"unlock", "--bogus"}, `launcher: unlock: unknown flag: --bogus; run "launcher help unlock"`},
		{[]string{"unlock", "--passphrase-stdin=2"}, `launcher: --passphrase-stdin: invalid value "2": strconv.ParseBool: parsing "2": invalid syntax`},
		{[]string{"lock", "now"}, `launcher: lock takes no arguments, only flags; got "now"`},
		{[]string{"lock", "--passphrase-stdin"}, `launcher: lock: unknown flag: --passphrase-stdin; run "launcher help lock"`},
		{[]string{"passwd", "old", "new"}, `launcher: passwd takes no arguments, only flags; got "old new"`},
	} {
		code, out, errs := runIn(t, append(c.args, "--data", data)...)
		assert.Equal(t, exitUsage, code, "%v: %s", c.args, errs)
		assert.Empty(t, out, "%v", c.args)
		assert.Equal(t, c.want+"\n", errs, "%v", c.args)
	}
}

// TestDataPlacement: --data works before the command words, between them
// and after them, with one dash or two (scripts written for the launcher's
// earlier parser used -data).
func TestDataPlacement(t *testing.T) {
	data := t.TempDir()
	want := fmt.Sprintf("launcher: the launcher daemon is not running for data directory %s; start it with: launcher serve --data %s\n", data, data)
	for _, args := range [][]string{
		{"--data", data, "app", "ls"},
		{"app", "--data", data, "ls"},
		{"app", "ls", "--data", data},
		{"app", "ls", "--data=" + data},
		{"-data", data, "app", "ls", "-json"},
		{"app", "ls", "-data=" + data},
		{"status", "--data", data, "--json"},
	} {
		code, _, errs := runIn(t, args...)
		assert.Equal(t, exitNotRunning, code, "%v", args)
		assert.Equal(t, want, errs, "%v", args)
	}
}

func TestLongFlagCompat(t *testing.T) {
	root := newRootCmd(&env{})
	assert.Equal(t,
		[]string{"--data", "d", "app", "launch", "x", "--accept-changed", "-h", "--", "-data", "-json"},
		cliflags.LongFlagCompat(root, []string{"-data", "d", "app", "launch", "x", "-accept-changed", "-h", "--", "-data", "-json"}, false))
	assert.Equal(t, []string{"--max-conns=5", "-lead", "-"}, cliflags.LongFlagCompat(root, []string{"-max-conns=5", "-lead", "-"}, false))
}

// TestServeFlagsReachConfig parses serve's flags and checks the Config and
// options they fill, in the notation the help shows.
func TestServeFlagsReachConfig(t *testing.T) {
	cmd := &cobra.Command{}
	o := newServeOptions()
	o.bindFlags(cmd)
	def := launcher.DefaultConfig()
	assert.Equal(t, def, o.cfg, "the flags' defaults are DefaultConfig's")
	require.NoError(t, cmd.ParseFlags([]string{
		"--max-conns", "7", "--max-frame", "1MiB", "--inflight-budget", "3GiB", "--handshake-timeout", "1500ms",
		"--token-ttl", "1h", "--budget-wait", "2s", "--frame-idle-timeout", "1m", "--write-timeout", "90s",
		"--max-json-depth", "9", "--refuse-fixed-nonce", "--sync", "commit", "--sync-delay", "0",
		"--listen", ":0", "--gateway", "localhost:8080",
	}))
	want := def
	want.MaxConns, want.MaxFrame, want.InFlightBudget = 7, 1<<20, 3<<30
	want.HandshakeTimeout, want.TokenTTL, want.BudgetWait = 1500*time.Millisecond, time.Hour, 2*time.Second
	want.FrameIdleTimeout, want.WriteTimeout, want.MaxJSONDepth = time.Minute, 90*time.Second, 9
	want.RefuseFixedNonce = true
	assert.Equal(t, want, o.cfg)
	assert.Equal(t, "commit", o.sync)
	assert.Equal(t, time.Duration(0), o.syncDelay)
	assert.Equal(t, "127.0.0.1:0", o.listen.addr.String(), ":PORT means loopback")
	assert.True(t, o.listen.set)
	assert.Equal(t, "127.0.0.1:8080", o.gateway.addr.String(), "localhost means loopback")
	require.NoError(t, cmd.ParseFlags([]string{"--gateway", "off", "--listen", "[::1]:5"}))
	assert.True(t, o.gateway.off)
	assert.Equal(t, "[::1]:5", o.listen.addr.String())

	assert.Equal(t, "off", cmd.Flag("auto-lock").DefValue, "auto-lock is off by default")
	assert.False(t, o.fromStdin)
	assert.False(t, o.dev)
	require.NoError(t, cmd.ParseFlags([]string{"--auto-lock", "15m", "--passphrase-stdin", "--dev"}))
	assert.Equal(t, 15*time.Minute, o.autoLock)
	assert.Equal(t, "15m", cmd.Flag("auto-lock").Value.String())
	assert.True(t, o.fromStdin)
	assert.True(t, o.dev)
	require.NoError(t, cmd.ParseFlags([]string{"--auto-lock", "off"}))
	assert.Equal(t, time.Duration(0), o.autoLock)
	assert.Equal(t, "off", cmd.Flag("auto-lock").Value.String())
	require.NoError(t, cmd.ParseFlags([]string{"--auto-lock", "0"}))
	assert.Equal(t, time.Duration(0), o.autoLock)

	fresh := newServeOptions()
	assert.False(t, fresh.listen.set, "an address not given is the default, which may move")
	assert.Equal(t, launcher.DefaultListen, fresh.listen.addr.String())
}

func TestByteAndDurationNotation(t *testing.T) {
	for in, want := range map[string]uint64{"1": 1, "1024": 1024, "64KiB": 64 << 10, "300MiB": 300 << 20, "1GiB": 1 << 30, "2TiB": 2 << 40, " 5 MiB ": 5 << 20, "7B": 7} {
		got, err := parseBytes(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "MiB", "1.5MiB", "1MB", "-1", "1e3", "0x10"} {
		_, err := parseBytes(bad)
		assert.Error(t, err, bad)
	}
	for n, want := range map[uint64]string{1: "1", 1000: "1000", 1024: "1KiB", 1536: "1536", 300 << 20: "300MiB", 1 << 30: "1GiB", 1 << 40: "1TiB"} {
		assert.Equal(t, want, formatBytes(n))
		back, err := parseBytes(want)
		require.NoError(t, err)
		assert.Equal(t, n, back, "formatBytes and parseBytes round-trip")
	}
	for d, want := range map[time.Duration]string{10 * time.Millisecond: "10ms", 10 * time.Second: "10s", 2 * time.Minute: "2m",
		90 * time.Second: "1m30s", time.Hour: "1h", 0: "0s"} {
		assert.Equal(t, want, formatDuration(d))
		if d > 0 {
			back, err := time.ParseDuration(want)
			require.NoError(t, err)
			assert.Equal(t, d, back)
		}
	}
	assert.True(t, strings.HasPrefix(formatDuration(time.Hour+time.Second), "1h0m1s"))
}

// TestCompletionScripts: launcher completion SHELL prints a script for each
// shell cobra supports.
func TestCompletionScripts(t *testing.T) {
	for shell, start := range map[string]string{"bash": "# bash completion V2 for launcher", "zsh": "#compdef launcher",
		"fish": "# fish completion for launcher", "powershell": "# powershell completion for launcher"} {
		code, out, errs := runIn(t, "completion", shell)
		require.Equal(t, exitOK, code, errs)
		assert.True(t, strings.HasPrefix(out, start), "%s: %.60q", shell, out)
	}
}
