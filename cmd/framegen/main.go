// Command framegen generates launcher protocol frames, valid and hostile: seed
// corpora for the project's Go fuzz targets, and live attacks on a running
// daemon that end with a report and a probe of the daemon's health.
//
// Usage:
//
//	framegen corpus -out DIR [-seed N] [-layout tree|flat|cache] [-targets pkg.FuzzX,...]
//	framegen attack (-target tcp:<ip>:<port>:<launcher_string> | -token-cmd "CMD ARGS...")
//	                [-conns 32] [-n FRAMES | -duration D] [-seed N] [-pid PID] [-max-rss-mb MB] ...
//
// corpus writes deterministic seeds (the same -seed gives the same bytes) in
// the format of go test fuzz v1. With -layout tree (the default) DIR is the
// repository root and files land in <pkg>/testdata/fuzz/<FuzzName>/.
//
// attack opens -conns connections at once and drives mutation classes against
// the daemon (see docs/fuzzing.md), prints a table per class, then probes the
// daemon with a fresh app. It exits 1 if the probe fails, if the daemon's RSS
// ended above -max-rss-mb (with -pid), or if an answer broke the protocol.
// -token-cmd is run (split on spaces, no shell) whenever a fresh launcher
// string is needed; it must print the full tcp:... value.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/safe-launcher/launcher/client"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  framegen corpus -out DIR [-seed N] [-layout tree|flat|cache] [-targets pkg.FuzzX,...]
  framegen attack (-target tcp:<ip>:<port>:<launcher_string> | -token-cmd "CMD ARGS") [flags]
run "framegen corpus -h" or "framegen attack -h" for the flags`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "corpus":
		err = corpusCmd(args[1:], stdout, stderr)
	case "attack":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		var failed bool
		failed, err = attackCmd(ctx, args[1:], stdout, stderr)
		if err == nil && failed {
			return 1
		}
	default:
		fmt.Fprintf(stderr, "framegen: unknown command %q\n%s\n", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "framegen:", err)
		return 2
	}
	return 0
}

func corpusCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("corpus", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "output directory (the repository root for -layout tree)")
	seed := fs.Uint64("seed", 1, "seed for the random parts of the seeds")
	layout := fs.String("layout", LayoutTree, "tree: DIR/<pkg>/testdata/fuzz/<Fuzz>/; flat: DIR/<pkg>/<Fuzz>/; cache: DIR/<module>/<pkg>/<Fuzz>/ (DIR = $(go env GOCACHE)/fuzz)")
	targets := fs.String("targets", "", "comma-separated pkg.FuzzName to generate (default all)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	files, err := buildCorpus(*seed, *layout, splitList(*targets))
	if err != nil {
		return err
	}
	if err := writeCorpus(*out, files); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d seed files under %s (layout %s, seed %d)\n", len(files), *out, *layout, *seed)
	return nil
}

func attackCmd(ctx context.Context, args []string, stdout, stderr io.Writer) (failed bool, err error) {
	fs := flag.NewFlagSet("attack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", "", "tcp:<ip>:<port>:<launcher_string>; the launcher string is kept for the final probe")
	tokenCmd := fs.String("token-cmd", "", "command printing a fresh tcp:... value, run per session (split on spaces, no shell)")
	conns := fs.Int("conns", 32, "concurrent connections")
	n := fs.Int64("n", 0, "stop after this many frames, a failed dial counting as one (0: use -duration)")
	duration := fs.Duration("duration", 0, "stop after this long (default 10s when -n is not set)")
	seed := fs.Uint64("seed", 1, "seed for the choice of classes and payloads")
	pid := fs.Int("pid", 0, "daemon pid to sample (VmRSS, threads, fds from /proc)")
	maxRSS := fs.Int64("max-rss-mb", 1024, "with -pid: fail if the daemon's RSS ends above this many MiB")
	settle := fs.Duration("settle", 10*time.Second, "with -pid: how long to wait for RSS to fall under the bound at the end")
	ioTimeout := fs.Duration("io-timeout", 15*time.Second, "deadline of every read and write (set it above the daemon's handshake timeout)")
	dripInterval := fs.Duration("drip-interval", time.Second, "pause between bytes of the drip class")
	dripMax := fs.Duration("drip-max", 30*time.Second, "a drip not cut by the daemon after this long counts as a timeout")
	dripConns := fs.Int("drip-conns", 2, "connections dripping at once")
	hugeB64 := fs.Int("huge-b64", 4<<20, "decoded bytes of the huge base64 fields")
	claim := fs.Uint64("claim", 256<<20, "length announced by the claim-big class")
	classes := fs.String("classes", "", "comma-separated mutation classes (default all): "+classNames())
	tokenTimeout := fs.Duration("token-timeout", 10*time.Second, "time limit of one -token-cmd run")
	if err := fs.Parse(args); err != nil {
		return false, err
	}
	if fs.NArg() > 0 {
		return false, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg := AttackConfig{
		Conns: *conns, Frames: *n, Duration: *duration, Seed: *seed, PID: *pid, MaxRSSMB: *maxRSS,
		Settle: *settle, IOTimeout: *ioTimeout, DripInterval: *dripInterval, DripMax: *dripMax,
		DripConns: *dripConns, HugeB64: *hugeB64, ClaimSize: *claim, Classes: splitList(*classes), Out: stdout,
	}
	if cfg.Frames <= 0 && cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
	}
	if *target != "" {
		t, err := client.ParseLauncherValue(*target)
		if err != nil {
			return false, fmt.Errorf("-target: %w", err)
		}
		cfg.Addr, cfg.ProbeValue = t.Addr(), *target
	}
	if *tokenCmd != "" {
		cfg.Mint = TokenCmd(strings.Fields(*tokenCmd), *tokenTimeout)
		if cfg.Addr == "" {
			// Learn the address from one minted value (that string is not used).
			v, err := cfg.Mint(ctx)
			if err != nil {
				return false, err
			}
			t, _ := client.ParseLauncherValue(v) // checked by the minter
			cfg.Addr = t.Addr()
		}
	}
	if cfg.Addr == "" {
		return false, errors.New("one of -target and -token-cmd is required")
	}
	fmt.Fprintf(stdout, "framegen attack on %s: %d connections, seed %d, %s\n", cfg.Addr, cfg.Conns, cfg.Seed, limitText(cfg))
	rep, err := Attack(ctx, cfg)
	if err != nil {
		return false, err
	}
	return rep.Failed(), nil
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
