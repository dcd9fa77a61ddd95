package launcher_test

import (
	"context"
	"sync"
	"testing"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/launcher"
	"github.com/safe-launcher/launcher/launcher/launchertest"
)

// BenchmarkRoundTrip is one small encrypted request and its answer over
// loopback, through the SDK, with no store behind it.
func BenchmarkRoundTrip(b *testing.B) {
	for _, mode := range []struct {
		name string
		opts []client.Option
	}{{"counter", nil}, {"fixed", []client.Option{client.WithFixedNonce()}}} {
		b.Run(mode.name, func(b *testing.B) {
			d := launchertest.Start(b, launcher.Config{}, &testModule{})
			app := d.AddApp("app", false)
			c := d.Dial(b, app.ID, mode.opts...)
			ctx := context.Background()
			in := map[string]string{"dir_path": "some/dir"}
			var out map[string]string
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Call(ctx, "safe-api/v1.0/test/echo", in, &out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPipelined is many goroutines sharing one session.
func BenchmarkPipelined(b *testing.B) {
	d := launchertest.Start(b, launcher.Config{}, &testModule{})
	app := d.AddApp("app", false)
	c := d.Dial(b, app.ID)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		in := map[string]string{"dir_path": "some/dir"}
		var out map[string]string
		for pb.Next() {
			if err := c.Call(ctx, "safe-api/v1.0/test/echo", in, &out); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkHandshake is a fresh connection and handshake per iteration.
func BenchmarkHandshake(b *testing.B) {
	d := launchertest.Start(b, launcher.Config{}, &testModule{})
	app := d.AddApp("app", false)
	b.ReportAllocs()
	var mu sync.Mutex
	for b.Loop() {
		mu.Lock()
		v := d.Value(b, app.ID)
		mu.Unlock()
		c, err := client.Dial(context.Background(), v)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
