package main

import (
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
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

// names of the references in the table.
const (
	nameEcho = "echo"
	nameMini = "minimal client, same daemon"
	nameHTTP = "net/http"
)

// smallFloor is the small-request floor of op: the echo's p50 round trip
// plus the compute floor's p50, and how the table names it.
func smallFloor(r *results, op string) (time.Duration, string) {
	e, c := r.Lat[kindEcho][op].P50, r.Lat[kindCompute][op].P50
	return e + c, fmt.Sprintf("small-request floor: echo %s + compute %s", us(e), us(c))
}

// rows builds the table.
func rows(r *results) []row {
	var out []row
	ops := []string{opGetDir, opCreateDelete}
	for _, op := range ops {
		d, ok := r.Lat[kindDaemon][op]
		if !ok {
			continue
		}
		m, e, h := r.Lat[kindMini][op], r.Lat[kindEcho][op], r.Lat[kindHTTP][op]
		fl, flName := smallFloor(r, op)
		fig := func(who, q string) string { return fmt.Sprintf("%s round trip %s, %s, 1 connection", op, q, who) }
		ref := func(figure string, v, refv time.Duration, refName string) row {
			return row{Figure: figure, Value: us(v), Ref: us(refv), RefName: refName, Ratio: fx(ratio(float64(v), float64(refv)))}
		}
		// target is ref with a target: at most limit times the reference.
		target := func(figure string, v, refv time.Duration, refName, name string, limit float64) row {
			x := ref(figure, v, refv, refName)
			rr := ratio(float64(v), float64(refv))
			x.Target, x.VsTarget, x.Met = fmt.Sprintf("<= %gx %s", limit, name), fx(limit/rr), met(rr <= limit)
			return x
		}
		out = append(out,
			target(fig("SDK", "p50"), d.P50, fl, flName, "floor", 1.5),
			target(fig("SDK", "p50"), d.P50, m.P50, nameMini, "minimal client", 1.2),
			ref(fig("minimal client", "p50"), m.P50, fl, flName),
			ref(fig("SDK", "p50"), d.P50, e.P50, nameEcho),
			target(fig("SDK", "p50"), d.P50, h.P50, nameHTTP, "http", 0.7),
			ref(fig("SDK", "p99"), d.P99, e.P99, nameEcho),
			ref(fig("minimal client", "p99"), m.P99, e.P99, nameEcho),
			ref(fig("SDK", "p99"), d.P99, h.P99, nameHTTP))
		if c, ok := r.Lat[kindDaemonCommit][op]; ok {
			// Reference rows: the daemon with --sync commit. Two changes
			// acknowledged only once fsynced cannot be faster than the
			// echo's two round trips plus two synced appends on this disk.
			f := fig("SDK", "p50") + ", --sync commit"
			out = append(out, ref(f, c.P50, e.P50, nameEcho))
			if r.Sync > 0 {
				out = append(out, ref(f, c.P50, e.P50+2*r.Sync, fmt.Sprintf("durable floor: echo + 2 x %s append+fsync", us(r.Sync))))
			}
		}
		out = append(out, costRows(op+", SDK", d.Cost, e.Cost, nameEcho)...)
		out = append(out, costRows(op+", minimal client", m.Cost, e.Cost, nameEcho)...)
	}
	for _, op := range ops {
		if _, ok := r.Thr[kindDaemon][op]; !ok {
			continue
		}
		for _, conns := range []int{1, 64} {
			dv, ev, hv := r.Thr[kindDaemon][op][conns].Median, r.Thr[kindEcho][op][conns].Median, r.Thr[kindHTTP][op][conns].Median
			fig := fmt.Sprintf("%s req/s pipelined, SDK, %d connection", op, conns)
			if conns > 1 {
				fig += "s"
			}
			fe := row{Figure: fig, Value: fmt.Sprintf("%.0f", dv), Ref: fmt.Sprintf("%.0f", ev), RefName: nameEcho, Ratio: fx(ratio(dv, ev))}
			fh := row{Figure: fig, Value: fmt.Sprintf("%.0f", dv), Ref: fmt.Sprintf("%.0f", hv), RefName: nameHTTP, Ratio: fx(ratio(dv, hv))}
			if conns == 64 {
				fe.Target, fe.VsTarget, fe.Met = ">= 30,000/s", fx(dv/30000), met(dv >= 30000)
			}
			out = append(out, fe, fh)
			if cv, ok := r.Thr[kindDaemonCommit][op][conns]; ok {
				out = append(out, row{Figure: fig + ", --sync commit", Value: fmt.Sprintf("%.0f", cv.Median), Ref: fmt.Sprintf("%.0f", ev),
					RefName: nameEcho, Ratio: fx(ratio(cv.Median, ev))})
			}
		}
	}
	for _, f := range r.Files {
		mib := f.Size >> 20
		for _, d := range []struct {
			name  string
			floor time.Duration
			xfer
		}{{"upload (modify-file)", f.FloorUp, f.Up}, {"download (get-file)", f.FloorDown, f.Down}} {
			floor := mbps(f.Size, d.floor)
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
		v, ok := r.HS[mode]
		if !ok {
			continue
		}
		fl := r.HS["floor-"+mode]
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
		for _, peer := range []struct{ kind, name string }{{kindEcho, "echo conn"}, {kindHTTP, "net/http keep-alive conn"}} {
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
			Ref: fmt.Sprintf("%.1f KiB", p.RSSBytes/1024), RefName: "echo conn", Ratio: fx(ratio(d.RSSBytes, p.RSSBytes)),
			Target: "<= 32 KiB", VsTarget: fx(32 * 1024 / d.RSSBytes), Met: met(d.RSSBytes <= 32*1024)})
	}
	out = append(out, eventRows(r)...)
	out = append(out, scaleRows(r)...)
	return out
}

// baRow is one line of the before/after table.
type baRow struct {
	Figure, Before, After, Ratio, Note string
}

// beforeAfter builds the before/after table: the -baseline build's daemon
// and this build's, measured in the same run with the same clients.
func beforeAfter(r *results) []baRow {
	if r.Before == nil {
		return nil
	}
	var out []baRow
	lat := func(figure string, b, a time.Duration, note string) baRow {
		return baRow{figure, us(b), us(a), fx(ratio(float64(a), float64(b))), note}
	}
	spread := func(b, a latencyPair) string {
		return fmt.Sprintf("rounds' p50: %s–%s; %s–%s", us(b.RoundMin), us(b.RoundMax), us(a.RoundMin), us(a.RoundMax))
	}
	for _, op := range []string{opGetDir, opCreateDelete} {
		b, ok := r.Lat[kindBefore][op]
		if !ok {
			continue
		}
		a, mb, ma := r.Lat[kindDaemon][op], r.Lat[kindMiniBefore][op], r.Lat[kindMini][op]
		fl, _ := smallFloor(r, op)
		rb, ra := ratio(float64(b.P50), float64(fl)), ratio(float64(a.P50), float64(fl))
		mrb, mra := ratio(float64(b.P50), float64(mb.P50)), ratio(float64(a.P50), float64(ma.P50))
		out = append(out,
			lat(op+" round trip p50, SDK", b.P50, a.P50, spread(b, a)),
			lat(op+" round trip p99, SDK", b.P99, a.P99, ""),
			lat(op+" round trip p50, minimal client", mb.P50, ma.P50, spread(mb, ma)),
			baRow{op + " p50, SDK / small-request floor (target <= 1.5x)", fx(rb), fx(ra), fx(ra / rb), "floor " + us(fl) + ", the same for both"},
			baRow{op + " p50, SDK / minimal client on the same daemon (target <= 1.2x)", fx(mrb), fx(mra), fx(mra / mrb), ""})
		if b.Cost != (cost{}) && a.Cost != (cost{}) {
			out = append(out,
				lat(op+" CPU per round trip, daemon", b.Cost.Server, a.Cost.Server, ""),
				lat(op+" CPU per round trip, SDK (this build's for both)", b.Cost.Client, a.Cost.Client, ""),
				baRow{op + " context switches per round trip, daemon + SDK",
					fmt.Sprintf("%.1f + %.1f", b.Cost.ServerSw, b.Cost.ClientSw), fmt.Sprintf("%.1f + %.1f", a.Cost.ServerSw, a.Cost.ClientSw),
					fx(ratio(a.Cost.ServerSw+a.Cost.ClientSw, b.Cost.ServerSw+b.Cost.ClientSw)), ""})
		}
	}
	for _, op := range []string{opGetDir, opCreateDelete} {
		for _, conns := range []int{1, 64} {
			b, ok1 := r.Thr[kindBefore][op][conns]
			a, ok2 := r.Thr[kindDaemon][op][conns]
			if !ok1 || !ok2 {
				continue
			}
			fig := fmt.Sprintf("%s req/s pipelined, SDK, %d connection", op, conns)
			if conns > 1 {
				fig += "s (target >= 30,000/s)"
			}
			out = append(out, baRow{fig, fmt.Sprintf("%.0f", b.Median), fmt.Sprintf("%.0f", a.Median), fx(ratio(a.Median, b.Median)),
				fmt.Sprintf("rounds: %.0f–%.0f; %.0f–%.0f", b.Min, b.Max, a.Min, a.Max)})
		}
	}
	for _, a := range r.Files {
		i := slices.IndexFunc(r.FilesBefore, func(t transferResult) bool { return t.Size == a.Size })
		if i < 0 {
			continue
		}
		b := r.FilesBefore[i]
		mib := a.Size >> 20
		for _, d := range []struct {
			name     string
			bx, ax   xfer
			bfl, afl time.Duration
		}{{"upload", b.Up, a.Up, b.FloorUp, a.FloorUp}, {"download", b.Down, a.Down, b.FloorDown, a.FloorDown}} {
			bv, av := mbps(a.Size, d.bx.Best), mbps(a.Size, d.ax.Best)
			bf, af := ratio(bv, mbps(a.Size, d.bfl)), ratio(av, mbps(a.Size, d.afl))
			out = append(out,
				baRow{fmt.Sprintf("%d MiB %s", mib, d.name), fmt.Sprintf("%.1f MB/s (%s floor)", bv, fx(bf)), fmt.Sprintf("%.1f MB/s (%s floor)", av, fx(af)),
					fx(ratio(av, bv)), "target >= 0.5x floor"},
				baRow{fmt.Sprintf("%d MiB %s, daemon peak RSS", mib, d.name), fmt.Sprintf("%.0f MiB", float64(d.bx.HWM)/1024),
					fmt.Sprintf("%.0f MiB", float64(d.ax.HWM)/1024), fx(ratio(float64(d.ax.HWM), float64(d.bx.HWM))), "target <= 3x file at 64 MiB"})
		}
	}
	for _, mode := range []string{"counter", "fixed"} {
		b, ok1 := r.HS["before-"+mode]
		a, ok2 := r.HS[mode]
		if !ok1 || !ok2 {
			continue
		}
		out = append(out, baRow{fmt.Sprintf("handshakes/s, %s nonces", mode), fmt.Sprintf("%.0f", b), fmt.Sprintf("%.0f", a), fx(ratio(a, b)), "target >= 3,000/s"})
		if kb, ka := r.HSCost["before-"+mode], r.HSCost[mode]; kb != (cost{}) && ka != (cost{}) {
			out = append(out, lat(fmt.Sprintf("CPU per handshake, daemon, %s nonces", mode), kb.Server, ka.Server, ""))
		}
	}
	if b, ok := r.Sess[kindBefore]; ok {
		a := r.Sess[kindDaemon]
		out = append(out,
			baRow{fmt.Sprintf("memory per idle session (%d open, heap+stacks)", a.N), fmt.Sprintf("%.1f KiB", b.GoBytes/1024), fmt.Sprintf("%.1f KiB", a.GoBytes/1024), fx(ratio(a.GoBytes, b.GoBytes)), "target <= 32 KiB"},
			baRow{fmt.Sprintf("memory per idle session (%d open, RSS)", a.N), fmt.Sprintf("%.1f KiB", b.RSSBytes/1024), fmt.Sprintf("%.1f KiB", a.RSSBytes/1024), fx(ratio(a.RSSBytes, b.RSSBytes)), "target <= 32 KiB"},
			baRow{"goroutines per idle session", fmt.Sprintf("%.1f", b.Goroutines), fmt.Sprintf("%.1f", a.Goroutines), fx(ratio(a.Goroutines, b.Goroutines)), ""})
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
	var floorUp, floorDown float64
	for _, f := range r.Files {
		if f.Size == s.Size {
			floorUp, floorDown = mbps(f.Size, f.FloorUp), mbps(f.Size, f.FloorDown)
		}
	}
	mib := s.Size >> 20
	how := fmt.Sprintf("%d MiB chunks, %d in flight", s.Opt.ChunkSize>>20, s.Opt.Window)
	var out []row
	for _, d := range []struct {
		name  string
		t     time.Duration
		hwm   int64
		floor float64
	}{{"upload (SDK FileWriter", s.Upload, s.UpHWM, floorUp}, {"download (SDK FileReader", s.Download, s.DownHWM, floorDown}} {
		v := mbps(s.Size, d.t)
		out = append(out,
			row{Figure: fmt.Sprintf("%d MiB %s, %s)", mib, d.name, how), Value: fmt.Sprintf("%.1f MB/s", v),
				Ref: fmt.Sprintf("%.1f MB/s", d.floor), RefName: "compute floor", Ratio: fx(ratio(v, d.floor))},
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
	if r.Plan.Only != nil {
		var only []string
		for _, s := range sections {
			if r.Plan.Only[s] {
				only = append(only, s)
			}
		}
		kind += ", sections " + strings.Join(only, ", ")
	}
	fmt.Fprintf(&b, "# Performance\n\n")
	fmt.Fprintf(&b, "Written by `go run ./cmd/launcherbench` (%s) on %s, in %s.\n\n", kind, r.When.UTC().Format("2006-01-02 15:04 MST"), r.Took.Round(time.Second))
	fmt.Fprintf(&b, "Machine: %s, %d cores, %.0f GiB, Linux %s, %s.\n\n", r.Machine.CPU, r.Machine.Cores, r.Machine.MemGiB, r.Machine.Kernel, r.Machine.Go)
	fmt.Fprintf(&b, "Build measured: %s.", buildText(r.After))
	if r.Before != nil {
		fmt.Fprintf(&b, " Baseline (`-baseline %s`): %s.", r.Before.Rev, buildText(*r.Before))
	}
	b.WriteString("\n\n")
	b.WriteString(`Everything runs on this one machine in the same run: the daemon (launcher.New, nfs on a vfs
store over a temp directory on disk) in a child process, the load from this process over loopback.
Beside it, in the same run:

- **echo**: framed TCP with no crypto and no store, answering frames of the sizes the protocol's
  sealed requests and answers have, through plain ` + "`net.Conn`" + ` reads (buffered) and writes; for round
  trips its client reads each answer itself, for pipelined rates it has a reader goroutine.
- **compute floor** of a small request (internal/benchfloor): the work a get-dir or a create-file
  and delete-file force on both ends, in-process on one goroutine, no network, no store. App side:
  the request's JSON with encoding/json, its secretbox seal (x/crypto), the SHA-512 of the sealed
  body (the answer id); daemon side: the open, the request's JSON decode, the answer's JSON encode
  (a get-dir answer of the listing the daemon gives, a code-0 error for each change), its seal; app
  side: the answer's open and JSON decode.
- **small-request floor** = the echo's p50 round trip + the compute floor's p50, both measured in
  this run. The targets: the SDK's get-dir and create+delete p50 at most 1.5x it.
- **minimal client** (cmd/launcherbench/mini.go): one goroutine, 8-byte frames, the handshake with
  nacl/box, requests and answers with encoding/json and secretbox in counter nonce mode (the same
  code as the compute floor's app side), one request at a time, on the same daemon. The target:
  the SDK's p50 at most 1.2x its.
- **net/http**: a Go net/http JSON server on loopback doing the same store operations on the same
  kind of vfs store, with encoding/json, as an app developer would write a local REST server (the peer).
- **compute floor** of a transfer: the work the protocol forces on every byte, once, single-pass on
  one core (internal/benchfloor). Upload: base64 of the content into its JSON string, secretbox seal,
  SHA-512 of the sealed body (the answer id), open, base64 decode. Download: the same without the
  SHA-512 (the answer's id is the hash of the small request).
- **handshake crypto**: both sides of the handshake in memory, on both cores.
`)
	if r.Events != nil {
		b.WriteString(eventsText)
	}
	if r.Scale != nil {
		b.WriteString(scaleText)
	}
	if r.Before != nil {
		b.WriteString(`- **before**: the daemon of the baseline revision, built from it (its cmd/launcherbench's daemon
  child), measured with the same clients (this build's SDK, the minimal client) in the same rounds.
`)
	}
	b.WriteString(`
Ratio is the launcher's figure over the reference's (for latency and memory lower is better, for
rates higher is better). "vs target" is how far the figure is from its target: 1x or more meets it.
Round trips are sampled in ten rounds that go from client to client, so that a disturbance of the
machine weighs on all alike; rates are the median of three rounds. Peak RSS is the daemon child's
VmHWM during the transfer (its baseline included); "RSS 3s after" is its VmRSS 3 s after the last
64 MiB transfer. A transfer's figure is the best of its repetitions, each after one run of its
floor; the first transfer, in a fresh daemon over a fresh connection, is shown beside it with the
minor page faults it took (daemon and client). The largest size also moves through the SDK's
streams (FileWriter, FileReader). Idle sessions have each answered one request; their memory is the
daemon child's growth in Go heap in use + goroutine stacks (and RSS) after a GC, divided by the
number of sessions. The CPU and context-switch rows (references) are read from /proc for the
server child and for this process while the round trips were timed, per round trip.

`)
	fmt.Fprintf(&b, "| Figure | Launcher | Reference | Ratio | Target | vs target | Meets |\n|---|---:|---|---:|---|---:|---|\n")
	for _, x := range rows(r) {
		ref := x.Ref + " (" + x.RefName + ")"
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", x.Figure, x.Value, ref, x.Ratio, x.Target, x.VsTarget, x.Met)
	}
	if ba := beforeAfter(r); len(ba) > 0 {
		fmt.Fprintf(&b, "\n## Before and after\n\nThe daemon of `%s` (before) and of this build (after), in the same run, through the same clients. After/before is the ratio of the figures (for latency, CPU and memory lower is better; for rates higher). The last column gives what the run saw of its own noise: the lowest and highest p50 of the ten rounds (before; after), or of the three rate rounds. RSS rows are not like for like when the baseline's launcherbench is older than this one's: its server child returned freed memory to the OS (debug.FreeOSMemory) before each reading, this build's child only collects garbage; the heap+stacks rows are.\n\n", r.Before.Rev)
		fmt.Fprintf(&b, "| Figure | Before (%s) | After | After/before | Notes |\n|---|---:|---:|---:|---|\n", r.Before.Rev)
		for _, x := range ba {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", x.Figure, x.Before, x.After, x.Ratio, x.Note)
		}
	}
	fmt.Fprintf(&b, "\nSettings: latency over %d get-dir and %d create+delete round trips a client; rates over %s with %d requests in flight on 1 connection and %d per connection on 64; transfers best of %v repetitions; handshakes from %d goroutines for %s; %d idle sessions; events: %d sessions watching, %d changes timed, %d create+delete round trips each with and without the watches.\n",
		r.Plan.LatN, r.Plan.LatCDN, r.Plan.ThrDur, r.Plan.Depth1, r.Plan.Depth64, repsText(r.Plan), r.Plan.HSWorkers, r.Plan.HSDur, r.Plan.Sessions,
		r.Plan.EvWatchers, r.Plan.EvChanges, r.Plan.EvPairs)
	b.WriteString("\nThe machine may be shared with other work while the suite runs; ratios come from the same run and are steadier than absolute figures. ")
	b.WriteString("The daemon and the net/http peer run their stores in the default sync mode (`--sync background`): SQLite in WAL mode with synchronous=NORMAL: a change is acknowledged once its transaction has committed to the write-ahead log, which survives a kill of the process; the log is fsynced at checkpoints. The rows marked `--sync commit` are the daemon with synchronous=FULL, every change acknowledged only once an fsync covers it (what survives a power loss too): one connection waiting for each answer then pays two fsyncs per create+delete, and the durable floor row adds two measured append+fsync times on the same disk to the echo's round trips. Each change is its own transaction, with its own fsync. These rows are references, with no target.\n")
	b.WriteString("\nWhat bounds these figures on this kind of machine, and the decisions behind them: [perf-notes.md](perf-notes.md).\n")
	b.WriteString(howToRun)
	if chart != "" && chart != "." {
		fmt.Fprintf(&b, "\n![chart](%s)\n", chart)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// howToRun ends the report: how to make it again, and with a baseline.
const howToRun = `
## How to run

    go run ./cmd/launcherbench                     # full run: writes docs/perf.md and docs/perf.svg
    go run ./cmd/launcherbench -only small         # one section: small, files, handshakes, sessions, events or scale
    go run ./cmd/launcherbench -baseline 8a59922   # and revision 8a59922's daemon beside this build's
    go run ./cmd/launcherbench -quick -out /tmp/perf.md -chart none   # CI's smoke run, a few seconds
    go run ./cmd/launcherbench -only scale -scale-dir /var/tmp/lb-scale   # the million-file store, kept for the next run

` + "`-baseline REV`" + ` extracts REV of this repository with ` + "`git archive`" + ` into a temporary directory,
builds its ` + "`cmd/launcherbench`" + ` there (the ` + "`go`" + ` command on PATH, ` + "`GOWORK=off`" + `) and starts that build's
daemon child beside this build's: the same clients (this build's SDK, and the minimal client,
which speaks only the wire protocol) measure both in the same interleaved rounds, and the report
gets a before/after table. REV's launcherbench must have the ` + "`-child`" + ` server mode (it has
since 2026-11-23). A full run takes one to two minutes, about twice that with a baseline; run it on
a quiet machine (` + "`uptime`" + `'s load well under 1 on two cores). ` + "`launcherbench -h`" + ` lists every flag.
`

// buildText describes a build in a sentence.
func buildText(b build) string {
	s := "`" + b.Rev + "`"
	if b.Commit != "" && !strings.HasPrefix(b.Commit, b.Rev) {
		s += " (" + b.Commit[:min(12, len(b.Commit))] + ")"
	}
	if b.Subject != "" {
		s += ", \"" + b.Subject + "\""
	}
	return s
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
	colBefore   = "#9ecae1"
	colMini     = "#2ca02c"
	colFloor    = "#7f7f7f"
	colPeer     = "#ff7f0e"
)

func panels(r *results) []panel {
	var ps []panel
	withBefore := func(kinds ...string) []string {
		if r.Before == nil {
			return slices.DeleteFunc(kinds, func(k string) bool { return k == kindBefore || k == kindMiniBefore })
		}
		return kinds
	}
	names := map[string]string{kindEcho: "echo", kindMini: "minimal client", kindDaemon: "launcher (SDK)",
		kindMiniBefore: "minimal client, before", kindBefore: "launcher before (SDK)", kindHTTP: "net/http"}
	colors := map[string]string{kindEcho: colFloor, kindMini: colMini, kindDaemon: colLauncher,
		kindMiniBefore: colMini, kindBefore: colBefore, kindHTTP: colPeer}
	for _, op := range []string{opGetDir, opCreateDelete} {
		if _, ok := r.Lat[kindDaemon][op]; !ok {
			continue
		}
		p := panel{Title: op + ": p50 round trip, 1 connection (µs, lower is better)"}
		fl, _ := smallFloor(r, op)
		p.Bars = append(p.Bars, bar{"small-request floor", float64(fl) / 1e3, fmt.Sprintf("%.0f µs (echo + compute)", float64(fl)/1e3), colFloor})
		for _, k := range withBefore(kindEcho, kindMini, kindDaemon, kindMiniBefore, kindBefore, kindHTTP) {
			v := float64(r.Lat[k][op].P50) / 1e3
			p.Bars = append(p.Bars, bar{names[k], v, fmt.Sprintf("%.0f µs", v), colors[k]})
		}
		ps = append(ps, p)
		p = panel{Title: op + ": requests/s pipelined on 64 connections (higher is better)"}
		for _, k := range withBefore(kindEcho, kindDaemon, kindBefore, kindHTTP) {
			v := r.Thr[k][op][64].Median
			p.Bars = append(p.Bars, bar{names[k], v, fmt.Sprintf("%.0f/s", v), colors[k]})
		}
		ps = append(ps, p)
	}
	if len(r.Files) > 0 {
		p := panel{Title: "file transfers (MB/s, higher is better)"}
		for i, f := range r.Files {
			mib := f.Size >> 20
			mb := func(label string, d time.Duration, col string) bar {
				return bar{fmt.Sprintf("%d MiB %s", mib, label), mbps(f.Size, d), fmt.Sprintf("%.0f MB/s", mbps(f.Size, d)), col}
			}
			p.Bars = append(p.Bars, mb("upload floor", f.FloorUp, colFloor), mb("upload", f.Up.Best, colLauncher))
			if i < len(r.FilesBefore) {
				p.Bars = append(p.Bars, mb("upload before", r.FilesBefore[i].Up.Best, colBefore))
			}
			p.Bars = append(p.Bars, mb("download floor", f.FloorDown, colFloor), mb("download", f.Down.Best, colLauncher))
			if i < len(r.FilesBefore) {
				p.Bars = append(p.Bars, mb("download before", r.FilesBefore[i].Down.Best, colBefore))
			}
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
	}
	if _, ok := r.HS["counter"]; ok {
		p := panel{Title: "handshakes/s over fresh connections (higher is better)"}
		for _, m := range []string{"counter", "fixed"} {
			p.Bars = append(p.Bars,
				bar{m + " floor (crypto only)", r.HS["floor-"+m], fmt.Sprintf("%.0f/s", r.HS["floor-"+m]), colFloor},
				bar{m + " launcher", r.HS[m], fmt.Sprintf("%.0f/s", r.HS[m]), colLauncher})
			if v, ok := r.HS["before-"+m]; ok {
				p.Bars = append(p.Bars, bar{m + " launcher before", v, fmt.Sprintf("%.0f/s", v), colBefore})
			}
		}
		ps = append(ps, p)
	}
	if _, ok := r.Sess[kindDaemon]; ok {
		p := panel{Title: "memory per idle connection, heap + stacks (KiB, lower is better)"}
		for _, k := range []struct{ kind, name, col string }{{kindEcho, "echo", colFloor}, {kindDaemon, "launcher session", colLauncher},
			{kindBefore, "launcher session before", colBefore}, {kindHTTP, "net/http keep-alive", colPeer}} {
			sm, ok := r.Sess[k.kind]
			if !ok {
				continue
			}
			v := sm.GoBytes / 1024
			p.Bars = append(p.Bars, bar{k.name, v, fmt.Sprintf("%.1f KiB", v), k.col})
		}
		ps = append(ps, p)
	}
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
