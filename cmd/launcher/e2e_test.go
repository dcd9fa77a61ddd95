package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/account"
	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/internal/lockedbuf"
	"github.com/safe-launcher/launcher/launcher/control"
	"github.com/safe-launcher/launcher/wire"
)

// Binaries built once by TestMain.
var bins struct{ launcher, testapp string }

// buildFlags are the go build flags of the binaries. LAUNCHER_E2E_RACE=1
// builds them with -race: thorough, but each process then starts several
// times slower, which breaks the package's time budget on small machines. The
// daemon's code runs under the race detector in-process in
// launcher/control's tests either way.
var buildFlags []string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "launcher-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if os.Getenv("LAUNCHER_E2E_RACE") == "1" {
		buildFlags = append(buildFlags, "-race")
	}
	bins.launcher = filepath.Join(dir, "launcher")
	bins.testapp = filepath.Join(dir, "testapp")
	// Build both binaries at once.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, b := range [][2]string{{".", bins.launcher}, {"../../internal/testapp", bins.testapp}} {
		wg.Go(func() {
			cmd := exec.Command("go", append(append([]string{"build"}, buildFlags...), "-o", b[1], b[0])...)
			cmd.Stderr = os.Stderr
			if err := cmd.Run(); err != nil {
				errs[i] = fmt.Errorf("building %s: %w", b[0], err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newDataDir returns a data directory path for a test; serve creates it
// (t.TempDir's own directories are open to group and others, which serve
// refuses).
func newDataDir(t *testing.T) string {
	return filepath.Join(t.TempDir(), "data")
}

// lineWriter sends the first two complete lines written to it on lines.
type lineWriter struct {
	buf   []byte
	sent  int
	lines chan<- string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	if w.sent < 2 {
		w.buf = append(w.buf, p...)
		for w.sent < 2 {
			i := bytes.IndexByte(w.buf, '\n')
			if i < 0 {
				break
			}
			w.lines <- string(w.buf[:i])
			w.buf = w.buf[i+1:]
			w.sent++
		}
	}
	return len(p), nil
}

// daemon is a `launcher serve` child process.
type daemon struct {
	t       *testing.T
	data    string
	addr    string
	gateway string // the dns web gateway's address
	cmd     *exec.Cmd
	stderr  *lockedbuf.Buffer
	done    chan struct{} // closed when the process was waited for
	err     error         // Wait's result, set before done closes
}

// startDaemon runs `launcher serve --data DATA --listen 127.0.0.1:0
// --gateway 127.0.0.1:0 EXTRA...` and waits for its address lines.
func startDaemon(t *testing.T, data string, extra ...string) *daemon {
	t.Helper()
	return startServe(t, data, append([]string{"--listen", "127.0.0.1:0", "--gateway", "127.0.0.1:0"}, extra...)...)
}

// testPass is the passphrase of the accounts the tests make.
const testPass = "test passphrase"

// cheapParams are Argon2id parameters that make the tests' unlocks cheap;
// init never picks them (its calibration gives at least 64 MiB).
var cheapParams = account.Params{Time: 1, MemoryKiB: 64, Threads: 1}

// ensureAccount creates data's account with testPass and cheapParams
// (and data, 0700) unless it has one.
func ensureAccount(t *testing.T, data string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(data, 0o700))
	if ok, err := account.Exists(data); err == nil && ok {
		return
	}
	m, _, err := account.Create(data, []byte(testPass), cheapParams, rand.Reader)
	require.NoError(t, err)
	m.Wipe()
}

// startServe runs `launcher serve --data DATA --passphrase-stdin ARGS...`
// with testPass on stdin (the account made first if there is none), so the
// daemon starts unlocked, and waits for its "listening on" line and, unless
// the gateway is off, its gateway line.
func startServe(t *testing.T, data string, args ...string) *daemon {
	t.Helper()
	ensureAccount(t, data)
	return startServeStdin(t, data, testPass+"\n", append([]string{"--passphrase-stdin"}, args...)...)
}

// startServeStdin runs `launcher serve --data DATA ARGS...` with stdin and
// waits for its address lines.
func startServeStdin(t *testing.T, data, stdin string, args ...string) *daemon {
	t.Helper()
	d := &daemon{t: t, data: data, stderr: &lockedbuf.Buffer{}, done: make(chan struct{})}
	all := []string{"serve"}
	if data != "" {
		all = append(all, "--data", data)
	}
	d.cmd = exec.Command(bins.launcher, append(all, args...)...)
	d.cmd.Stdin = strings.NewReader(stdin)
	d.cmd.Stderr = d.stderr
	lines := make(chan string, 2)
	d.cmd.Stdout = &lineWriter{lines: lines}
	require.NoError(t, d.cmd.Start())
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() { d.kill(syscall.SIGKILL) })
	select {
	case l := <-lines:
		addr, ok := strings.CutPrefix(l, "listening on ")
		require.True(t, ok, "first stdout line %q", l)
		d.addr = addr
	case <-d.done:
		t.Fatalf("daemon exited before listening: %v\n%s", d.err, d.stderr)
	case <-time.After(120 * time.Second): // creating an account calibrates Argon2id: slow on a loaded machine
		t.Fatalf("daemon did not print its address\n%s", d.stderr)
	}
	if slices.Contains(args, "off") {
		return d
	}
	select {
	case l := <-lines:
		gw, ok := strings.CutPrefix(l, "dns web gateway on http://")
		require.True(t, ok, "second stdout line %q", l)
		d.gateway = strings.TrimSuffix(gw, "/")
	case <-time.After(15 * time.Second):
		t.Fatalf("daemon did not print its gateway address\n%s", d.stderr)
	}
	return d
}

// kill signals the daemon and waits for it to exit.
func (d *daemon) kill(sig syscall.Signal) {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(sig)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		d.t.Errorf("daemon did not exit on %v", sig)
		<-d.done
	}
}

// stop ends the daemon with SIGTERM and checks it exited cleanly.
func (d *daemon) stop() {
	d.t.Helper()
	d.kill(syscall.SIGTERM)
	require.NoError(d.t, d.err, "daemon exit\n%s", d.stderr)
}

// result is a CLI run.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs the launcher CLI with --data dir appended.
func cli(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return cliStdin(t, dir, "", args...)
}

// cliStdin runs the launcher CLI with --data dir appended and stdin.
func cliStdin(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if dir != "" {
		args = append([]string{"--data", dir}, args...)
	}
	cmd := exec.CommandContext(ctx, bins.launcher, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// ok runs the CLI and requires success.
func ok(t *testing.T, dir string, args ...string) string {
	t.Helper()
	r := cli(t, dir, args...)
	require.Equal(t, 0, r.code, "launcher %v: stderr %q", args, r.stderr)
	require.Empty(t, r.stderr)
	return r.stdout
}

// report is internal/testapp's report.
type report struct {
	OK          bool     `json:"ok"`
	Error       string   `json:"error"`
	Via         string   `json:"via"`
	Argv        []string `json:"argv"`
	EnvSet      bool     `json:"env_set"`
	Mode        string   `json:"mode"`
	Dir         string   `json:"dir"`
	DirListed   string   `json:"dir_listed"`
	RootEntries []string `json:"root_entries"`
}

// waitReport waits for the test app's report file.
func waitReport(t *testing.T, path string) report {
	t.Helper()
	var r report
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(path)
		return err == nil && json.Unmarshal(b, &r) == nil
	}, 15*time.Second, 10*time.Millisecond, "no report at %s", path)
	return r
}

func appsJSON(t *testing.T, dir string) map[string]control.AppInfo {
	t.Helper()
	var list []control.AppInfo
	require.NoError(t, json.Unmarshal([]byte(ok(t, dir, "app", "ls", "--json")), &list))
	m := map[string]control.AppInfo{}
	for _, a := range list {
		m[a.Name] = a
	}
	return m
}

// copyFile copies the test app to a path the test may replace.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, 0o755))
}

func TestLaunchArgvAndSecretEnv(t *testing.T) {
	t.Parallel()
	data := newDataDir(t)
	d := startDaemon(t, data)
	defer d.stop()

	out := ok(t, data, "app", "add", "plain", "--exec", bins.testapp)
	assert.Regexp(t, `^added app plain \(id [0-9a-f]{32}, root plain-Root-Dir, SAFEDrive no\)\n$`, out)
	ok(t, data, "app", "add", "secret", "--exec", bins.testapp, "--secret-env")

	for _, name := range []string{"plain", "secret"} {
		rp := filepath.Join(t.TempDir(), "report.json")
		out := ok(t, data, "app", "launch", name, "--", "--report", rp, "--dir", "hello")
		assert.Regexp(t, `^launched `+name+` \(pid \d+\)\n$`, out)
		r := waitReport(t, rp)
		require.True(t, r.OK, "app %s: %s", name, r.Error)
		assert.Equal(t, "counter", r.Mode)
		assert.Equal(t, "hello", r.DirListed)
		assert.Equal(t, []string{"hello"}, r.RootEntries, "a fresh private root holds only what the app made")
		argv := strings.Join(r.Argv, " ")
		if name == "plain" {
			assert.Equal(t, "argv", r.Via)
			assert.False(t, r.EnvSet)
			require.Len(t, r.Argv, 7)
			assert.Equal(t, "--launcher", r.Argv[1])
			assert.Regexp(t, `^tcp:127\.0\.0\.1:\d+:.+$`, r.Argv[2])
			assert.Equal(t, []string{"--report", rp, "--dir", "hello"}, r.Argv[3:])
		} else {
			assert.Equal(t, "env", r.Via)
			assert.True(t, r.EnvSet)
			assert.NotContains(t, argv, "tcp:", "the value must not be on the command line")
			assert.NotContains(t, argv, "--launcher")
		}
	}
	// The two apps have different private roots.
	apps := appsJSON(t, data)
	assert.Equal(t, "plain-Root-Dir", apps["plain"].RootDir)
	assert.Equal(t, "secret-Root-Dir", apps["secret"].RootDir)
	assert.True(t, apps["secret"].SecretEnv)
}

func TestChangedBinaryRefusedThenAccepted(t *testing.T) {
	t.Parallel()
	data := newDataDir(t)
	d := startDaemon(t, data)
	defer d.stop()
	exe := filepath.Join(t.TempDir(), "app")
	copyFile(t, bins.testapp, exe)
	ok(t, data, "app", "add", "app", "--exec", exe)
	before := appsJSON(t, data)["app"].SHA512

	// Replace the binary: same program, one byte appended (still runs).
	b, err := os.ReadFile(bins.testapp)
	require.NoError(t, err)
	tmp := exe + ".new"
	require.NoError(t, os.WriteFile(tmp, append(b, 0), 0o755))
	require.NoError(t, os.Rename(tmp, exe))

	rp := filepath.Join(t.TempDir(), "report.json")
	r := cli(t, data, "app", "launch", "app", "--", "--report", rp)
	assert.Equal(t, 1, r.code)
	assert.Empty(t, r.stdout)
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
	assert.Contains(t, r.stderr, "changed since it was added")
	assert.Contains(t, r.stderr, "--accept-changed")
	_, err = os.Stat(rp)
	assert.ErrorIs(t, err, os.ErrNotExist, "the changed binary must not have run")
	assert.Equal(t, before, appsJSON(t, data)["app"].SHA512)

	out := ok(t, data, "app", "launch", "app", "--accept-changed", "--", "--report", rp)
	assert.Regexp(t, `^accepted the changed executable of app\nlaunched app \(pid \d+\)\n$`, out)
	rep := waitReport(t, rp)
	require.True(t, rep.OK, rep.Error)
	after := appsJSON(t, data)["app"].SHA512
	assert.NotEqual(t, before, after)

	// The new hash is recorded: a plain launch works again.
	require.NoError(t, os.Remove(rp))
	ok(t, data, "app", "launch", "app", "--", "--report", rp)
	require.True(t, waitReport(t, rp).OK)
}

// TestRevokeGrantLive uses a session held by the test itself, with a value
// from `app token`: SAFEDrive requests follow grant and revoke without
// reconnecting.
func TestRevokeGrantLive(t *testing.T) {
	t.Parallel()
	data := newDataDir(t)
	d := startDaemon(t, data)
	defer d.stop()
	ok(t, data, "app", "add", "app", "--exec", bins.testapp, "--safe-drive")
	tok := ok(t, data, "app", "token", "app")
	require.Equal(t, 1, strings.Count(tok, "\n"))
	require.Regexp(t, `^tcp:127\.0\.0\.1:\d+:\S+\n$`, tok)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, strings.TrimSpace(tok))
	require.NoError(t, err)
	defer c.Close()
	shared := func(name string) error {
		return c.CreateDir(ctx, wire.CreateDirRequest{IsPathShared: true, DirPath: name})
	}
	require.NoError(t, shared("a"))
	assert.Equal(t, "SAFEDrive revoked from app\n", ok(t, data, "app", "revoke", "app"))
	require.ErrorIs(t, shared("b"), wire.ErrSharedDenied)
	// Its private root still works.
	require.NoError(t, c.CreateDir(ctx, wire.CreateDirRequest{DirPath: "private"}))
	assert.Equal(t, "SAFEDrive granted to app\n", ok(t, data, "app", "grant", "app"))
	require.NoError(t, shared("b"))
	assert.False(t, appsJSON(t, data)["x"].SafeDrive)
	assert.True(t, appsJSON(t, data)["app"].SafeDrive)
	assert.Equal(t, 1, appsJSON(t, data)["app"].Sessions)

	st := ok(t, data, "status")
	assert.Contains(t, st, "address:   "+d.addr+"\n")
	assert.Contains(t, st, "apps:      1\n")
	assert.Contains(t, st, "sessions:  1\n")
	assert.Regexp(t, `(?m)^app\s+127\.0\.0\.1:\d+\s+counter\s+\S+ \S+\s+4\s+\d+\s+\d+$`, st)
}

func TestRemoveEndsSessionAndStrings(t *testing.T) {
	t.Parallel()
	data := newDataDir(t)
	d := startDaemon(t, data)
	defer d.stop()
	ok(t, data, "app", "add", "app", "--exec", bins.testapp)
	rp := filepath.Join(t.TempDir(), "report.json")
	ok(t, data, "app", "launch", "app", "--", "--report", rp, "--hold", "--dir", "keep")
	require.True(t, waitReport(t, rp).OK)
	pending := strings.TrimSpace(ok(t, data, "app", "token", "app"))

	out := ok(t, data, "app", "rm", "app")
	removed := time.Now()
	assert.Equal(t, "removed app app (1 sessions ended; root app-Root-Dir kept)\n", out)
	// The held session was closed by the daemon: the app saw it end.
	require.Eventually(t, func() bool { _, err := os.Stat(rp + ".ended"); return err == nil },
		10*time.Second, 5*time.Millisecond)
	var ended struct {
		At int64 `json:"ended_unix_nano"`
	}
	b, err := os.ReadFile(rp + ".ended")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &ended))
	assert.Less(t, time.Unix(0, ended.At).Sub(removed), 100*time.Millisecond)

	// The string minted before the removal is dead.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = client.Dial(ctx, pending)
	require.ErrorIs(t, err, &wire.Error{Code: wire.CodeLauncherString})
	assert.Empty(t, appsJSON(t, data))

	// The kept root is not handed to a new app of the same name.
	out = ok(t, data, "app", "add", "app", "--exec", bins.testapp)
	assert.Contains(t, out, "root app-Root-Dir-2")
	r := cli(t, data, "app", "rm", "nope")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "launcher: apps: no such app: \"nope\"\n", r.stderr)
	// The kept root is listed; an app's own root cannot be purged alone;
	// rm --purge deletes the app's root and the kept one.
	assert.Equal(t, "ROOT\napp-Root-Dir\n", ok(t, data, "app", "roots"))
	assert.Equal(t, "[\n  \"app-Root-Dir\"\n]\n", ok(t, data, "app", "roots", "--json"))
	r = cli(t, data, "app", "roots", "--purge", "app-Root-Dir-2")
	assert.Equal(t, exitFailure, r.code)
	assert.Equal(t, "launcher: apps: the root belongs to an app: app-Root-Dir-2 is the private root of app \"app\"; remove the app with: launcher app rm app --purge\n", r.stderr)
	assert.Equal(t, "removed app app (0 sessions ended; root app-Root-Dir-2 deleted, and app-Root-Dir left by an earlier app of that name)\n",
		ok(t, data, "app", "rm", "app", "--purge"))
	assert.Equal(t, "[]\n", ok(t, data, "app", "roots", "--json"))
	d.stop()
	// Both roots are gone: a third app gets the first name again.
	d = startDaemon(t, data)
	defer d.stop()
	assert.Contains(t, ok(t, data, "app", "add", "app", "--exec", bins.testapp), "root app-Root-Dir, ")
}

func TestRestartKeepsEverything(t *testing.T) {
	t.Parallel()
	data := newDataDir(t)
	d := startDaemon(t, data)
	ok(t, data, "app", "add", "one", "--exec", bins.testapp)
	ok(t, data, "app", "add", "two", "--exec", bins.testapp, "--secret-env")
	ok(t, data, "app", "grant", "two")
	rp := filepath.Join(t.TempDir(), "r1.json")
	ok(t, data, "app", "launch", "two", "--", "--report", rp, "--dir", "before-restart")
	require.True(t, waitReport(t, rp).OK)
	before := appsJSON(t, data)
	d.stop()

	d = startDaemon(t, data)
	defer d.stop()
	after := appsJSON(t, data)
	assert.Equal(t, before, after)
	assert.True(t, after["two"].SafeDrive)
	assert.False(t, after["one"].SafeDrive)
	rp2 := filepath.Join(t.TempDir(), "r2.json")
	ok(t, data, "app", "launch", "two", "--", "--report", rp2, "--dir", "after-restart")
	r := waitReport(t, rp2)
	require.True(t, r.OK, r.Error)
	assert.ElementsMatch(t, []string{"before-restart", "after-restart"}, r.RootEntries, "the private root survived")
}

func TestKill9KeepsRegistry(t *testing.T) {
	t.Parallel()
	data := newDataDir(t)
	d := startDaemon(t, data)
	ok(t, data, "app", "add", "one", "--exec", bins.testapp)
	ok(t, data, "app", "add", "two", "--exec", bins.testapp, "--safe-drive")
	ok(t, data, "app", "revoke", "two")
	before := appsJSON(t, data)
	d.kill(syscall.SIGKILL)

	// The stale socket is left behind; the CLI reports the daemon as not running.
	r := cli(t, data, "app", "ls")
	assert.Equal(t, exitNotRunning, r.code)
	assert.Contains(t, r.stderr, "not running")

	d = startDaemon(t, data)
	defer d.stop()
	assert.Equal(t, before, appsJSON(t, data))
	entries, err := os.ReadDir(data)
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotContains(t, e.Name(), ".tmp-", "temporary files are cleaned up")
	}
}

func TestCLIErrors(t *testing.T) {
	t.Parallel()
	data := newDataDir(t)

	// Daemon not running.
	r := cli(t, data, "app", "ls")
	assert.Equal(t, exitNotRunning, r.code)
	assert.Empty(t, r.stdout)
	assert.Equal(t, fmt.Sprintf("launcher: the launcher daemon is not running for data directory %s; start it with: launcher serve --data %s\n", data, data), r.stderr)
	r = cli(t, data, "status")
	assert.Equal(t, exitNotRunning, r.code)

	d := startDaemon(t, data)
	defer d.stop()

	// A second daemon on the same data directory refuses to start.
	r = cli(t, data, "serve", "--listen", "127.0.0.1:0")
	assert.Equal(t, 1, r.code)
	assert.Empty(t, r.stdout)
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
	assert.Contains(t, r.stderr, "already running with data directory "+data)
	assert.Contains(t, r.stderr, fmt.Sprintf("(pid %d)", d.cmd.Process.Pid))
	// ... and the first one still works.
	ok(t, data, "status")

	cases := []struct {
		args []string
		code int
		want string // stderr must contain it
	}{
		{[]string{"app", "add", "bad name", "--exec", bins.testapp}, 1, `contains ' '`},
		{[]string{"app", "add", "-lead", "--exec", bins.testapp}, 2, "unknown shorthand flag: 'l' in -lead"},
		{[]string{"app", "add", strings.Repeat("a", 65), "--exec", bins.testapp}, 1, "more than 64"},
		{[]string{"app", "add", "x"}, 2, "--exec PATH is required"},
		{[]string{"app", "add", "x", "--exec", "/nonexistent/app"}, 1, "bad executable"},
		{[]string{"app", "add", "x", "--exec", data}, 1, "not a regular file"},
		{[]string{"app", "add"}, 2, "missing NAME"},
		{[]string{"app", "add", "a", "b", "--exec", bins.testapp}, 2, "one NAME expected"},
		{[]string{"app", "launch", "ghost"}, 1, "no such app"},
		{[]string{"app", "token", "ghost"}, 1, "no such app"},
		{[]string{"app", "grant", "ghost"}, 1, "no such app"},
		{[]string{"app", "frobnicate"}, 2, "unknown subcommand"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"app", "ls", "--bogus"}, 2, "unknown flag: --bogus"},
		{[]string{"app", "roots", "--purge", "nope-Root-Dir"}, 1, `no such root: "nope-Root-Dir"`},
	}
	for _, c := range cases {
		r := cli(t, data, c.args...)
		assert.Equal(t, c.code, r.code, "%v: %q", c.args, r.stderr)
		assert.Contains(t, r.stderr, c.want, "%v", c.args)
		assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "%v: one line: %q", c.args, r.stderr)
		assert.True(t, strings.HasPrefix(r.stderr, "launcher: "), r.stderr)
	}

	ok(t, data, "app", "add", "dup", "--exec", bins.testapp)
	r = cli(t, data, "app", "add", "dup", "--exec", bins.testapp)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "an app of that name exists")

	// --data after the command works too; ls has its header and one row.
	r = cli(t, "", "app", "ls", "--data", data)
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 2)
	assert.Regexp(t, `^NAME\s+ID\s+SAFEDRIVE\s+SESSIONS\s+ENTRIES\s+CONTENT\s+METADATA$`, lines[0])
	assert.Regexp(t, `^dup\s+[0-9a-f]{32}\s+no\s+0\s+0/1000000\s+0B/64\.0GiB\s+0B/256\.0MiB$`, lines[1], "usage and quota")
}

// TestTokenMatchesAddress checks the token output against the daemon's address.
func TestTokenMatchesAddress(t *testing.T) {
	t.Parallel()
	data := newDataDir(t)
	d := startDaemon(t, data)
	defer d.stop()
	ok(t, data, "app", "add", "a", "--exec", bins.testapp)
	v := strings.TrimSpace(ok(t, data, "app", "token", "a"))
	tg, err := client.ParseLauncherValue(v)
	require.NoError(t, err)
	assert.Equal(t, d.addr, tg.Addr())
	var st control.Status
	require.NoError(t, json.Unmarshal([]byte(ok(t, data, "status", "--json")), &st))
	assert.Equal(t, d.addr, st.Address)
	assert.Equal(t, 1, st.Apps)
	assert.Equal(t, d.cmd.Process.Pid, st.PID)

	// Shell completion asks the daemon for app names.
	r := cli(t, data, "__complete", "app", "launch", "")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "a\n:4\n", r.stdout)
}

// TestDNSCommands registers a name through the SDK (as an app would), then
// lists and resolves it with the CLI and fetches the site from the gateway.
func TestDNSCommands(t *testing.T) {
	data := newDataDir(t)
	d := startDaemon(t, data)
	defer d.stop()
	ok(t, data, "app", "add", "site", "--exec", bins.testapp)
	value := strings.TrimSpace(ok(t, data, "app", "token", "site"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, value)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.CreateDir(ctx, wire.CreateDirRequest{DirPath: "www", UserMetadata: wire.Bytes{}}))
	require.NoError(t, c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "www/index.html", UserMetadata: wire.Bytes{}}))
	page := "<h1>hello from the launcher</h1>"
	require.NoError(t, c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: "www/index.html",
		NewValues: wire.FileNewValues{Content: &wire.FileContent{Bytes: []byte(page)}}}))
	require.NoError(t, c.RegisterDNS(ctx, wire.ServiceRequest{LongName: "example", ServiceName: "www", ServiceHomeDirPath: "www"}))

	ls := ok(t, data, "dns", "ls")
	assert.Contains(t, ls, "www.example")
	assert.Contains(t, ls, "site")
	_, port, err := net.SplitHostPort(d.gateway)
	require.NoError(t, err)
	url := "http://www.example.localhost:" + port + "/"
	assert.Contains(t, ls, url)

	res := ok(t, data, "dns", "resolve", "www.example")
	assert.Contains(t, res, "path:     /www")
	assert.Contains(t, res, "url:      "+url)
	r := cli(t, data, "dns", "resolve", "nope.example")
	assert.Equal(t, exitFailure, r.code)
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)

	// The gateway serves the site for its Host, and nothing for another Host.
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+d.gateway+"/", nil)
	require.NoError(t, err)
	req.Host = "www.example.localhost:" + port
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, page, string(body))
	req.Host = "evil.test"
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMisdirectedRequest, resp.StatusCode)

	// rm --purge deletes the app with its root and its dns names, in one
	// transaction of the store.
	c.Close()
	assert.Contains(t, ok(t, data, "app", "rm", "site", "--purge"), "; root site-Root-Dir deleted; dns names example deleted)\n")
	assert.NotContains(t, ok(t, data, "dns", "ls"), "example")
	r = cli(t, data, "dns", "resolve", "www.example")
	assert.Equal(t, exitFailure, r.code)
}

// TestServeLimitFlags checks that serve's limit flags reach the daemon.
func TestServeLimitFlags(t *testing.T) {
	data := newDataDir(t)
	d := startDaemon(t, data, "--refuse-fixed-nonce", "--max-conns", "1", "--token-ttl", "1h")
	defer d.stop()
	ok(t, data, "app", "add", "lim", "--exec", bins.testapp)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := client.Dial(ctx, strings.TrimSpace(ok(t, data, "app", "token", "lim")), client.WithFixedNonce())
	require.ErrorIs(t, err, &wire.Error{Code: wire.CodeFixedRefused}, "--refuse-fixed-nonce")
	c, err := client.Dial(ctx, strings.TrimSpace(ok(t, data, "app", "token", "lim")))
	require.NoError(t, err)
	defer c.Close()
	_, err = client.Dial(ctx, strings.TrimSpace(ok(t, data, "app", "token", "lim")))
	require.ErrorIs(t, err, wire.ErrBusy, "--max-conns 1: the second connection is refused")
}

// TestServeSyncFlags checks that --sync reaches the store (serve logs the
// mode it opened the store in), that --sync-delay is still accepted (it
// has no effect on the SQLite store), that a change made under --sync
// commit survives a restart in the default mode, and that an unknown mode
// is a usage error.
func TestServeSyncFlags(t *testing.T) {
	data := newDataDir(t)
	logged := func(d *daemon, s string) {
		t.Helper()
		require.Eventually(t, func() bool { return strings.Contains(d.stderr.String(), s) }, 10*time.Second, 10*time.Millisecond,
			"serve did not log %q: %s", s, d.stderr.String())
	}
	d := startDaemon(t, data, "--sync", "commit")
	logged(d, "synchronous=FULL")
	logged(d, "sync=commit")
	ok(t, data, "app", "add", "syncer", "--exec", bins.testapp)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, strings.TrimSpace(ok(t, data, "app", "token", "syncer")))
	require.NoError(t, err)
	require.NoError(t, c.CreateDir(ctx, wire.CreateDirRequest{DirPath: "kept", UserMetadata: wire.Bytes{}}))
	c.Close()
	d.stop()

	d = startDaemon(t, data, "--sync-delay", "0")
	defer d.stop()
	logged(d, "synchronous=NORMAL")
	logged(d, "sync=background")
	c, err = client.Dial(ctx, strings.TrimSpace(ok(t, data, "app", "token", "syncer")))
	require.NoError(t, err)
	defer c.Close()
	_, err = c.GetDir(ctx, wire.GetDirRequest{DirPath: "kept"})
	require.NoError(t, err)

	r := cli(t, newDataDir(t), "serve", "--sync", "always")
	require.Equal(t, exitUsage, r.code)
	require.Equal(t, "launcher: --sync: must be background or commit, got \"always\"\n", r.stderr)
}
