package handshake_test

import (
	"crypto/rand"
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
