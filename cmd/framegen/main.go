// Command framegen generates launcher protocol frames, valid and hostile: seed
// corpora for the project's Go fuzz targets, and live attacks on a running
// daemon that end with a report and a probe of the daemon's health.
//
// Usage:
//
//	framegen corpus --out DIR [--seed N] [--layout tree|flat|cache] [--targets pkg.FuzzX,...]
//	framegen attack (--target tcp:<ip>:<port>:<launcher_string> | --token-cmd "CMD ARGS...")
//	                [--conns 32] [--n FRAMES | --duration D] [--seed N] [--pid PID] [--max-rss-mb MB] ...
//	framegen help [COMMAND]
//
// Flags may also be written with one dash (-out DIR), as before framegen used
// github.com/spf13/cobra; framegen COMMAND --help describes each flag.
//
// corpus writes deterministic seeds (the same --seed gives the same bytes) in
// the format of go test fuzz v1. With --layout tree (the default) DIR is the
// repository root and files land in <pkg>/testdata/fuzz/<FuzzName>/.
//
// attack opens --conns connections at once and drives mutation classes against
// the daemon (see docs/fuzzing.md), prints a table per class, then probes the
// daemon with a fresh app. It exits 1 if the probe fails, if the daemon's RSS
// ended above --max-rss-mb (with --pid), or if an answer broke the protocol.
// --token-cmd is run (split on spaces, no shell) whenever a fresh launcher
// string is needed; it must print the full tcp:... value.
//
// Exit codes: 0 success, 1 failure (the attack found a problem, or an error
// while working), 2 usage error.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/internal/cliflags"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// usageError is a command-line mistake (exit code 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errFailed is returned when an attack ran and found a problem (exit code 1,
// the report says what).
var errFailed = errors.New("the attack found a problem (see the report above)")

// run runs the command line args and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	// framegen took its flags with one dash before it used cobra, "-n"
	// (attack's long flag of one letter) included.
	root.SetArgs(cliflags.LongFlagCompat(root, args, true))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "framegen:", strings.ReplaceAll(err.Error(), "\n", " "))
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// usageTemplate is cobra's default with the flags wrapped at 80 columns.
const usageTemplate = `Usage:{{if and .Runnable (not .HasAvailableSubCommands)}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}} COMMAND{{end}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}

Commands:{{range .Commands}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}

Flags:
{{(.LocalFlags.FlagUsagesWrapped 80) | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableSubCommands}}

Run "framegen help COMMAND" for more about a command.{{end}}
`

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "framegen",
		Short: "Generate launcher protocol frames: fuzz seed corpora and live attacks",
		Long: `framegen generates launcher protocol frames, valid and hostile: the seed corpora
of the project's Go fuzz targets (framegen corpus), and live attacks on a
running daemon that end with a report and a probe of the daemon's health
(framegen attack). See docs/fuzzing.md.

Exit codes: 0 success, 1 failure (the attack found a problem, or an error
while working), 2 usage error.`,
		Example: `  framegen corpus --out .
  framegen attack --token-cmd "launcher app token fuzzapp" --duration 60s`,
		SilenceErrors: true,
		SilenceUsage:  true,
		CompletionOptions: cobra.CompletionOptions{
			DisableDefaultCmd: true,
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetUsageTemplate(usageTemplate)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		var ive *pflag.InvalidValueError
		if errors.As(err, &ive) {
			return usagef("--%s: invalid value %q: %v; run \"framegen %s --help\"", ive.GetFlag().Name, ive.GetValue(), errors.Unwrap(err), cmd.Name())
		}
		return usagef("%s: %v; run \"framegen %s --help\"", cmd.Name(), err, cmd.Name())
	})
	root.AddCommand(newCorpusCmd(), newAttackCmd())
	root.InitDefaultHelpCmd()
	var fix func(c *cobra.Command)
	fix = func(c *cobra.Command) {
		c.SuggestionsMinimumDistance = 2
		switch {
		case c.Name() == "help":
			orig := c.Run
			c.Run = nil
			c.RunE = func(cmd *cobra.Command, args []string) error {
				if t, rest, err := root.Find(args); err != nil || len(rest) > 0 || t == nil {
					return usagef("help: unknown command %q", strings.Join(args, " "))
				}
				orig(cmd, args)
				return nil
			}
		case c.HasSubCommands():
			c.Args = func(cmd *cobra.Command, args []string) error {
				if len(args) > 0 {
					return usagef("unknown command %q; run \"framegen help\"", args[0])
				}
				return nil
			}
			c.RunE = func(*cobra.Command, []string) error {
				return usagef("missing command (corpus, attack); run \"framegen help\"")
			}
		default:
			c.Args = func(cmd *cobra.Command, args []string) error {
				if len(args) > 0 {
					return usagef("%s: unexpected arguments %q (it takes only flags)", cmd.Name(), args)
				}
				return nil
			}
		}
		for _, s := range c.Commands() {
			fix(s)
		}
	}
	fix(root)
	return root
}

func newCorpusCmd() *cobra.Command {
	var (
		out, layout, targets string
		seed                 uint64
	)
	cmd := &cobra.Command{
		Use:   "corpus --out DIR",
		Short: "Write the seed corpora of the fuzz targets",
		Long: `Write deterministic seeds for the project's Go fuzz targets (the same --seed
gives the same bytes), in the format of go test fuzz v1. With --layout tree (the
default) DIR is the repository root and the files land in
<pkg>/testdata/fuzz/<FuzzName>/framegen-<class>-*.`,
		Example: `  framegen corpus --out .
  framegen corpus --out . --targets launcher.FuzzSession,launcher.FuzzHandshakeWire
  framegen corpus --out "$(go env GOCACHE)/fuzz" --layout cache`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usagef("corpus: --out DIR is required")
			}
			switch layout {
			case LayoutTree, LayoutFlat, LayoutCache:
			default:
				return usagef("--layout: must be %s, %s or %s, got %q", LayoutTree, LayoutFlat, LayoutCache, layout)
			}
			files, err := buildCorpus(seed, layout, splitList(targets))
			if err != nil {
				return err
			}
			if err := writeCorpus(out, files); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d seed files under %s (layout %s, seed %d)\n", len(files), out, layout, seed)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.StringVar(&out, "out", "", "output `DIR` (the repository root for --layout tree; required)")
	fs.Uint64Var(&seed, "seed", 1, "`N` seeding the random parts of the seeds")
	fs.StringVar(&layout, "layout", LayoutTree, "where the files go (`MODE`): tree: DIR/<pkg>/testdata/fuzz/<Fuzz>/; flat: DIR/<pkg>/<Fuzz>/; cache: DIR/<module>/<pkg>/<Fuzz>/ (DIR = $(go env GOCACHE)/fuzz)")
	fs.StringVar(&targets, "targets", "", "comma-separated `pkg.FuzzName,...` to generate (default: all)")
	return cmd
}

func newAttackCmd() *cobra.Command {
	var (
		target, tokenCmd, classes                                        string
		conns, pid, dripConns, hugeB64                                   int
		n, maxRSS                                                        int64
		seed, claim                                                      uint64
		duration, settle, ioTimeout, dripInterval, dripMax, tokenTimeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "attack (--target VALUE | --token-cmd CMD)",
		Short: "Attack a running daemon, then probe its health",
		Long: `Open --conns connections at once and drive mutation classes against a running
daemon (docs/fuzzing.md lists them), print a table per class, then probe the
daemon with a fresh app: a handshake, an unknown-module request and an nfs
get-dir.

One of --target and --token-cmd is required. --token-cmd is run (split on
spaces, no shell) whenever a fresh launcher string is needed; it must print the
full tcp:IP:PORT:STRING value. With --target alone, the launcher string is kept
for the final probe and the classes that need a session are skipped.

Exits 1 if the probe fails, if the daemon's RSS ended above --max-rss-mb (with
--pid), or if an answer broke the protocol. Durations need a unit (500ms, 10s, 2m).`,
		Example: `  framegen attack --token-cmd "launcher app token fuzzapp --data /tmp/ld" \
      --conns 32 --duration 60s --pid "$(pgrep -n -f 'launcher serve')" --max-rss-mb 512`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := AttackConfig{
				Conns: conns, Frames: n, Duration: duration, Seed: seed, PID: pid, MaxRSSMB: maxRSS,
				Settle: settle, IOTimeout: ioTimeout, DripInterval: dripInterval, DripMax: dripMax,
				DripConns: dripConns, HugeB64: hugeB64, ClaimSize: claim, Classes: splitList(classes), Out: cmd.OutOrStdout(),
			}
			if conns <= 0 {
				return usagef("--conns: must be a positive integer, got %d", conns)
			}
			if cfg.Frames <= 0 && cfg.Duration <= 0 {
				cfg.Duration = 10 * time.Second
			}
			ctx := cmd.Context()
			if target != "" {
				t, err := client.ParseLauncherValue(target)
				if err != nil {
					return usagef("--target: %v", err)
				}
				cfg.Addr, cfg.ProbeValue = t.Addr(), target
			}
			if tokenCmd != "" {
				cfg.Mint = TokenCmd(strings.Fields(tokenCmd), tokenTimeout)
				if cfg.Addr == "" {
					// Learn the address from one minted value (that string is not used).
					v, err := cfg.Mint(ctx)
					if err != nil {
						return err
					}
					t, _ := client.ParseLauncherValue(v) // checked by the minter
					cfg.Addr = t.Addr()
				}
			}
			if cfg.Addr == "" {
				return usagef("attack: one of --target and --token-cmd is required")
			}
			fmt.Fprintf(cmd.OutOrStdout(), "framegen attack on %s: %d connections, seed %d, %s\n", cfg.Addr, cfg.Conns, cfg.Seed, limitText(cfg))
			rep, err := Attack(ctx, cfg)
			if err != nil {
				return err
			}
			if rep.Failed() {
				return errFailed
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.StringVar(&target, "target", "", "the launcher `VALUE` tcp:IP:PORT:STRING of the daemon to attack; its launcher string is kept for the final probe")
	fs.StringVar(&tokenCmd, "token-cmd", "", "`CMD` printing a fresh tcp:... value, run for each session and for the probe (split on spaces, no shell)")
	fs.IntVar(&conns, "conns", 32, "`N` connections open at once (one worker each)")
	fs.Int64Var(&n, "n", 0, "stop after this many `FRAMES`, a failed dial counting as one (0: use --duration)")
	fs.DurationVar(&duration, "duration", 0, "stop after this long; cases still running are aborted (default 10s when --n is not set)")
	fs.Uint64Var(&seed, "seed", 1, "`N` seeding the choice of classes and payloads per worker")
	fs.IntVar(&pid, "pid", 0, "daemon `PID` to sample every 250ms (VmRSS, threads, open fds from /proc)")
	fs.Int64Var(&maxRSS, "max-rss-mb", 1024, "with --pid: fail if the daemon's RSS ends above this many `MiB`")
	fs.DurationVar(&settle, "settle", 10*time.Second, "with --pid: how long to wait at the end for the RSS to fall under --max-rss-mb")
	fs.DurationVar(&ioTimeout, "io-timeout", 15*time.Second, "deadline of every read and write; keep it above the daemon's handshake timeout")
	fs.DurationVar(&dripInterval, "drip-interval", time.Second, "pause between the bytes of the drip class")
	fs.DurationVar(&dripMax, "drip-max", 30*time.Second, "a drip not cut by the daemon after this long counts as a timeout")
	fs.IntVar(&dripConns, "drip-conns", 2, "connections dripping at once")
	fs.IntVar(&hugeB64, "huge-b64", 4<<20, "decoded `BYTES` of the huge base64 fields")
	fs.Uint64Var(&claim, "claim", 256<<20, "length in `BYTES` announced by the claim-big class")
	fs.StringVar(&classes, "classes", "", "comma-separated mutation `CLASSES` (default: all): "+classNames())
	fs.DurationVar(&tokenTimeout, "token-timeout", 10*time.Second, "time limit of one --token-cmd run")
	return cmd
}

func limitText(cfg AttackConfig) string {
	if cfg.Frames > 0 && cfg.Duration > 0 {
		return fmt.Sprintf("%d frames or %s", cfg.Frames, cfg.Duration)
	}
	if cfg.Frames > 0 {
		return fmt.Sprintf("%d frames", cfg.Frames)
	}
	return cfg.Duration.String()
}

func classNames() string {
	var names []string
	for _, k := range allClasses() {
		names = append(names, k.name)
	}
	return strings.Join(names, ",")
}
