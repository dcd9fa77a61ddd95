package main

// Reading passphrases. A passphrase is never taken from argv or the
// environment: it is typed at the terminal without echo (golang.org/x/term),
// or, with --passphrase-stdin, read from stdin one line at a time (for
// scripts and autostart). The caller wipes what it gets (clear) once used.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/safe-launcher/launcher/account"
)

// terminal is the user's terminal on stdin.
type terminal interface {
	// ReadPassword writes prompt and reads one line without echo. It
	// returns ctx's error, with the terminal restored, if ctx ends first.
	ReadPassword(ctx context.Context, prompt string) ([]byte, error)
}

// ttyTerminal is the process's stdin when it is a terminal; prompts go to
// out (stderr, so that stdout stays the command's output).
type ttyTerminal struct {
	fd  int
	out io.Writer
}

// stdinTerminal returns the terminal on stdin, nil when stdin is not one.
func stdinTerminal(out io.Writer) terminal {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil
	}
	return &ttyTerminal{fd: fd, out: out}
}

// ReadPassword implements terminal. The read runs on a goroutine of its own:
// a read of a terminal cannot be interrupted, so when ctx ends (Ctrl-C: the
// signal is caught to stop the command cleanly) the echo is turned back on
// and the command returns, and the goroutine ends with the process, which
// exits right after (prompts come only before a command does its work).
func (t *ttyTerminal) ReadPassword(ctx context.Context, prompt string) ([]byte, error) {
	state, err := term.GetState(t.fd)
	if err != nil {
		return nil, fmt.Errorf("terminal: %w", err)
	}
	fmt.Fprint(t.out, prompt)
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := term.ReadPassword(t.fd)
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		fmt.Fprintln(t.out)
		if r.err != nil {
			return nil, fmt.Errorf("reading the passphrase: %w", r.err)
		}
		return r.b, nil
	case <-ctx.Done():
		_ = term.Restore(t.fd, state)
		fmt.Fprintln(t.out)
		return nil, ctx.Err()
	}
}

// passphraseInput is where a command's passphrases come from: stdin (one
// line each, --passphrase-stdin) or the terminal (prompts without echo).
type passphraseInput struct {
	fromStdin bool
	stdin     io.Reader
	term      terminal // nil when stdin is not a terminal
	cmd       string   // the command, for messages
}

// errNoTerminal is returned when a passphrase is needed, stdin is not a
// terminal and --passphrase-stdin was not given.
func (in *passphraseInput) errNoTerminal() error {
	return usagef("%s: stdin is not a terminal to type the passphrase at; to read it from stdin (one line), add --passphrase-stdin", in.cmd)
}

// one reads one passphrase: a line of stdin with --passphrase-stdin (typed
// without echo when stdin is a terminal), else typed at the terminal after
// prompt.
func (in *passphraseInput) one(ctx context.Context, prompt string) ([]byte, error) {
	var p []byte
	var err error
	switch {
	case in.fromStdin && in.term == nil:
		p, err = readSecretLine(in.stdin)
	case in.term != nil:
		p, err = in.term.ReadPassword(ctx, prompt)
		if err != nil && ctx.Err() != nil {
			return nil, fmt.Errorf("interrupted; nothing was done (%w)", ctx.Err())
		}
	default:
		return nil, in.errNoTerminal()
	}
	if err != nil {
		return nil, err
	}
	switch {
	case len(p) == 0:
		return nil, errors.New("the passphrase is empty; nothing was done")
	case len(p) > account.MaxPassphrase:
		clear(p)
		return nil, fmt.Errorf("the passphrase is longer than %d bytes; nothing was done", account.MaxPassphrase)
	}
	return p, nil
}

// fresh reads a new passphrase: one line of stdin with --passphrase-stdin;
// at the terminal it is asked twice, and a mismatch or an empty passphrase
// is refused.
func (in *passphraseInput) fresh(ctx context.Context, prompt string) ([]byte, error) {
	p, err := in.one(ctx, prompt)
	if err != nil {
		return nil, err
	}
	if in.fromStdin {
		return p, nil
	}
	again, err := in.one(ctx, "Repeat it: ")
	if err != nil {
		clear(p)
		return nil, err
	}
	defer clear(again)
	if !bytes.Equal(p, again) {
		clear(p)
		return nil, errors.New("the two passphrases differ; nothing was done")
	}
	return p, nil
}

// readSecretLine reads one line of r, up to '\n' (a trailing '\r' is
// dropped) or the end of r, one byte at a time so that nothing past the line
// is consumed (passwd reads two). The line lives in one buffer that is never
// grown (room for the passphrase and a '\r'), so no stray copy of it is
// left behind; a line longer than account.MaxPassphrase is refused. An empty line or empty stdin is an error.
func readSecretLine(r io.Reader) ([]byte, error) {
	if r == nil {
		return nil, errors.New("no passphrase on stdin (it is empty)")
	}
	buf := make([]byte, 0, account.MaxPassphrase+1)
	var one [1]byte
	for {
		n, err := r.Read(one[:])
		if n == 1 {
			if one[0] == '\n' {
				break
			}
			if len(buf) == cap(buf) {
				clear(buf)
				return nil, fmt.Errorf("the passphrase on stdin is longer than %d bytes", account.MaxPassphrase)
			}
			buf = append(buf, one[0])
			continue
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			clear(buf)
			return nil, fmt.Errorf("reading the passphrase from stdin: %w", err)
		}
	}
	one[0] = 0
	if n := len(buf); n > 0 && buf[n-1] == '\r' {
		buf[n-1] = 0
		buf = buf[:n-1]
	}
	switch {
	case len(buf) == 0:
		return nil, errors.New("no passphrase on stdin (an empty line or no line)")
	case len(buf) > account.MaxPassphrase:
		clear(buf)
		return nil, fmt.Errorf("the passphrase on stdin is longer than %d bytes", account.MaxPassphrase)
	}
	return buf, nil
}
