package client_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/launchertest"
	"github.com/safe-launcher/launcher/nfs"
	"github.com/safe-launcher/launcher/wire"
)

// benchDir starts the real daemon (nfs on an on-disk store) in-process and
// returns a client whose private root holds a directory "d" with ten files.
func benchDir(b *testing.B) *client.Client {
	b.Helper()
	store, _ := launchertest.Store(b)
	d := launchertest.Start(b, launcher.Config{}, nfs.New(store))
	a := d.AddAppWithRoot(b, store, "bench", false)
	c := d.Dial(b, a.ID)
	ctx := context.Background()
	if err := c.CreateDir(ctx, wire.CreateDirRequest{DirPath: "d", UserMetadata: wire.Bytes{}}); err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		if err := c.CreateFile(ctx, wire.CreateFileRequest{FilePath: "d/" + name, UserMetadata: wire.Bytes{}}); err != nil {
			b.Fatal(err)
		}
	}
	return c
}

// BenchmarkGetDir is a get-dir round trip (a directory of ten files) on one
// session, one call at a time, against the in-process daemon over loopback.
func BenchmarkGetDir(b *testing.B) {
	c := benchDir(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		got, err := c.GetDir(ctx, wire.GetDirRequest{DirPath: "d"})
		if err != nil {
			b.Fatal(err)
		}
		if len(got.Files) != 10 {
			b.Fatalf("%d files", len(got.Files))
		}
	}
}

// BenchmarkGetDirConcurrent is get-dir round trips from 8 goroutines sharing
// one session; ns/op is the time per call across all of them.
func BenchmarkGetDirConcurrent(b *testing.B) {
	const callers = 8
	c := benchDir(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				got, err := c.GetDir(ctx, wire.GetDirRequest{DirPath: "d"})
				if err != nil {
					b.Error(err)
					return
				}
				if len(got.Files) != 10 {
					b.Errorf("%d files", len(got.Files))
					return
				}
			}
		})
	}
	wg.Wait()
}
