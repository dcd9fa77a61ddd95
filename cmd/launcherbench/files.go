package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/internal/benchfloor"
	"github.com/safe-launcher/launcher/wire"
)

// The daemon's RSS is sampled idleAfter the transfers of idleSize bytes and
// more, to show it comes back down once idle.
const (
	idleSize  = 64 << 20
	idleAfter = 3 * time.Second
)

// transferResult is one file size's figures.
type transferResult struct {
	Size int
	// FloorUp and FloorDown are the compute floors of an upload and a
	// download of this size (benchfloor.Floor), best of the repetitions.
	FloorUp, FloorDown time.Duration
	Up, Down           xfer
}

// xfer is one direction's figures.
type xfer struct {
	Best  time.Duration // best of the repetitions
	First time.Duration // the first repetition: a fresh daemon child and connection
	// Minor page faults (daemon child + this process) during the first and
	// the best repetition (-1: not known).
	FirstFaults, BestFaults int64
	HWM                     int64 // daemon peak RSS in KiB during the transfers
	Base                    int64 // daemon RSS in KiB just before
	Idle                    int64 // daemon RSS in KiB idleAfter the transfers (0: not measured)
}

func mbps(size int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(size) / d.Seconds() / 1e6
}

// dialOne starts a client on a fresh launcher value of c.
func dialOne(c *child) (*client.Client, error) {
	vals, err := c.mint(1)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return client.Dial(ctx, vals[0])
}

// measureTransfer uploads then downloads size bytes, each direction in a fresh
// daemon child (of exe, "" for this build) so that its peak RSS is the
// transfer's.
func measureTransfer(exe, dir string, size, reps int) (transferResult, error) {
	r := transferResult{Size: size}
	data := make([]byte, size)
	_, _ = rand.Read(data)
	name := fmt.Sprintf("file-%d.bin", size)
	ctx := context.Background()

	// The floor is measured between the transfers' repetitions (see
	// direction), so that both see the machine in the same state.
	var f benchfloor.Floor
	floorOnce := func(up bool) error {
		run, best := f.Download, &r.FloorDown
		if up {
			run, best = f.Upload, &r.FloorUp
		}
		t := time.Now()
		if err := run(data); err != nil {
			return err
		}
		if d := time.Since(t); *best == 0 || d < *best {
			*best = d
		}
		return nil
	}

	direction := func(up bool) (x xfer, err error) {
		ch, err := startChild(exe, kindDaemon, dir, 16)
		if err != nil {
			return x, err
		}
		defer ch.stop()
		c, err := dialOne(ch)
		if err != nil {
			return x, err
		}
		defer c.Close()
		if up {
			if err := c.CreateFile(ctx, wire.CreateFileRequest{FilePath: name, UserMetadata: wire.Bytes{}}); err != nil {
				return x, err
			}
		}
		m, err := ch.settled()
		if err != nil {
			return x, err
		}
		x.Base = m.RSSKiB
		if err := ch.resetPeak(); err != nil {
			return x, err
		}
		faultsNow := func() int64 {
			a, ok1 := minorFaults(ch.pid())
			b, ok2 := minorFaults(0)
			if !ok1 || !ok2 {
				return -1
			}
			return a + b
		}
		req := wire.ModifyFileRequest{FilePath: name, NewValues: wire.FileNewValues{Content: &wire.FileContent{Bytes: data}}}
		for i := range reps {
			if err := floorOnce(up); err != nil {
				return x, err
			}
			f0 := faultsNow()
			t := time.Now()
			if up {
				err = c.ModifyFile(ctx, req)
			} else {
				var got *wire.GetFileResponse
				got, err = c.GetFile(ctx, wire.GetFileRequest{FilePath: name, Length: -1})
				if err == nil && i == 0 && !bytes.Equal(got.Content, data) {
					err = fmt.Errorf("downloaded content differs")
				}
			}
			d := time.Since(t)
			if err != nil {
				return x, err
			}
			nf := int64(-1)
			if f1 := faultsNow(); f0 >= 0 && f1 >= 0 {
				nf = f1 - f0
			}
			if i == 0 {
				x.First, x.FirstFaults = d, nf
			}
			if x.Best == 0 || d < x.Best {
				x.Best, x.BestFaults = d, nf
			}
		}
		m, err = ch.mem()
		x.HWM = m.HWMKiB
		if err != nil || size < idleSize {
			return x, err
		}
		// An idle daemon gives the memory of its last large message back
		// (it keeps the buffer 2 s for the next one).
		time.Sleep(idleAfter)
		after, err := ch.mem()
		x.Idle = after.RSSKiB
		return x, err
	}
	var err error
	if r.Up, err = direction(true); err != nil {
		return r, fmt.Errorf("upload %d: %w", size, err)
	}
	if r.Down, err = direction(false); err != nil {
		return r, fmt.Errorf("download %d: %w", size, err)
	}
	return r, nil
}
