package main

import (
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/account"
	"github.com/safe-launcher/launcher/internal/lockedbuf"
)

// ptyRun runs the launcher with args on a pseudo-terminal made by
// util-linux's script(1): the test types into its stdin, and reads the
// terminal's output (stdout and stderr of the launcher, and any echo).
type ptyRun struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *lockedbuf.Buffer
	done chan struct{}
	err  error
}

func startPTY(t *testing.T, args ...string) *ptyRun {
	t.Helper()
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) (util-linux) is not installed; the prompts are tested in-process through a scripted terminal (TestServeOffersAccount, TestInitAndPasswdInProcess)")
	}
	quoted := []string{shellQuote(bins.launcher)}
	for _, a := range args {
		quoted = append(quoted, shellQuote(a))
	}
	p := &ptyRun{out: &lockedbuf.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(script, "-qfec", strings.Join(quoted, " "), "/dev/null")
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.in, err = p.cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.in.Close()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// expect waits until the terminal shows n occurrences of s.
func (p *ptyRun) expect(t *testing.T, s string, n int) {
	t.Helper()
	// Generous: creating an account calibrates Argon2id with real
	// derivations, which a loaded machine slows down many times.
	require.Eventually(t, func() bool { return strings.Count(p.out.String(), s) >= n }, 120*time.Second, 5*time.Millisecond,
		"the terminal never showed %q %d times:\n%s", s, n, p.out.String())
}

// typeLine types a line once the terminal shows the prompt for the n-th time.
func (p *ptyRun) typeLine(t *testing.T, prompt string, n int, line string) {
	t.Helper()
	p.expect(t, prompt, n)
	_, err := io.WriteString(p.in, line+"\n")
	require.NoError(t, err)
}

// exitCode waits for the run to end and returns its exit code.
func (p *ptyRun) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(120 * time.Second):
		t.Fatalf("did not exit:\n%s", p.out.String())
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	require.NoError(t, p.err)
	return 0
}

// TestTerminalPrompts types at real prompts on a pseudo-terminal: init
// refuses a mismatch; serve on a fresh data directory (the README's first
// command) offers to create the account, asks twice without echo and serves
// unlocked; unlock asks once without echo.
func TestTerminalPrompts(t *testing.T) {
	t.Parallel()
	data := newDataDir(t)

	p := startPTY(t, "init", "--data", data)
	p.typeLine(t, "New passphrase: ", 1, "one thing")
	p.typeLine(t, "Repeat it: ", 1, "another")
	assert.Equal(t, exitFailure, p.exitCode(t))
	assert.Contains(t, p.out.String(), "the two passphrases differ")
	_, err := os.Stat(account.Path(data))
	require.ErrorIs(t, err, os.ErrNotExist)

	const pass = "typed at the terminal"
	p = startPTY(t, "serve", "--data", data, "--listen", "127.0.0.1:0", "--gateway", "off")
	p.expect(t, "There is no account in "+data+" yet; create one now.", 1)
	p.typeLine(t, "New passphrase: ", 1, pass)
	p.typeLine(t, "Repeat it: ", 1, pass)
	p.expect(t, "listening on ", 1)
	// Whether the passphrase was echoed cannot be checked here without a
	// race: the harness types as soon as the prompt shows, which may be a
	// moment before the prompt's reader has turned echo off (a person
	// cannot type that fast). The prompts read with term.ReadPassword.
	assert.Regexp(t, regexp.MustCompile(`(?m)^listening on 127\.0\.0\.1:\d+\r?$`), p.out.String())
	st := statusOf(t, data)
	assert.False(t, st.Locked, "serves unlocked after creating the account")
	ok(t, data, "lock")

	u := startPTY(t, "unlock", "--data", data)
	u.typeLine(t, "Passphrase: ", 1, pass)
	assert.Equal(t, exitOK, u.exitCode(t), u.out.String())
	assert.Contains(t, u.out.String(), "unlocked")
	assert.False(t, statusOf(t, data).Locked)

	require.NoError(t, syscall.Kill(st.PID, syscall.SIGTERM))
	assert.Equal(t, exitOK, p.exitCode(t), p.out.String())
}
