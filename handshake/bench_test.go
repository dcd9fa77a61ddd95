package handshake_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/safe-launcher/launcher/handshake"
)

// BenchmarkAccept is the launcher side of one handshake: parse the request,
// make the session key, nonce and key pair, seal them for the app.
func BenchmarkAccept(b *testing.B) {
	for _, mode := range []handshake.Mode{handshake.Counter, handshake.Fixed} {
		b.Run(mode.String(), func(b *testing.B) {
			_, req, err := handshake.NewApp(rand.Reader, "launcher-string", "v1.0", mode)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				msg, err := handshake.ParseRequest(req)
				if err != nil {
					b.Fatal(err)
				}
				_, ch, err := handshake.Accept(rand.Reader, msg, true)
				if err != nil {
					b.Fatal(err)
				}
				ch.Close()
			}
		})
	}
}

// BenchmarkBoth is both sides of one handshake, no network: the compute floor
// of a handshake.
func BenchmarkBoth(b *testing.B) {
	for _, mode := range []handshake.Mode{handshake.Counter, handshake.Fixed} {
		b.Run(mode.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				app, req, err := handshake.NewApp(rand.Reader, "launcher-string", "v1.0", mode)
				if err != nil {
					b.Fatal(err)
				}
				msg, err := handshake.ParseRequest(req)
				if err != nil {
					b.Fatal(err)
				}
				answer, lch, err := handshake.Accept(rand.Reader, msg, true)
				if err != nil {
					b.Fatal(err)
				}
				ach, err := app.Finish(answer)
				if err != nil {
					b.Fatal(err)
				}
				lch.Close()
				ach.Close()
			}
		})
	}
}

// BenchmarkSealOpen is one small message sealed and opened.
func BenchmarkSealOpen(b *testing.B) {
	var key handshake.Key
	var nonce handshake.Nonce
	app := handshake.NewChannel(key, nonce, handshake.Counter, false)
	l := handshake.NewChannel(key, nonce, handshake.Counter, true)
	msg := []byte(`{"endpoint":"safe-api/v1.0/nfs/get-dir","data":{"timeout_ms":0,"is_path_shared":false,"dir_path":"d"}}`)
	var box, plain []byte
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		box = app.Seal(box[:0], msg)
		var err error
		if plain, err = l.Open(plain[:0], box); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSecretbox compares x/crypto's secretbox.Seal and Open (into a
// second, reused buffer) with SealInPlace and OpenInPlace, one goroutine
// each. OpenInPlace consumes its box, so it opens copies made with the timer
// stopped: as many as fit in 256 KiB, refilled when all are opened.
func BenchmarkSecretbox(b *testing.B) {
	for _, n := range []int{1 << 10, 64 << 10, 1 << 20, 16 << 20} {
		var key handshake.Key
		var nonce handshake.Nonce
		msg := make([]byte, n)
		name := fmt.Sprintf("%dKiB", n>>10)
		b.Run("Seal/"+name, func(b *testing.B) {
			c := handshake.NewChannel(key, nonce, handshake.Fixed, false)
			var out []byte
			b.SetBytes(int64(n))
			for b.Loop() {
				out = c.Seal(out[:0], msg)
			}
		})
		b.Run("SealInPlace/"+name, func(b *testing.B) {
			c := handshake.NewChannel(key, nonce, handshake.Fixed, false)
			box := make([]byte, handshake.Overhead+n)
			b.SetBytes(int64(n))
			for b.Loop() {
				c.SealInPlace(box)
			}
		})
		sealed := handshake.NewChannel(key, nonce, handshake.Fixed, false).Seal(nil, msg)
		b.Run("Open/"+name, func(b *testing.B) {
			c := handshake.NewChannel(key, nonce, handshake.Fixed, true)
			var out []byte
			b.SetBytes(int64(n))
			for b.Loop() {
				var err error
				if out, err = c.Open(out[:0], sealed); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("OpenInPlace/"+name, func(b *testing.B) {
			c := handshake.NewChannel(key, nonce, handshake.Fixed, true)
			boxes := make([][]byte, max(1, (256<<10)/len(sealed)))
			for i := range boxes {
				boxes[i] = bytes.Clone(sealed)
			}
			next := 0
			b.SetBytes(int64(n))
			for b.Loop() {
				if next == len(boxes) {
					b.StopTimer()
					for _, box := range boxes {
						copy(box, sealed)
					}
					next = 0
					b.StartTimer()
				}
				if _, err := c.OpenInPlace(boxes[next]); err != nil {
					b.Fatal(err)
				}
				next++
			}
		})
	}
}
