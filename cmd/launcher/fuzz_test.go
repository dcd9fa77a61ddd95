package main

import (
	"testing"
	"time"

	"github.com/safe-launcher/launcher/launcher"
)

// FuzzFlagValues feeds arbitrary text to the flag value parsers: none may
// panic; an accepted address is loopback and re-parses to itself; an
// accepted size round-trips through its help notation; an accepted duration
// is more than zero.
func FuzzFlagValues(f *testing.F) {
	for _, s := range []string{"127.0.0.1:30000", ":0", "localhost:1", "[::1]:80", "0.0.0.0:1", "127.0.0.1:99999",
		"[::ffff:127.0.0.1]:5", "300MiB", "1GiB", "-1", "10", "10s", "1.5h", "-0s", "99999999999TiB", "1e3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ap, err := launcher.ParseLoopback(s); err == nil {
			if !ap.Addr().IsLoopback() {
				t.Fatalf("%q accepted as %v, not loopback", s, ap)
			}
			again, err := launcher.ParseLoopback(ap.String())
			if err != nil || again != ap {
				t.Fatalf("%q -> %v does not re-parse: %v %v", s, ap, again, err)
			}
		}
		if n, err := parseBytes(s); err == nil {
			back, err := parseBytes(formatBytes(n))
			if err != nil || back != n {
				t.Fatalf("%q -> %d -> %q -> %d, %v", s, n, formatBytes(n), back, err)
			}
		}
		var d time.Duration
		if (&durationValue{p: &d}).Set(s) == nil && d <= 0 {
			t.Fatalf("%q accepted as %v", s, d)
		}
		var c int
		if (&countValue{p: &c}).Set(s) == nil && c <= 0 {
			t.Fatalf("%q accepted as %d", s, c)
		}
	})
}
