// Command launcherbench measures the launcher daemon over loopback, side by
// side with its floors and a peer, all in one run on one machine: a framed
// TCP echo (same frame sizes, no crypto, no store), the in-process compute
// floor of the requests and of the transfers (internal/benchfloor), a
// minimal synchronous client (mini.go), and a net/http JSON server on the
// same store. With -baseline it also builds an earlier revision and
// measures its daemon beside this build's, with the same clients. It writes
// a markdown table (every figure with its ratio to its floor or peer and to
// its target) and an SVG chart.
//
//	go run ./cmd/launcherbench [-quick] [-out docs/perf.md] [-chart docs/perf.svg]
//	    [-only small,files,handshakes,sessions,events] [-baseline REV] [-profile DIR]
//
// Run it with -h for every flag. Servers run in child processes (this
// binary re-executed with -child), so that their memory is measured apart
// from the load generator's.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

// plan is how long and how big each section runs.
type plan struct {
	Quick               bool
	LatN, LatCDN        int           // samples for get-dir and create+delete latency
	ThrDur              time.Duration // per throughput figure
	Depth1, Depth64     int           // requests in flight per connection
	Sizes               []int
	Reps                map[int]int
	HSDur               time.Duration
	HSWorkers, HSBudget int
	Sessions            int
	// The events section: sessions watching, changes timed one at a
	// time, create+delete round trips with and without the watches.
	EvWatchers, EvChanges, EvPairs int
	// The scale section (scale.go): the store's shape, samples, and the
	// metadata case's files.
	Scale scalePlan
	Only  map[string]bool // sections to run; nil: all
}

func (p plan) runs(section string) bool { return p.Only == nil || p.Only[section] }

// sections are the parts of a run, in the order they run.
var sections = []string{"small", "files", "handshakes", "sessions", "events", "scale"}

func fullPlan() plan {
	return plan{
		LatN: 3000, LatCDN: 1000, ThrDur: 2 * time.Second, Depth1: 32, Depth64: 4,
		Sizes: []int{1 << 20, 16 << 20, 64 << 20}, Reps: map[int]int{1 << 20: 10, 16 << 20: 3, 64 << 20: 4},
		HSDur: 2 * time.Second, HSWorkers: 16, HSBudget: 20000, Sessions: 1000,
		EvWatchers: 100, EvChanges: 400, EvPairs: 1000,
		Scale: scalePlan{Dirs: 1000, PerDir: 1000, Big: 100_000, GetDirN: 1000, BigN: 5, CDN: 1000,
			MetaFiles: 5282, MetaBytes: 64 << 10, OtherFiles: 1000},
	}
}

func quickPlan() plan {
	return plan{
		Quick: true, LatN: 150, LatCDN: 20, ThrDur: 120 * time.Millisecond, Depth1: 16, Depth64: 2,
		Sizes: []int{1 << 20}, Reps: map[int]int{1 << 20: 2},
		HSDur: 200 * time.Millisecond, HSWorkers: 4, HSBudget: 1500, Sessions: 100,
		EvWatchers: 20, EvChanges: 40, EvPairs: 40,
		Scale: scalePlan{Dirs: 10, PerDir: 1000, Big: 5000, GetDirN: 100, BigN: 3, CDN: 100,
			MetaFiles: 200, MetaBytes: 64 << 10, OtherFiles: 1000},
	}
}

// options are the command line, parsed.
type options struct {
	quick               bool
	out, chart, profile string
	only                []string
	baseline            string
	child, dir          string
	maxConns            int
	bigQuota            bool
	scaleDir            string
}

// errUsage marks a command line that cannot run; the message says why.
var errUsage = errors.New("usage")

const helpHead = `Usage: launcherbench [flags]

launcherbench measures the launcher daemon on this machine, over loopback,
beside what bounds it, all in one run: a framed TCP echo with the daemon's
frame sizes (no crypto, no store); the in-process compute floor of each
request and transfer (encoding/json, secretbox, SHA-512, base64, no network);
a minimal synchronous client (frames, nacl/box and secretbox, encoding/json)
against the same daemon; and a net/http JSON server on the same store. It
writes a markdown report (every figure, its reference, their ratio and the
target) and an SVG chart. See docs/perf.md for what each figure means.

A full run takes one to two minutes (about twice that with -baseline), plus
the scale section: about a minute, and two more the first time, to build its
store of a million files (see -scale-dir). It loads both cores: run it on a
quiet machine. Progress goes to stderr.

Flags:
`

const helpTail = `
Examples:
  go run ./cmd/launcherbench
      a full run; writes docs/perf.md and docs/perf.svg
  go run ./cmd/launcherbench -quick -out /tmp/perf.md -chart none
      the few-second smoke run CI makes; figures not for comparison
  go run ./cmd/launcherbench -only small -out /tmp/small.md
      small requests only (about 20 s)
  go run ./cmd/launcherbench -only events -out /tmp/events.md -chart none
      push events only: latency to 100 watching sessions, and what they
      cost the session making changes
  go run ./cmd/launcherbench -only scale -scale-dir /var/tmp/lb-scale -out /tmp/scale.md -chart none
      the scale section only: builds a store of a million files in /var/tmp/lb-scale the
      first time (a minute or two), then measures the daemon on it
  go run ./cmd/launcherbench -baseline 8a59922
      a full run with the daemon of revision 8a59922 measured beside this
      build's (before/after table in the report)

Exit status: 0 when the report was written, 1 when a measurement failed,
2 for a usage error.
`

// newFlags declares the flags into o.
func newFlags(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("launcherbench", flag.ContinueOnError)
	q, f := quickPlan(), fullPlan()
	fs.BoolVar(&o.quick, "quick", false, fmt.Sprintf(
		"a smoke run of a few seconds: %d get-dir and %d create+delete round trips a client, %s\n"+
			"per request rate, %d MiB files only, %d handshake dialers for %s, %d idle sessions,\n"+
			"%d sessions watching %d changes, a store of %s\n"+
			"(a full run: %d and %d, %s, 1, 16 and 64 MiB, %d dialers for %s, %d sessions,\n"+
			"%d sessions watching %d changes, a store of %s).\n"+
			"The report says it was a quick run; its figures are not for comparison.",
		q.LatN, q.LatCDN, q.ThrDur, q.Sizes[0]>>20, q.HSWorkers, q.HSDur, q.Sessions, q.EvWatchers, q.EvChanges, q.Scale.shape(),
		f.LatN, f.LatCDN, f.ThrDur, f.HSWorkers, f.HSDur, f.Sessions, f.EvWatchers, f.EvChanges, f.Scale.shape()))
	fs.StringVar(&o.out, "out", "docs/perf.md",
		"the markdown report to write, a `FILE` path (its directory is created).")
	fs.StringVar(&o.chart, "chart", "",
		"the SVG chart to write, a `FILE` path, or \"none\" for no chart.\n"+
			"Default: the -out path with .svg in place of its extension.")
	fs.Func("only", "run only these sections, a comma-separated `LIST`: small (get-dir and create+delete round\n"+
		"trips and rates), files (1, 16 and 64 MiB uploads and downloads, peak RSS), handshakes\n"+
		"(handshakes per second), sessions (memory per idle session), events (push-event latency\n"+
		"to 100 watching sessions, create+delete round trips with and without them), scale (a store\n"+
		"of a million files: the daemon's start, memory, get-dir and create+delete on it; 5,282 files\n"+
		"with 64 KiB of metadata each). Default: all six.",
		func(v string) error {
			for _, x := range strings.Split(v, ",") {
				x = strings.TrimSpace(x)
				if !slices.Contains(sections, x) {
					return fmt.Errorf("unknown section %q (want %s)", x, strings.Join(sections, ", "))
				}
				o.only = append(o.only, x)
			}
			return nil
		})
	fs.StringVar(&o.baseline, "baseline", "",
		"a git revision `REV` (hash, tag or branch) of this repository to measure beside this build:\n"+
			"it is extracted with git archive into a temporary directory and its cmd/launcherbench\n"+
			"built (with the go command on PATH, GOWORK=off); that build's daemon child is then\n"+
			"measured with the same clients in the same run. The revision's launcherbench must\n"+
			"have -child (as it has since 2026-11-23). Default: none.")
	fs.StringVar(&o.scaleDir, "scale-dir", "",
		"a `DIR` to keep the scale section's store in: it is built there (through the vfs API) the\n"+
			"first time and reused by later runs (a store for each shape: the full run's and -quick's);\n"+
			"remove the directory to rebuild. The daemon measured opens it in place; a run's\n"+
			"create+delete leaves it as it found it. Default: a temporary directory, removed after\n"+
			"the run (the full store takes a minute or two to build and about 200 MB).")
	fs.StringVar(&o.profile, "profile", "",
		"a `DIR` to write CPU profiles to: load.cpu.pprof for the load generator and\n"+
			"KIND-PID.cpu.pprof for every server child of this build. Default: no profiles.")
	fs.StringVar(&o.child, "child", "", "internal: run as a server child of this `KIND` (daemon, daemon-commit, echo, http).")
	fs.StringVar(&o.dir, "dir", "", "internal: the server child's store `DIR`.")
	fs.IntVar(&o.maxConns, "maxconns", 256, "internal: the daemon child's connection cap, `N` connections.")
	fs.BoolVar(&o.bigQuota, "bigquota", false, "internal: the child's store has the scale section's app quota (no limit on entries, 1 GiB of metadata).")
	fs.Usage = func() {}
	return fs
}

// printHelp writes -h's text: every flag with its meaning and default.
func printHelp(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, helpHead)
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		if strings.HasPrefix(f.Usage, "internal:") {
			return
		}
		if name != "" {
			name = " " + name
		}
		fmt.Fprintf(w, "  -%s%s\n", f.Name, name)
		for _, line := range strings.Split(usage, "\n") {
			fmt.Fprintf(w, "      %s\n", line)
		}
		if f.DefValue != "" && !strings.Contains(usage, "Default:") {
			fmt.Fprintf(w, "      Default: %s.\n", f.DefValue)
		}
	})
	fmt.Fprint(w, "\n  -child KIND, -dir DIR, -maxconns N, -bigquota \n      internal: how launcherbench starts its server children.\n")
	fmt.Fprint(w, helpTail)
}

// parseArgs parses the command line. For -h it writes the help to stdout
// and returns flag.ErrHelp; for a command line that cannot run it returns
// an error wrapping errUsage.
func parseArgs(args []string, stdout io.Writer) (options, error) {
	var o options
	fs := newFlags(&o)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(stdout, fs)
			return o, err
		}
		return o, fmt.Errorf("%w: %v", errUsage, err)
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("%w: unexpected argument %q (launcherbench takes flags only)", errUsage, fs.Arg(0))
	case o.maxConns <= 0:
		return o, fmt.Errorf("%w: -maxconns %d: want a positive number of connections", errUsage, o.maxConns)
	case o.out == "":
		return o, fmt.Errorf("%w: -out is empty: want a path for the report", errUsage)
	case o.child != "" && o.baseline != "":
		return o, fmt.Errorf("%w: -baseline is for the parent, not a -child", errUsage)
	}
	return o, nil
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("launcherbench: ")
	o, err := parseArgs(os.Args[1:], os.Stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return
	case err != nil:
		fmt.Fprintf(os.Stderr, "launcherbench: %v\nrun \"launcherbench -h\" for the flags\n", strings.TrimPrefix(err.Error(), "usage: "))
		os.Exit(2)
	}
	if err := run1(o); err != nil {
		log.Fatal(err)
	}
}

// run1 is main after the command line is parsed.
func run1(o options) error {
	if o.profile != "" {
		// Children inherit it through the environment.
		if err := os.Setenv(envProfile, o.profile); err != nil {
			return err
		}
	}
	if o.child != "" {
		if pd := os.Getenv(envProfile); pd != "" {
			stop, err := startProfile(filepath.Join(pd, fmt.Sprintf("%s-%d.cpu.pprof", o.child, os.Getpid())))
			if err != nil {
				return err
			}
			defer stop()
		}
		return runChild(o.child, o.dir, o.maxConns, o.bigQuota)
	}
	if o.profile != "" {
		stop, err := startProfile(filepath.Join(o.profile, "load.cpu.pprof"))
		if err != nil {
			return err
		}
		defer stop()
	}
	switch o.chart {
	case "":
		o.chart = strings.TrimSuffix(o.out, filepath.Ext(o.out)) + ".svg"
	case "none":
		o.chart = ""
	}
	p := fullPlan()
	if o.quick {
		p = quickPlan()
	}
	if len(o.only) > 0 {
		p.Only = map[string]bool{}
		for _, s := range o.only {
			p.Only[s] = true
		}
	}
	ctx := context.Background()
	after := describeBuild(ctx)
	var before *build
	if o.baseline != "" {
		fmt.Fprintf(os.Stderr, "building %s ...\n", o.baseline)
		b, cleanup, err := buildBaseline(ctx, o.baseline)
		if err != nil {
			return fmt.Errorf("-baseline %s: %w", o.baseline, err)
		}
		defer cleanup()
		before = &b
		fmt.Fprintf(os.Stderr, "baseline %s (%s) built\n", b.Rev, b.Subject)
	}
	p.Scale.CacheDir = o.scaleDir
	res, err := run(p, after, before, os.Stderr)
	if err != nil {
		return err
	}
	if err := writeFile(o.out, func(w io.Writer) error { return writeMarkdown(w, res, filepath.Base(o.chart)) }); err != nil {
		return err
	}
	if o.chart != "" {
		if err := writeFile(o.chart, func(w io.Writer) error { return writeSVG(w, res) }); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "wrote %s in %s\n", o.out, time.Since(res.When).Round(100*time.Millisecond))
	return nil
}

// envProfile passes -profile to the children.
const envProfile = "LAUNCHERBENCH_PROFILE"

// startProfile starts a CPU profile written to name; stop ends it.
func startProfile(name string) (stop func(), err error) {
	f, err := os.Create(name)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func writeFile(name string, f func(io.Writer) error) error {
	if dir := filepath.Dir(name); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	w, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := f(w); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}
