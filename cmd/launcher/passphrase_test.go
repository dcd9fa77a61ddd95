package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safe-launcher/launcher/account"
	"github.com/safe-launcher/launcher/internal/lockedbuf"
)

// scriptedTerminal is a terminal whose user types the given lines; it
// records the prompts. Reading past the lines is an error, as a closed
// terminal would be.
type scriptedTerminal struct {
	mu      sync.Mutex
	lines   []string
	prompts []string
}

func (s *scriptedTerminal) ReadPassword(ctx context.Context, prompt string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.prompts = append(s.prompts, prompt)
	if len(s.lines) == 0 {
		return nil, io.EOF
	}
	l := s.lines[0]
	s.lines = s.lines[1:]
	return []byte(l), nil
}

// TestReadSecretLine: one line per call, nothing past it consumed; CRLF and
// a missing last newline are fine; an empty line, empty stdin and a line
// over the limit are refused.
func TestReadSecretLine(t *testing.T) {
	r := strings.NewReader("first\nsecond\r\nthird")
	for _, want := range []string{"first", "second", "third"} {
		got, err := readSecretLine(r)
		require.NoError(t, err)
		assert.Equal(t, want, string(got))
	}
	_, err := readSecretLine(r)
	assert.ErrorContains(t, err, "no passphrase on stdin")

	// One byte at a time: a reader that gives one byte per call and the
	// rest of stdin is left for the next reader.
	r2 := iotest.OneByteReader(strings.NewReader("a b c\nrest"))
	got, err := readSecretLine(r2)
	require.NoError(t, err)
	assert.Equal(t, "a b c", string(got))
	rest, _ := io.ReadAll(r2)
	assert.Equal(t, "rest", string(rest))

	for _, in := range []string{"", "\n", "\r\n"} {
		_, err := readSecretLine(strings.NewReader(in))
		assert.ErrorContains(t, err, "no passphrase on stdin", "%q", in)
	}
	_, err = readSecretLine(nil)
	assert.ErrorContains(t, err, "no passphrase on stdin")
	long := strings.Repeat("x", account.MaxPassphrase)
	got, err = readSecretLine(strings.NewReader(long + "\n"))
	require.NoError(t, err)
	assert.Len(t, got, account.MaxPassphrase)
	_, err = readSecretLine(strings.NewReader(long + "x\n"))
	assert.ErrorContains(t, err, "longer than 1024 bytes")
	_, err = readSecretLine(iotest.ErrReader(errors.New("boom")))
	assert.ErrorContains(t, err, "boom")
}

// TestPassphraseInput: a new passphrase is asked twice at the terminal (a
// mismatch or an empty one refused), once on stdin; without a terminal and
// without --passphrase-stdin it is a usage error.
func TestPassphraseInput(t *testing.T) {
	ctx := context.Background()
	term := &scriptedTerminal{lines: []string{"s3cret", "s3cret"}}
	in := &passphraseInput{term: term, cmd: "init"}
	p, err := in.fresh(ctx, "New passphrase: ")
	require.NoError(t, err)
	assert.Equal(t, "s3cret", string(p))
	assert.Equal(t, []string{"New passphrase: ", "Repeat it: "}, term.prompts)

	in.term = &scriptedTerminal{lines: []string{"one", "two"}}
	_, err = in.fresh(ctx, "New passphrase: ")
	assert.EqualError(t, err, "the two passphrases differ; nothing was done")
	in.term = &scriptedTerminal{lines: []string{""}}
	_, err = in.fresh(ctx, "New passphrase: ")
	assert.EqualError(t, err, "the passphrase is empty; nothing was done")
	in.term = &scriptedTerminal{lines: []string{strings.Repeat("y", account.MaxPassphrase+1)}}
	_, err = in.fresh(ctx, "New passphrase: ")
	assert.ErrorContains(t, err, "longer than 1024 bytes")

	// --passphrase-stdin: one line, no confirmation.
	in = &passphraseInput{fromStdin: true, stdin: strings.NewReader("from stdin\nnext\n"), cmd: "init"}
	p, err = in.fresh(ctx, "New passphrase: ")
	require.NoError(t, err)
	assert.Equal(t, "from stdin", string(p))
	p, err = in.one(ctx, "x")
	require.NoError(t, err)
	assert.Equal(t, "next", string(p))

	// --passphrase-stdin on a terminal reads it without echo, once.
	term = &scriptedTerminal{lines: []string{"typed"}}
	in = &passphraseInput{fromStdin: true, term: term, cmd: "init"}
	p, err = in.fresh(ctx, "New passphrase: ")
	require.NoError(t, err)
	assert.Equal(t, "typed", string(p))
	assert.Len(t, term.prompts, 1)

	in = &passphraseInput{cmd: "unlock"}
	_, err = in.one(ctx, "Passphrase: ")
	var ue *usageError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, "unlock: stdin is not a terminal to type the passphrase at; to read it from stdin (one line), add --passphrase-stdin", err.Error())

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	in = &passphraseInput{term: &scriptedTerminal{lines: []string{"x"}}}
	_, err = in.one(cctx, "Passphrase: ")
	assert.ErrorIs(t, err, context.Canceled)
}

// runWith runs the CLI in-process with a terminal (nil: none), stdin and
// cheap Argon2id parameters for new accounts.
func runWith(t *testing.T, term terminal, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb,
		calibrate: func() account.Params { return cheapParams }}
	if term != nil {
		e.term = term
	}
	code = run(context.Background(), args, e)
	return code, out.String(), errb.String()
}

// TestInitAndPasswdInProcess drives init and passwd (without a daemon)
// through a scripted terminal and through stdin.
func TestInitAndPasswdInProcess(t *testing.T) {
	data := newDataDir(t)
	code, _, errs := runWith(t, nil, "", "init", "--data", data)
	assert.Equal(t, exitUsage, code)
	assert.Equal(t, "launcher: init: stdin is not a terminal to type the passphrase at; to read it from stdin (one line), add --passphrase-stdin\n", errs)

	code, _, errs = runWith(t, &scriptedTerminal{lines: []string{"abc", "abd"}}, "", "init", "--data", data)
	assert.Equal(t, exitFailure, code)
	assert.Equal(t, "launcher: the two passphrases differ; nothing was done\n", errs)
	code, _, errs = runWith(t, &scriptedTerminal{lines: []string{""}}, "", "init", "--data", data)
	assert.Equal(t, exitFailure, code)
	assert.Equal(t, "launcher: the passphrase is empty; nothing was done\n", errs)
	code, _, errs = runWith(t, nil, "\n", "init", "--data", data, "--passphrase-stdin")
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, errs, "no passphrase on stdin")
	ok, err := account.Exists(data)
	require.NoError(t, err)
	require.False(t, ok, "a refused init creates no account")

	term := &scriptedTerminal{lines: []string{"first pass", "first pass"}}
	code, out, errs := runWith(t, term, "", "init", "--data", data)
	require.Equal(t, exitOK, code, errs)
	assert.Equal(t, "created the account in "+data+"; start the launcher with: launcher serve --data "+data+"\n", out)
	assert.Contains(t, errs, "Created the account in "+data+" (Argon2id t=1 m=64KiB p=1).")
	f, err := account.Load(data)
	require.NoError(t, err)
	_, err = f.Open([]byte("first pass"))
	require.NoError(t, err)

	code, _, errs = runWith(t, &scriptedTerminal{lines: []string{"x", "x"}}, "", "init", "--data", data)
	assert.Equal(t, exitFailure, code)
	assert.Equal(t, "launcher: an account exists already in "+data+" ("+account.Path(data)+"); change its passphrase with: launcher passwd --data "+data+"\n", errs)

	// passwd without a daemon: the current passphrase, then the new one twice.
	code, _, errs = runWith(t, &scriptedTerminal{lines: []string{"wrong", "second", "second"}}, "", "passwd", "--data", data)
	assert.Equal(t, exitFailure, code)
	assert.Equal(t, "launcher: wrong passphrase\n", errs)
	code, out, errs = runWith(t, &scriptedTerminal{lines: []string{"first pass", "second", "second"}}, "", "passwd", "--data", data)
	require.Equal(t, exitOK, code, errs)
	assert.Equal(t, "passphrase changed\n", out)
	code, _, errs = runWith(t, nil, "second\nthird\n", "passwd", "--data", data, "--passphrase-stdin")
	require.Equal(t, exitOK, code, errs)
	f, err = account.Load(data)
	require.NoError(t, err)
	_, err = f.Open([]byte("second"))
	require.ErrorIs(t, err, account.ErrWrongPassphrase)
	_, err = f.Open([]byte("third"))
	require.NoError(t, err)
	code, _, errs = runWith(t, nil, "third\n", "passwd", "--data", data, "--passphrase-stdin")
	assert.Equal(t, exitFailure, code, "no new passphrase on stdin")
	assert.Contains(t, errs, "no passphrase on stdin")

	other := newDataDir(t)
	code, _, errs = runWith(t, nil, "a\nb\n", "passwd", "--data", other, "--passphrase-stdin")
	assert.Equal(t, exitFailure, code)
	assert.Equal(t, "launcher: no account in "+other+": create one with: launcher init --data "+other+"\n", errs)
}

// TestServeWithoutAccount: serve on a data directory without an account,
// stdin not a terminal and no --passphrase-stdin: exit 2, "no account: run
// launcher init", and nothing bound or created but the directory and its
// lock file.
func TestServeWithoutAccount(t *testing.T) {
	data := newDataDir(t)
	code, out, errs := runWith(t, nil, "", "serve", "--data", data, "--listen", "127.0.0.1:0", "--gateway", "off")
	assert.Equal(t, exitUsage, code)
	assert.Empty(t, out)
	assert.Contains(t, errs, "no account: run launcher init")
	assert.Equal(t, "launcher: no account: run launcher init --data "+data+" to create one (or serve --passphrase-stdin, which creates it from a passphrase on stdin, or serve --dev for a throwaway launcher)\n", errs)
	ok, err := account.Exists(data)
	require.NoError(t, err)
	assert.False(t, ok)
}

// addrWriter sends the address of serve's "listening on" line on addr.
type addrWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	addr chan string
	sent bool
}

func (w *addrWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.sent {
		if line, _, ok := strings.Cut(w.buf.String(), "\n"); ok {
			w.addr <- strings.TrimPrefix(line, "listening on ")
			w.sent = true
		}
	}
	return len(p), nil
}

// TestServeOffersAccount runs serve in-process with a scripted terminal on a
// data directory without an account: it offers to create one, asks the
// passphrase twice, creates it and serves unlocked; stopped, it leaves the
// account that opens with that passphrase. A mismatch creates nothing.
func TestServeOffersAccount(t *testing.T) {
	data := newDataDir(t)
	code, _, errs := runWith(t, &scriptedTerminal{lines: []string{"one", "two"}}, "", "serve", "--data", data, "--listen", "127.0.0.1:0", "--gateway", "off")
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, errs, "There is no account in "+data+" yet; create one now.")
	assert.Contains(t, errs, "launcher: the two passphrases differ; nothing was done\n")

	term := &scriptedTerminal{lines: []string{"new pass", "new pass"}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout := &addrWriter{addr: make(chan string, 1)}
	var errb lockedbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--data", data, "--listen", "127.0.0.1:0", "--gateway", "off"},
			&env{stdout: stdout, stderr: &errb, term: term, calibrate: func() account.Params { return cheapParams }})
	}()
	select {
	case <-stdout.addr:
	case code := <-done:
		t.Fatalf("serve exited with %d: %s", code, errb.String())
	}
	st := statusOf(t, data)
	assert.False(t, st.Locked, "serve serves unlocked after creating the account")
	cancel()
	require.Equal(t, exitOK, <-done, errb.String())
	assert.Equal(t, []string{"New passphrase: ", "Repeat it: "}, term.prompts)
	f, err := account.Load(data)
	require.NoError(t, err)
	_, err = f.Open([]byte("new pass"))
	require.NoError(t, err)
}
