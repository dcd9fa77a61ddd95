// Command launcherbench measures the launcher daemon over loopback, side by
// side with a raw framed TCP echo (the floor: same frame sizes, no crypto, no
// store), a net/http JSON server on the same store (the peer), and the compute
// floor of a transfer, all in one run on one machine. It writes a markdown
// table (every figure with its ratio to its floor or peer and to its target)
// and an SVG chart.
//
//	go run ./cmd/launcherbench [-quick] [-out docs/perf.md] [-chart docs/perf.svg]
//
// -quick is a smoke run of a few seconds (small sizes, short durations) for CI.
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
}

func fullPlan() plan {
	return plan{
		LatN: 3000, LatCDN: 300, ThrDur: 2 * time.Second, Depth1: 32, Depth64: 4,
		Sizes: []int{1 << 20, 16 << 20, 64 << 20}, Reps: map[int]int{1 << 20: 5, 16 << 20: 3, 64 << 20: 2},
		HSDur: 2 * time.Second, HSWorkers: 4, HSBudget: 20000, Sessions: 1000,
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
	chart := flag.String("chart", "docs/perf.svg", "SVG chart to write (empty: none)")
	childKind := flag.String("child", "", "internal: run as a child server of this kind")
	dir := flag.String("dir", "", "internal: the child's store directory")
	maxConns := flag.Int("maxconns", 256, "internal: the child daemon's connection cap")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("launcherbench: ")

	if *childKind != "" {
		if err := runChild(*childKind, *dir, *maxConns); err != nil {
			log.Fatal(err)
		}
		return
	}
	p := fullPlan()
	if *quick {
		p = quickPlan()
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
type latencyPair struct{ P50, P99 time.Duration }

// results are every figure of one run.
type results struct {
	When    time.Time
	Took    time.Duration
	Plan    plan
	Machine machine

	Lat   map[string]map[string]latencyPair     // kind -> op
	Thr   map[string]map[string]map[int]float64 // kind -> op -> conns -> req/s
	Files []transferResult
	HS    map[string]float64 // "counter", "fixed", "floor-counter", "floor-fixed"
	Sess  map[string]sessionMem
}

// run measures everything, logging progress to logw.
func run(p plan, logw io.Writer) (*results, error) {
	res := &results{When: time.Now(), Plan: p, Machine: machineInfo(),
		Lat: map[string]map[string]latencyPair{}, Thr: map[string]map[string]map[int]float64{},
		HS: map[string]float64{}, Sess: map[string]sessionMem{}}
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

	// 1. Small requests.
	var s servers
	for _, k := range []string{kindDaemon, kindHTTP} {
		d, err := dirOf("small-" + k)
		if err != nil {
			return nil, err
		}
		if s.sizes, err = prepareStore(d); err != nil {
			return nil, err
		}
		c, err := startChild(k, d, 256)
		if err != nil {
			return nil, err
		}
		defer c.stop()
		if k == kindDaemon {
			s.daemon = c
		} else {
			s.http = c
		}
	}
	if s.echo, err = startChild(kindEcho, "", 256); err != nil {
		return nil, err
	}
	defer s.echo.stop()
	for _, kind := range []string{kindEcho, kindDaemon, kindHTTP} {
		res.Lat[kind] = map[string]latencyPair{}
		res.Thr[kind] = map[string]map[int]float64{}
		for _, op := range []string{opGetDir, opCreateDelete} {
			n := p.LatN
			if op == opCreateDelete {
				n = p.LatCDN
			}
			p50, p99, err := s.latency(kind, op, n)
			if err != nil {
				return nil, fmt.Errorf("%s %s latency: %w", kind, op, err)
			}
			res.Lat[kind][op] = latencyPair{p50, p99}
			res.Thr[kind][op] = map[int]float64{}
			for _, conns := range []int{1, 64} {
				depth := p.Depth1
				if conns > 1 {
					depth = p.Depth64
				}
				rate, err := s.throughput(kind, op, conns, depth, p.ThrDur)
				if err != nil {
					return nil, fmt.Errorf("%s %s throughput on %d connections: %w", kind, op, conns, err)
				}
				res.Thr[kind][op][conns] = rate
			}
			logf("%-6s %-13s p50 %8s p99 %8s  %8.0f req/s (1 conn)  %8.0f req/s (64 conns)", kind, op,
				p50.Round(time.Microsecond), p99.Round(time.Microsecond), res.Thr[kind][op][1], res.Thr[kind][op][64])
		}
	}
	s.daemon.stop()
	s.http.stop()
	s.echo.stop()

	// 2. Files.
	fd, err := dirOf("files")
	if err != nil {
		return nil, err
	}
	if _, err := prepareStore(fd); err != nil {
		return nil, err
	}
	for _, size := range p.Sizes {
		r, err := measureTransfer(fd, size, p.Reps[size])
		if err != nil {
			return nil, err
		}
		res.Files = append(res.Files, r)
		logf("%3d MiB  upload %7.1f MB/s  download %7.1f MB/s  floor %7.1f MB/s  peak RSS up %d MiB down %d MiB",
			size>>20, mbps(size, r.Upload), mbps(size, r.Download), mbps(size, r.Floor), r.UploadHWM>>10, r.DownHWM>>10)
	}

	// 3. Handshakes.
	hd, err := dirOf("handshakes")
	if err != nil {
		return nil, err
	}
	if _, err := prepareStore(hd); err != nil {
		return nil, err
	}
	for _, fixed := range []bool{false, true} {
		name := "counter"
		if fixed {
			name = "fixed"
		}
		rate, err := handshakeRate(hd, fixed, p.HSWorkers, p.HSBudget, p.HSDur)
		if err != nil {
			return nil, fmt.Errorf("handshakes (%s): %w", name, err)
		}
		floor, err := handshakeFloor(fixed, p.HSDur)
		if err != nil {
			return nil, err
		}
		res.HS[name], res.HS["floor-"+name] = rate, floor
		logf("handshakes %-7s %7.0f/s  floor %7.0f/s", name, rate, floor)
	}

	// 4. Idle sessions.
	for _, kind := range []string{kindDaemon, kindEcho, kindHTTP} {
		d, err := dirOf("sessions-" + kind)
		if err != nil {
			return nil, err
		}
		if _, err := prepareStore(d); err != nil {
			return nil, err
		}
		sm, err := idleSessions(kind, d, p.Sessions)
		if err != nil {
			return nil, fmt.Errorf("idle sessions (%s): %w", kind, err)
		}
		res.Sess[kind] = sm
		logf("idle %-6s x%d: %6.1f KiB/conn (Go heap+stacks), %6.1f KiB/conn RSS, %.1f goroutines/conn",
			kind, sm.N, sm.GoBytes/1024, sm.RSSBytes/1024, sm.Goroutines)
	}
	res.Took = time.Since(res.When)
	return res, nil
}
