package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/safe-launcher/launcher/account"
	"github.com/safe-launcher/launcher/launcher/control"
)

// secretCallTimeout bounds a control call that checks a passphrase: the
// back-off of earlier failures (up to 30 s) and the derivation come first.
const secretCallTimeout = 2 * time.Minute

// passphraseStdinFlag defines --passphrase-stdin on cmd.
func passphraseStdinFlag(cmd *cobra.Command, p *bool, usage string) {
	cmd.Flags().BoolVar(p, "passphrase-stdin", false, usage)
}

func newInitCmd(e *env, g *globalOptions) *cobra.Command {
	var fromStdin bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the user's account in the data directory",
		Long: `Create the account of the data directory: a random master key, wrapped under a
passphrase, in DIR/account.key. The passphrase is typed twice at the terminal,
without echo (a mismatch or an empty passphrase is refused), or, with
--passphrase-stdin, read from stdin (one line). It is never written anywhere,
and nothing can recover it: without it the launcher cannot be unlocked.

The passphrase is stretched with Argon2id, timed on this machine so that one
unlock takes about half a second (and at least 64 MiB of memory); init takes
a few seconds for that. It fails (exit 1) if the data directory has an account
already: change its passphrase with "launcher passwd". See docs/security.md.`,
		Example: `  launcher init
  launcher init --data /tmp/d
  printf '%s\n' "$PASSPHRASE" | launcher init --passphrase-stdin`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := g.dataDir()
			if err != nil {
				return err
			}
			return initAccount(cmd.Context(), e, dir, fromStdin)
		},
	}
	passphraseStdinFlag(cmd, &fromStdin, "read the passphrase from stdin (one line) instead of asking twice at the terminal")
	return cmd
}

// errAccountExists is init's refusal.
func errAccountExists(dir string) error {
	return fmt.Errorf("an account exists already in %s (%s); change its passphrase with: launcher passwd --data %s", dir, account.Path(dir), dir)
}

func initAccount(ctx context.Context, e *env, dir string, fromStdin bool) error {
	if err := prepareDataDir(dir); err != nil {
		return err
	}
	if ok, err := account.Exists(dir); err != nil {
		return err
	} else if ok {
		return errAccountExists(dir)
	}
	in := &passphraseInput{fromStdin: fromStdin, stdin: e.stdin, term: e.term, cmd: "init"}
	pass, err := in.fresh(ctx, "New passphrase: ")
	if err != nil {
		return err
	}
	defer clear(pass)
	release, err := lockDataDir(dir)
	if err != nil {
		return err
	}
	defer release()
	if err := account.RemoveTemp(dir); err != nil {
		return err
	}
	m, _, err := createAccount(e, e.stderr, dir, pass)
	if errors.Is(err, account.ErrExists) {
		return errAccountExists(dir)
	}
	if err != nil {
		return err
	}
	m.Wipe()
	fmt.Fprintf(e.stdout, "created the account in %s; start the launcher with: launcher serve --data %s\n", dir, dir)
	return nil
}

// controlClient returns a client of dir's daemon.
func controlClient(dir string) *control.Client {
	return control.NewClient(filepath.Join(dir, control.SocketName))
}

// wrongPassphrase turns the daemon's wrong-passphrase answer into the CLI's
// error (exit 1); other errors pass.
func wrongPassphrase(err error) error {
	var ce *control.Error
	if errors.As(err, &ce) && ce.Code == control.CodeWrongPassphrase {
		return fmt.Errorf("%s", ce.Message)
	}
	return err
}

func newUnlockCmd(e *env, g *globalOptions) *cobra.Command {
	var fromStdin bool
	cmd := &cobra.Command{
		Use:   "unlock",
		Short: "Unlock the daemon with the account's passphrase",
		Long: `Unlock the running daemon: the passphrase, typed at the terminal without echo
or read from stdin with --passphrase-stdin (one line), is sent to the daemon
over its control socket (DIR/control.sock: the user's own Unix socket, mode
0600, whose peer uid the daemon checks), which derives the key from it, opens
the account and serves apps again.

A wrong passphrase is an error (exit 1). Every attempt costs the full key
derivation (about half a second), and after 3 wrong passphrases in a row each
next attempt first waits 1s, then 2s, 4s... up to 30s, until a right one. An
unlocked daemon is left as it is, and no passphrase is asked. A --dev daemon
has no passphrase: unlock asks none.`,
		Example: `  launcher unlock
  launcher unlock --data /tmp/d
  printf '%s\n' "$PASSPHRASE" | launcher unlock --passphrase-stdin`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return callWithin(cmd, g, secretCallTimeout, func(ctx context.Context, c *control.Client) error {
				st, err := c.Status(ctx)
				if err != nil {
					return err
				}
				if !st.Locked {
					fmt.Fprintln(e.stdout, "the launcher is unlocked already")
					return nil
				}
				var pass []byte
				if !st.Dev {
					in := &passphraseInput{fromStdin: fromStdin, stdin: e.stdin, term: e.term, cmd: "unlock"}
					if pass, err = in.one(ctx, "Passphrase: "); err != nil {
						return err
					}
					defer clear(pass)
				}
				if _, err := c.Unlock(ctx, pass); err != nil {
					return wrongPassphrase(err)
				}
				fmt.Fprintln(e.stdout, "unlocked")
				return nil
			})
		},
	}
	passphraseStdinFlag(cmd, &fromStdin, "read the passphrase from stdin (one line) instead of asking at the terminal")
	return cmd
}

func newLockCmd(e *env, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "lock",
		Short: "Lock the daemon: end every session and forget the keys",
		Long: `Lock the running daemon: it refuses new connections (-134, "the launcher is
locked"), ends every app session (each gets a last -134 error frame, and its
watches a "closing" event first), wipes the keys from its memory, and its web
gateway answers 503 until "launcher unlock". A locked daemon is left as it is.`,
		Example: `  launcher lock
  launcher lock --data /tmp/d`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return call(cmd, g, func(ctx context.Context, c *control.Client) error {
				st, err := c.Lock(ctx)
				if err != nil {
					return err
				}
				if st.Changed {
					fmt.Fprintln(e.stdout, "locked")
				} else {
					fmt.Fprintln(e.stdout, "the launcher is locked already")
				}
				return nil
			})
		},
	}
}

func newPasswdCmd(e *env, g *globalOptions) *cobra.Command {
	var fromStdin bool
	cmd := &cobra.Command{
		Use:   "passwd",
		Short: "Change the account's passphrase",
		Long: `Change the passphrase of the data directory's account. The current passphrase
is asked first, then the new one twice, at the terminal without echo; with
--passphrase-stdin both are read from stdin, the current one on the first
line and the new one on the second.

Only the master key is re-wrapped (a new salt, the same Argon2id parameters):
nothing else changes and the data stays as it is. The old passphrase stops
working at once. With the daemon running, the change is made by the daemon
(over its control socket, with the back-off of wrong passphrases that unlock
has), whether it is locked or not; without it, passwd makes it itself,
holding the data directory's lock. A wrong current passphrase is an error
(exit 1) and changes nothing.`,
		Example: `  launcher passwd
  printf '%s\n%s\n' "$OLD" "$NEW" | launcher passwd --passphrase-stdin`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := g.dataDir()
			if err != nil {
				return err
			}
			return changePassphrase(cmd.Context(), e, dir, fromStdin)
		},
	}
	passphraseStdinFlag(cmd, &fromStdin, "read the current passphrase and the new one from stdin, one a line, instead of asking at the terminal")
	return cmd
}

func changePassphrase(ctx context.Context, e *env, dir string, fromStdin bool) error {
	if _, err := account.Load(dir); errors.Is(err, account.ErrNoAccount) {
		return fmt.Errorf("no account in %s: create one with: launcher init --data %s", dir, dir)
	} else if err != nil {
		return err
	}
	in := &passphraseInput{fromStdin: fromStdin, stdin: e.stdin, term: e.term, cmd: "passwd"}
	oldPass, err := in.one(ctx, "Current passphrase: ")
	if err != nil {
		return err
	}
	defer clear(oldPass)
	newPass, err := in.fresh(ctx, "New passphrase: ")
	if err != nil {
		return err
	}
	defer clear(newPass)

	c := controlClient(dir)
	defer c.Close()
	cctx, cancel := context.WithTimeout(ctx, secretCallTimeout)
	defer cancel()
	err = c.ChangePassphrase(cctx, oldPass, newPass)
	if errors.Is(err, control.ErrNotRunning) {
		// No daemon: change it here, under the data directory's lock (a
		// daemon starting meanwhile waits for it, or this fails).
		err = changeOffline(dir, oldPass, newPass)
	}
	if err != nil {
		return wrongPassphrase(err)
	}
	fmt.Fprintln(e.stdout, "passphrase changed")
	return nil
}

// changeOffline changes the passphrase without a daemon, holding the data
// directory's lock.
func changeOffline(dir string, oldPass, newPass []byte) error {
	release, err := lockDataDir(dir)
	if err != nil {
		return err
	}
	defer release()
	if err := account.RemoveTemp(dir); err != nil {
		return err
	}
	_, err = account.ChangePassphrase(dir, oldPass, newPass, rand.Reader)
	switch {
	case errors.Is(err, account.ErrWrongPassphrase):
		return errors.New("wrong passphrase")
	case errors.Is(err, account.ErrInvalidPassphrase):
		return fmt.Errorf("the new passphrase is empty or longer than %d bytes", account.MaxPassphrase)
	}
	return err
}
