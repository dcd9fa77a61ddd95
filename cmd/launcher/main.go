// Command launcher runs the launcher daemon and manages its apps.
//
// Usage:
//
//	launcher serve [--data DIR] [--listen ADDR] [--gateway ADDR|off] [limits...]
//	launcher app add NAME --exec PATH [--safe-drive] [--secret-env]
//	launcher app ls [--json]
//	launcher app rm NAME [--purge]
//	launcher app grant NAME
//	launcher app revoke NAME
//	launcher app launch NAME [--accept-changed] [-- ARGS...]
//	launcher app token NAME
//	launcher status [--json]
//	launcher dns ls [--json]
//	launcher dns resolve HOST [--json]
//
// Every command takes --data DIR, the data directory of the daemon (default
// $XDG_CONFIG_HOME/safe-launcher, i.e. os.UserConfigDir()/safe-launcher).
// Every command but serve talks to the running daemon over its control socket
// DIR/control.sock. See docs/cli.md and docs/operations.md.
//
// Exit codes: 0 success, 1 failure, 2 usage error, 3 daemon not running.
// Errors are one line on stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
)

// Exit codes.
const (
	exitOK         = 0
	exitFailure    = 1
	exitUsage      = 2
	exitNotRunning = 3
)

const usage = `usage:
  launcher serve [--data DIR] [--listen ADDR] [--gateway ADDR|off] [--max-conns N] [--max-frame BYTES]
                [--inflight-budget BYTES] [--handshake-timeout D] [--token-ttl D] [--max-json-depth N]
                [--refuse-fixed-nonce] [--sync background|commit] [--sync-delay D]
  launcher app add NAME --exec PATH [--safe-drive] [--secret-env]
  launcher app ls [--json]
  launcher app rm NAME [--purge]
  launcher app grant NAME
  launcher app revoke NAME
  launcher app launch NAME [--accept-changed] [-- ARGS...]
  launcher app token NAME
  launcher status [--json]
  launcher dns ls [--json]
  launcher dns resolve HOST [--json]
every command accepts --data DIR (default: os.UserConfigDir()/safe-launcher)`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env is what commands get from the process: its environment and output.
type env struct {
	environ []string
	stdout  io.Writer
	stderr  io.Writer
}

// usageError is a command-line mistake (exit code 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errNotRunning is returned when no daemon answers on the data directory's socket.
type notRunningError struct{ dataDir string }

func (e *notRunningError) Error() string {
	return fmt.Sprintf("the launcher daemon is not running for data directory %s; start it with: launcher serve --data %s", e.dataDir, e.dataDir)
}

func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	e := env{environ: environ, stdout: stdout, stderr: stderr}
	err := dispatch(ctx, e, args)
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, usage)
		return exitOK
	}
	fmt.Fprintln(stderr, "launcher:", err)
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

func dispatch(ctx context.Context, e env, args []string) error {
	args = moveGlobalFlags(args)
	if len(args) == 0 {
		return usagef("no command; run launcher help")
	}
	switch args[0] {
	case "help", "-h", "--help":
		return flag.ErrHelp
	case "serve":
		return serve(ctx, e, args[1:])
	case "status":
		return status(ctx, e, args[1:])
	case "dns":
		if len(args) < 2 {
			return usagef("dns: missing subcommand (ls, resolve)")
		}
		return dnsCommand(ctx, e, args[1], args[2:])
	case "app":
		if len(args) < 2 {
			return usagef("app: missing subcommand (add, ls, rm, grant, revoke, launch, token)")
		}
		return appCommand(ctx, e, args[1], args[2:])
	}
	return usagef("unknown command %q; run launcher help", args[0])
}

// moveGlobalFlags moves a --data flag given before the command (launcher
// --data DIR app ls) to the command's arguments.
func moveGlobalFlags(args []string) []string {
	var global []string
	for len(args) > 0 {
		a := args[0]
		switch {
		case a == "--data" || a == "-data":
			if len(args) < 2 {
				return append(global, args...) // the command parser reports it
			}
			global, args = append(global, args[:2]...), args[2:]
			continue
		case strings.HasPrefix(a, "--data=") || strings.HasPrefix(a, "-data="):
			global, args = append(global, a), args[1:]
			continue
		}
		break
	}
	if len(args) == 0 {
		return global
	}
	// Insert after the command words ("app SUB", "dns SUB" or "CMD"), before "--".
	n := 1
	if (args[0] == "app" || args[0] == "dns") && len(args) > 1 {
		n = 2
	}
	out := append(slices.Clone(args[:n]), global...)
	return append(out, args[n:]...)
}

// newFlags returns a flag set with --data; its errors are returned, not printed.
func newFlags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	data := fs.String("data", defaultDataDir(), "data directory")
	return fs, data
}

// parseArgs parses flags placed anywhere before a "--" (Go's flag package
// stops at the first non-flag: `app add NAME --exec PATH` must work). It
// returns the positional arguments and the arguments after "--".
func parseArgs(fs *flag.FlagSet, args []string) (pos, rest []string, err error) {
	if i := slices.Index(args, "--"); i >= 0 {
		rest = args[i+1:]
		args = args[:i]
	}
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, nil, err
			}
			return nil, nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, rest, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// defaultDataDir is os.UserConfigDir()/safe-launcher.
func defaultDataDir() string {
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "safe-launcher")
	}
	return ".safe-launcher"
}

// absData makes the data directory absolute, for messages and the socket path.
func absData(dir string) (string, error) {
	if dir == "" {
		return "", usagef("--data must not be empty")
	}
	a, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("data directory %q: %w", dir, err)
	}
	return a, nil
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
