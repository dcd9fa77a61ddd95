// Command launcherbench measures the launcher daemon over loopback, side by
// side with a raw framed TCP echo (the floor: same frame sizes, no crypto, no
// store), a net/http JSON server on the same store (the peer), and the compute
// floor of a transfer, all in one run on one machine. It writes a markdown
// table (every figure with its ratio to its floor or peer and to its target)
// and an SVG chart.
//
//	go run ./cmd/launcherbench [-quick] [-out docs/perf.md] [-chart docs/perf.svg] [-only small,files,handshakes,sessions] [-profile DIR]
//
// -quick is a smoke run of a few seconds (small sizes, short durations) for
// CI; the chart goes next to -out unless -chart says otherwise. -profile
// writes CPU profiles of the load generator and of every server child.
// Servers run in child processes (this binary re-executed with -child), so
// that their memory is measured apart from the load generator's.
package main

import (
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
	Only                map[string]bool // sections to run; nil: all
}

func (p plan) runs(section string) bool { return p.Only == nil || p.Only[section] }

func fullPlan() plan {
	return plan{
		LatN: 3000, LatCDN: 1000, ThrDur: 2 * time.Second, Depth1: 32, Depth64: 4,
		Sizes: []int{1 << 20, 16 << 20, 64 << 20}, Reps: map[int]int{1 << 20: 10, 16 << 20: 3, 64 << 20: 4},
		HSDur: 2 * time.Second, HSWorkers: 16, HSBudget: 20000, Sessions: 1000,
	}
}

func quickPlan() plan {
	return plan{
		Quick: true, LatN: 200, LatCDN: 20, ThrDur: 150 * time.Millisecond, Depth1: 16, Depth64: 2,
		Sizes: []int{1 << 20}, Reps: map[int]int{1 << 20: 2},
		HSDur: 200 * time.Millisecond, HSWorkers: 4, HSBudget: 1500, Sessions: 100,
	}
}

func main() {
	quick := flag.Bool("quick", false, "a few-second smoke run (small sizes, short durations)")
	out := flag.String("out", "docs/perf.md", "markdown report to write")
	chart := flag.String("chart", "", "SVG chart to write (default: -out with .svg instead of .md; \"none\": no chart)")
	childKind := flag.String("child", "", "internal: run as a child server of this kind")
	dir := flag.String("dir", "", "internal: the child's store directory")
	maxConns := flag.Int("maxconns", 256, "internal: the child daemon's connection cap")
	only := flag.String("only", "", "comma-separated sections to run (small,files,handshakes,sessions); default all")
	profile := flag.String("profile", "", "write CPU profiles of the server children to this directory")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("launcherbench: ")

	if *profile != "" {
		// Children inherit it through the environment.
		if err := os.Setenv(envProfile, *profile); err != nil {
			log.Fatal(err)
		}
	}
	if *childKind != "" {
		if pd := os.Getenv(envProfile); pd != "" {
			stop, err := startProfile(filepath.Join(pd, fmt.Sprintf("%s-%d.cpu.pprof", *childKind, os.Getpid())))
			if err != nil {
				log.Fatal(err)
			}
			defer stop()
		}
		if err := runChild(*childKind, *dir, *maxConns); err != nil {
			log.Fatal(err)
		}
		return
	}
	if *profile != "" {
		stop, err := startProfile(filepath.Join(*profile, "load.cpu.pprof"))
		if err != nil {
			log.Fatal(err)
		}
		defer stop()
	}
	switch *chart {
	case "":
		*chart = strings.TrimSuffix(*out, filepath.Ext(*out)) + ".svg"
	case "none":
		*chart = ""
	}
	p := fullPlan()
	if *quick {
		p = quickPlan()
	}
	if *only != "" {
		p.Only = map[string]bool{}
		for _, s := range strings.Split(*only, ",") {
			p.Only[strings.TrimSpace(s)] = true
		}
	}
	res, err := run(p, os.Stderr)
	if err != nil {
		log.Fatal(err)
	}
	if err := writeFile(*out, func(w io.Writer) error { return writeMarkdown(w, res, filepath.Base(*chart)) }); err != nil {
		log.Fatal(err)
	}
	if *chart != "" {
		if err := writeFile(*chart, func(w io.Writer) error { return writeSVG(w, res) }); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Fprintf(os.Stderr, "wrote %s in %s\n", *out, time.Since(res.When).Round(100*time.Millisecond))
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

// latencyPair is a p50 and p99 round trip.
type latencyPair struct {
	P50, P99 time.Duration
	Cost     cost // zero where /proc does not tell
}

// results are every figure of one run.
type results struct {
	When    time.Time
	Took    time.Duration
	Plan    plan
	Machine machine

	Lat    map[string]map[string]latencyPair     // kind -> op
	Thr    map[string]map[string]map[int]float64 // kind -> op -> conns -> req/s
	Files  []transferResult
	Stream *streamResult      // the largest size through the SDK's streams
	HS     map[string]float64 // "counter", "fixed", "floor-counter", "floor-fixed"
	HSCost map[string]cost    // "counter", "fixed": per handshake, daemon and dialer
	Sync   time.Duration      // median append + fsync of a small record on the store's disk
	Sess   map[string]sessionMem
}

// run measures everything, logging progress to logw.
func run(p plan, logw io.Writer) (*results, error) {
	res := &results{When: time.Now(), Plan: p, Machine: machineInfo(),
		Lat: map[string]map[string]latencyPair{}, Thr: map[string]map[string]map[int]float64{},
		HS: map[string]float64{}, HSCost: map[string]cost{}, Sess: map[string]sessionMem{}}
	logf := func(format string, a ...any) { fmt.Fprintf(logw, format+"\n", a...) }
	tmp, err := os.MkdirTemp("", "launcherbench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	dirOf := func(name string) (string, error) {
		d := filepath.Join(tmp, name)
		return d, os.MkdirAll(d, 0o700)
	}

	if p.runs("small") {
		if err := runSmall(p, res, dirOf, logf); err != nil {
			return nil, err
		}
	}
	if p.runs("files") {
		if err := runFiles(p, res, dirOf, logf); err != nil {
			return nil, err
		}
	}
	if p.runs("handshakes") {
		if err := runHandshakes(p, res, dirOf, logf); err != nil {
			return nil, err
		}
	}
	if p.runs("sessions") {
		if err := runSessions(p, res, dirOf, logf); err != nil {
			return nil, err
		}
	}
	res.Took = time.Since(res.When)
	return res, nil
}

type dirFunc func(name string) (string, error)
type logFunc func(format string, a ...any)

func runSmall(p plan, res *results, dirOf dirFunc, logf logFunc) error {
	var s servers
	for _, k := range []string{kindDaemon, kindHTTP, kindDaemonCommit} {
		d, err := dirOf("small-" + k)
		if err != nil {
			return err
		}
		if s.sizes, err = prepareStore(d); err != nil {
			return err
		}
		c, err := startChild(k, d, 256)
		if err != nil {
			return err
		}
		defer c.stop()
		switch k {
		case kindDaemon:
			s.daemon = c
		case kindHTTP:
			s.http = c
		default:
			s.commit = c
		}
	}
	var err error
	if s.echo, err = startChild(kindEcho, "", 256); err != nil {
		return err
	}
	defer s.echo.stop()
	if s.echoNet, err = startChild(kindEchoNet, "", 256); err != nil {
		return err
	}
	defer s.echoNet.stop()
	// The echo floor is run both ways, with raw reads and writes as the
	// daemon and the SDK make them and with the net package's; each figure's
	// floor is the better of the two (floorLat, floorThr).
	kinds := []string{kindEcho, kindEchoNet, kindDaemon, kindHTTP}
	// Changes are also measured on the daemon in commit mode (a reference:
	// acknowledged only once fsynced).
	kindsOf := func(op string) []string {
		if op == opCreateDelete {
			return append(slices.Clone(kinds), kindDaemonCommit)
		}
		return kinds
	}
	for _, kind := range append(slices.Clone(kinds), kindDaemonCommit) {
		res.Lat[kind] = map[string]latencyPair{}
		res.Thr[kind] = map[string]map[int]float64{}
	}
	// Latencies are sampled in interleaved rounds, so that a disturbance of
	// the machine weighs on every server alike.
	for _, op := range []string{opGetDir, opCreateDelete} {
		n := p.LatN
		if op == opCreateDelete {
			n = p.LatCDN
		}
		lat, err := s.latencies(kindsOf(op), op, n, 10)
		if err != nil {
			return fmt.Errorf("%s latency: %w", op, err)
		}
		if op == opCreateDelete {
			d, err := dirOf("sync-floor")
			if err != nil {
				return err
			}
			if res.Sync, err = syncFloor(d, 2*n); err != nil {
				return fmt.Errorf("sync floor: %w", err)
			}
			logf("sync floor: append + fsync p50 %s", res.Sync)
		}
		for _, kind := range kindsOf(op) {
			res.Lat[kind][op] = lat[kind]
		}
	}
	// Rates too are measured in rounds that go from server to server; each
	// figure is the median of its rounds.
	const rounds = 3
	for _, op := range []string{opGetDir, opCreateDelete} {
		for _, kind := range kindsOf(op) {
			res.Thr[kind][op] = map[int]float64{}
		}
		for _, conns := range []int{1, 64} {
			depth := p.Depth1
			if conns > 1 {
				depth = p.Depth64
			}
			rates := map[string][]float64{}
			for range rounds {
				for _, kind := range kindsOf(op) {
					rate, err := s.throughput(kind, op, conns, depth, p.ThrDur/rounds)
					if err != nil {
						return fmt.Errorf("%s %s throughput on %d connections: %w", kind, op, conns, err)
					}
					rates[kind] = append(rates[kind], rate)
				}
			}
			for _, kind := range kindsOf(op) {
				slices.Sort(rates[kind])
				res.Thr[kind][op][conns] = rates[kind][rounds/2]
			}
		}
		for _, kind := range kindsOf(op) {
			lp := res.Lat[kind][op]
			logf("%-13s %-13s p50 %8s p99 %8s  %8.0f req/s (1 conn)  %8.0f req/s (64 conns)  CPU/op %s + %s", kind, op,
				lp.P50.Round(time.Microsecond), lp.P99.Round(time.Microsecond), res.Thr[kind][op][1], res.Thr[kind][op][64],
				lp.Cost.Server.Round(time.Microsecond), lp.Cost.Client.Round(time.Microsecond))
		}
	}
	return nil
}

func runFiles(p plan, res *results, dirOf dirFunc, logf logFunc) error {
	fd, err := dirOf("files")
	if err != nil {
		return err
	}
	if _, err := prepareStore(fd); err != nil {
		return err
	}
	for _, size := range p.Sizes {
		r, err := measureTransfer(fd, size, p.Reps[size])
		if err != nil {
			return err
		}
		res.Files = append(res.Files, r)
		logf("%3d MiB  upload %7.1f MB/s (first %7.1f, %d faults)  download %7.1f MB/s (first %7.1f, %d faults)  floor %7.1f MB/s  peak RSS up %d MiB down %d MiB",
			size>>20, mbps(size, r.Up.Best), mbps(size, r.Up.First), r.Up.FirstFaults, mbps(size, r.Down.Best), mbps(size, r.Down.First), r.Down.FirstFaults,
			mbps(size, r.Floor), r.Up.HWM>>10, r.Down.HWM>>10)
	}
	if len(p.Sizes) > 0 {
		size := slices.Max(p.Sizes)
		reps := 2
		if p.Quick {
			reps = 1
		}
		sr, err := measureStream(fd, size, reps)
		if err != nil {
			return err
		}
		res.Stream = &sr
		logf("%3d MiB  streams: upload %7.1f MB/s  download %7.1f MB/s  peak RSS up %d MiB down %d MiB",
			size>>20, mbps(size, sr.Upload), mbps(size, sr.Download), sr.UpHWM>>10, sr.DownHWM>>10)
	}
	return nil
}

func runHandshakes(p plan, res *results, dirOf dirFunc, logf logFunc) error {
	hd, err := dirOf("handshakes")
	if err != nil {
		return err
	}
	if _, err := prepareStore(hd); err != nil {
		return err
	}
	for _, fixed := range []bool{false, true} {
		name := "counter"
		if fixed {
			name = "fixed"
		}
		rate, k, err := handshakeRate(hd, fixed, p.HSWorkers, p.HSBudget, p.HSDur)
		if err != nil {
			return fmt.Errorf("handshakes (%s): %w", name, err)
		}
		floor, err := handshakeFloor(fixed, p.HSDur)
		if err != nil {
			return err
		}
		res.HS[name], res.HS["floor-"+name], res.HSCost[name] = rate, floor, k
		logf("handshakes %-7s %7.0f/s  floor %7.0f/s  CPU per handshake %s + %s", name, rate, floor,
			k.Server.Round(time.Microsecond), k.Client.Round(time.Microsecond))
	}
	return nil
}

func runSessions(p plan, res *results, dirOf dirFunc, logf logFunc) error {
	for _, kind := range []string{kindDaemon, kindEcho, kindHTTP} {
		d, err := dirOf("sessions-" + kind)
		if err != nil {
			return err
		}
		if _, err := prepareStore(d); err != nil {
			return err
		}
		sm, err := idleSessions(kind, d, p.Sessions)
		if err != nil {
			return fmt.Errorf("idle sessions (%s): %w", kind, err)
		}
		res.Sess[kind] = sm
		logf("idle %-6s x%d: %6.1f KiB/conn (Go heap+stacks), %6.1f KiB/conn RSS, %.1f goroutines/conn",
			kind, sm.N, sm.GoBytes/1024, sm.RSSBytes/1024, sm.Goroutines)
	}
	return nil
}
