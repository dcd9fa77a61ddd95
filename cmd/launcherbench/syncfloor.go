package main

import (
	"os"
	"path/filepath"
	"slices"
	"time"
)

// syncFloor measures what every acknowledged change costs the store however
// fast the daemon: appending a small record (the size of a create-file log
// record) to a file on the store's disk and fsyncing it. It returns the
// median of n such appends, each synced on its own.
func syncFloor(dir string, n int) (time.Duration, error) {
	f, err := os.OpenFile(filepath.Join(dir, "sync-floor.log"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	rec := make([]byte, 320)
	var off int64
	d := make([]time.Duration, 0, n)
	for range n {
		t := time.Now()
		if _, err := f.WriteAt(rec, off); err != nil {
			return 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
		d = append(d, time.Since(t))
		off += int64(len(rec))
	}
	slices.Sort(d)
	return d[len(d)/2], nil
}
