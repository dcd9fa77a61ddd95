package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"time"

	"github.com/safe-launcher/launcher/client"
	"github.com/safe-launcher/launcher/wire"
)

// streamResult is a file moved through the SDK's streams (FileWriter,
// FileReader: chunks through modify-file and get-file offsets, several in
// flight), beside the single requests of transferResult.
type streamResult struct {
	Size             int
	Opt              client.StreamOptions
	Upload, Download time.Duration // best of the repetitions
	UpHWM, DownHWM   int64         // daemon peak RSS in KiB
}

// measureStream writes then reads size bytes through the streams, reps
// times each way, in one fresh daemon child.
func measureStream(dir string, size, reps int) (streamResult, error) {
	r := streamResult{Size: size, Opt: client.StreamOptions{ChunkSize: client.DefaultChunkSize, Window: client.DefaultWindow}}
	data := make([]byte, size)
	_, _ = rand.Read(data)
	name := fmt.Sprintf("stream-%d.bin", size)
	ctx := context.Background()
	ch, err := startChild("", kindDaemon, dir, 16)
	if err != nil {
		return r, err
	}
	defer ch.stop()
	c, err := dialOne(ch)
	if err != nil {
		return r, err
	}
	defer c.Close()
	if err := c.CreateFile(ctx, wire.CreateFileRequest{FilePath: name, UserMetadata: wire.Bytes{}}); err != nil {
		return r, err
	}
	best := func(cur *time.Duration, d time.Duration) {
		if *cur == 0 || d < *cur {
			*cur = d
		}
	}
	peak := func(hwm *int64, f func() error) error {
		if _, err := ch.settled(); err != nil {
			return err
		}
		if err := ch.resetPeak(); err != nil {
			return err
		}
		if err := f(); err != nil {
			return err
		}
		m, err := ch.mem()
		*hwm = max(*hwm, m.HWMKiB)
		return err
	}
	err = peak(&r.UpHWM, func() error {
		for range reps {
			t := time.Now()
			w := c.NewFileWriter(ctx, name, r.Opt)
			if _, err := w.Write(data); err != nil {
				w.Close()
				return err
			}
			if err := w.Close(); err != nil {
				return err
			}
			best(&r.Upload, time.Since(t))
		}
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("stream upload: %w", err)
	}
	got := bytes.NewBuffer(make([]byte, 0, size))
	err = peak(&r.DownHWM, func() error {
		for i := range reps {
			got.Reset()
			t := time.Now()
			rd := c.NewFileReader(ctx, name, r.Opt)
			_, err := io.Copy(got, rd)
			rd.Close()
			if err != nil {
				return err
			}
			best(&r.Download, time.Since(t))
			if i == 0 && !bytes.Equal(got.Bytes(), data) {
				return fmt.Errorf("streamed content differs")
			}
		}
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("stream download: %w", err)
	}
	return r, nil
}
