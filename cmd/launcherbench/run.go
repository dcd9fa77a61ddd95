package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/safe-launcher/launcher/internal/benchfloor"
)

// latencyPair is a p50 and p99 round trip.
type latencyPair struct {
	P50, P99 time.Duration
	// RoundMin and RoundMax are the lowest and highest p50 of the rounds
	// the samples were taken in: the noise within the run.
	RoundMin, RoundMax time.Duration
	Cost               cost // zero where /proc does not tell
}

// rate is a request rate: the median of its rounds, and their extremes.
type rate struct {
	Median, Min, Max float64
}

// results are every figure of one run.
type results struct {
	When    time.Time
	Took    time.Duration
	Plan    plan
	Machine machine
	After   build  // this build
	Before  *build // the -baseline build, or nil

	Lat         map[string]map[string]latencyPair  // kind -> op
	Thr         map[string]map[string]map[int]rate // kind -> op -> conns -> req/s
	Files       []transferResult
	FilesBefore []transferResult
	Stream      *streamResult      // the largest size through the SDK's streams
	HS          map[string]float64 // "counter", "fixed", "floor-counter", "floor-fixed", "before-counter", "before-fixed"
	HSCost      map[string]cost    // "counter", "fixed", "before-…": per handshake, daemon and dialer
	Sync        time.Duration      // median append + fsync of a small record on the store's disk
	Sess        map[string]sessionMem
	Events      *eventsResult // the events section's, or nil
	Scale       *scaleResult  // the scale section's, or nil
}

// run measures everything, logging progress to logw. before, if not nil, is
// measured beside this build.
func run(p plan, after build, before *build, logw io.Writer) (*results, error) {
	res := &results{When: time.Now(), Plan: p, Machine: machineInfo(), After: after, Before: before,
		Lat: map[string]map[string]latencyPair{}, Thr: map[string]map[string]map[int]rate{},
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
	for _, sec := range []struct {
		name string
		run  func(plan, *results, dirFunc, logFunc) error
	}{{"small", runSmall}, {"files", runFiles}, {"handshakes", runHandshakes}, {"sessions", runSessions}, {"events", runEvents}, {"scale", runScale}} {
		if p.runs(sec.name) {
			t := time.Now()
			if err := sec.run(p, res, dirOf, logf); err != nil {
				return nil, err
			}
			logf("(%s: %s)", sec.name, time.Since(t).Round(10*time.Millisecond))
		}
	}
	res.Took = time.Since(res.When)
	return res, nil
}

type dirFunc func(name string) (string, error)
type logFunc func(format string, a ...any)

// beforeExe is the baseline's binary, or "" without one.
func (r *results) beforeExe() string {
	if r.Before == nil {
		return ""
	}
	return r.Before.Exe
}

func runSmall(p plan, res *results, dirOf dirFunc, logf logFunc) error {
	var s servers
	starts := []struct {
		exe, kind, name string
		into            **child
	}{{"", kindDaemon, "daemon", &s.daemon}, {"", kindHTTP, "http", &s.http}, {"", kindDaemonCommit, "commit", &s.commit}}
	if res.Before != nil {
		starts = append(starts, struct {
			exe, kind, name string
			into            **child
		}{res.Before.Exe, kindDaemon, "before", &s.before})
	}
	for _, st := range starts {
		d, err := dirOf("small-" + st.name)
		if err != nil {
			return err
		}
		if err := prepareFor(st.exe, d); err != nil {
			return err
		}
		c, err := startChild(st.exe, st.kind, d, 256)
		if err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
		defer c.stop()
		*st.into = c
	}
	var err error
	if s.echo, err = startChild("", kindEcho, "", 256); err != nil {
		return err
	}
	defer s.echo.stop()

	// The compute floor answers get-dir with the listing the daemon gives;
	// the echo's frames are the sizes of the floor's.
	mc, err := s.dial(kindMini, 1, true)
	if err != nil {
		return fmt.Errorf("minimal client: %w", err)
	}
	listing, err := mc[0].(*miniConn).listing(context.Background())
	mc[0].close()
	if err != nil {
		return fmt.Errorf("minimal client: %w", err)
	}
	var keys benchfloor.Keys
	_, _ = rand.Read(keys.Key[:])
	_, _ = rand.Read(keys.Base[:])
	s.floor = benchfloor.NewSmall(keys, listing)
	if err := s.floor.GetDir(getDirPath); err != nil {
		return err
	}
	if err := s.floor.CreateDelete(cdDir + "/lat"); err != nil {
		return err
	}
	s.sizes = s.floor.Sizes()

	latKinds := []string{kindEcho, kindCompute, kindMini, kindDaemon}
	thrKinds := []string{kindEcho, kindDaemon}
	if res.Before != nil {
		latKinds = append(latKinds, kindMiniBefore, kindBefore)
		thrKinds = append(thrKinds, kindBefore)
	}
	latKinds = append(latKinds, kindHTTP)
	thrKinds = append(thrKinds, kindHTTP)
	// Changes are also measured on the daemon in commit mode (a reference:
	// acknowledged only once fsynced).
	withCommit := func(kinds []string, op string) []string {
		if op == opCreateDelete {
			return append(slices.Clone(kinds), kindDaemonCommit)
		}
		return kinds
	}
	for _, kind := range withCommit(latKinds, opCreateDelete) {
		res.Lat[kind] = map[string]latencyPair{}
		res.Thr[kind] = map[string]map[int]rate{}
	}
	// Latencies are sampled in interleaved rounds, so that a disturbance of
	// the machine weighs on every client alike.
	for _, op := range []string{opGetDir, opCreateDelete} {
		n := p.LatN
		if op == opCreateDelete {
			n = p.LatCDN
		}
		lat, err := s.latencies(withCommit(latKinds, op), op, n, 10)
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
		for kind, lp := range lat {
			res.Lat[kind][op] = lp
		}
	}
	// Rates too are measured in rounds that go from server to server; each
	// figure is the median of its rounds.
	const rounds = 3
	for _, op := range []string{opGetDir, opCreateDelete} {
		kinds := withCommit(thrKinds, op)
		for _, kind := range kinds {
			res.Thr[kind][op] = map[int]rate{}
		}
		for _, conns := range []int{1, 64} {
			depth := p.Depth1
			if conns > 1 {
				depth = p.Depth64
			}
			rates := map[string][]float64{}
			for range rounds {
				for _, kind := range kinds {
					r, err := s.throughput(kind, op, conns, depth, p.ThrDur/rounds)
					if err != nil {
						return fmt.Errorf("%s %s throughput on %d connections: %w", kind, op, conns, err)
					}
					rates[kind] = append(rates[kind], r)
				}
			}
			for _, kind := range kinds {
				slices.Sort(rates[kind])
				res.Thr[kind][op][conns] = rate{Median: rates[kind][rounds/2], Min: rates[kind][0], Max: rates[kind][rounds-1]}
			}
		}
		for _, kind := range withCommit(latKinds, op) {
			lp := res.Lat[kind][op]
			line := fmt.Sprintf("%-13s %-13s p50 %8s p99 %8s", kind, op, lp.P50.Round(time.Microsecond), lp.P99.Round(time.Microsecond))
			if t, ok := res.Thr[kind][op]; ok {
				line += fmt.Sprintf("  %8.0f req/s (1 conn)  %8.0f req/s (64 conns)", t[1].Median, t[64].Median)
			}
			logf("%s  CPU/op %s + %s", line, lp.Cost.Server.Round(time.Microsecond), lp.Cost.Client.Round(time.Microsecond))
		}
		fl := res.Lat[kindEcho][op].P50 + res.Lat[kindCompute][op].P50
		logf("%-13s %-13s p50 %8s (echo + compute)", "floor", op, fl.Round(time.Microsecond))
	}
	return nil
}

func runFiles(p plan, res *results, dirOf dirFunc, logf logFunc) error {
	builds := []struct {
		name, exe string
		into      *[]transferResult
	}{{"after", "", &res.Files}}
	if res.Before != nil {
		builds = append(builds, struct {
			name, exe string
			into      *[]transferResult
		}{"before", res.Before.Exe, &res.FilesBefore})
	}
	for _, b := range builds {
		fd, err := dirOf("files-" + b.name)
		if err != nil {
			return err
		}
		if err := prepareFor(b.exe, fd); err != nil {
			return err
		}
		for _, size := range p.Sizes {
			r, err := measureTransfer(b.exe, fd, size, p.Reps[size])
			if err != nil {
				return fmt.Errorf("%s: %w", b.name, err)
			}
			*b.into = append(*b.into, r)
			logf("%-6s %3d MiB  upload %7.1f MB/s (first %7.1f, %d faults, floor %7.1f)  download %7.1f MB/s (first %7.1f, %d faults, floor %7.1f)  peak RSS up %d MiB down %d MiB",
				b.name, size>>20, mbps(size, r.Up.Best), mbps(size, r.Up.First), r.Up.FirstFaults, mbps(size, r.FloorUp),
				mbps(size, r.Down.Best), mbps(size, r.Down.First), r.Down.FirstFaults, mbps(size, r.FloorDown),
				r.Up.HWM>>10, r.Down.HWM>>10)
		}
		if b.exe != "" || len(p.Sizes) == 0 {
			continue
		}
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
		logf("%-6s %3d MiB  streams: upload %7.1f MB/s  download %7.1f MB/s  peak RSS up %d MiB down %d MiB",
			b.name, size>>20, mbps(size, sr.Upload), mbps(size, sr.Download), sr.UpHWM>>10, sr.DownHWM>>10)
	}
	return nil
}

func runHandshakes(p plan, res *results, dirOf dirFunc, logf logFunc) error {
	// A store for each build: a baseline's is in its own format.
	hd := map[string]string{}
	for _, b := range []struct{ prefix, exe string }{{"", ""}, {"before-", res.beforeExe()}} {
		if b.prefix != "" && res.Before == nil {
			continue
		}
		d, err := dirOf("handshakes-" + strings.TrimSuffix(cmp.Or(b.prefix, "after-"), "-"))
		if err != nil {
			return err
		}
		if err := prepareFor(b.exe, d); err != nil {
			return err
		}
		hd[b.prefix] = d
	}
	for _, fixed := range []bool{false, true} {
		name := "counter"
		if fixed {
			name = "fixed"
		}
		floor, err := handshakeFloor(fixed, p.HSDur)
		if err != nil {
			return err
		}
		res.HS["floor-"+name] = floor
		for _, b := range []struct{ prefix, exe string }{{"", ""}, {"before-", res.beforeExe()}} {
			if b.prefix != "" && res.Before == nil {
				continue
			}
			rate, k, err := handshakeRate(b.exe, hd[b.prefix], fixed, p.HSWorkers, p.HSBudget, p.HSDur)
			if err != nil {
				return fmt.Errorf("handshakes (%s%s): %w", b.prefix, name, err)
			}
			res.HS[b.prefix+name], res.HSCost[b.prefix+name] = rate, k
			logf("handshakes %-14s %7.0f/s  floor %7.0f/s  CPU per handshake %s + %s", b.prefix+name, rate, floor,
				k.Server.Round(time.Microsecond), k.Client.Round(time.Microsecond))
		}
	}
	return nil
}

func runSessions(p plan, res *results, dirOf dirFunc, logf logFunc) error {
	kinds := []string{kindDaemon, kindEcho, kindHTTP}
	if res.Before != nil {
		kinds = append(kinds, kindBefore)
	}
	for _, kind := range kinds {
		d, err := dirOf("sessions-" + kind)
		if err != nil {
			return err
		}
		exe, childKind := "", kind
		if kind == kindBefore {
			exe, childKind = res.Before.Exe, kindDaemon
		}
		if err := prepareFor(exe, d); err != nil {
			return err
		}
		sm, err := idleSessions(exe, childKind, d, p.Sessions)
		if err != nil {
			return fmt.Errorf("idle sessions (%s): %w", kind, err)
		}
		res.Sess[kind] = sm
		logf("idle %-6s x%d: %6.1f KiB/conn (Go heap+stacks), %6.1f KiB/conn RSS, %.1f goroutines/conn",
			kind, sm.N, sm.GoBytes/1024, sm.RSSBytes/1024, sm.Goroutines)
	}
	return nil
}
