package vfs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"
)

// The scale tests and benchmarks (docs/vfs.md, "Scale"): a store of
// 1,000,000 files in 1,000 directories plus one directory of 100,000
// entries, built through the vfs API (Update: one transaction per
// directory, or per 1,000 entries of the big one). They run only with
// VFS_SCALE=1: the build takes minutes and a gigabyte or so. The store is
// built once in VFS_SCALE_DIR (default: $TMPDIR/vfs-scale) and reused by
// later runs; remove the directory to rebuild it.
//
//	VFS_SCALE=1 go test -run 'TestScale' -v ./vfs/
//	VFS_SCALE=1 go test -run XXX -bench 'Scale' -benchtime 2000x ./vfs/

const (
	scaleDirs    = 1000
	scalePerDir  = 1000
	scaleBig     = 100_000
	scaleRootDir = "scale"
	scaleDone    = "scale-built"
)

var scaleRoot = AppRoot(scaleRootDir)

func scaleOpts() Options {
	return Options{AppQuota: Quota{Entries: -1}}
}

func skipUnlessScale(tb testing.TB) {
	tb.Helper()
	if os.Getenv("VFS_SCALE") == "" {
		tb.Skip("set VFS_SCALE=1 to build and measure a store of a million files")
	}
}

// scaleDir returns the directory of the scale store, building it first if
// it is not there.
func scaleDir(tb testing.TB) string {
	tb.Helper()
	skipUnlessScale(tb)
	dir := os.Getenv("VFS_SCALE_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "vfs-scale")
	}
	if _, err := os.Stat(filepath.Join(dir, scaleDone)); err == nil {
		return dir
	}
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	s, err := openUnlocked(afero.NewBasePathFs(afero.NewOsFs(), dir), scaleOpts())
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateRoot(scaleRoot); err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	batch := func(dir string, create bool, from, to int) {
		tb.Helper()
		err := s.Update(ctx, func(tx *Tx) error {
			if create {
				if _, err := tx.CreateDir(scaleRoot, Path{dir}, false, false, nil); err != nil {
					return err
				}
			}
			for i := from; i < to; i++ {
				if _, err := tx.CreateFile(scaleRoot, Path{dir, fmt.Sprintf("file-%06d.txt", i)}, nil); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	for d := range scaleDirs {
		batch(fmt.Sprintf("dir-%04d", d), true, 0, scalePerDir)
		if d%100 == 99 {
			tb.Logf("%d directories in %v", d+1, time.Since(start).Round(time.Second))
		}
	}
	for i := 0; i < scaleBig; i += 1000 {
		batch("big", i == 0, i, i+1000)
	}
	s.Close()
	if err := os.WriteFile(filepath.Join(dir, scaleDone), []byte(time.Since(start).String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("built %d files in %d directories and %d in one in %v", scaleDirs*scalePerDir, scaleDirs, scaleBig, time.Since(start).Round(time.Second))
	return dir
}

// memStats is what a child reports of its memory.
type memStats struct {
	RSS, HWM  int64 // VmRSS and VmHWM, bytes
	HeapInuse int64
}

func readMem() memStats {
	var m memStats
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				switch f[0] {
				case "VmRSS:":
					m.RSS = kb << 10
				case "VmHWM:":
					m.HWM = kb << 10
				}
			}
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.HeapInuse = int64(ms.HeapInuse)
	return m
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// childReport is what TestScaleChild prints on its last line.
type childReport struct {
	Open           time.Duration
	AfterOpen      memStats
	AfterList      memStats
	Listed         int
	OtherGetDirP50 time.Duration
	OtherGetDirP99 time.Duration
	OtherGetDirMax time.Duration
	Build          time.Duration
	Entries        int
	DatabaseBytes  int64
	Error          string
}

// runChild runs TestScaleChild in a fresh process in mode, and returns its
// report.
func runChild(t *testing.T, mode, dir string) childReport {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestScaleChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "VFS_SCALE_CHILD="+mode, "VFS_SCALE_CHILD_DIR="+dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var rep childReport
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if l, ok := strings.CutPrefix(sc.Text(), "REPORT "); ok {
			if err := json.Unmarshal([]byte(l), &rep); err != nil {
				t.Fatal(err)
			}
		}
	}
	if rep.Error != "" {
		t.Fatalf("child: %s", rep.Error)
	}
	return rep
}

// TestScaleChild is the measured process of the scale tests; it runs only
// when re-executed by them.
func TestScaleChild(t *testing.T) {
	mode, dir := os.Getenv("VFS_SCALE_CHILD"), os.Getenv("VFS_SCALE_CHILD_DIR")
	if mode == "" {
		t.Skip("child process of the scale tests only")
	}
	var rep childReport
	var mu sync.Mutex // guards rep.Error
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		b, _ := json.Marshal(rep)
		fmt.Printf("REPORT %s\n", b)
	}()
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if rep.Error == "" {
			rep.Error = err.Error()
		}
	}
	ctx := context.Background()
	switch mode {
	case "list":
		start := time.Now()
		s, err := openUnlocked(afero.NewBasePathFs(afero.NewOsFs(), dir), scaleOpts())
		if err != nil {
			fail(err)
			return
		}
		defer s.Close()
		rep.Open = time.Since(start)
		rep.AfterOpen = readMem()
		root, err := s.GetDir(ctx, scaleRoot, nil)
		if err != nil {
			fail(err)
			return
		}
		for _, d := range root.Dirs {
			l, err := s.GetDir(ctx, scaleRoot, Path{d.Name})
			if err != nil {
				fail(err)
				return
			}
			rep.Listed += len(l.Files)
		}
		rep.AfterList = readMem()
	case "meta":
		// One app creates 5,282 files with 64 KiB of user metadata each in
		// one directory, one request at a time, while another app lists a
		// directory of 1,000 files again and again.
		opts := Options{AppQuota: Quota{MetadataBytes: 1 << 30}}
		s, err := openUnlocked(afero.NewBasePathFs(afero.NewOsFs(), dir), opts)
		if err != nil {
			fail(err)
			return
		}
		defer s.Close()
		heavy, other := AppRoot("heavy"), AppRoot("other")
		for _, r := range []Root{heavy, other} {
			if _, err := s.CreateRoot(r); err != nil {
				fail(err)
				return
			}
		}
		for _, p := range []Path{{"d"}} {
			if _, err := s.CreateDir(ctx, heavy, p, false, false, nil); err != nil {
				fail(err)
				return
			}
			if _, err := s.CreateDir(ctx, other, p, false, false, nil); err != nil {
				fail(err)
				return
			}
		}
		for i := range 1000 {
			if _, err := s.CreateFile(ctx, other, Path{"d", fmt.Sprintf("f%04d", i)}, []byte("m")); err != nil {
				fail(err)
				return
			}
		}
		meta := bytes.Repeat([]byte("M"), 64<<10)
		stop := make(chan struct{})
		var lat []time.Duration
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				if _, err := s.GetDir(ctx, other, Path{"d"}); err != nil {
					fail(err)
					return
				}
				lat = append(lat, time.Since(t0))
			}
		})
		start := time.Now()
		for i := range 5282 {
			if _, err := s.CreateFile(ctx, heavy, Path{"d", fmt.Sprintf("file-%05d", i)}, meta); err != nil {
				fail(err)
				break
			}
		}
		rep.Build = time.Since(start)
		close(stop)
		wg.Wait()
		rep.AfterList = readMem()
		slices.Sort(lat)
		if len(lat) > 0 {
			rep.OtherGetDirP50 = lat[len(lat)/2]
			rep.OtherGetDirP99 = lat[len(lat)*99/100]
			rep.OtherGetDirMax = lat[len(lat)-1]
		}
		sz, err := s.Size(ctx)
		if err != nil {
			fail(err)
			return
		}
		rep.Entries, rep.DatabaseBytes = int(sz.Entries), sz.DatabaseBytes
	}
}

// TestScaleMemory: a fresh process opening the million-file store, then
// listing every directory once, stays within 150 MiB of RSS.
func TestScaleMemory(t *testing.T) {
	dir := scaleDir(t)
	rep := runChild(t, "list", dir)
	t.Logf("open %v; after open RSS %s (heap in use %s); after listing %d files in %d directories RSS %s, peak %s (heap in use %s)",
		rep.Open.Round(time.Millisecond), mib(rep.AfterOpen.RSS), mib(rep.AfterOpen.HeapInuse), rep.Listed, scaleDirs+1,
		mib(rep.AfterList.RSS), mib(rep.AfterList.HWM), mib(rep.AfterList.HeapInuse))
	if rep.Listed != scaleDirs*scalePerDir+scaleBig {
		t.Fatalf("listed %d files", rep.Listed)
	}
	if rep.AfterList.HWM > 150<<20 {
		t.Fatalf("peak RSS %s, more than 150 MiB", mib(rep.AfterList.HWM))
	}
}

// TestScaleMetadata: 5,282 files with 64 KiB of user metadata each in one
// directory (346 MB of metadata) keep the process within 150 MiB of RSS.
func TestScaleMetadata(t *testing.T) {
	skipUnlessScale(t)
	rep := runChild(t, "meta", t.TempDir())
	t.Logf("5,282 files with 64 KiB of metadata in %v (%v each); peak RSS %s (heap in use %s); database %s; "+
		"another app's get-dir of 1,000 files meanwhile: p50 %v, p99 %v, max %v",
		rep.Build.Round(time.Millisecond), (rep.Build / 5282).Round(time.Microsecond), mib(rep.AfterList.HWM),
		mib(rep.AfterList.HeapInuse), mib(rep.DatabaseBytes), rep.OtherGetDirP50, rep.OtherGetDirP99, rep.OtherGetDirMax)
	if rep.Entries != 5282+1+1+1000 {
		t.Fatalf("%d entries", rep.Entries)
	}
	if rep.AfterList.HWM > 150<<20 {
		t.Fatalf("peak RSS %s, more than 150 MiB", mib(rep.AfterList.HWM))
	}
}

// p50 runs fn b.N times and reports the median time of one call.
func p50(b *testing.B, fn func(i int)) {
	var lat []time.Duration
	i := 0
	for b.Loop() {
		t0 := time.Now()
		fn(i)
		lat = append(lat, time.Since(t0))
		i++
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

func openScale(b *testing.B) *Store {
	b.Helper()
	dir := scaleDir(b)
	s, err := openUnlocked(afero.NewBasePathFs(afero.NewOsFs(), dir), scaleOpts())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkScaleOpen: Open (and Close) of the million-file store.
func BenchmarkScaleOpen(b *testing.B) {
	dir := scaleDir(b)
	p50(b, func(int) {
		s, err := openUnlocked(afero.NewBasePathFs(afero.NewOsFs(), dir), scaleOpts())
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	})
}

// BenchmarkScaleGetDir1000: get-dir of the 1,000-file directories of the
// million-file store, in turn.
func BenchmarkScaleGetDir1000(b *testing.B) {
	s := openScale(b)
	ctx := context.Background()
	p50(b, func(i int) {
		l, err := s.GetDir(ctx, scaleRoot, Path{fmt.Sprintf("dir-%04d", i%scaleDirs)})
		if err != nil || len(l.Files) != scalePerDir {
			b.Fatal(err, len(l.Files))
		}
	})
}

// BenchmarkScaleGetDir100k: get-dir of the 100,000-entry directory.
func BenchmarkScaleGetDir100k(b *testing.B) {
	s := openScale(b)
	ctx := context.Background()
	p50(b, func(int) {
		l, err := s.GetDir(ctx, scaleRoot, Path{"big"})
		if err != nil || len(l.Files) != scaleBig {
			b.Fatal(err, len(l.Files))
		}
	})
}

// BenchmarkScaleCreateDelete: create-file then delete-file in a 1,000-file
// directory of the million-file store, and the same in an empty store.
func BenchmarkScaleCreateDelete(b *testing.B) {
	run := func(b *testing.B, s *Store, dir Path) {
		ctx := context.Background()
		p := append(dir, "new-file.txt")
		p50(b, func(int) {
			if _, err := s.CreateFile(ctx, scaleRoot, p, []byte("meta")); err != nil {
				b.Fatal(err)
			}
			if err := s.DeleteFile(ctx, scaleRoot, p); err != nil {
				b.Fatal(err)
			}
		})
	}
	b.Run("million", func(b *testing.B) { run(b, openScale(b), Path{"dir-0500"}) })
	b.Run("empty", func(b *testing.B) {
		skipUnlessScale(b)
		s, err := openUnlocked(afero.NewBasePathFs(afero.NewOsFs(), b.TempDir()), scaleOpts())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		if _, err := s.CreateRoot(scaleRoot); err != nil {
			b.Fatal(err)
		}
		if _, err := s.CreateDir(context.Background(), scaleRoot, Path{"dir"}, false, false, nil); err != nil {
			b.Fatal(err)
		}
		run(b, s, Path{"dir"})
	})
}
