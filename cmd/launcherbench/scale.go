package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/vfs"
	"github.com/safe-launcher/launcher/wire"
)

// The scale section (issue 16): the daemon on a big store. The store (a
// million files in 1,000 directories plus one directory of 100,000
// entries, in the bench app's root) is built by this process through the
// vfs API directly (vfs.Store.Update, one transaction per directory or per
// 1,000 entries, as vfs's own scale tests do), not through the daemon: a
// million creates through the SDK would take far longer than the figures
// they serve. The daemon child (the same as the other sections', with
// -bigquota) then opens it in place, and every figure is taken through the
// SDK over loopback. Beside it: the same daemon on an empty store, started
// in the same run (its create+delete is the reference of the store's).
//
// The metadata case: one app creates files with 64 KiB of user_metadata
// each in one directory through the SDK, one at a time, while another app
// lists a directory of 1,000 files again and again; the daemon's peak RSS
// and the other app's get-dir latency are its figures.

// scalePlan is the scale section's part of a plan.
type scalePlan struct {
	Dirs, PerDir, Big int // the store: Dirs directories of PerDir files, and one of Big
	GetDirN           int // get-dir round trips timed on the PerDir-file directories
	BigN              int // on the Big one
	CDN               int // create+delete round trips timed, on each store
	// The metadata case: MetaFiles files of MetaBytes of user_metadata,
	// while the other app lists OtherFiles files.
	MetaFiles, MetaBytes, OtherFiles int
	// CacheDir is -scale-dir: where built stores are kept between runs
	// ("": a temporary directory of the run).
	CacheDir string
}

// shape describes the store in words.
func (s scalePlan) shape() string {
	return fmt.Sprintf("%s files in %s directories plus one of %s", thousands(s.Dirs*s.PerDir), thousands(s.Dirs), thousands(s.Big))
}

// thousands writes n with commas.
func thousands(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// scaleResult are the scale section's figures.
type scaleResult struct {
	Plan   scalePlan
	Build  time.Duration // building the store (when reused: the build that made it)
	Reused bool          // the store came from -scale-dir
	DB     int64         // bytes of the store's database
	// Start is from the daemon child's exec to its listening socket
	// (the "addr" line), on the big store and on the empty one.
	Start, StartEmpty time.Duration
	// The daemon child's memory after start, on the big store and on the
	// empty one; after listing the root and every directory of PerDir
	// files once (AfterDirs); then the Big one too (AfterList).
	AfterStart, AfterStartEmpty, AfterDirs, AfterList memInfo
	Listed                                            int // files listed
	GetDir, GetDirBig                                 latencyPair
	CD, CDEmpty                                       latencyPair // create+delete on the big store and on the empty one
	Meta                                              metaResult
}

// metaResult is the metadata case's figures.
type metaResult struct {
	Files, Bytes int
	Took         time.Duration // creating them all
	// The daemon's RSS before (KiB), its peak while the files were
	// created (VmHWM, reset before), and its RSS after.
	Before, Peak, After int64
	Other               latencyPair // the other app's get-dir meanwhile
	OtherMax            time.Duration
	OtherN              int
}

// Names in the bench app's root of the scale store.
const (
	scaleBigDir  = "big"
	scaleMetaDir = "heavy" // the metadata case's directory, the bench app's
	scaleOthDir  = "d"     // the other app's directory of OtherFiles files
)

func scaleDirName(i int) string { return fmt.Sprintf("dir-%04d", i) }

// runScale is the scale section.
func runScale(p plan, res *results, dirOf dirFunc, logf logFunc) error {
	sp := p.Scale
	if sp.Dirs <= 0 || sp.PerDir <= 0 || sp.Big <= 0 || sp.GetDirN <= 0 || sp.BigN <= 0 || sp.CDN <= 0 || sp.MetaFiles <= 0 || sp.OtherFiles <= 0 {
		return fmt.Errorf("scale: the plan has an empty store or no samples: %+v", sp)
	}
	r := scaleResult{Plan: sp}
	dir, took, reused, err := scaleStore(sp, dirOf, logf)
	if err != nil {
		return fmt.Errorf("scale store: %w", err)
	}
	r.Build, r.Reused = took, reused
	empty, err := dirOf("scale-empty")
	if err != nil {
		return err
	}
	if err := prepareStore(empty); err != nil {
		return err
	}
	if fi, err := os.Stat(filepath.Join(dir, vfs.DatabaseName)); err == nil {
		r.DB = fi.Size()
	}
	if err := measureScale(sp, dir, empty, &r, logf); err != nil {
		return fmt.Errorf("scale: %w", err)
	}
	md, err := dirOf("scale-meta")
	if err != nil {
		return err
	}
	if r.Meta, err = measureMeta(sp, md); err != nil {
		return fmt.Errorf("scale, metadata case: %w", err)
	}
	m := r.Meta
	logf("scale metadata: %d files x %d KiB in %s; daemon RSS %d MiB before, peak %d MiB, %d MiB after; other app's get-dir of %d files p50 %s p99 %s max %s (%d)",
		m.Files, m.Bytes>>10, m.Took.Round(time.Millisecond), m.Before>>10, m.Peak>>10, m.After>>10, sp.OtherFiles,
		m.Other.P50.Round(time.Microsecond), m.Other.P99.Round(time.Microsecond), m.OtherMax.Round(time.Microsecond), m.OtherN)
	res.Scale = &r
	return nil
}

// scaleStore returns the directory of the store of shape sp, building it
// first when it is not there: under sp.CacheDir, or a directory of the
// run. It also returns how long the build took, and whether the store was
// reused from an earlier run.
func scaleStore(sp scalePlan, dirOf dirFunc, logf logFunc) (dir string, took time.Duration, reused bool, err error) {
	base := sp.CacheDir
	if base == "" {
		if base, err = dirOf("scale-store"); err != nil {
			return "", 0, false, err
		}
	}
	dir = filepath.Join(base, fmt.Sprintf("store-%dx%d+%d", sp.Dirs, sp.PerDir, sp.Big))
	if took, err = builtIn(dir); err == nil {
		logf("scale: reusing the store in %s (built in %s)", dir, took.Round(100*time.Millisecond))
		return dir, took, true, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", 0, false, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", 0, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", 0, false, err
	}
	logf("scale: building a store of %s in %s (through the vfs API) ...", sp.shape(), dir)
	t0 := time.Now()
	if err := buildScale(context.Background(), sp, dir, logf); err != nil {
		return "", 0, false, err
	}
	took = time.Since(t0)
	logf("scale: built in %s", took.Round(100*time.Millisecond))
	return dir, took, false, os.WriteFile(dir+".built", []byte(took.String()+"\n"), 0o600)
}

// builtIn returns how long the store in dir took to build, when it was
// built completely; an error wrapping os.ErrNotExist when it was not.
func builtIn(dir string) (time.Duration, error) {
	b, err := os.ReadFile(dir + ".built")
	if err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s.built: %w", dir, err)
	}
	return d, nil
}

// buildScale builds the store of shape sp in dir, through openStore (the
// children's) and Update: one transaction per directory, or per 1,000
// files of the big one.
func buildScale(ctx context.Context, sp scalePlan, dir string, logf logFunc) error {
	store, err := openStore(dir, vfs.SyncBackground, true)
	if err != nil {
		return err
	}
	defer store.Close()
	root := vfs.AppRoot(benchAppRoot)
	batch := func(d string, create bool, from, to int) error {
		return store.Update(ctx, func(tx *vfs.Tx) error {
			if create {
				if _, err := tx.CreateDir(root, vfs.Path{d}, false, false, nil); err != nil {
					return err
				}
			}
			for i := from; i < to; i++ {
				if _, err := tx.CreateFile(root, vfs.Path{d, fmt.Sprintf("file-%06d.txt", i)}, nil); err != nil {
					return err
				}
			}
			return nil
		})
	}
	t0 := time.Now()
	for d := range sp.Dirs {
		for i := 0; i < sp.PerDir; i += 1000 {
			if err := batch(scaleDirName(d), i == 0, i, min(i+1000, sp.PerDir)); err != nil {
				return err
			}
		}
		if d%100 == 99 {
			logf("scale: %d directories in %s", d+1, time.Since(t0).Round(time.Second))
		}
	}
	for i := 0; i < sp.Big; i += 1000 {
		if err := batch(scaleBigDir, i == 0, i, min(i+1000, sp.Big)); err != nil {
			return err
		}
	}
	return store.Close()
}

// dialApp dials one SDK client of app to ch.
func dialApp(ch *child, app string) (*client.Client, error) {
	vals, err := ch.mintFor(1, app)
	if err != nil {
		return nil, err
	}
	if len(vals) != 1 {
		return nil, fmt.Errorf("minted %d values", len(vals))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return client.Dial(ctx, vals[0])
}

// startTimed starts a daemon child with -bigquota on dir and returns it
// with the time from exec to its listening socket.
func startTimed(dir string) (*child, time.Duration, error) {
	t0 := time.Now()
	ch, err := startChild("", kindDaemon, dir, 64, "-bigquota")
	return ch, time.Since(t0), err
}

// measureScale takes the figures on the big store in dir, beside the
// empty store in empty.
func measureScale(sp scalePlan, dir, empty string, r *scaleResult, logf logFunc) error {
	ctx := context.Background()
	ce, startEmpty, err := startTimed(empty)
	if err != nil {
		return fmt.Errorf("empty store: %w", err)
	}
	defer ce.stop()
	r.StartEmpty = startEmpty
	if r.AfterStartEmpty, err = ce.mem(); err != nil {
		return err
	}
	ch, start, err := startTimed(dir)
	if err != nil {
		return err
	}
	defer ch.stop()
	r.Start = start
	if r.AfterStart, err = ch.mem(); err != nil {
		return err
	}
	logf("scale: daemon started in %s (empty store: %s); RSS %d MiB (empty store: %d MiB)",
		start.Round(time.Millisecond), startEmpty.Round(time.Millisecond), r.AfterStart.RSSKiB>>10, r.AfterStartEmpty.RSSKiB>>10)

	c, err := dialApp(ch, benchAppID)
	if err != nil {
		return err
	}
	defer c.Close()
	// Every directory once: the root, then each directory it lists.
	t0 := time.Now()
	rootL, err := c.GetDir(ctx, wire.GetDirRequest{DirPath: "/"})
	if err != nil {
		return fmt.Errorf("get-dir /: %w", err)
	}
	// The big directory last, so that the memory of the others is seen
	// without it.
	names := make([]string, 0, len(rootL.SubDirectories))
	for _, d := range rootL.SubDirectories {
		if d.Name != scaleBigDir {
			names = append(names, d.Name)
		}
	}
	names = append(names, scaleBigDir)
	for i, name := range names {
		if i == len(names)-1 {
			if r.AfterDirs, err = ch.mem(); err != nil {
				return err
			}
		}
		l, err := c.GetDir(ctx, wire.GetDirRequest{DirPath: name})
		if err != nil {
			return fmt.Errorf("get-dir %s: %w", name, err)
		}
		r.Listed += len(l.Files)
	}
	if want := sp.Dirs*sp.PerDir + sp.Big; r.Listed != want {
		return fmt.Errorf("listed %d files in %d directories, want %d", r.Listed, len(rootL.SubDirectories), want)
	}
	if r.AfterList, err = ch.mem(); err != nil {
		return err
	}
	logf("scale: listed %d directories (%d files) in %s; daemon RSS %d MiB, peak %d MiB (before the %d-file one: RSS %d MiB, peak %d MiB)",
		len(rootL.SubDirectories)+1, r.Listed, time.Since(t0).Round(time.Millisecond), r.AfterList.RSSKiB>>10, r.AfterList.HWMKiB>>10,
		sp.Big, r.AfterDirs.RSSKiB>>10, r.AfterDirs.HWMKiB>>10)

	getDir := func(path string, want int) (time.Duration, error) {
		t := time.Now()
		l, err := c.GetDir(ctx, wire.GetDirRequest{DirPath: path})
		d := time.Since(t)
		if err == nil && len(l.Files) != want {
			err = fmt.Errorf("get-dir %s listed %d files, want %d", path, len(l.Files), want)
		}
		return d, err
	}
	var lat []time.Duration
	for i := range sp.GetDirN {
		// Directories in a stride, not in order: each listing reads pages
		// the one before did not.
		d, err := getDir(scaleDirName(i*7919%sp.Dirs), sp.PerDir)
		if err != nil {
			return err
		}
		lat = append(lat, d)
	}
	r.GetDir = percentiles(lat, nil)
	lat = lat[:0]
	for range sp.BigN {
		d, err := getDir(scaleBigDir, sp.Big)
		if err != nil {
			return err
		}
		lat = append(lat, d)
	}
	r.GetDirBig = percentiles(lat, nil)
	logf("scale: get-dir of %d files p50 %s p99 %s; of %d files p50 %s",
		sp.PerDir, r.GetDir.P50.Round(time.Microsecond), r.GetDir.P99.Round(time.Microsecond), sp.Big, r.GetDirBig.P50.Round(time.Millisecond))

	// Create+delete on both stores, in interleaved rounds, each over a
	// connection of its own that has done nothing else.
	e, err := dialApp(ce, benchAppID)
	if err != nil {
		return err
	}
	defer e.Close()
	cb, err := dialApp(ch, benchAppID)
	if err != nil {
		return err
	}
	defer cb.Close()
	cdIn := scaleDirName(sp.Dirs / 2)
	var onBig, onEmpty, p50Big, p50Empty []time.Duration
	cd := func(c *client.Client, dir string, n int, into *[]time.Duration) (time.Duration, error) {
		from := len(*into)
		for i := range n {
			p := fmt.Sprintf("%s/new-%d.txt", dir, i)
			t := time.Now()
			if err := c.CreateFile(ctx, wire.CreateFileRequest{FilePath: p, UserMetadata: wire.Bytes{}}); err != nil {
				return 0, err
			}
			if err := c.DeleteFile(ctx, false, p); err != nil {
				return 0, err
			}
			*into = append(*into, time.Since(t))
		}
		return percentiles(append([]time.Duration(nil), (*into)[from:]...), nil).P50, nil
	}
	const rounds = 10
	n := max(1, sp.CDN/rounds)
	for round := range rounds {
		for k := range 2 {
			var p time.Duration
			var err error
			if (round+k)%2 == 0 {
				p, err = cd(cb, cdIn, n, &onBig)
				p50Big = append(p50Big, p)
			} else {
				p, err = cd(e, cdDir, n, &onEmpty)
				p50Empty = append(p50Empty, p)
			}
			if err != nil {
				return fmt.Errorf("create+delete: %w", err)
			}
		}
	}
	r.CD, r.CDEmpty = percentiles(onBig, p50Big), percentiles(onEmpty, p50Empty)
	logf("scale: create+delete p50 %s on the store, %s on an empty store (%.2fx)",
		r.CD.P50.Round(time.Microsecond), r.CDEmpty.P50.Round(time.Microsecond), ratio(float64(r.CD.P50), float64(r.CDEmpty.P50)))
	return nil
}

// measureMeta runs the metadata case on a fresh store in dir.
func measureMeta(sp scalePlan, dir string) (metaResult, error) {
	m := metaResult{Files: sp.MetaFiles, Bytes: sp.MetaBytes}
	ctx := context.Background()
	// The other app's directory is laid out through the vfs API, as the
	// big store is: it is the scene, not the measure.
	store, err := openStore(dir, vfs.SyncBackground, true)
	if err != nil {
		return m, err
	}
	err = store.Update(ctx, func(tx *vfs.Tx) error {
		other := vfs.AppRoot(otherAppRoot)
		if _, err := tx.CreateDir(other, vfs.Path{scaleOthDir}, false, false, nil); err != nil {
			return err
		}
		for i := range sp.OtherFiles {
			if _, err := tx.CreateFile(other, vfs.Path{scaleOthDir, fmt.Sprintf("f%04d", i)}, []byte("m")); err != nil {
				return err
			}
		}
		_, err := tx.CreateDir(vfs.AppRoot(benchAppRoot), vfs.Path{scaleMetaDir}, false, false, nil)
		return err
	})
	if cerr := store.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return m, err
	}

	ch, _, err := startTimed(dir)
	if err != nil {
		return m, err
	}
	defer ch.stop()
	heavy, err := dialApp(ch, benchAppID)
	if err != nil {
		return m, err
	}
	defer heavy.Close()
	other, err := dialApp(ch, otherAppID)
	if err != nil {
		return m, err
	}
	defer other.Close()
	before, err := ch.settled()
	if err != nil {
		return m, err
	}
	m.Before = before.RSSKiB
	if err := ch.resetPeak(); err != nil {
		return m, err
	}

	// The other app lists its directory until the creates are done; this
	// function owns the goroutine and waits for it.
	stop := make(chan struct{})
	type otherDone struct {
		lat []time.Duration
		err error
	}
	done := make(chan otherDone, 1)
	go func() {
		var o otherDone
		defer func() { done <- o }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			t := time.Now()
			l, err := other.GetDir(ctx, wire.GetDirRequest{DirPath: scaleOthDir})
			if err == nil && len(l.Files) != sp.OtherFiles {
				err = fmt.Errorf("the other app's get-dir listed %d files, want %d", len(l.Files), sp.OtherFiles)
			}
			if err != nil {
				o.err = err
				return
			}
			o.lat = append(o.lat, time.Since(t))
		}
	}()
	meta := wire.Bytes(bytes.Repeat([]byte("M"), sp.MetaBytes))
	t0 := time.Now()
	var werr error
	for i := range sp.MetaFiles {
		p := fmt.Sprintf("%s/file-%05d", scaleMetaDir, i)
		if werr = heavy.CreateFile(ctx, wire.CreateFileRequest{FilePath: p, UserMetadata: meta}); werr != nil {
			werr = fmt.Errorf("create-file %s (%d KiB of metadata): %w", p, sp.MetaBytes>>10, werr)
			break
		}
	}
	m.Took = time.Since(t0)
	close(stop)
	o := <-done
	if werr != nil {
		return m, werr
	}
	if o.err != nil {
		return m, o.err
	}
	after, err := ch.mem()
	if err != nil {
		return m, err
	}
	m.Peak, m.After = after.HWMKiB, after.RSSKiB
	m.OtherN = len(o.lat)
	m.Other = percentiles(o.lat, nil)
	if len(o.lat) > 0 {
		m.OtherMax = o.lat[len(o.lat)-1] // sorted by percentiles
	}
	return m, nil
}

// scaleText says, in the report's list of references, what the scale
// section measures.
const scaleText = `- **scale**: the daemon child on a big store (the bench app's root: directories of 1,000 files
  and one of 100,000), built by launcherbench through the vfs API directly (` + "`Update`" + `, one
  transaction per directory or per 1,000 files), not through the daemon; every figure after
  the build is taken through the SDK over loopback. Start time is from the child's exec to its
  listening socket. Beside it in the same run: the same daemon on an empty store (its start,
  RSS and create+delete are the references). The metadata case: one app creates files with
  64 KiB of user_metadata each, one at a time, in one directory of a fresh store (the daemon's
  app quota raised to allow it), while another app lists a directory of 1,000 files again and
  again; the peak is the daemon's VmHWM, reset just before.
`

func mibOf(kib int64) string { return fmt.Sprintf("%.0f MiB", float64(kib)/1024) }

func ms(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.0f ms", float64(d)/1e6)
}

// scaleRows are the scale section's rows of the table.
func scaleRows(r *results) []row {
	s := r.Scale
	if s == nil {
		return nil
	}
	sp := s.Plan
	var out []row
	built := "built this run"
	if s.Reused {
		built = "reused from -scale-dir; its build"
	}
	out = append(out, row{Figure: fmt.Sprintf("scale: build of a store of %s, through the vfs API directly (%s)", sp.shape(), built),
		Value: s.Build.Round(100 * time.Millisecond).String(), Ref: fmt.Sprintf("%.0f MB", float64(s.DB)/1e6), RefName: "its database"})
	// atMost is a row whose target is at most limit, figures in the unit of f.
	atMost := func(figure string, v, ref float64, refName string, f func(float64) string, limit float64, limitText string) row {
		return row{Figure: figure, Value: f(v), Ref: f(ref), RefName: refName, Ratio: fx(ratio(v, ref)),
			Target: limitText, VsTarget: fx(ratio(limit, v)), Met: met(v <= limit)}
	}
	durF := func(v float64) string { return ms(time.Duration(v)) }
	memF := func(v float64) string { return mibOf(int64(v)) }
	out = append(out,
		atMost("scale: daemon start on the store (exec to listening)", float64(s.Start), float64(s.StartEmpty), "empty store", durF, float64(2*time.Second), "<= 2 s"),
		atMost("scale: daemon RSS after start", float64(s.AfterStart.RSSKiB), float64(s.AfterStartEmpty.RSSKiB), "empty store", memF, 150<<10, "<= 150 MiB"))
	ld := atMost(fmt.Sprintf("scale: daemon peak RSS after listing the root and the %s directories of %s files once (SDK)", thousands(sp.Dirs), thousands(sp.PerDir)),
		float64(s.AfterDirs.HWMKiB), float64(s.AfterStartEmpty.RSSKiB), "empty store after start", memF, 150<<10, "<= 150 MiB")
	ld.Value += fmt.Sprintf(" (RSS after: %s)", mibOf(s.AfterDirs.RSSKiB))
	lr := atMost(fmt.Sprintf("scale: daemon peak RSS after listing every directory once (then the %s-file one too)", thousands(sp.Big)),
		float64(s.AfterList.HWMKiB), float64(s.AfterStartEmpty.RSSKiB), "empty store after start", memF, 150<<10, "<= 150 MiB")
	lr.Value += fmt.Sprintf(" (RSS after: %s)", mibOf(s.AfterList.RSSKiB))
	out = append(out, ld, lr)
	g := atMost(fmt.Sprintf("scale: get-dir of a %s-file directory p50, SDK", thousands(sp.PerDir)), float64(s.GetDir.P50), float64(s.GetDir.P99), "its p99",
		durF, float64(2*time.Millisecond), "<= 2 ms")
	g.Ratio = ""
	out = append(out, g,
		row{Figure: fmt.Sprintf("scale: get-dir of the %s-file directory p50, SDK (%d round trips)", thousands(sp.Big), sp.BigN),
			Value: ms(s.GetDirBig.P50), Ref: ms(s.GetDir.P50), RefName: fmt.Sprintf("%s-file directory", thousands(sp.PerDir)),
			Ratio: fx(ratio(float64(s.GetDirBig.P50), float64(s.GetDir.P50))), Target: "report"})
	cr := ratio(float64(s.CD.P50), float64(s.CDEmpty.P50))
	out = append(out, row{Figure: fmt.Sprintf("scale: create+delete round trip p50 in a %s-file directory of the store, SDK", thousands(sp.PerDir)),
		Value: us(s.CD.P50), Ref: us(s.CDEmpty.P50), RefName: "empty store, same run", Ratio: fx(cr),
		Target: "<= 1.3x empty", VsTarget: fx(1.3 / cr), Met: met(cr <= 1.3)})
	m := s.Meta
	what := fmt.Sprintf("scale: %s files with %d KiB of user_metadata created in one directory by one app (SDK, %s each)",
		thousands(m.Files), m.Bytes>>10, ms(m.Took/time.Duration(max(1, m.Files))))
	out = append(out,
		atMost(what+", daemon peak RSS", float64(m.Peak), float64(m.Before), "before", memF, 150<<10, "<= 150 MiB"),
		row{Figure: what + ", daemon RSS after", Value: mibOf(m.After), Ref: mibOf(m.Before), RefName: "before", Ratio: fx(ratio(float64(m.After), float64(m.Before)))})
	o := atMost(fmt.Sprintf("scale: another app's get-dir of %s files p99 meanwhile (%d round trips; max %s)", thousands(sp.OtherFiles), m.OtherN, ms(m.OtherMax)),
		float64(m.Other.P99), float64(m.Other.P50), "its p50", durF, float64(50*time.Millisecond), "< 50 ms")
	o.Met = met(m.Other.P99 < 50*time.Millisecond)
	out = append(out, o)
	return out
}
