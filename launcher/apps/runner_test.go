package apps

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/client"
)

// runRunner runs r until the test ends.
func runRunner(t *testing.T, r *Runner) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// script writes an executable shell script and returns its path and an
// opened handle, as Registry.Verify gives.
func script(t *testing.T, dir, body string) (string, *os.File) {
	t.Helper()
	exe := filepath.Join(dir, "app.sh")
	require.NoError(t, os.WriteFile(exe, []byte("#!/bin/sh\n"+body), 0o755))
	f, err := os.Open(exe)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return exe, f
}

// reapAll waits, reaping, until the apps r started have exited.
func reapAll(t *testing.T, r *Runner) {
	t.Helper()
	require.Eventually(t, func() bool { r.reap(); return r.Running() == 0 }, 10*time.Second, 5*time.Millisecond, "apps still running")
}

// fixedClock is a clock at a fixed instant.
func fixedClock() time.Time { return time.Date(2026, 11, 23, 15, 27, 45, 0, time.UTC) }

func TestRunnerStartsAndReaps(t *testing.T) {
	require.Equal(t, client.EnvLauncher, EnvLauncher, "the SDK looks where the runner puts it")
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	exe, _ := script(t, dir, "echo \"$@|$SAFE_LAUNCHER|$LAUNCHER_GATEWAY_URL\" > "+out+"\necho logged\n")
	run := NewRunner(RunnerConfig{LogDir: filepath.Join(dir, "logs"), Now: fixedClock,
		Env:        []string{"SAFE_LAUNCHER=leak", "LAUNCHER_GATEWAY_URL=http://stale/", "PATH=/usr/bin:/bin"},
		GatewayURL: "http://127.0.0.1:30081/", ReapInterval: 5 * time.Millisecond})
	runRunner(t, run)

	for _, secret := range []bool{false, true} {
		os.Remove(out)
		a := App{Name: "sh", Exec: exe, SecretEnv: secret}
		f, err := os.Open(exe)
		require.NoError(t, err)
		pid, err := run.Start(a, f, "tcp:127.0.0.1:1:abc", []string{"x", "y"})
		f.Close()
		require.NoError(t, err)
		assert.Positive(t, pid)
		var got []byte
		require.Eventually(t, func() bool {
			got, err = os.ReadFile(out)
			return err == nil && bytes.HasSuffix(got, []byte("\n"))
		}, 10*time.Second, 5*time.Millisecond)
		if secret {
			assert.Equal(t, "x y|tcp:127.0.0.1:1:abc|http://127.0.0.1:30081/\n", string(got))
		} else {
			assert.Equal(t, "--launcher tcp:127.0.0.1:1:abc x y||http://127.0.0.1:30081/\n", string(got),
				"the daemon's SAFE_LAUNCHER and LAUNCHER_GATEWAY_URL are not passed on; the real gateway URL is")
		}
		require.Eventually(t, func() bool { return run.Running() == 0 }, 10*time.Second, 5*time.Millisecond, "reaped")
	}
	log, err := os.ReadFile(filepath.Join(dir, "logs", "sh.log"))
	require.NoError(t, err)
	header := "==== 2026-11-23T15:27:45Z launcher: starting sh (" + exe + ") ====\n"
	assert.Equal(t, header+"logged\n"+header+"logged\n", string(log), "a header line before each launch's output")
	st, err := os.Stat(filepath.Join(dir, "logs", "sh.log"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}

// TestRunnerNoGatewayNoVariable: with the gateway off, LAUNCHER_GATEWAY_URL
// is unset, even if the daemon's environment had one.
func TestRunnerNoGatewayNoVariable(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	exe, f := script(t, dir, "echo \"${LAUNCHER_GATEWAY_URL-unset}\" > "+out+"\n")
	run := NewRunner(RunnerConfig{LogDir: filepath.Join(dir, "logs"), Env: []string{"LAUNCHER_GATEWAY_URL=http://stale/"}})
	runRunner(t, run)
	_, err := run.Start(App{Name: "sh", Exec: exe}, f, "tcp:127.0.0.1:1:abc", nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got, err := os.ReadFile(out)
		return err == nil && string(got) == "unset\n"
	}, 10*time.Second, 5*time.Millisecond)
}

// TestLogRotatesAtLaunch: a log at the bound moves to NAME.log.1 (replacing
// the older one) before the next launch writes its header.
func TestLogRotatesAtLaunch(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	require.NoError(t, os.Mkdir(logs, 0o700))
	exe, f := script(t, dir, "echo second run\n")
	old := strings.Repeat("o", 1000)
	require.NoError(t, os.WriteFile(filepath.Join(logs, "sh.log"), []byte(old), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(logs, "sh.log.1"), []byte("oldest"), 0o600))
	run := NewRunner(RunnerConfig{LogDir: logs, MaxLogBytes: 1000, Now: fixedClock, ReapInterval: time.Hour})
	t.Cleanup(func() { reapAll(t, run) })
	_, err := run.Start(App{Name: "sh", Exec: exe}, f, "tcp:127.0.0.1:1:abc", nil)
	require.NoError(t, err)
	rotated, err := os.ReadFile(filepath.Join(logs, "sh.log.1"))
	require.NoError(t, err)
	assert.Equal(t, old, string(rotated))
	want := "==== 2026-11-23T15:27:45Z launcher: starting sh (" + exe + ") ====\nsecond run\n"
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(filepath.Join(logs, "sh.log"))
		return string(b) == want
	}, 10*time.Second, 5*time.Millisecond)

	// Under the bound nothing moves.
	_, err = run.Start(App{Name: "sh", Exec: exe}, f, "tcp:127.0.0.1:1:abc", nil)
	require.NoError(t, err)
	rotated, err = os.ReadFile(filepath.Join(logs, "sh.log.1"))
	require.NoError(t, err)
	assert.Equal(t, old, string(rotated))
}

// TestLogRotatesWhileRunning: the log of an app that runs on is copied to
// NAME.log.1 and emptied once it reaches the bound; the app's later output
// lands at the start of the emptied file.
func TestLogRotatesWhileRunning(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	fifo := filepath.Join(dir, "gate")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	// The app writes 2000 bytes, waits for a line on the fifo, writes "after".
	exe, f := script(t, dir, "head -c 2000 /dev/zero | tr '\\0' 'x'\nread line < "+fifo+"\necho after\n")
	run := NewRunner(RunnerConfig{LogDir: logs, MaxLogBytes: 1024, Now: fixedClock, ReapInterval: time.Hour})
	_, err := run.Start(App{Name: "sh", Exec: exe}, f, "tcp:127.0.0.1:1:abc", nil)
	require.NoError(t, err)
	logPath := filepath.Join(logs, "sh.log")
	require.Eventually(t, func() bool {
		st, err := os.Stat(logPath)
		return err == nil && st.Size() >= 2000
	}, 10*time.Second, 5*time.Millisecond)

	run.rotateRunning() // what Run does at each reap
	rotated, err := os.ReadFile(logPath + ".1")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(rotated), "==== 2026-11-23T15:27:45Z launcher: starting sh"))
	assert.True(t, strings.HasSuffix(string(rotated), strings.Repeat("x", 2000)))
	st, err := os.Stat(logPath)
	require.NoError(t, err)
	assert.Zero(t, st.Size())

	require.NoError(t, os.WriteFile(fifo, []byte("go\n"), 0o600))
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(logPath)
		return string(b) == "after\n"
	}, 10*time.Second, 5*time.Millisecond, "the app appends at the start of the emptied log")
	reapAll(t, run)
}

// TestLogLinksRefused: a log file or log directory planted as a symbolic
// link (or a hard link) makes the launch fail, and its target is left
// untouched.
func TestLogLinksRefused(t *testing.T) {
	victimDir := t.TempDir()
	victim := filepath.Join(victimDir, "victim")
	const content = "precious\n"
	for i, plant := range []func(logs string){
		func(logs string) {
			require.NoError(t, os.Mkdir(logs, 0o700))
			require.NoError(t, os.Symlink(victim, filepath.Join(logs, "sh.log")))
		},
		func(logs string) {
			require.NoError(t, os.Mkdir(logs, 0o700))
			require.NoError(t, os.Link(victim, filepath.Join(logs, "sh.log")))
		},
		func(logs string) { require.NoError(t, os.Symlink(victimDir, logs)) },
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			require.NoError(t, os.WriteFile(victim, []byte(content), 0o600))
			dir := t.TempDir()
			logs := filepath.Join(dir, "logs")
			plant(logs)
			exe, f := script(t, dir, "echo output\n")
			run := NewRunner(RunnerConfig{LogDir: logs, ReapInterval: time.Hour})
			_, err := run.Start(App{Name: "sh", Exec: exe}, f, "tcp:127.0.0.1:1:secret", nil)
			require.ErrorIs(t, err, ErrStart)
			assert.Zero(t, run.Running(), "nothing was started")
			b, err := os.ReadFile(victim)
			require.NoError(t, err)
			assert.Equal(t, content, string(b))
			_, err = os.Stat(filepath.Join(victimDir, "sh.log"))
			assert.ErrorIs(t, err, os.ErrNotExist)
		})
	}
}

// BenchmarkLogRotate measures one rotation of a 1 MiB log (copy to .1 and
// truncate): the window in which a running app's output can be lost.
func BenchmarkLogRotate(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "sh.log")
	chunk := bytes.Repeat([]byte("x"), DefaultMaxLogBytes)
	r := NewRunner(RunnerConfig{LogDir: dir})
	f, err := openNoFollow(path, os.O_RDWR|os.O_CREATE|os.O_APPEND)
	require.NoError(b, err)
	defer f.Close()
	b.SetBytes(DefaultMaxLogBytes)
	for b.Loop() {
		b.StopTimer()
		_, err := f.Write(chunk)
		require.NoError(b, err)
		b.StartTimer()
		require.NoError(b, r.rotate(f, path))
	}
}
