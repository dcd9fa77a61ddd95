package main

import (
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"time"
)

// machine describes where the run happened.
type machine struct {
	CPU, Kernel, Go string
	Cores           int
	MemGiB          float64
}

func machineInfo() machine {
	m := machine{Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH, Cores: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kib float64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %f kB", &kib); err == nil {
			m.MemGiB = kib / (1 << 20)
		}
	}
	return m
}

// row is one line of the table.
type row struct {
	Figure   string
	Value    string // the launcher's figure
	Ref      string // floor or peer figure
	RefName  string
	Ratio    string // launcher / reference
	Target   string
	VsTarget string // how far from the target: >= 1 meets it
	Met      string
}

func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/1e3) }

func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

func fx(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	if v >= 10 {
		return fmt.Sprintf("%.0fx", v)
	}
	return fmt.Sprintf("%.2fx", v)
}

func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// echoWays names the two ways the echo floor reads and writes.
var echoWays = map[string]string{kindEcho: "raw echo, raw syscalls", kindEchoNet: "raw echo, net's I/O"}

// floorLat returns the kind of echo whose figure of op (by p) is the lower:
// the floor is the better of the two ways an echo can read and write.
func floorLat(r *results, op string, p func(latencyPair) time.Duration) string {
	e, n := r.Lat[kindEcho][op], r.Lat[kindEchoNet][op]
	if p(e) == 0 || p(n) > 0 && p(n) < p(e) {
		return kindEchoNet
	}
	return kindEcho
}

// floorThr returns the kind of echo with the higher rate of op on conns.
func floorThr(r *results, op string, conns int) string {
	if r.Thr[kindEchoNet][op][conns] > r.Thr[kindEcho][op][conns] {
		return kindEchoNet
	}
	return kindEcho
}

// rows builds the table.
func rows(r *results) []row {
	var out []row
	ops := []string{opGetDir, opCreateDelete}
	for _, op := range ops {
		d, h := r.Lat[kindDaemon][op], r.Lat[kindHTTP][op]
		e50 := floorLat(r, op, func(l latencyPair) time.Duration { return l.P50 })
		e99 := floorLat(r, op, func(l latencyPair) time.Duration { return l.P99 })
		for _, q := range []struct {
			name       string
			dv, ev, hv time.Duration
			ek         string
		}{{"p50", d.P50, r.Lat[e50][op].P50, h.P50, e50}, {"p99", d.P99, r.Lat[e99][op].P99, h.P99, e99}} {
			re := ratio(float64(q.dv), float64(q.ev))
			rh := ratio(float64(q.dv), float64(q.hv))
			fe := row{Figure: fmt.Sprintf("%s round trip %s, 1 connection", op, q.name), Value: us(q.dv), Ref: us(q.ev), RefName: echoWays[q.ek], Ratio: fx(re)}
			fh := row{Figure: fmt.Sprintf("%s round trip %s, 1 connection", op, q.name), Value: us(q.dv), Ref: us(q.hv), RefName: "net/http", Ratio: fx(rh)}
			if q.name == "p50" {
				fe.Target, fe.VsTarget, fe.Met = "<= 2x echo", fx(2/re), met(re <= 2)
				fh.Target, fh.VsTarget, fh.Met = "<= 0.7x http", fx(0.7/rh), met(rh <= 0.7)
			}
			out = append(out, fe, fh)
			if c, ok := r.Lat[kindDaemonCommit][op]; ok && op == opCreateDelete && q.name == "p50" {
				// Reference rows: the daemon with --sync commit. Two changes
				// acknowledged only once fsynced cannot be faster than the
				// echo's two round trips plus two synced appends on this disk.
				fig := fmt.Sprintf("%s round trip %s, 1 connection, --sync commit", op, q.name)
				out = append(out, row{Figure: fig, Value: us(c.P50), Ref: us(q.ev), RefName: echoWays[q.ek],
					Ratio: fx(ratio(float64(c.P50), float64(q.ev)))})
				if r.Sync > 0 {
					fl := q.ev + 2*r.Sync
					out = append(out, row{Figure: fig, Value: us(c.P50),
						Ref: us(fl), RefName: fmt.Sprintf("durable floor: raw echo + 2 x %s append+fsync", us(r.Sync)),
						Ratio: fx(ratio(float64(c.P50), float64(fl)))})
				}
			}
		}
		out = append(out, costRows(op, d.Cost, r.Lat[e50][op].Cost, echoWays[e50])...)
	}
	for _, op := range ops {
		for _, conns := range []int{1, 64} {
			ek := floorThr(r, op, conns)
			dv, ev, hv := r.Thr[kindDaemon][op][conns], r.Thr[ek][op][conns], r.Thr[kindHTTP][op][conns]
			fig := fmt.Sprintf("%s req/s pipelined, %d connection", op, conns)
			if conns > 1 {
				fig += "s"
			}
			fe := row{Figure: fig, Value: fmt.Sprintf("%.0f", dv), Ref: fmt.Sprintf("%.0f", ev), RefName: echoWays[ek], Ratio: fx(ratio(dv, ev))}
			fh := row{Figure: fig, Value: fmt.Sprintf("%.0f", dv), Ref: fmt.Sprintf("%.0f", hv), RefName: "net/http", Ratio: fx(ratio(dv, hv))}
			if conns == 64 {
				fe.Target, fe.VsTarget, fe.Met = ">= 30,000/s", fx(dv/30000), met(dv >= 30000)
			}
			out = append(out, fe, fh)
			if cv, ok := r.Thr[kindDaemonCommit][op][conns]; ok {
				out = append(out, row{Figure: fig + ", --sync commit", Value: fmt.Sprintf("%.0f", cv), Ref: fmt.Sprintf("%.0f", ev),
					RefName: echoWays[ek], Ratio: fx(ratio(cv, ev))})
			}
		}
	}
	for _, f := range r.Files {
		mib := f.Size >> 20
		floor := mbps(f.Size, f.Floor)
		for _, d := range []struct {
			name string
			xfer
		}{{"upload (modify-file)", f.Up}, {"download (get-file)", f.Down}} {
			v := mbps(f.Size, d.Best)
			rr := ratio(v, floor)
			out = append(out, row{Figure: fmt.Sprintf("%d MiB %s", mib, d.name), Value: fmt.Sprintf("%.1f MB/s", v),
				Ref: fmt.Sprintf("%.1f MB/s", floor), RefName: "compute floor", Ratio: fx(rr),
				Target: ">= 0.5x floor", VsTarget: fx(rr / 0.5), Met: met(rr >= 0.5)})
			if d.First > 0 {
				fv := mbps(f.Size, d.First)
				val := fmt.Sprintf("%.1f MB/s", fv)
				if d.FirstFaults >= 0 && d.BestFaults >= 0 {
					val += fmt.Sprintf(", %d page faults (best: %d)", d.FirstFaults, d.BestFaults)
				}
				out = append(out, row{Figure: fmt.Sprintf("%d MiB %s, first transfer (fresh daemon and connection)", mib, strings.Fields(d.name)[0]),
					Value: val, Ref: fmt.Sprintf("%.1f MB/s", floor), RefName: "compute floor", Ratio: fx(ratio(fv, floor))})
			}
			pr := float64(d.HWM) * 1024 / float64(f.Size)
			prow := row{Figure: fmt.Sprintf("%d MiB %s daemon peak RSS", mib, strings.Fields(d.name)[0]), Value: fmt.Sprintf("%.0f MiB", float64(d.HWM)/1024),
				Ref: fmt.Sprintf("%d MiB", mib), RefName: "file size", Ratio: fx(pr)}
			if mib >= 64 {
				prow.Target, prow.VsTarget, prow.Met = "<= 3x file", fx(3/pr), met(pr <= 3)
			}
			out = append(out, prow)
			if d.Idle > 0 {
				out = append(out, row{Figure: fmt.Sprintf("%d MiB %s daemon RSS %s after", mib, strings.Fields(d.name)[0], idleAfter),
					Value: fmt.Sprintf("%.0f MiB", float64(d.Idle)/1024), Ref: fmt.Sprintf("%.0f MiB", float64(d.Base)/1024),
					RefName: "daemon RSS before the transfer", Ratio: fx(ratio(float64(d.Idle), float64(d.Base)))})
			}
		}
	}
	out = append(out, streamRows(r)...)
	for _, mode := range []string{"counter", "fixed"} {
		v, fl := r.HS[mode], r.HS["floor-"+mode]
		out = append(out, row{Figure: fmt.Sprintf("handshakes/s, %s nonces, fresh connections", mode), Value: fmt.Sprintf("%.0f", v),
			Ref: fmt.Sprintf("%.0f", fl), RefName: "handshake crypto, no network", Ratio: fx(ratio(v, fl)),
			Target: ">= 3,000/s", VsTarget: fx(v / 3000), Met: met(v >= 3000)})
		if k := r.HSCost[mode]; k != (cost{}) && fl > 0 {
			// The floor does the crypto of both sides on both cores: 2 cores
			// / its rate is what one handshake's crypto costs.
			fc := time.Duration(2 * float64(time.Second) / fl)
			out = append(out, row{Figure: fmt.Sprintf("CPU per handshake (daemon + dialer), %s nonces", mode),
				Value: fmt.Sprintf("%s (%s + %s)", us(k.Server+k.Client), us(k.Server), us(k.Client)),
				Ref:   us(fc), RefName: "handshake crypto, both sides", Ratio: fx(ratio(float64(k.Server+k.Client), float64(fc)))})
		}
	}
	if d, ok := r.Sess[kindDaemon]; ok {
		kib := d.GoBytes / 1024
		for _, peer := range []struct{ kind, name string }{{kindEcho, "raw echo conn"}, {kindHTTP, "net/http keep-alive conn"}} {
			p := r.Sess[peer.kind]
			rw := row{Figure: fmt.Sprintf("memory per idle session (%d open, heap+stacks)", d.N), Value: fmt.Sprintf("%.1f KiB", kib),
				Ref: fmt.Sprintf("%.1f KiB", p.GoBytes/1024), RefName: peer.name, Ratio: fx(ratio(d.GoBytes, p.GoBytes))}
			if peer.kind == kindEcho {
				rw.Target, rw.VsTarget, rw.Met = "<= 32 KiB", fx(32/kib), met(kib <= 32)
			}
			out = append(out, rw)
		}
		p := r.Sess[kindEcho]
		out = append(out, row{Figure: fmt.Sprintf("memory per idle session (%d open, RSS)", d.N), Value: fmt.Sprintf("%.1f KiB", d.RSSBytes/1024),
			Ref: fmt.Sprintf("%.1f KiB", p.RSSBytes/1024), RefName: "raw echo conn", Ratio: fx(ratio(d.RSSBytes, p.RSSBytes)),
			Target: "<= 32 KiB", VsTarget: fx(32 * 1024 / d.RSSBytes), Met: met(d.RSSBytes <= 32*1024)})
	}
	return out
}

// streamRows are reference rows for the largest file moved through the
// SDK's FileWriter and FileReader, beside the floor of that size.
func streamRows(r *results) []row {
	s := r.Stream
	if s == nil {
		return nil
	}
	var floor float64
	for _, f := range r.Files {
		if f.Size == s.Size {
			floor = mbps(f.Size, f.Floor)
		}
	}
	mib := s.Size >> 20
	how := fmt.Sprintf("%d MiB chunks, %d in flight", s.Opt.ChunkSize>>20, s.Opt.Window)
	var out []row
	for _, d := range []struct {
		name string
		t    time.Duration
		hwm  int64
	}{{"upload (SDK FileWriter", s.Upload, s.UpHWM}, {"download (SDK FileReader", s.Download, s.DownHWM}} {
		v := mbps(s.Size, d.t)
		out = append(out,
			row{Figure: fmt.Sprintf("%d MiB %s, %s)", mib, d.name, how), Value: fmt.Sprintf("%.1f MB/s", v),
				Ref: fmt.Sprintf("%.1f MB/s", floor), RefName: "compute floor", Ratio: fx(ratio(v, floor))},
			row{Figure: fmt.Sprintf("%d MiB %s) daemon peak RSS", mib, d.name), Value: fmt.Sprintf("%.0f MiB", float64(d.hwm)/1024),
				Ref: fmt.Sprintf("%d MiB", mib), RefName: "file size", Ratio: fx(float64(d.hwm) * 1024 / float64(s.Size))})
	}
	return out
}

// costRows are the reference rows that say what one round trip of op cost
// the machine, server and client together, beside the echo's: the CPU time
// on their threads and how often a thread was switched off a CPU.
func costRows(op string, d, e cost, eName string) []row {
	if d == (cost{}) || e == (cost{}) {
		return nil // no /proc
	}
	dc, ec := d.Server+d.Client, e.Server+e.Client
	ds, es := d.ServerSw+d.ClientSw, e.ServerSw+e.ClientSw
	return []row{
		{Figure: op + " CPU per round trip (server + client), 1 connection",
			Value: fmt.Sprintf("%s (%s + %s)", us(dc), us(d.Server), us(d.Client)),
			Ref:   fmt.Sprintf("%s (%s + %s)", us(ec), us(e.Server), us(e.Client)), RefName: eName,
			Ratio: fx(ratio(float64(dc), float64(ec)))},
		{Figure: op + " context switches per round trip (server + client), 1 connection",
			Value: fmt.Sprintf("%.1f (%.1f + %.1f)", ds, d.ServerSw, d.ClientSw),
			Ref:   fmt.Sprintf("%.1f (%.1f + %.1f)", es, e.ServerSw, e.ClientSw), RefName: eName,
			Ratio: fx(ratio(ds, es))},
	}
}

// writeMarkdown writes the report.
func writeMarkdown(w io.Writer, r *results, chart string) error {
	var b strings.Builder
	kind := "full run"
	if r.Plan.Quick {
		kind = "quick smoke run (-quick): small sizes and short durations, not for comparison"
	}
	fmt.Fprintf(&b, "# Performance\n\n")
	fmt.Fprintf(&b, "Written by `go run ./cmd/launcherbench` (%s) on %s, in %s.\n\n", kind, r.When.UTC().Format("2006-01-02 15:04 MST"), r.Took.Round(time.Second))
	fmt.Fprintf(&b, "Machine: %s, %d cores, %.0f GiB, Linux %s, %s.\n\n", r.Machine.CPU, r.Machine.Cores, r.Machine.MemGiB, r.Machine.Kernel, r.Machine.Go)
	b.WriteString(`Everything runs on this one machine in the same run: the daemon (launcher.New, nfs on a vfs
store over a temp directory on disk) in a child process, the load from the SDK client over loopback.
Beside it, in the same run:

- **raw echo**: framed TCP with no crypto and no store, answering frames of the same sizes as the
  daemon's encrypted frames for the same requests (the floor of a small request); for round trips
  its client reads each answer itself, as the SDK's caller does when nobody else is reading, and
  for pipelined rates it has a reader goroutine, as the SDK then does. Both ends read through a
  buffer, as the daemon and the SDK do. It runs two ways: with small reads and writes as raw
  system calls, as the daemon and the SDK make them (internal/sockio: "raw syscalls"), and
  through the net package ("net's I/O"); each p50, p99 and rate figure's floor is the better of
  the two in that run (raw calls cost less CPU and so give the higher rates; on these virtual
  machines net's path often gives the lower round trip, as the runtime's sysmon thread keeps
  the other CPU awake), and the CPU and switch rows show the echo whose p50 was the floor;
- **net/http**: a Go net/http JSON server on loopback doing the same store operations on the same
  kind of vfs store, with encoding/json, as an app developer would write a local REST server (the peer);
- **compute floor**: the work the protocol forces on every byte of a transfer, on the same bytes with
  no daemon: base64 + JSON, secretbox seal, SHA-512 beside secretbox open, base64 decode, with
  base64 split over both cores (internal/benchfloor);
- **handshake crypto**: both sides of the handshake in memory, on both cores.

Ratio is the launcher's figure over the reference's (for latency and memory lower is better, for
rates higher is better). "vs target" is how far the figure is from its target: 1x or more meets it.
Peak RSS is the daemon child's VmHWM during the transfer (its baseline included); "RSS 3s after" is
its VmRSS 3 s after the last 64 MiB transfer (the daemon keeps a large buffer 2 s for the next
message, then returns the memory to the OS). Idle sessions have each answered one get-dir (the
net/http peer's connections too); idle-session memory
is the daemon child's growth in Go heap in use + goroutine stacks (and RSS) after a GC, divided by the
number of sessions. A transfer's figure is the best of its repetitions, each after one run of the
floor; the largest size is also moved through the SDK's streams (FileWriter, FileReader: chunks
through modify-file and get-file offsets, several in flight), whose memory is bounded by chunk size
times window; the first transfer, in a fresh daemon over a fresh connection, is shown beside it with the minor
page faults it took (daemon and client): the first transfers fault in their buffers, and on these virtual
machines a page fault is dear (tens of µs), so they are slower. Handshakes are dialed from several goroutines at once (see Settings): from 4,
a sixth of the two CPUs stayed idle while the daemon and the dialers waited on each other's round
trips, so the rate measured latency more than capacity; the full run uses 16 (CPU per handshake is
shown beside it). The CPU and context-switch rows (references, no target) are read from /proc for
the server child and for this process while the round trips were timed: CPU time on their threads,
and how many times a thread left a CPU (blocked or preempted), per round trip. They say what a round
trip is made of: on a virtual machine a context switch is dear, and the Go runtime's sysmon thread
adds some to every process that wakes from idle, the echo included.

`)
	fmt.Fprintf(&b, "| Figure | Launcher | Reference | Ratio | Target | vs target | Meets |\n|---|---:|---|---:|---|---:|---|\n")
	for _, x := range rows(r) {
		ref := x.Ref + " (" + x.RefName + ")"
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", x.Figure, x.Value, ref, x.Ratio, x.Target, x.VsTarget, x.Met)
	}
	fmt.Fprintf(&b, "\nSettings: latency over %d get-dir and %d create+delete round trips; rates over %s with %d requests in flight on 1 connection and %d per connection on 64; transfers best of %v repetitions; handshakes from %d goroutines for %s; %d idle sessions.\n",
		r.Plan.LatN, r.Plan.LatCDN, r.Plan.ThrDur, r.Plan.Depth1, r.Plan.Depth64, repsText(r.Plan), r.Plan.HSWorkers, r.Plan.HSDur, r.Plan.Sessions)
	b.WriteString("\nThe machine may be shared with other work while the suite runs; ratios come from the same run and are steadier than absolute figures. ")
	b.WriteString("The daemon and the net/http peer run their stores in the default sync mode (`--sync background`): a change is acknowledged once its log record is written, which survives a kill of the process, and the log is fsynced 10 ms behind. The rows marked `--sync commit` are the daemon with every change acknowledged only once an fsync covers it (what survives a power loss too): one connection waiting for each answer then pays two fsyncs per create+delete, and the durable floor row adds two measured append+fsync times on the same disk to the echo's round trips. Pipelined changes share fsyncs (group commit). These rows are references, with no target.\n")
	if chart != "" && chart != "." {
		fmt.Fprintf(&b, "\n![chart](%s)\n", chart)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func repsText(p plan) string {
	var s []string
	for _, size := range p.Sizes {
		s = append(s, fmt.Sprintf("%d (%d MiB)", p.Reps[size], size>>20))
	}
	return strings.Join(s, ", ")
}

// bar is one bar of a chart panel.
type bar struct {
	Label string
	Value float64
	Text  string
	Color string
}

// panel is one chart: horizontal bars on a linear scale of their own.
type panel struct {
	Title string
	Bars  []bar
}

const (
	colLauncher = "#1f77b4"
	colFloor    = "#7f7f7f"
	colPeer     = "#ff7f0e"
)

func panels(r *results) []panel {
	var ps []panel
	for _, op := range []string{opGetDir, opCreateDelete} {
		p := panel{Title: op + ": p50 round trip, 1 connection (µs, lower is better)"}
		e50 := floorLat(r, op, func(l latencyPair) time.Duration { return l.P50 })
		for _, k := range []struct{ kind, name, col string }{{e50, echoWays[e50], colFloor}, {kindDaemon, "launcher", colLauncher}, {kindHTTP, "net/http", colPeer}} {
			v := float64(r.Lat[k.kind][op].P50) / 1e3
			p.Bars = append(p.Bars, bar{k.name, v, fmt.Sprintf("%.0f µs", v), k.col})
		}
		ps = append(ps, p)
		p = panel{Title: op + ": requests/s pipelined on 64 connections (higher is better)"}
		et := floorThr(r, op, 64)
		for _, k := range []struct{ kind, name, col string }{{et, echoWays[et], colFloor}, {kindDaemon, "launcher", colLauncher}, {kindHTTP, "net/http", colPeer}} {
			v := r.Thr[k.kind][op][64]
			p.Bars = append(p.Bars, bar{k.name, v, fmt.Sprintf("%.0f/s", v), k.col})
		}
		ps = append(ps, p)
	}
	p := panel{Title: "file transfers (MB/s, higher is better)"}
	for _, f := range r.Files {
		mib := f.Size >> 20
		p.Bars = append(p.Bars,
			bar{fmt.Sprintf("%d MiB compute floor", mib), mbps(f.Size, f.Floor), fmt.Sprintf("%.0f MB/s", mbps(f.Size, f.Floor)), colFloor},
			bar{fmt.Sprintf("%d MiB upload", mib), mbps(f.Size, f.Up.Best), fmt.Sprintf("%.0f MB/s", mbps(f.Size, f.Up.Best)), colLauncher},
			bar{fmt.Sprintf("%d MiB download", mib), mbps(f.Size, f.Down.Best), fmt.Sprintf("%.0f MB/s", mbps(f.Size, f.Down.Best)), colLauncher})
	}
	ps = append(ps, p)
	p = panel{Title: "daemon peak RSS during a transfer (x file size, lower is better)"}
	for _, f := range r.Files {
		mib := f.Size >> 20
		for _, d := range []struct {
			n string
			h int64
		}{{"upload", f.Up.HWM}, {"download", f.Down.HWM}} {
			v := float64(d.h) * 1024 / float64(f.Size)
			p.Bars = append(p.Bars, bar{fmt.Sprintf("%d MiB %s", mib, d.n), v, fmt.Sprintf("%.1fx (%d MiB)", v, d.h>>10), colLauncher})
		}
	}
	ps = append(ps, p)
	p = panel{Title: "handshakes/s over fresh connections (higher is better)"}
	for _, m := range []string{"counter", "fixed"} {
		p.Bars = append(p.Bars,
			bar{m + " floor (crypto only)", r.HS["floor-"+m], fmt.Sprintf("%.0f/s", r.HS["floor-"+m]), colFloor},
			bar{m + " launcher", r.HS[m], fmt.Sprintf("%.0f/s", r.HS[m]), colLauncher})
	}
	ps = append(ps, p)
	p = panel{Title: "memory per idle connection, heap + stacks (KiB, lower is better)"}
	for _, k := range []struct{ kind, name, col string }{{kindEcho, "raw echo", colFloor}, {kindDaemon, "launcher session", colLauncher}, {kindHTTP, "net/http keep-alive", colPeer}} {
		v := r.Sess[k.kind].GoBytes / 1024
		p.Bars = append(p.Bars, bar{k.name, v, fmt.Sprintf("%.1f KiB", v), k.col})
	}
	ps = append(ps, p)
	return ps
}

// writeSVG draws the panels as horizontal bar charts, by hand.
func writeSVG(w io.Writer, r *results) error {
	const (
		width    = 900
		labelW   = 190
		barMaxW  = 560
		barH     = 18
		gap      = 6
		titleH   = 26
		panelGap = 18
		margin   = 16
	)
	ps := panels(r)
	height := margin + 30
	for _, p := range ps {
		height += titleH + len(p.Bars)*(barH+gap) + panelGap
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="15" font-weight="bold">launcherbench, %s (%d cores)</text>`+"\n", margin, margin+14, r.When.UTC().Format("2006-01-02"), r.Machine.Cores)
	y := margin + 30
	for _, p := range ps {
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", margin, y+16, html.EscapeString(p.Title))
		y += titleH
		top := 0.0
		for _, x := range p.Bars {
			if !math.IsNaN(x.Value) && x.Value > top {
				top = x.Value
			}
		}
		for _, x := range p.Bars {
			bw := 0.0
			if top > 0 && x.Value > 0 {
				bw = x.Value / top * barMaxW
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", margin+labelW-8, y+barH-5, html.EscapeString(x.Label))
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", margin+labelW, y, bw, barH, x.Color)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`+"\n", float64(margin+labelW)+bw+6, y+barH-5, html.EscapeString(x.Text))
			y += barH + gap
		}
		y += panelGap
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
