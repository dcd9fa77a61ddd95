package main

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/handshake"
	"github.com/safe-launcher/launcher/internal/benchfloor"
)

// Handshakes per second over fresh connections, and memory per idle session.

// handshakeRate dials fresh sessions (each a new TCP connection and a
// handshake, then closed) from workers goroutines for dur, in one nonce mode,
// and returns the rate and what each handshake cost the daemon and the
// dialing client (zero where /proc does not tell).
func handshakeRate(exe, dir string, fixed bool, workers, budget int, dur time.Duration) (float64, cost, error) {
	ch, err := startChild(exe, kindDaemon, dir, 4*workers+16)
	if err != nil {
		return 0, cost{}, err
	}
	defer ch.stop()
	vals, err := ch.mint(budget)
	if err != nil {
		return 0, cost{}, err
	}
	var opts []client.Option
	if fixed {
		opts = append(opts, client.WithFixedNonce())
	}
	var next, done atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	s0, ok1 := readUsage(ch.pid())
	c0, ok2 := readUsage(0)
	start := time.Now()
	deadline := start.Add(dur)
	for range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				i := next.Add(1) - 1
				if i >= int64(len(vals)) {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				c, err := client.Dial(ctx, vals[i], opts...)
				cancel()
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				c.Close()
				done.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	s1, ok3 := readUsage(ch.pid())
	c1, ok4 := readUsage(0)
	if firstErr != nil {
		return 0, cost{}, firstErr
	}
	var k cost
	if ok1 && ok2 && ok3 && ok4 {
		k = perOp(s1.since(s0), c1.since(c0), int(done.Load()))
	}
	return float64(done.Load()) / elapsed.Seconds(), k, nil
}

// handshakeFloor runs both sides of the handshake in memory (no network, no
// launcher string) on both cores for dur: the crypto and JSON it forces.
func handshakeFloor(fixed bool, dur time.Duration) (float64, error) {
	mode := handshake.Counter
	if fixed {
		mode = handshake.Fixed
	}
	var n atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(dur)
	for range 2 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				err := func() error {
					app, req, err := handshake.NewApp(rand.Reader, "launcher-string", "v1.0", mode)
					if err != nil {
						return err
					}
					msg, err := handshake.ParseRequest(req)
					if err != nil {
						return err
					}
					answer, lch, err := handshake.Accept(rand.Reader, msg, true)
					if err != nil {
						return err
					}
					ach, err := app.Finish(answer)
					if err != nil {
						return err
					}
					lch.Close()
					ach.Close()
					return nil
				}()
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(n.Load()) / time.Since(start).Seconds(), nil
}

// sessionMem is the server's memory per idle connection.
type sessionMem struct {
	N          int
	GoBytes    float64 // heap in use + goroutine stacks, per connection
	RSSBytes   float64 // resident set, per connection
	Goroutines float64 // per connection
}

// idleSessions opens n idle connections to a fresh child of kind (of exe,
// "" for this build) and measures the child's memory growth. Every
// connection has answered one request when it is measured: for the daemon
// an authenticated session one get-dir, for the net/http peer a keep-alive
// connection one get-dir, for the echo one frame.
func idleSessions(exe, kind, dir string, n int) (sessionMem, error) {
	sm := sessionMem{N: n}
	ch, err := startChild(exe, kind, dir, n+64)
	if err != nil {
		return sm, err
	}
	defer ch.stop()
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	// One connection first, so that lazily built state is not counted.
	// Every connection has had its answer when open returns, so the
	// server has done its side.
	open := func(count int) error {
		switch kind {
		case kindDaemon:
			vals, err := ch.mint(count)
			if err != nil {
				return err
			}
			for _, v := range vals {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				c, err := client.Dial(ctx, v)
				if err == nil {
					// One request each, as the net/http peer's connections
					// make: an idle session is one that has been used, as
					// an app's is.
					err = daemonConn{c}.getDir(ctx)
				}
				cancel()
				if c != nil {
					closers = append(closers, func() { c.Close() })
				}
				if err != nil {
					return err
				}
			}
		case kindEcho:
			for range count {
				e, err := dialEcho(ch.addr, benchfloor.FrameSizes{GetDirRequest: 64, GetDirAnswer: 64}, true)
				if err != nil {
					return err
				}
				closers = append(closers, e.close)
				if err := e.getDir(context.Background()); err != nil {
					return err
				}
			}
		case kindHTTP:
			for range count {
				h := newHTTPConn(ch.addr, 1)
				if err := h.getDir(context.Background()); err != nil {
					return err
				}
				closers = append(closers, h.close)
			}
		default:
			return errors.New("unknown kind")
		}
		return nil
	}
	if err := open(1); err != nil {
		return sm, err
	}
	m0, err := ch.settled()
	if err != nil {
		return sm, err
	}
	if err := open(n); err != nil {
		return sm, err
	}
	m1, err := ch.settled()
	if err != nil {
		return sm, err
	}
	goBytes := float64(m1.HeapInuse+m1.StackInuse) - float64(m0.HeapInuse+m0.StackInuse)
	sm.GoBytes = goBytes / float64(n)
	sm.RSSBytes = float64(m1.RSSKiB-m0.RSSKiB) * 1024 / float64(n)
	sm.Goroutines = float64(m1.Goroutines-m0.Goroutines) / float64(n)
	return sm, nil
}
