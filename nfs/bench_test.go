package nfs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/internal/benchfloor"
	"github.com/safe-launcher/launcher/wire"
)

// Benchmarks of the nfs requests through the real daemon over loopback, on a
// real on-disk store. Transfers report MB/s (b.SetBytes) and the peak heap
// growth seen by the process (client and daemon together) as "peak-MiB"; the
// Floor benchmarks are the protocol's forced work on the same bytes with no
// daemon, for the ratio.

func BenchmarkGetDir10(b *testing.B) {
	e := newEnv(b)
	_, c := e.app(b, "bench", false)
	ctx := context.Background()
	if err := c.CreateDir(ctx, mkdir("d")); err != nil {
		b.Fatal(err)
	}
	for i := range 5 {
		if err := c.CreateDir(ctx, mkdir(fmt.Sprintf("d/sub%d", i))); err != nil {
			b.Fatal(err)
		}
		if err := c.CreateFile(ctx, wire.CreateFileRequest{FilePath: fmt.Sprintf("d/file%d", i), UserMetadata: wire.Bytes{}}); err != nil {
			b.Fatal(err)
		}
	}
	req := wire.GetDirRequest{DirPath: "d"}
	b.ReportAllocs()
	for b.Loop() {
		l, err := c.GetDir(ctx, req)
		if err != nil || len(l.SubDirectories)+len(l.Files) != 10 {
			b.Fatal(err, l)
		}
	}
}

// BenchmarkGetDir1000 lists a directory of 1,000 files with a little
// metadata each, through the SDK (vfs's BenchmarkGetDir1000 is the store's
// share of it).
func BenchmarkGetDir1000(b *testing.B) {
	e := newEnv(b)
	_, c := e.app(b, "bench", false)
	ctx := context.Background()
	if err := c.CreateDir(ctx, mkdir("d")); err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		if err := c.CreateFile(ctx, wire.CreateFileRequest{FilePath: fmt.Sprintf("d/file%05d", i), UserMetadata: []byte("meta")}); err != nil {
			b.Fatal(err)
		}
	}
	req := wire.GetDirRequest{DirPath: "d"}
	b.ReportAllocs()
	for b.Loop() {
		l, err := c.GetDir(ctx, req)
		if err != nil || len(l.Files) != 1000 {
			b.Fatal(err, len(l.Files))
		}
	}
}

func BenchmarkCreateDeleteFile(b *testing.B) {
	e := newEnv(b)
	_, c := e.app(b, "bench", false)
	ctx := context.Background()
	if err := c.CreateDir(ctx, mkdir("d")); err != nil {
		b.Fatal(err)
	}
	req := wire.CreateFileRequest{FilePath: "d/f", UserMetadata: []byte("meta")}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.CreateFile(ctx, req); err != nil {
			b.Fatal(err)
		}
		if err := c.DeleteFile(ctx, false, "d/f"); err != nil {
			b.Fatal(err)
		}
	}
}

var sizes = []int{1 << 20, 16 << 20, 64 << 20}

func sizeName(n int) string { return fmt.Sprintf("%dMiB", n>>20) }

// peakTracker samples the heap in use before and after each operation.
type peakTracker struct{ base, peak uint64 }

func (p *peakTracker) start() {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	p.base = m.HeapInuse
}

func (p *peakTracker) sample() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	// HeapInuse after the operation misses garbage already swept; NextGC is
	// the heap size the runtime let itself grow to, an upper bound of the peak.
	if v := max(m.HeapInuse, m.NextGC); v > p.peak {
		p.peak = v
	}
}

func (p *peakTracker) report(b *testing.B) {
	b.ReportMetric(float64(p.peak-min(p.peak, p.base))/(1<<20), "peak-MiB")
}

func BenchmarkUpload(b *testing.B) {
	for _, n := range sizes {
		b.Run(sizeName(n), func(b *testing.B) {
			e := newEnv(b)
			_, c := e.app(b, "bench", false)
			ctx := context.Background()
			data := make([]byte, n)
			_, _ = rand.Read(data)
			if err := c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "f", UserMetadata: wire.Bytes{}}); err != nil {
				b.Fatal(err)
			}
			req := wire.ModifyFileRequest{FilePath: "f", NewValues: wire.FileNewValues{Content: &wire.FileContent{Bytes: data}}}
			var pt peakTracker
			pt.start()
			b.SetBytes(int64(n))
			for b.Loop() {
				if err := c.ModifyFile(ctx, req); err != nil {
					b.Fatal(err)
				}
				pt.sample()
			}
			pt.report(b)
		})
	}
}

func BenchmarkDownload(b *testing.B) {
	for _, n := range sizes {
		b.Run(sizeName(n), func(b *testing.B) {
			e := newEnv(b)
			_, c := e.app(b, "bench", false)
			ctx := context.Background()
			data := make([]byte, n)
			_, _ = rand.Read(data)
			if err := c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "f", UserMetadata: wire.Bytes{}}); err != nil {
				b.Fatal(err)
			}
			if err := c.ModifyFile(ctx, wire.ModifyFileRequest{FilePath: "f", NewValues: wire.FileNewValues{Content: &wire.FileContent{Bytes: data}}}); err != nil {
				b.Fatal(err)
			}
			req := wire.GetFileRequest{FilePath: "f", Length: -1}
			var pt peakTracker
			pt.start()
			b.SetBytes(int64(n))
			first := true
			for b.Loop() {
				got, err := c.GetFile(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				if first && !bytes.Equal(got.Content, data) {
					b.Fatal("content differs")
				}
				first = false
				pt.sample()
			}
			pt.report(b)
		})
	}
}

// BenchmarkFloor is the forced work of one direction on the same bytes:
// base64 and JSON, secretbox seal and open, SHA-512, no daemon.
func BenchmarkFloor(b *testing.B) {
	for _, n := range sizes {
		b.Run(sizeName(n), func(b *testing.B) {
			data := make([]byte, n)
			_, _ = rand.Read(data)
			var f benchfloor.Floor
			b.SetBytes(int64(n))
			for b.Loop() {
				if err := f.Run(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// tenFiles makes the directory d holding ten empty files.
func tenFiles(b *testing.B, c *client.Client) {
	ctx := context.Background()
	if err := c.CreateDir(ctx, mkdir("d")); err != nil {
		b.Fatal(err)
	}
	for i := range 10 {
		if err := c.CreateFile(ctx, wire.CreateFileRequest{FilePath: fmt.Sprintf("d/file%d", i), UserMetadata: wire.Bytes{}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetDir10Pipelined is many goroutines sharing one session.
func BenchmarkGetDir10Pipelined(b *testing.B) {
	e := newEnv(b)
	_, c := e.app(b, "bench", false)
	ctx := context.Background()
	tenFiles(b, c)
	req := wire.GetDirRequest{DirPath: "d"}
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.GetDir(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkGetDir10Conns64 is the suite's pipelined shape in one process:
// 64 sessions of one app, 4 callers on each.
func BenchmarkGetDir10Conns64(b *testing.B) {
	e := newEnv(b)
	a, c := e.app(b, "bench", false)
	ctx := context.Background()
	tenFiles(b, c)
	clients := []*client.Client{c}
	for len(clients) < 64 {
		clients = append(clients, e.d.Dial(b, a.ID))
	}
	req := wire.GetDirRequest{DirPath: "d"}
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(128) // 256 callers on 2 CPUs
	b.RunParallel(func(pb *testing.PB) {
		cl := clients[int(next.Add(1))%len(clients)]
		for pb.Next() {
			if _, err := cl.GetDir(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
