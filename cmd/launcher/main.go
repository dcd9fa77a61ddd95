// Command launcher runs the launcher daemon and manages its apps.
//
// Usage:
//
//	launcher init [--passphrase-stdin]
//	launcher serve [--data DIR] [--listen ADDR] [--gateway ADDR|off] [--passphrase-stdin] [--dev] [--auto-lock D] [limits...]
//	launcher unlock [--passphrase-stdin]
//	launcher lock
//	launcher passwd [--passphrase-stdin]
//	launcher app add NAME --exec PATH [--safe-drive] [--secret-env]
//	launcher app ls [--json]
//	launcher app rm NAME [--purge]
//	launcher app roots [--purge ROOT]... [--json]
//	launcher app grant NAME
//	launcher app revoke NAME
//	launcher app launch NAME [--accept-changed] [-- ARGS...]
//	launcher app token NAME
//	launcher status [--json]
//	launcher dns ls [--json]
//	launcher dns resolve HOST [--json]
//	launcher help [COMMAND...]
//	launcher completion bash|zsh|fish|powershell
//
// The command line is built with github.com/spf13/cobra: every command has
// --help, and the reference pages in docs/cli/ are generated from the
// command tree (go test ./cmd/launcher -update rewrites them).
//
// Every command takes --data DIR, before or after the command words, the
// data directory of the daemon (default os.UserConfigDir()/safe-launcher).
// Every command but serve and init talks to the running daemon over its
// control socket DIR/control.sock (passwd works without a daemon too). The
// daemon starts locked until unlock is given the account's passphrase. A
// passphrase is typed at the terminal without echo, or read from stdin with
// --passphrase-stdin; never from argv or the environment. See docs/cli.md,
// docs/operations.md and docs/security.md.
//
// Exit codes: 0 success, 1 failure, 2 usage error, 3 daemon not running.
// Errors are one line on stderr, starting with "launcher: ".
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/safe-launcher/launcher/account"
	"github.com/safe-launcher/launcher/internal/cliflags"
)

// Exit codes.
const (
	exitOK         = 0
	exitFailure    = 1
	exitUsage      = 2
	exitNotRunning = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &env{
		environ: os.Environ(), stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		term: stdinTerminal(os.Stderr),
	})
	stop()
	os.Exit(code)
}

// env is what commands get from the process: its environment, input and
// output, and the terminal on stdin.
type env struct {
	environ []string
	stdin   io.Reader // nil: empty
	stdout  io.Writer
	stderr  io.Writer
	// term is the terminal on stdin, nil when stdin is not one.
	term terminal
	// calibrate picks the Argon2id parameters of a new account (nil:
	// account.Calibrate to account.TargetDerivation).
	calibrate func() account.Params
}

// usageError is a command-line mistake (exit code 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// notRunningError is returned when no daemon answers on the data directory's socket.
type notRunningError struct{ dataDir string }

func (e *notRunningError) Error() string {
	return fmt.Sprintf("the launcher daemon is not running for data directory %s; start it with: launcher serve --data %s", e.dataDir, e.dataDir)
}

// run runs the command line args and returns the exit code.
func run(ctx context.Context, args []string, e *env) int {
	if e.calibrate == nil {
		e.calibrate = func() account.Params { return account.Calibrate(account.TargetDerivation) }
	}
	stderr := e.stderr
	root := newRootCmd(e)
	// The launcher's earlier parser (Go's flag package) took long flags with
	// one dash; one-letter flags are cobra's shorthands.
	root.SetArgs(cliflags.LongFlagCompat(root, args, false))
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "launcher: ") {
		msg = "launcher: " + msg
	}
	fmt.Fprintln(stderr, strings.ReplaceAll(msg, "\n", " "))
	var ue *usageError
	var nr *notRunningError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &nr):
		return exitNotRunning
	}
	return exitFailure
}

// globalOptions are the flags every command takes.
type globalOptions struct {
	data string // "" means defaultDataDir()
}

// dataDir returns the data directory, absolute.
func (g *globalOptions) dataDir() (string, error) {
	dir := g.data
	if dir == "" {
		dir = defaultDataDir()
	}
	a, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("data directory %q: %w", dir, err)
	}
	return a, nil
}

// usageTemplate is cobra's default with the flags wrapped at 80 columns, a
// group's usage line showing only its subcommands, and "launcher help".
const usageTemplate = `Usage:{{if and .Runnable (not .HasAvailableSubCommands)}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}} COMMAND{{end}}{{if gt (len .Aliases) 0}}

Aliases:
  {{.NameAndAliases}}{{end}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}

Commands:{{range .Commands}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}

Flags:
{{(.LocalFlags.FlagUsagesWrapped 80) | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableInheritedFlags}}

Global Flags:
{{(.InheritedFlags.FlagUsagesWrapped 80) | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableSubCommands}}

Run "launcher help {{if .HasParent}}{{slice .CommandPath 9}} {{end}}COMMAND" for more about a command.{{end}}
`

// newRootCmd builds the command tree: output goes to e.stdout and e.stderr,
// and launched apps get e.environ. Every call builds a fresh tree (cobra
// commands hold their parsed flags), so nothing is shared between runs.
func newRootCmd(e *env) *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "launcher",
		Short: "Run the launcher daemon and manage its apps",
		Long: `launcher runs the launcher daemon (launcher serve), which apps reach over
loopback TCP, and manages it: the user's account (launcher init, unlock, lock,
passwd), the apps it may launch (launcher app), its status and the names of
its sites (launcher dns).

The daemon serves apps only while unlocked: it starts locked, and "launcher
unlock" gives it the account's passphrase. Every command but serve and init
talks to the running daemon through its control socket DIR/control.sock in
the data directory; --data picks the daemon, before or after the command
words.

Exit codes: 0 success, 1 failure, 2 usage error (unknown command or flag,
invalid flag value, missing argument), 3 the daemon is not running. An error is
one line on stderr starting with "launcher: ".`,
		Example: `  launcher serve
  launcher unlock
  launcher app add mail --exec ./mail-app
  launcher app launch mail
  launcher --data /tmp/d status`,
		Version: version(),
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if f := cmd.Flags().Lookup("data"); f != nil && f.Changed && g.data == "" {
				return usagef("--data: must not be empty")
			}
			return nil
		},
		Args:          groupArgs,
		RunE:          missingCommand,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetUsageTemplate(usageTemplate)
	root.SetFlagErrorFunc(flagError)
	root.SetHelpCommand(newHelpCmd(root))
	stringFlag(root.PersistentFlags(), &g.data, "data", "DIR",
		"the daemon's data directory (default: os.UserConfigDir()/safe-launcher, e.g. ~/.config/safe-launcher)")
	_ = root.MarkPersistentFlagDirname("data")
	root.Flags().BoolP("version", "v", false, "print the launcher's version and exit")

	root.AddCommand(newServeCmd(e, g), newInitCmd(e, g), newUnlockCmd(e, g), newLockCmd(e, g), newPasswdCmd(e, g),
		newAppCmd(e, g), newStatusCmd(e, g), newDNSCmd(e, g), newGendocsCmd(root))
	root.InitDefaultCompletionCmd()
	uniformErrors(root)
	return root
}

// uniformErrors makes every command of the tree, cobra's own (completion)
// included, report argument mistakes as usage errors (exit 2), suggest
// commands for typos, and refuse a missing subcommand.
func uniformErrors(c *cobra.Command) {
	c.SuggestionsMinimumDistance = 2
	if c.HasSubCommands() && !c.Runnable() {
		c.Args, c.RunE = groupArgs, missingCommand
	}
	if orig := c.Args; orig != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			err := orig(cmd, args)
			var ue *usageError
			if err != nil && !errors.As(err, &ue) {
				return usagef("%s: %v", cmdName(cmd), err)
			}
			return err
		}
	}
	for _, s := range c.Commands() {
		uniformErrors(s)
	}
}

// groupArgs refuses arguments that are not a subcommand of cmd.
func groupArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	what := "command"
	if cmd.HasParent() {
		what = "subcommand"
	}
	hint := ""
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		hint = fmt.Sprintf(" (did you mean %q?)", s[0])
	}
	return usagef("%s: unknown %s %q%s; run %q", cmdName(cmd), what, args[0], hint, helpLine(cmd))
}

// missingCommand is the action of a command made of subcommands alone.
func missingCommand(cmd *cobra.Command, _ []string) error {
	var subs []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			subs = append(subs, c.Name())
		}
	}
	return usagef("%s: missing command (%s); run %q", cmdName(cmd), strings.Join(subs, ", "), helpLine(cmd))
}

// cmdName is the command path without "launcher " ("launcher" for the root).
func cmdName(cmd *cobra.Command) string {
	if !cmd.HasParent() {
		return "launcher"
	}
	return strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
}

// helpLine is the command that shows cmd's help.
func helpLine(cmd *cobra.Command) string {
	if !cmd.HasParent() {
		return "launcher help"
	}
	return "launcher help " + cmdName(cmd)
}

// flagError turns a flag parsing error into a usage error naming the flag.
// A flag value type's own error (see flags.go) already says what is
// expected: it is shown as "--flag: message".
func flagError(cmd *cobra.Command, err error) error {
	var ive *pflag.InvalidValueError
	if errors.As(err, &ive) {
		var fe *flagValueError
		if errors.As(err, &fe) {
			return usagef("--%s: %s", ive.GetFlag().Name, fe.msg)
		}
		return usagef("--%s: invalid value %q: %v", ive.GetFlag().Name, ive.GetValue(), errors.Unwrap(err))
	}
	var vre *pflag.ValueRequiredError
	if errors.As(err, &vre) {
		return usagef("--%s needs a value; run %q for its meaning", vre.GetFlag().Name, helpLine(cmd))
	}
	return usagef("%s: %v; run %q", cmdName(cmd), err, helpLine(cmd))
}

// exactArgs returns a cobra.PositionalArgs for n positional arguments
// described by names (e.g. "NAME"), none of them after "--".
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if dash := cmd.ArgsLenAtDash(); dash >= 0 {
			return usagef("%s: unexpected arguments after --", cmdName(cmd))
		}
		switch {
		case len(args) < len(names):
			return usagef("%s: missing %s; run %q", cmdName(cmd), names[len(args)], helpLine(cmd))
		case len(args) > len(names) && len(names) == 1:
			return usagef("%s: one %s expected, got %q", cmdName(cmd), names[0], strings.Join(args, " "))
		case len(args) > len(names) && len(names) == 0:
			return usagef("%s takes no arguments, only flags; got %q", cmdName(cmd), strings.Join(args, " "))
		case len(args) > len(names):
			return usagef("%s: %d arguments expected, got %d", cmdName(cmd), len(names), len(args))
		}
		return nil
	}
}

// defaultDataDir is os.UserConfigDir()/safe-launcher.
func defaultDataDir() string {
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "safe-launcher")
	}
	return ".safe-launcher"
}

// version is the module version and VCS revision this binary was built from.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}
